/**
 * A small typed router for the config API on uWS. Each route is a RouteSpec: method, OpenAPI-style
 * path, schemas (the same ones the handlers validate with, and that openapi.ts publishes) and a
 * handler returning a reply or throwing ApiError. The glue:
 *   headers (readable only synchronously in uWS) → body (bounded) → API key (and the failure limit
 *   of its source address) → rate limit → [POST with Idempotency-Key: idempotency.ts around the rest] →
 *   JSON parse → handler → one JSON answer (ETag, x-request-id, no-store), or a problem document
 *   (RFC 9457, `application/problem+json`, api/problem.ts).
 */
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { TSchema } from '@sinclair/typebox';
import type { Authenticator, Caller, Principal } from './auth.js';
import type { RateLimiter } from './rate-limit.js';
import { fingerprintOf, idempotent, parseIdempotencyKey, type IdempotencySettings, type IdempotencyStore } from './idempotency.js';
import { ApiError, STATUS_TEXT, notAdmitted } from './errors.js';
import { PROBLEM_JSON, problem } from './problem.js';
import { readBody } from '../uws/read-body.js';
import { log } from '../log.js';
import { etag } from './write-rules.js';
import type { WriteContext } from './resources.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'del';

export interface ApiContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Parsed JSON (`body: 'json'`; undefined when empty) or the raw bytes (`body: 'raw'`). */
  readonly body: unknown;
  readonly raw: Buffer | undefined;
  readonly principal: Principal;
  readonly requestId: string;
  readonly contentType: string;
  readonly accept: string;
  /** Principal, request id and preconditions, for writes. */
  readonly write: WriteContext;
}

export interface ApiReply {
  readonly status: number;
  readonly body?: unknown;
  /** The resource revision: sent as `ETag: "<version>"`. */
  readonly version?: number;
  /** A non-JSON answer (export as YAML). */
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ResponseSpec {
  readonly description: string;
  readonly schema?: TSchema;
  /** Carries an ETag header. */
  readonly etag?: boolean;
  readonly contentTypes?: readonly string[];
}

export interface RouteSpec {
  readonly method: Method;
  /** OpenAPI style: `/api/v1/campaigns/{id}`. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly description?: string;
  /** false: no API key needed (the OpenAPI document). */
  readonly auth?: boolean;
  readonly body?: 'json' | 'raw';
  readonly bodyLimit?: number;
  readonly requestSchema?: TSchema;
  readonly requestContentTypes?: readonly string[];
  readonly query?: TSchema;
  /** Request headers it honours (If-Match, If-None-Match) for the document. */
  readonly preconditions?: boolean;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  readonly handler: (ctx: ApiContext) => Promise<ApiReply> | ApiReply;
}

/** A route as the OpenAPI document describes it (served by this router, or by src/http code of its own: api/direct-routes.ts). */
export type DocumentedRoute = Omit<RouteSpec, 'handler'>;

export interface RouterDeps {
  readonly auth: Authenticator;
  /** The request's key and source address (ConfigApi `callerOf`). */
  readonly callerOf: (res: HttpResponse, req: HttpRequest) => Caller;
  readonly limiter: RateLimiter;
  /** Default request body limit in bytes. */
  readonly bodyLimit: number;
  /** Where `Idempotency-Key` answers are kept (POST only); undefined: the header is ignored. */
  readonly idempotency?: { readonly store: IdempotencyStore; readonly settings: IdempotencySettings };
}

const paramNames = (path: string) => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
export const uwsPattern = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

export function registerRoutes(app: TemplatedApp, routes: readonly RouteSpec[], deps: RouterDeps): void {
  const byPath = new Map<string, RouteSpec[]>();
  for (const r of routes) {
    const names = paramNames(r.path);
    app[r.method](uwsPattern(r.path), (res, req) => handle(res, req, r, names, deps));
    let list = byPath.get(r.path);
    if (!list) byPath.set(r.path, (list = []));
    list.push(r);
  }
  // A known path with a method it does not have: 405 with Allow.
  for (const [path, list] of byPath) {
    const allow = list.map((r) => (r.method === 'del' ? 'DELETE' : r.method.toUpperCase())).join(', ');
    app.any(uwsPattern(path), (res, req) => {
      res.onAborted(() => {});
      send(res, { status: 405, body: problem(405, 'method_not_allowed', `allowed: ${allow}`, undefined, req.getUrl()), headers: { allow } }, '');
    });
  }
}

function handle(res: HttpResponse, req: HttpRequest, route: RouteSpec, names: string[], deps: RouterDeps): void {
  const requestId = (req.getHeader('x-request-id') || randomUUID()).slice(0, 128);
  const instance = req.getUrl();
  let params: Record<string, string>;
  try {
    params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(req.getParameter(i) ?? '')]));
  } catch {
    return send(res, { status: 400, body: problem(400, 'bad_path', 'the path is not valid percent-encoding', undefined, instance) }, requestId);
  }
  const h = {
    caller: deps.callerOf(res, req),
    ifMatch: req.getHeader('if-match') || undefined,
    ifNoneMatch: req.getHeader('if-none-match') || undefined,
    contentType: req.getHeader('content-type'),
    accept: req.getHeader('accept'),
    contentLength: req.getHeader('content-length'),
    idempotencyKey: route.method === 'post' ? req.getHeader('idempotency-key') : '',
    url: route.method === 'post' ? `${req.getUrl()}?${req.getQuery() ?? ''}` : '',
  };
  const query = new URLSearchParams(req.getQuery() ?? '');
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const reply = (r: ApiReply) => {
    if (!aborted) send(res, r, requestId);
  };
  const run = (raw: Buffer | undefined) => void answer(route, deps, params, query, h, raw, requestId, instance).then(reply);
  if (!route.body) return run(undefined);
  const limit = route.bodyLimit ?? deps.bodyLimit;
  const length = h.contentLength === '' ? 0 : Number(h.contentLength);
  const tooLarge = () => reply({ status: 413, body: problem(413, 'body_too_large', `bodies are limited to ${limit} bytes`, undefined, instance) });
  if (!(length >= 0) || length > limit) return tooLarge();
  readBody(res, length, limit, {
    onTooLarge: tooLarge,
    onBody: (body) => run(body),
  });
}

