/**
 * The config API (admin port, `/api/v1`) and the config store behind it: the integration points.
 *
 * - `openConfigStore(settings, apiSettings)`: the store (memory, seeded from CONFIG_DIR; or Redis,
 *   seeded from CONFIG_DIR only when empty).
 * - `createConfigApi({ store, apiSettings, audiences })`: routes, keys, rate limits, audit.
 * - `registerConfigApi(app, api)` puts the routes on a uWS app (registerAdminRoutes does it when
 *   AdminDeps.configApi is set, and guards the audience upload routes with `api.audienceAccess`).
 * - campaigns/config-sync.ts `startConfigSync` keeps a SnapshotRef in step with the store.
 */
import type { EventDatabase } from '../events/event-database.js';
import type { KillSwitchAccess } from './kill-switch.js';
import type { AudienceRebuilder } from '../audiences/rebuilds.js';
import type { FastifyRequest } from 'fastify';
import { Registry } from 'prom-client';
import { MemoryConfigStore, seedStore, type ConfigStore } from '../campaigns/config-store.js';
import { createRedisConfigStore } from '../campaigns/redis-config-store.js';
import { loadBundleFromDir } from '../campaigns/load-bundle.js';
import type { AudienceService } from '../audiences/audience-service.js';
import type { AccessRefusal, AudienceAccess, AudienceRights } from '../http/audience-routes.js';
import { Authenticator, type Caller, type Principal, type RateLimit } from './auth.js';
import { AuthFailureLimiter, DEFAULT_AUTH_FAILURES, sourceAddressOf, type AuthFailureSettings } from './auth-failures.js';
import { AuthMetrics } from '../metrics/auth-metrics.js';
import { RateLimiter } from './rate-limit.js';
import { DEFAULT_IDEMPOTENCY, MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencySettings, type IdempotencyStore } from './idempotency.js';
import type { RedisLike } from '../storage/redis-client.js';
import { ConfigResources } from './resources.js';
import { AudienceResources } from './audiences.js';
import { KeyService } from './keys.js';
import { buildRoutes } from './routes.js';
import { methodNotAllowed, problemOf, registerRoutes, type RouteSpec } from './router.js';
import { header, pathOf, sendProblem, type AdminServer } from './admin-server.js';
import { openApiDocument } from './openapi.js';
import { ApiError, STATUS_TEXT, aKey, notAdmitted } from './errors.js';
import { permits } from './policy.js';
import type { ApiSettings } from './settings.js';
import type { Environment } from '../settings/environment.js';
import type { ModelsView } from './routes.js';

export { loadApiSettings, type ApiSettings } from './settings.js';
export { startConfigSync, snapshotFromStore, type ConfigSync } from '../campaigns/config-sync.js';

export interface ConfigApiOptions {
  readonly store: ConfigStore;
  /**
   * A Redis every instance shares (API_REDIS_URL): rate limits, failed authentications and
   * Idempotency-Key answers live there. Without it each process keeps its own. Not closed by the API.
   */
  readonly shared?: { readonly redis: RedisLike; readonly prefix?: string };
  /** How long an Idempotency-Key answer is kept (default 24 h). */
  readonly idempotencyTtlMs?: number;
  /** The first admin key (DSP_ADMIN_KEY); undefined: only stored keys work. */
  readonly adminKey: string | undefined;
  /** The audience service: with it, `/api/v1/audiences` and guarded uploads. */
  readonly audiences?: AudienceService;
  readonly rateLimit?: RateLimit;
  readonly bodyLimitBytes?: number;
  readonly importLimitBytes?: number;
  /** Where `${NAME}` exchange keys are resolved (validation). */
  readonly env?: Environment;
  readonly version?: string;
  /** Failed authentication per source address (default: DEFAULT_AUTH_FAILURES). */
  readonly authFailures?: AuthFailureSettings;
  /** Where failures and refusals are counted (default: a registry of its own). */
  readonly authMetrics?: AuthMetrics;
  /** The exchange-facing base URL the pixel snippets call (default http://localhost:8080). */
  readonly pixelBaseUrl?: string;
  /** The outcome models' state, for `GET /api/v1/models` (default: models off). */
  readonly models?: ModelsView;
  /** The event store reports read (for block-placements); a function, as the store is opened after the config plane. */
  readonly events?: () => EventDatabase | undefined;
  /** The budget store's kill switch, for `/api/v1/kill-switch` (a function, as the store is opened after the config plane). */
  readonly killSwitch?: () => KillSwitchAccess | undefined;
  /** Who rebuilds an audience now (`POST /api/v1/audiences/{id}/rebuild`); a function, as it is made after the config plane. */
  readonly rebuilds?: () => AudienceRebuilder | undefined;
}

