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

/** A refused request: the API's problem document (`{ type, title, status, detail, code, errors }`). */
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

/**
 * The API's error body, an RFC 9457 problem document (`{ type, title, status, detail, code, errors:
 * [{ pointer, path, code, message }] }`), as an ApiError; the older `{ error: { code, message, errors } }`
 * is read too (a server not yet upgraded). A body of neither shape (a proxy's page, nothing) gives the
 * status alone. The one place the console reads error bodies: fetch calls, uploads and downloads all
 * come through here.
 */
export function errorFrom(status: number, body: unknown, statusText = ''): ApiError {
  const b = body && typeof body === 'object' ? (body as { error?: unknown; code?: unknown; detail?: unknown; errors?: unknown }) : undefined;
  const e = (
    b && typeof b.code === 'string' ? { code: b.code, message: b.detail, errors: b.errors } : b?.error && typeof b.error === 'object' ? b.error : undefined
  ) as { code?: unknown; message?: unknown; errors?: unknown } | undefined;
  const errors = Array.isArray(e?.errors)
    ? (e!.errors as unknown[])
        .filter((x): x is FieldError => !!x && typeof (x as FieldError).path === 'string' && typeof (x as FieldError).message === 'string')
        .map((x) => ({ path: x.path, code: String(x.code ?? 'invalid'), message: x.message }))
    : [];
  const code = typeof e?.code === 'string' ? e.code : `http_${status}`;
  const message =
    typeof e?.message === 'string' && e.message
      ? e.message
      : status === 412
        ? 'Someone changed this meanwhile.'
        : statusText || `The request failed (${status}).`;
  return new ApiError(status, code, message, errors);
}

/** The error of a refused fetch response. */
export async function errorOf(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    // not JSON: the status says enough
  }
  return errorFrom(res.status, body, res.statusText);
}

export interface CallOptions {
  readonly key?: string;
  readonly accept?: string;
  readonly contentType?: string;
  /** The revision the edit was made from (`version`): sent as `If-Match: "<version>"`, so a concurrent change is refused (412), not overwritten. */
  readonly ifMatch?: number;
}

/** A 412: the resource moved since it was read. */
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.status === 412;

/** One API call; JSON in and out. Throws ApiError (status 0: the server could not be reached). */
export async function api<T = unknown>(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
  const key = o.key ?? session.key();
  const headers: Record<string, string> = { accept: o.accept ?? 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (o.ifMatch !== undefined) headers['if-match'] = `"${o.ifMatch}"`;
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
        reject(errorFrom(xhr.status, body, xhr.statusText));
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
