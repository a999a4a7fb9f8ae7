/**
 * The admin port's HTTP server: Fastify on node:http, with the TypeBox type provider. Admin traffic
 * is small (operators, the console, CI jobs) and wants a maintained framework with route schemas;
 * the bid and notice ports stay on uWebSockets.js (src/app.ts `buildBidApp`), where speed matters.
 *
 * What this module settles for every admin route:
 * - bodies are never parsed by Fastify: one content-type parser for every type leaves the request
 *   stream unread, and each route reads it with its own bound (`readBodyLimited`, the upload stream);
 * - node:http timeouts (headers, whole request, keep-alive, idle socket), so a slow or hostile
 *   client cannot hold a socket forever;
 * - every error Fastify itself raises (a bad URL, a timeout) is answered as an RFC 9457 problem
 *   document like the API's own (api/problem.ts);
 * - listening is exclusive: a port held by anything else (a leftover bidder included) is refused
 *   with a clear message.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FieldError } from '../errors.js';
import { PROBLEM_JSON, problem } from './problem.js';
import type { Listening } from '../http/listen.js';
import { log } from '../log.js';
import { failSpan, type Span, type Tracing } from '../telemetry/tracing.js';
import { registerOpenApi } from './openapi.js';

export type AdminServer = FastifyInstance<
  import('node:http').Server,
  import('node:http').IncomingMessage,
  import('node:http').ServerResponse,
  import('fastify').FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface AdminTimeouts {
  /** Until the request headers have arrived (node:http `headersTimeout`). */
  readonly headersMs: number;
  /** Until the whole request (body included: uploads) has arrived (`requestTimeout`). */
  readonly requestMs: number;
  /** An idle keep-alive connection is closed after this (`keepAliveTimeout`). */
  readonly keepAliveMs: number;
  /** A socket with no traffic at all is closed after this (`server.timeout`). */
  readonly idleMs: number;
}

/** Uploads (up to UPLOAD_LIMIT_BYTES, 2 GiB by default) are the longest requests: 30 minutes is ~1.2 MB/s for 2 GiB. */
export const DEFAULT_ADMIN_TIMEOUTS: AdminTimeouts = { headersMs: 20_000, requestMs: 30 * 60_000, keepAliveMs: 5_000, idleMs: 120_000 };

export interface AdminServerOptions {
  readonly timeouts?: AdminTimeouts;
  /** A span per admin request (telemetry/tracing.ts; off: NO_TRACING or undefined). */
  readonly tracing?: Tracing;
}

/** A new admin server with no route yet (the OpenAPI generator is registered first: it collects the routes as they come). */
export async function createAdminServer(o: AdminServerOptions = {}): Promise<AdminServer> {
  const timeouts = o.timeouts ?? DEFAULT_ADMIN_TIMEOUTS;
  const app = Fastify({
    logger: false,
    // x-request-id is the API's own (router.ts); Fastify's ids are not exposed.
    requestIdHeader: false,
    // node:http checks the headers and request timeouts on this interval (30 s by default).
    http: { connectionsCheckingInterval: Math.max(100, Math.min(1_000, timeouts.headersMs / 2)) },
    keepAliveTimeout: timeouts.keepAliveMs,
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    // On close, idle keep-alive sockets are closed at once; busy ones once their answer is sent.
    forceCloseConnections: 'idle',
    // Routes read their bodies themselves, each with its bound; this is only Fastify's own ceiling.
    bodyLimit: 1024 * 1024,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // A path that is not valid percent-encoding (raised before routing, so not through the error handler).
    frameworkErrors: (error, request, reply) => answerError(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = timeouts.headersMs;
  if (o.tracing?.enabled) traceRequests(app, o.tracing);
  await registerOpenApi(app);
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method: method as string, url: r.url ?? r.path, config: r.config as Record<string, unknown> | undefined });
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  // Route schemas describe the API (the OpenAPI document); requests are validated by the routes'
  // handlers with the same TypeBox schemas (api/validation.ts), after the key check, the rate limit
  // and the role check, so that the answers stay in that order. Answers are serialized by the handlers.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => answerError(error, request, reply));
  return app;
}

export interface RegisteredRoute {
  /** GET, POST, ... */
  readonly method: string;
  /** Fastify's pattern: `/api/v1/campaigns/:id`. */
  readonly url: string;
  readonly config?: Record<string, unknown>;
}

const registered = new WeakMap<object, RegisteredRoute[]>();

/** Every route registered on an admin server so far (Fastify's `onRoute` hook), in order. */
export function adminRoutes(app: AdminServer): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

/**
 * One span per request, `admin <METHOD> <route>` (the route's pattern, never the path or the query:
 * ids and query strings stay out of the trace), with the method, the route and the status; a 5xx
 * marks it failed. onRequest/onResponse hooks, so the span covers the key check, the body and the
 * handler; a request whose connection drops ends its span too.
 */
function traceRequests(app: AdminServer, tracing: Tracing): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const span = tracing.start(`admin ${request.method} ${route}`, { 'http.request.method': request.method, 'http.route': route });
    if (span) spans.set(request, span);
  });
  const end = (request: FastifyRequest, status: number | undefined) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    if (status === undefined || status >= 500) failSpan(span, status === undefined ? 'aborted' : `status ${status}`);
    span.end();
  };
  app.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => end(request, undefined));
}

