/**
 * The console's only way to the server: the public config API (`/api/v1`) with the key the person
 * signed in with, as `Authorization: Bearer`. Everything here can be done with curl. The key lives
 * in session storage (gone when the tab closes), never in a URL.
 */

export interface FieldError {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** A refused request: the API's error shape (`{ error: { code, message, errors } }`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: readonly FieldError[] = [],
  ) {
    super(message);
  }
}

const KEY = 'rtb-console-key';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

/** Called when the key stops working (revoked, paused): back to the sign-in screen. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; errors?: FieldError[] } } = {};
  try {
    body = await res.json();
  } catch {
    // not JSON (a proxy's page): the status says enough
  }
  const e = body.error ?? {};
  return new ApiError(res.status, e.code ?? `http_${res.status}`, e.message ?? res.statusText, e.errors ?? []);
}

export interface CallOptions {
  readonly key?: string;
  readonly accept?: string;
  readonly contentType?: string;
}

/** One API call; JSON in and out. Throws ApiError (status 0: the server could not be reached). */
export async function api<T = unknown>(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
  const key = o.key ?? session.key();
  const headers: Record<string, string> = { accept: o.accept ?? 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  let payload: BodyInit | undefined;
  if (body !== undefined) {
    headers['content-type'] = o.contentType ?? 'application/json';
    payload = typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: payload, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'unreachable', 'The server could not be reached. Nothing was lost: try again.');
  }
  if (!res.ok) {
    const e = await errorOf(res);
    if (res.status === 401 && !o.key) onUnauthorized();
    throw e;
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

export interface Page<T> {
  readonly items: T[];
  readonly total?: number;
  readonly nextCursor: string | null;
}

/** Every item of a paged list (the console's lists are small; the API pages at 500). */
export async function all<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await api('GET', `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && out.length < 5000);
  return out;
}

/**
 * An upload with progress (XMLHttpRequest: fetch cannot report upload progress). `onProgress`
 * gets the share of the body sent, 0..1.
 */
export function upload<T>(path: string, body: Blob, contentType: string, onProgress: (share: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1${path}`);
    const key = session.key();
    if (key) xhr.setRequestHeader('authorization', `Bearer ${key}`);
    xhr.setRequestHeader('content-type', contentType);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, 'unreachable', 'The server could not be reached. Try again.'));
    xhr.onload = () => {
      let body: any = undefined;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body as T);
      } else {
        const e = body?.error ?? {};
        reject(new ApiError(xhr.status, e.code ?? `http_${xhr.status}`, e.message ?? xhr.statusText, e.errors ?? []));
      }
    };
    xhr.send(body);
  });
}

/** Who is signed in (`GET /api/v1/me`). */
export interface Me {
  readonly keyId: string;
  readonly name?: string;
  readonly role: 'admin' | 'advertiser' | 'read-only';
  readonly advertiserIds?: string[];
}

/** Field errors by path: `/targeting/countries/0` is reported under `/targeting/countries` too, and so on up. */
export function errorsByPath(errors: readonly FieldError[]): Map<string, FieldError[]> {
  const map = new Map<string, FieldError[]>();
  for (const e of errors) {
    let p = e.path;
    for (;;) {
      map.set(p, [...(map.get(p) ?? []), e]);
      const i = p.lastIndexOf('/');
      if (i <= 0) break;
      p = p.slice(0, i);
    }
  }
  return map;
}