export interface ConfigApi {
  readonly store: ConfigStore;
  readonly routes: readonly RouteSpec[];
  readonly auth: Authenticator;
  readonly limiter: RateLimiter;
  /** Where Idempotency-Key answers are kept (POST routes). */
  readonly idempotency: IdempotencyStore;
  readonly authMetrics: AuthMetrics;
  /** A request's key and source address, to `auth.admit`. */
  callerOf(request: FastifyRequest): Caller;
  readonly resources: ConfigResources;
  readonly keys: KeyService;
  readonly audiences: AudienceResources | undefined;
  /** For registerAudienceRoutes (`AudienceRouteDeps.access`): keys and tenant rules on uploads. */
  readonly audienceAccess: AudienceAccess | undefined;
  openapi(): Record<string, unknown>;
}

export function createConfigApi(o: ConfigApiOptions): ConfigApi {
  const authMetrics = o.authMetrics ?? new AuthMetrics(new Registry());
  const failures = o.authFailures ?? DEFAULT_AUTH_FAILURES;
  const shared = (limiter: string) =>
    o.shared && { ...o.shared, onStoreError: () => authMetrics.limitStoreErrors.labels(limiter).inc() };
  const auth = new Authenticator(o.store, o.adminKey, new AuthFailureLimiter(failures, authMetrics, undefined, shared('auth_failures')));
  const callerOf = (request: FastifyRequest): Caller => ({
    authorization: header(request, 'authorization'),
    address: sourceAddressOf(request.socket.remoteAddress ?? '', header(request, 'x-forwarded-for'), failures.trustedProxies),
  });
  const limiter = new RateLimiter(o.rateLimit ?? { perSecond: 20, burst: 40 }, shared('requests'));
  const idempotency: IdempotencyStore = o.shared ? new RedisIdempotencyStore(o.shared.redis, { prefix: o.shared.prefix }) : new MemoryIdempotencyStore();
  const segments = o.audiences?.store;
  const resources = new ConfigResources(
    o.store,
    segments && { getSegment: (id) => segments.getSegment(id) },
    o.env,
  );
  const audiences = o.audiences && new AudienceResources(o.audiences, o.store, resources, o.rebuilds);
  const keys = new KeyService(o.store);
  let doc: Record<string, unknown> | undefined;
  const routes = buildRoutes({
    store: o.store,
    resources,
    audiences,
    keys,
    importLimit: o.importLimitBytes ?? 64 * 1024 * 1024,
    pixelBaseUrl: o.pixelBaseUrl ?? 'http://localhost:8080',
    models: o.models ?? (() => ({ enabled: false, models: [] })),
    events: o.events ?? (() => undefined),
    killSwitch: o.killSwitch ?? (() => undefined),
    openapi: () => api.openapi(),
  });
  const api: ConfigApi = {
    store: o.store,
    routes,
    auth,
    limiter,
    idempotency,
    authMetrics,
    callerOf,
    resources,
    keys,
    audiences,
    audienceAccess: audiences && audienceAccess(auth, callerOf, limiter, audiences, () => ({ store: idempotency, settings: { ...DEFAULT_IDEMPOTENCY, ttlMs: idempotencyTtls.get(api) ?? DEFAULT_IDEMPOTENCY.ttlMs } })),
    // Generated from the routes registered on the admin server the API is on (registerConfigApi).
    openapi: () => {
      const server = servers.get(api);
      if (!server) throw new Error('the config API is not registered on an admin server');
      return (doc ??= openApiDocument(server, { version: o.version ?? '1' }));
    },
  };
  bodyLimits.set(api, o.bodyLimitBytes ?? 4 * 1024 * 1024);
  idempotencyTtls.set(api, o.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY.ttlMs);
  return api;
}