/** Errors Fastify raises itself (a bad URL, a timeout, a handler's throw) as problem documents. */
function answerError(error: Error & { statusCode?: number; code?: string }, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
  const path = request.url.split('?')[0];
  // The client went away mid-body (or was timed out): nobody to answer, nothing to log.
  if (request.raw.destroyed && (error.message === 'aborted' || (error as NodeJS.ErrnoException).code === 'ECONNRESET')) return reply.code(499).send();
  // A user id in a path that is not valid percent-encoding is that route's own error (audience-routes.ts).
  if (error.code === 'FST_ERR_BAD_URL' && path.startsWith('/api/v1/users/'))
    return sendProblem(reply, 400, 'invalid_user', 'the user id is not valid percent-encoding', undefined, path);
  const code =
    error.code === 'FST_ERR_BAD_URL'
      ? 'bad_path'
      : status === 413
        ? 'body_too_large'
        : status === 408
          ? 'request_timeout'
          : status >= 500
            ? 'internal'
            : 'bad_request';
  const detail = code === 'bad_path' ? 'the path is not valid percent-encoding' : status >= 500 ? 'internal error' : error.message;
  if (status >= 500) log('error', 'admin request failed', { path, error: error.stack ?? String(error) });
  return sendProblem(reply, status, code, detail, undefined, path);
}

/** An answer with a problem document. */
export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, errors?: readonly FieldError[], instance?: string, headers?: Readonly<Record<string, string>>): FastifyReply {
  reply.code(status).header('content-type', PROBLEM_JSON);
  for (const [k, v] of Object.entries(headers ?? {})) reply.header(k, v);
  return reply.send(Buffer.from(JSON.stringify(problem(status, code, detail, errors, instance))));
}

/**
 * A JSON answer, `application/json` exactly (sent as a Buffer: Fastify adds `; charset=utf-8` to
 * JSON types sent as strings, and clients compare the header).
 */
export function sendJsonReply(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(JSON.stringify(body)));
}

/** The request path without its query. */
export const pathOf = (request: FastifyRequest) => {
  const q = request.url.indexOf('?');
  return q < 0 ? request.url : request.url.slice(0, q);
};

/** The raw query string (without `?`). */
export const queryOf = (request: FastifyRequest) => {
  const q = request.url.indexOf('?');
  return q < 0 ? '' : request.url.slice(q + 1);
};

/** A request header as one string ('' when absent). */
export function header(request: FastifyRequest, name: string): string {
  const v = request.headers[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

/**
 * Reads the request body up to `limit` bytes. 'too_large' when it passes the limit (the rest is
 * not read; answer with `Connection: close`). An empty body is an empty buffer.
 */
export function readBodyLimited(request: FastifyRequest, limit: number): Promise<Buffer | 'too_large'> {
  const raw = request.raw;
  const length = header(request, 'content-length');
  if (length !== '' && !(Number(length) <= limit)) return Promise.resolve('too_large');
  if (raw.readableEnded || (length === '' && !raw.headers['transfer-encoding'])) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        cleanup();
        raw.pause();
        return resolve('too_large');
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
    };
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
  });
}

/**
 * Listens on `host:port` without sharing it: node:http sockets do not set SO_REUSEPORT, so a port
 * held by anything else (a uWS bidder's listeners included) fails with a clear error.
 */
export async function listenAdmin(app: AdminServer, host: string, port: number): Promise<AdminListening> {
  try {
    await app.listen({ host, port, listenTextResolver: () => '' });
  } catch (e) {
    await app.close().catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot listen on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use' : (e as Error).message}`);
  }
  const address = app.server.address();
  let closing: Promise<void> | undefined;
  const stop = () => (closing ??= app.close().then(() => undefined));
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => void stop(),
    stop,
  };
}

export interface AdminListening extends Listening {
  /** Stops accepting connections and resolves once the open requests are answered. */
  stop(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How the route is described in the OpenAPI document (api/openapi.ts); absent: not documented. */
    documented?: import('../api/router.js').DocumentedRoute;
  }
}
