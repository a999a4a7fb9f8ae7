/**
 * The config API's routes on the admin port's Fastify server (api/admin-server.ts). Each route is a
 * RouteSpec: method, OpenAPI-style path, schemas (the same ones the handlers validate with, put on
 * the Fastify route, from which the OpenAPI document is generated) and a handler returning a reply
 * or throwing ApiError. The chain, the single place it is wired:
 *   body (bounded) → API key (and the failure limit
 *   of its source address) → rate limit → [POST with Idempotency-Key: idempotency.ts around the rest] →
 *   JSON parse → handler → one JSON answer (ETag, x-request-id, no-store), or a problem document
 *   (RFC 9457, `application/problem+json`, api/problem.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { fastifyPattern, operationSchema } from './openapi.js';
import type { Authenticator, Caller, Principal } from './auth.js';
import type { RateLimiter } from './rate-limit.js';
import { fingerprintOf, idempotent, parseIdempotencyKey, type IdempotencySettings, type IdempotencyStore } from './idempotency.js';
import { ApiError, notAdmitted } from './errors.js';
import { PROBLEM_JSON, problem } from './problem.js';
import { header, pathOf, queryOf, readBodyLimited, type AdminServer } from './admin-server.js';
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
  readonly callerOf: (request: FastifyRequest) => Caller;
  readonly limiter: RateLimiter;
  /** Default request body limit in bytes. */
  readonly bodyLimit: number;
  /** Where `Idempotency-Key` answers are kept (POST only); undefined: the header is ignored. */
  readonly idempotency?: { readonly store: IdempotencyStore; readonly settings: IdempotencySettings };
}


const HTTP_METHOD: Record<Method, HTTPMethods> = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', del: 'DELETE' };

/** The path patterns of registered routes with their methods, for 405 answers (`methodNotAllowed`). */
const knownPaths = new WeakMap<object, { re: RegExp; allow: string }[]>();

export function registerRoutes(app: AdminServer, routes: readonly RouteSpec[], deps: RouterDeps): void {
  const byPath = new Map<string, RouteSpec[]>();
  for (const r of routes) {
    app.route({ method: HTTP_METHOD[r.method], url: fastifyPattern(r.path), schema: operationSchema(app, r), config: { documented: r as DocumentedRoute }, handler: (request, reply) => handle(request, reply, r, deps) });
    let list = byPath.get(r.path);
    if (!list) byPath.set(r.path, (list = []));
    list.push(r);
  }
  // A known path with a method it does not have: 405 with Allow (answered by the not-found handler).
  let known = knownPaths.get(app);
  if (!known) knownPaths.set(app, (known = []));
  for (const [path, list] of byPath)
    known.push({
      re: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '[^/]+')}$`),
      allow: list.map((r) => HTTP_METHOD[r.method]).join(', '),
    });
}

/** The Allow header of a path registered with other methods, or undefined. */
export function methodNotAllowed(app: AdminServer, path: string): string | undefined {
  return knownPaths.get(app)?.find((k) => k.re.test(path))?.allow;
}

async function handle(request: FastifyRequest, reply: FastifyReply, route: RouteSpec, deps: RouterDeps): Promise<FastifyReply> {
  const requestId = (header(request, 'x-request-id') || randomUUID()).slice(0, 128);
  const instance = pathOf(request);
  const params: Record<string, string> = { ...(request.params as Record<string, string>) };
  const h = {
    caller: deps.callerOf(request),
    ifMatch: header(request, 'if-match') || undefined,
    ifNoneMatch: header(request, 'if-none-match') || undefined,
    contentType: header(request, 'content-type'),
    accept: header(request, 'accept'),
    idempotencyKey: route.method === 'post' ? header(request, 'idempotency-key') : '',
    url: route.method === 'post' ? `${instance}?${queryOf(request)}` : '',
  };
  const query = new URLSearchParams(queryOf(request));
  let raw: Buffer | undefined;
  if (route.body) {
    const limit = route.bodyLimit ?? deps.bodyLimit;
    const body = await readBodyLimited(request, limit);
    if (body === 'too_large') {
      reply.header('connection', 'close'); // the rest of the body is not read
      return send(reply, { status: 413, body: problem(413, 'body_too_large', `bodies are limited to ${limit} bytes`, undefined, instance) }, requestId);
    }
    raw = body;
  }
  return send(reply, await answer(route, deps, params, query, h, raw, requestId, instance), requestId);
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

function send(reply: FastifyReply, r: ApiReply, requestId: string): FastifyReply {
  reply.code(r.status);
  reply.header('content-type', r.text !== undefined ? (r.contentType ?? 'text/plain') : r.status >= 400 ? PROBLEM_JSON : 'application/json');
  reply.header('cache-control', 'no-store');
  if (requestId) reply.header('x-request-id', requestId);
  if (r.version !== undefined) reply.header('etag', etag(r.version));
  for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
  if (r.status === 204 || r.status === 304) return reply.send();
  // A Buffer: Fastify would add `; charset=utf-8` to a JSON type sent as a string.
  return reply.send(Buffer.from(r.text ?? JSON.stringify(r.body)));
}