const bodyLimits = new WeakMap<ConfigApi, number>();
/** The admin server the API is registered on (its routes are what the OpenAPI document describes). */
const servers = new WeakMap<ConfigApi, AdminServer>();
const idempotencyTtls = new WeakMap<ConfigApi, number>();

/**
 * Registers every `/api/v1` route of the config API, and the admin port's not-found answer: a
 * problem document for unknown `/api/v1/*` paths (405 with Allow for a known path with another
 * method), `not found` as text elsewhere.
 */
export function registerConfigApi(app: AdminServer, api: ConfigApi): void {
  servers.set(api, app);
  registerRoutes(app, api.routes, {
    auth: api.auth,
    callerOf: api.callerOf,
    limiter: api.limiter,
    bodyLimit: bodyLimits.get(api) ?? 4 * 1024 * 1024,
    idempotency: { store: api.idempotency, settings: { ...DEFAULT_IDEMPOTENCY, ttlMs: idempotencyTtls.get(api) ?? DEFAULT_IDEMPOTENCY.ttlMs } },
  });
  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request);
    if (!path.startsWith('/api/v1/')) return reply.code(404).send('not found');
    const allow = methodNotAllowed(app, path);
    if (allow) return sendProblem(reply, 405, 'method_not_allowed', `allowed: ${allow}`, undefined, path, { allow, 'cache-control': 'no-store' });
    return sendProblem(reply, 404, 'not_found', 'no such endpoint', undefined, path);
  });
}

/** The guard registerAudienceRoutes calls: same keys, failure limit, rate limits and tenant rules as the rest of the API. */
function audienceAccess(
  auth: Authenticator,
  callerOf: ConfigApi['callerOf'],
  limiter: RateLimiter,
  audiences: AudienceResources,
  idempotency: () => { store: IdempotencyStore; settings: IdempotencySettings },
): AudienceAccess {
  const refusal = (e: ApiError, instance?: string): AccessRefusal => ({
    refused: { status: STATUS_TEXT[e.status] ?? `${e.status} Error`, headers: { ...e.headers }, body: JSON.stringify(problemOf(e, instance)) },
  });
  return {
    callerOf,
    async begin({ requestId, instance, ...caller }): Promise<AudienceRights | AccessRefusal> {
      const r = await auth.admit(caller, 'audiences');
      if (!r.ok) return refusal(notAdmitted(r), instance);
      const p: Principal = r.principal;
      const limit = p.rateLimit ?? limiter.defaults;
      const take = await limiter.take(p.keyId, limit);
      if (!take.ok)
        return refusal(new ApiError(429, 'rate_limited', `this key is limited to ${limit.perSecond} requests per second`, undefined, { 'retry-after': String(take.retryAfterSeconds) }), instance);
      if (!permits(p, 'audiences', 'read')) return refusal(new ApiError(403, 'forbidden', `${aKey(p.role)} may not use audiences`), instance);
      return {
        mayForgetUsers: p.role === 'admin',
        idempotency: { ...idempotency(), scope: p.keyId },
        sees: (id: string) => audiences.sees(p, id),
        advertiserIds: p.advertiserIds,
        prepareUpload: async (id: string, query: URLSearchParams) => {
          try {
            await audiences.prepareUpload(p, id, query, requestId);
            return undefined;
          } catch (e) {
            if (e instanceof ApiError) return refusal(e, instance);
            throw e;
          }
        },
      };
    },
  };
}

export interface OpenedStore {
  readonly store: ConfigStore;
  /** This start put CONFIG_DIR into the store (always for memory; for Redis, only when it was empty). */
  readonly seeded: boolean;
}

/**
 * Opens the config store the settings name and seeds it from the config directory when it is
 * empty (a memory store always is). A Redis store that already holds a configuration is the
 * source of truth: CONFIG_DIR is not even read.
 */
export async function openConfigStore(configDir: string, s: Pick<ApiSettings, 'store' | 'redisUrl' | 'redisPrefix'>): Promise<OpenedStore> {
  const store: ConfigStore = s.store === 'redis' ? createRedisConfigStore(s.redisUrl!, { prefix: s.redisPrefix }) : new MemoryConfigStore();
  try {
    if ((await store.version()) > 0) return { store, seeded: false };
    const seeded = await seedStore(store, await loadBundleFromDir(configDir));
    return { store, seeded };
  } catch (e) {
    await store.close();
    throw e;
  }
}
