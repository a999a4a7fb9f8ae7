/**
 * A bidder with the config API, in the test process: a real bid port (tests/helpers/bidder.ts)
 * whose snapshot follows a config store through startConfigSync, and a real admin port with the
 * config API and the audience routes (registerAdminRoutes with `configApi`), talked to over HTTP.
 */
import type { KillSwitchAccess } from '../../src/api/kill-switch.js';
import { Registry } from 'prom-client';
import { startBidder, httpRequest, validBundle, type HttpResult, type TestBidder } from './bidder.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { MemoryConfigStore, seedStore, type ConfigStore } from '../../src/campaigns/config-store.js';
import { snapshotFromStore, startConfigSync, type ConfigSync } from '../../src/campaigns/config-sync.js';
import { createConfigApi, type ConfigApi } from '../../src/api/index.js';
import { registerAdminRoutes } from '../../src/http/admin-routes.js';
import { createAdminServer, listenAdmin } from '../../src/api/admin-server.js';
import { registerMoneyRoutes } from '../../src/http/money-routes.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';
import type { RateLimit } from '../../src/api/auth.js';
import { FakeEventDatabase } from './fake-event-database.js';
import type { EventDatabase } from '../../src/events/event-database.js';
import { ProfileStore } from '../../src/audiences/profiles.js';
import { LookalikeBuilder } from '../../src/audiences/lookalikes.js';
import { AudienceRebuilds, type AudienceRebuilder } from '../../src/audiences/rebuilds.js';
import type { AudienceService } from '../../src/audiences/audience-service.js';
import type { ModelsView } from '../../src/api/routes.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface ApiHarness {
  readonly store: ConfigStore;
  readonly api: ConfigApi;
  readonly bidder: TestBidder;
  readonly sync: ConfigSync;
  readonly adminPort: number;
  /** The lookalike profiles `POST /audiences/{id}/rebuild` trains on (empty at start). */
  readonly profiles: ProfileStore;
  /** A request to the admin port as `key` (default: the admin key; null: no Authorization). */
  call(method: string, path: string, body?: unknown, o?: { key?: string | null; headers?: Record<string, string> }): Promise<HttpResult>;
  /** Creates an API key and returns the secret. */
  key(role: 'admin' | 'advertiser' | 'read-only', advertiserIds?: string[], extra?: Record<string, unknown>): Promise<string>;
  /** Waits until the bidder's snapshot has caught up with the store. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly bundle?: ConfigBundle;
  readonly store?: ConfigStore;
  readonly rateLimit?: RateLimit;
  readonly env?: Record<string, string>;
  readonly debounceMs?: number;
  /** Where reports are read from (default: a store with no events). */
  readonly reportStore?: EventDatabase;
  /** The kill switch `/api/v1/kill-switch` reaches (default: none, 503). */
  readonly killSwitch?: KillSwitchAccess;
  /** Who rebuilds audiences (default: a lookalike builder over `profiles`, rules from `reportStore`). */
  readonly rebuilds?: (h: { audiences: AudienceService; profiles: ProfileStore; events: EventDatabase }) => AudienceRebuilder;
  /** What `GET /api/v1/models` answers (default: models off). */
  readonly models?: ModelsView;
}

export async function startApi(o: HarnessOptions = {}): Promise<ApiHarness> {
  const store = o.store ?? new MemoryConfigStore();
  if (o.bundle) await seedStore(store, validBundle(o.bundle));
  const bidder = await startBidder({ bundle: o.bundle ?? {}, env: { DEBUG_NOBID: '1', ...o.env } });
  bidder.snapshots.swap(await snapshotFromStore(store));
  const sync = startConfigSync({ store, snapshots: bidder.snapshots, debounceMs: o.debounceMs ?? 0, onSwap: () => void bidder.audiences.refreshRegistry(true) });
  const reportStore = o.reportStore ?? new FakeEventDatabase();
  const profiles = new ProfileStore(100_000);
  const rebuilds = (o.rebuilds ?? ((d) => new AudienceRebuilds(d.audiences, new LookalikeBuilder(d.audiences, d.profiles), () => d.events)))({
    audiences: bidder.audiences,
    profiles,
    events: reportStore,
  });
  const api = createConfigApi({
    store,
    adminKey: ADMIN_KEY,
    audiences: bidder.audiences,
    rateLimit: o.rateLimit ?? { perSecond: 10_000, burst: 10_000 },
    events: () => reportStore,
    killSwitch: () => o.killSwitch,
    rebuilds: () => rebuilds,
    models: o.models,
  });
  const app = await createAdminServer();
  registerAdminRoutes(app, {
    snapshots: bidder.snapshots,
    metricsText: async () => '',
    isReady: () => true,
    audiences: { audiences: bidder.audiences, metrics: new AudienceMetrics(new Registry()), uploadLimitBytes: 10 * 1024 * 1024 },
    configApi: api,
    reports: { store: reportStore },
  });
  // The kill switch on /admin, as a bidder with a budget store has it (the OpenAPI document describes the routes registered).
  registerMoneyRoutes(app, { store: new MemoryBudgetStore(), configApi: api });
  const admin = await listenAdmin(app, '127.0.0.1', 0);
  const call: ApiHarness['call'] = (method, path, body, opts = {}) => {
    const key = opts.key === undefined ? ADMIN_KEY : opts.key;
    const headers: Record<string, string> = { ...(key !== null ? { authorization: `Bearer ${key}` } : {}), ...opts.headers };
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return httpRequest(admin.port, method, path, payload, headers);
  };
  return {
    store,
    api,
    bidder,
    sync,
    adminPort: admin.port,
    profiles,
    call,
    async key(role, advertiserIds, extra = {}) {
      const r = await call('POST', '/api/v1/keys', { name: `${role} ${advertiserIds?.join(',') ?? ''}`, role, ...(advertiserIds ? { advertiserIds } : {}), ...extra });
      if (r.status !== 201) throw new Error(`key creation failed: ${r.status} ${r.text}`);
      return r.json().key as string;
    },
    async settle() {
      await sync.refresh();
    },
    async close() {
      sync.stop();
      admin.close();
      bidder.close();
      await store.close();
    },
  };
}

/** A banner bid request (300x250) on news.example. */
let seq = 0;
export function bidRequest(extra: Record<string, unknown> = {}) {
  return {
    id: `r-${++seq}`,
    imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.01 }],
    site: { domain: 'news.example', page: 'https://news.example/a' },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.7', geo: { country: 'USA' } },
    ...extra,
  };
}

/** The winning creative id, or undefined for a no-bid. */
export async function winner(bidder: { post(path: string, body: object): Promise<HttpResult> }, extra?: Record<string, unknown>): Promise<string | undefined> {
  const r = await bidder.post('/bid', bidRequest(extra));
  if (r.status === 204) return undefined;
  if (r.status !== 200) throw new Error(`bid answered ${r.status}: ${r.text}`);
  return r.json().seatbid[0].bid[0].crid as string;
}