async function answer(
  route: RouteSpec,
  deps: RouterDeps,
  params: Record<string, string>,
  query: URLSearchParams,
  h: { caller: Caller; ifMatch?: string; ifNoneMatch?: string; contentType: string; accept: string; idempotencyKey: string; url: string },
  raw: Buffer | undefined,
  requestId: string,
  instance: string,
): Promise<ApiReply> {
  try {
    let principal: Principal = { keyId: 'anonymous', role: 'read-only' };
    const headers: Record<string, string> = {};
    if (route.auth !== false) {
      const r = await deps.auth.admit(h.caller, 'config_api');
      if (!r.ok) throw notAdmitted(r);
      principal = r.principal;
      const limit = principal.rateLimit ?? deps.limiter.defaults;
      const take = await deps.limiter.take(principal.keyId, limit);
      if (!take.ok)
        throw new ApiError(429, 'rate_limited', `this key is limited to ${limit.perSecond} requests per second (burst ${limit.burst})`, undefined, {
          'retry-after': String(take.retryAfterSeconds),
        });
      headers['ratelimit-remaining'] = String(take.remaining);
    }
    const run = async (): Promise<ApiReply> => {
      let body: unknown = raw;
      if (route.body === 'json' && raw) {
        try {
          body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
        } catch {
          throw new ApiError(400, 'bad_json', 'the body is not valid JSON');
        }
      }
      const write: WriteContext = { principal, requestId, ifMatch: h.ifMatch, ifNoneMatch: h.ifNoneMatch };
      return route.handler({ params, query, body, raw, principal, requestId, contentType: h.contentType, accept: h.accept, write });
    };
    const key = deps.idempotency && route.auth !== false ? parseIdempotencyKey(h.idempotencyKey) : undefined;
    const r =
      key === undefined
        ? await run()
        : await idempotent(
            deps.idempotency!.store,
            { scope: principal.keyId, key, fingerprint: fingerprintOf('POST', h.url, raw) },
            // A refusal (4xx) is this request's answer too, and kept like a success.
            () => run().catch((e) => (e instanceof ApiError && e.status < 500 ? errorReply(e, instance) : Promise.reject(e))),
            deps.idempotency!.settings,
          );
    return { ...r, headers: { ...headers, ...r.headers } };
  } catch (e) {
    if (e instanceof ApiError) return errorReply(e, instance);
    const unavailable = /ECONNREFUSED|Connection is closed|Command timed out|ETIMEDOUT|MaxRetriesPerRequest/i.test(`${(e as Error)?.name} ${(e as Error)?.message}`);
    if (unavailable) log('warn', 'config API: the config store is unavailable', { route: `${route.method} ${route.path}`, requestId, error: (e as Error).message });
    else log('error', 'config API request failed', { route: `${route.method} ${route.path}`, requestId, error: (e as Error)?.stack ?? String(e) });
    return unavailable
      ? { status: 503, body: problem(503, 'store_unavailable', 'the configuration store is unavailable', undefined, instance) }
      : { status: 500, body: problem(500, 'internal', 'internal error (logged with the request id)', undefined, instance) };
  }
}

/** The problem document of an ApiError (for routes outside this router that answer the same way). */
export const problemOf = (e: ApiError, instance?: string) => problem(e.status, e.code, e.message, e.errors, instance);

const errorReply = (e: ApiError, instance?: string): ApiReply => ({ status: e.status, body: problemOf(e, instance), headers: e.headers });

function send(res: HttpResponse, r: ApiReply, requestId: string): void {
  res.cork(() => {
    res.writeStatus(STATUS_TEXT[r.status] ?? `${r.status} Unknown`);
    res.writeHeader('content-type', r.text !== undefined ? (r.contentType ?? 'text/plain') : r.status >= 400 ? PROBLEM_JSON : 'application/json');
    res.writeHeader('cache-control', 'no-store');
    if (requestId) res.writeHeader('x-request-id', requestId);
    if (r.version !== undefined) res.writeHeader('etag', etag(r.version));
    for (const [k, v] of Object.entries(r.headers ?? {})) res.writeHeader(k, v);
    if (r.status === 204 || r.status === 304) res.end();
    else res.end(r.text ?? JSON.stringify(r.body));
  });
}
