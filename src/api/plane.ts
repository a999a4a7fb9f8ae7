/**
 * The config plane of one bidder process, in one call for the composition root (src/main.ts):
 * settings from the environment, the config store (seeded from CONFIG_DIR when empty), the config
 * API, the configuration to start from, and `follow()` to keep a SnapshotRef in step with the
 * store (startConfigSync). See README, "Config API", and the wiring in the report.
 */
import type { EventDatabase } from '../events/event-database.js';
import type { KillSwitchAccess } from './kill-switch.js';
import type { AudienceRebuilder } from '../audiences/rebuilds.js';
import type { AudienceService } from '../audiences/audience-service.js';
import type { ConfigBundle } from '../campaigns/schema.js';
import { bundleFromStore, type ConfigStore } from '../campaigns/config-store.js';
import { startConfigSync, type ConfigSync, type ConfigSyncOptions } from '../campaigns/config-sync.js';
import { loadBundleFromDir } from '../campaigns/load-bundle.js';
import type { ModelsView } from './routes.js';
import { createConfigApi, openConfigStore, type ConfigApi } from './index.js';
import { loadApiSettings, type ApiSettings } from './settings.js';
import { importConfig, type ImportResult } from './transfer.js';
import { ApiError } from './errors.js';
import { ConfigError } from '../errors.js';
import type { Registry } from 'prom-client';
import { AuthMetrics } from '../metrics/auth-metrics.js';
import { createRedis } from '../storage/redis-client.js';
import { processEnvironment, type Environment } from '../settings/environment.js';

export interface ConfigPlaneOptions {
  readonly configDir: string;
  /** Where DSP_ADMIN_KEY, CONFIG_STORE, ... are read, and `${NAME}` price keys looked up (default: the process environment). */
  readonly env?: Environment;
  /** The audience service: with it, `/api/v1/audiences` and API keys on the upload routes. */
  readonly audiences?: AudienceService;
  /** Where failed authentications are counted (the process's metrics registry). */
  readonly registry?: Registry;
  /** The exchange-facing base URL (NOTICE_BASE_URL) the advertisers' pixel snippets call. */
  readonly pixelBaseUrl?: string;
  /** The outcome models' state, for `GET /api/v1/models`. */
  readonly models?: ModelsView;
  /** The event store the block-placements call reads reports from (opened after the plane). */
  readonly events?: () => EventDatabase | undefined;
  /** The budget store's kill switch, for `/api/v1/kill-switch`. */
  readonly killSwitch?: () => KillSwitchAccess | undefined;
  /** Who rebuilds an audience now (made after the plane: the lookalike builder and the event store). */
  readonly rebuilds?: () => AudienceRebuilder | undefined;
}

export interface ConfigPlane {
  readonly settings: ApiSettings;
  readonly store: ConfigStore;
  /** For AppDeps/AdminDeps `configApi`. */
  readonly api: ConfigApi;
  /** The configuration to start bidding with (validated like config/ files) and its config version. */
  readonly initial: { readonly bundle: ConfigBundle; readonly version: number };
  /** Keeps `snapshots` in step with the store from now on (see campaigns/config-sync.ts). */
  follow(o: Omit<ConfigSyncOptions, 'store'>): ConfigSync;
  /**
   * SIGHUP. Memory store: config/ is merged in again (resources the files name take the files'
   * content; resources made through the API stay). Redis store: the store is the source of truth,
   * config/ is not read; nothing to do but let `follow` re-read. A refused set throws ConfigError.
   */
  reload(): Promise<ImportResult | undefined>;
  /** Fields for the "bidder listening" log line; in the embedded default, the generated admin key (printed once: nobody else knows it). */
  startInfo(): Record<string, unknown>;
  close(): Promise<void>;
}

export async function openConfigPlane(o: ConfigPlaneOptions): Promise<ConfigPlane> {
  const settings = loadApiSettings(o.env ?? processEnvironment());
  const { store, seeded } = await openConfigStore(o.configDir, settings);
  // Limits and Idempotency-Key answers: a fail-fast client (a limit check never waits on a dead Redis).
  const sharedRedis = settings.sharedRedisUrl ? createRedis(settings.sharedRedisUrl, { commandTimeoutMs: 500 }) : undefined;
  try {
    const initial = await bundleFromStore(store);
    const api = createConfigApi({
      store,
      adminKey: settings.adminKey,
      audiences: o.audiences,
      pixelBaseUrl: o.pixelBaseUrl,
      models: o.models,
      events: o.events,
      killSwitch: o.killSwitch,
      rebuilds: o.rebuilds,
      rateLimit: settings.rateLimit,
      shared: sharedRedis && { redis: sharedRedis, prefix: settings.sharedRedisPrefix },
      idempotencyTtlMs: settings.idempotencyTtlMs,
      bodyLimitBytes: settings.bodyLimitBytes,
      importLimitBytes: settings.importLimitBytes,
      env: o.env,
      authFailures: settings.authFailures,
      authMetrics: o.registry && new AuthMetrics(o.registry),
    });
    return {
      settings,
      store,
      api,
      initial,
      follow: (s) => startConfigSync({ ...s, store }),
      async reload() {
        if (settings.store !== 'memory') return undefined;
        const bundle = await loadBundleFromDir(o.configDir); // throws ConfigError (file#/pointer paths) for a bad set
        try {
          return await importConfig(store, bundle, new URLSearchParams('mode=merge'), { principal: { keyId: 'sighup', name: 'config/ (SIGHUP)', role: 'admin' } });
        } catch (e) {
          // Refused (e.g. it would break a resource made through the API): as a ConfigError, like a bad file set.
          if (e instanceof ApiError) throw new ConfigError(e.errors?.length ? e.errors : [{ path: o.configDir, code: e.code, message: e.message }]);
          throw e;
        }
      },
      startInfo: () => ({
        configStore: settings.store,
        configSeededFromFiles: seeded,
        apiLimits: sharedRedis ? 'shared (API_REDIS_URL)' : 'per process',
        configApi: '/api/v1 (openapi: /api/v1/openapi.json)',
        ...(settings.adminKeyGenerated
          ? {
              adminKey: settings.adminKey,
              adminKeyNote: 'generated for this run (set DSP_ADMIN_KEY to choose one); every /api/v1 route but the OpenAPI document needs it',
            }
          : {}),
      }),
      async close() {
        sharedRedis?.disconnect();
        await store.close();
      },
    };
  } catch (e) {
    sharedRedis?.disconnect();
    await store.close();
    throw e;
  }
}
