/**
 * Puts API keys in front of routes registered by code that knows nothing of them (the reports
 * routes): `guardedApp(app, api, kind)` is an app whose route handlers first authenticate the
 * request (the failure limit of its source address included), apply the key's rate limit and check that its role may read `kind`, then run the
 * original handler with a copy of the request (uWS requests are only valid synchronously, and the
 * key check is not). `principalOf(copy)` tells the handler who is calling, so that it can scope
 * what it answers (an advertiser key's reports cover its advertisers only).
 */
import type { HttpRequest, HttpResponse, RecognizedString, TemplatedApp } from 'uWebSockets.js';
import type { ConfigApi } from './index.js';
import { ApiError, STATUS_TEXT, aKey, notAdmitted } from './errors.js';
import { problemOf } from './router.js';
import { PROBLEM_JSON } from './problem.js';
import { permits, type ApiKind } from './policy.js';
import type { AuthSurface } from '../metrics/auth-metrics.js';
import type { Principal } from './auth.js';

const principals = new WeakMap<HttpRequest, Principal>();

/** Who sent a request a guarded route is handling; undefined on routes without a guard. */
export function principalOf(req: HttpRequest): Principal | undefined {
  return principals.get(req);
}

type Handler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;
type Method = 'get' | 'post' | 'put' | 'patch' | 'del' | 'any';

/** A request's readable parts, copied while the real one is valid. */
function copyRequest(req: HttpRequest, params: number): HttpRequest {
  const headers: [string, string][] = [];
  req.forEach((k, v) => headers.push([k, v]));
  const values = Array.from({ length: params }, (_, i) => req.getParameter(i) ?? '');
  const url = req.getUrl();
  const query = req.getQuery();
  const method = req.getMethod();
  const copy = {
    getHeader: (name: RecognizedString) => headers.find(([k]) => k === String(name).toLowerCase())?.[1] ?? '',
    getParameter: (i: number | RecognizedString) => (typeof i === 'number' ? values[i] ?? '' : ''),
    getUrl: () => url,
    getQuery: (key?: string) => (key === undefined ? query : new URLSearchParams(query ?? '').get(key) ?? undefined),
    getMethod: () => method,
    getCaseSensitiveMethod: () => method.toUpperCase(),
    forEach: (cb: (k: string, v: string) => void) => headers.forEach(([k, v]) => cb(k, v)),
    setYield: () => copy,
  };
  return copy as unknown as HttpRequest;
}

export function guardedApp(app: TemplatedApp, api: ConfigApi, kind: ApiKind): TemplatedApp {
  const surface: AuthSurface = kind === 'reports' ? 'reports' : 'config_api';
  const wrap =
    (pattern: string, handler: Handler): Handler =>
    (res, req) => {
      const copy = copyRequest(req, (pattern.match(/:\w+/g) ?? []).length);
      const caller = api.callerOf(res, req);
      let aborted = false;
      res.onAborted(() => (aborted = true));
      const refuse = (e: ApiError) =>
        res.cork(() => {
          res.writeStatus(STATUS_TEXT[e.status] ?? `${e.status} Error`).writeHeader('content-type', PROBLEM_JSON);
          for (const [k, v] of Object.entries(e.headers ?? {})) res.writeHeader(k, v);
          res.end(JSON.stringify(problemOf(e, copy.getUrl())));
        });
      void api.auth.admit(caller, surface).then(
        async (r) => {
          if (aborted) return;
          if (!r.ok) return refuse(notAdmitted(r));
          const limit = r.principal.rateLimit ?? api.limiter.defaults;
          const take = await api.limiter.take(r.principal.keyId, limit);
          if (aborted) return;
          if (!take.ok) return refuse(new ApiError(429, 'rate_limited', `this key is limited to ${limit.perSecond} requests per second`, undefined, { 'retry-after': String(take.retryAfterSeconds) }));
          if (!permits(r.principal, kind, 'read')) return refuse(new ApiError(403, 'forbidden', `${aKey(r.principal.role)} may not read ${kind}`));
          principals.set(copy, r.principal);
          void handler(res, copy);
        },
        (e: Error) => !aborted && refuse(new ApiError(503, 'store_unavailable', e.message)),
      ).catch((e: Error) => !aborted && refuse(new ApiError(503, 'store_unavailable', e.message)));
    };
  const methods: Method[] = ['get', 'post', 'put', 'patch', 'del', 'any'];
  return new Proxy(app, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && (methods as string[]).includes(prop))
        return (pattern: RecognizedString, handler: Handler) => {
          (target[prop as Method] as (p: RecognizedString, h: Handler) => TemplatedApp).call(target, pattern, wrap(String(pattern), handler));
          return receiver;
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
