/**
 * The bid route of `npm run bench:hot-path`, built from this build's modules or from another
 * built checkout's (`--base <dir>`: its `dist/src`), so that both routes can run in one process,
 * round after round over the same requests. Two processes run minutes apart on a shared machine
 * differ by more than most changes to the route do; two routes interleaved in one process do not.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { ConfigBundle } from '../src/campaigns/schema.js';
import type { BidderEvent, EventSink } from '../src/events/event-types.js';
import type { OutcomeModelsRef } from '../src/models/outcome-models.js';
import { uploadKey } from '../src/audiences/identity.js';
import { ALL_USERS_SEGMENT, SEGMENT_COUNT, segmentId, userIdentity, userSegments } from '../src/simulator/vocabulary.js';
import { seedStores, type FixtureRequest } from './scenario/fixtures.js';

export type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** What a route is built from (the modules of one build). */
export interface RouteModules {
  readonly root: string;
  readonly snapshot: typeof import('../src/campaigns/snapshot.js');
  readonly settings: typeof import('../src/settings/settings.js');
  readonly metrics: typeof import('../src/metrics/bidder-metrics.js');
  readonly audienceMetrics: typeof import('../src/metrics/audience-metrics.js');
  readonly segmentStore: typeof import('../src/audiences/memory-segment-store.js');
  readonly audiences: typeof import('../src/audiences/build-audiences.js');
  readonly signer: typeof import('../src/events/load-signer.js');
  readonly bidLog: typeof import('../src/events/bid-log.js');
  readonly money: typeof import('../src/composition/build-money.js');
  readonly bidRoute: typeof import('../src/http/bid-route.js');
}

/** This build's modules (`root` undefined), or those of the built checkout at `root`. */
export async function routeModules(root?: string): Promise<RouteModules> {
  const load = (path: string) => (root === undefined ? import(`../src/${path}`) : import(pathToFileURL(join(root, 'dist', 'src', path)).href));
  return {
    root: root ?? 'this build',
    snapshot: await load('campaigns/snapshot.js'),
    settings: await load('settings/settings.js'),
    metrics: await load('metrics/bidder-metrics.js'),
    audienceMetrics: await load('metrics/audience-metrics.js'),
    segmentStore: await load('audiences/memory-segment-store.js'),
    audiences: await load('audiences/build-audiences.js'),
    signer: await load('events/load-signer.js'),
    bidLog: await load('events/bid-log.js'),
    money: await load('composition/build-money.js'),
    bidRoute: await load('http/bid-route.js'),
  };
}

/** Discards events (the writer's cost is the event store's, off the hot path) but counts them. */
export class CountingSink implements EventSink {
  events = 0;
  write(_e: BidderEvent): void {
    this.events++;
  }
  async writeDurable(e: BidderEvent): Promise<void> {
    this.write(e);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface BuiltRoute {
  /** Whose modules: 'this build' or the other checkout's directory. */
  readonly root: string;
  readonly handler: Handler;
  readonly snap: import('../src/campaigns/snapshot.js').Snapshot;
  readonly settings: import('../src/settings/settings.js').Settings;
  readonly audiences: import('../src/audiences/audience-service.js').AudienceService;
  readonly sink: CountingSink;
}

export interface RouteScenario {
  readonly bundle: ConfigBundle;
  /** The scenario's config directory (also DATA_DIR: nothing is written there by the route). */
  readonly dir: string;
  readonly users: number;
  readonly fixtures: readonly FixtureRequest[];
  readonly models?: OutcomeModelsRef;
  readonly say: (s: string) => void;
}

/**
 * The bid route with budgets, frequency caps, the bid log and metrics on, the scenario's users in
 * an in-process segment store and the fixtures' seeds in the stores, registered on a stand-in app.
 */
export async function buildRoute(m: RouteModules, s: RouteScenario): Promise<BuiltRoute> {
  const snap = m.snapshot.buildSnapshot(s.bundle, 1);
  const snapshots = new m.snapshot.SnapshotRef(snap);
  const settings = m.settings.loadSettings({ DATA_DIR: s.dir, CONFIG_DIR: s.dir, NOTICE_SIGNING_KEYS: 'bench:benchmark-signing-key-0123456789', NOTICE_BASE_URL: 'https://bid.example' });
  const metrics = new m.metrics.BidderMetrics({ defaultMetrics: false });
  for (const id of snap.exchanges.keys()) metrics.forExchange(id);
  const store = new m.segmentStore.MemorySegmentStore();
  s.say(`loading ${s.users.toLocaleString('en')} users into the in-process segment store (${m.root})`);
  const created = new Date().toISOString();
  for (let i = 0; i < SEGMENT_COUNT; i++) await store.putSegment({ id: segmentId(i), name: `s${i}`, ttlSeconds: 30 * 24 * 3600, createdAt: created });
  await store.putSegment({ id: ALL_USERS_SEGMENT, name: 'all', ttlSeconds: 30 * 24 * 3600, createdAt: created });
  const expiresAt = Math.floor(Date.now() / 1000) + 30 * 24 * 3600;
  for (let start = 0; start < s.users; start += 10_000) {
    const rows = [];
    for (let n = start; n < Math.min(s.users, start + 10_000); n++) {
      const who = userIdentity(n);
      const key = uploadKey(who.kind, who.id);
      if (typeof key === 'string') rows.push({ key, segments: [...userSegments(n), ALL_USERS_SEGMENT], expiresAt });
    }
    await store.addMemberships(rows);
  }
  const budgetStore = m.money.buildBudgetStore(undefined);
  const frequencyStore = m.money.buildFrequencyStore(undefined);
  for (const f of s.fixtures) if (f.seed !== undefined) await seedStores(f.seed, { segments: store, frequency: frequencyStore, budgets: budgetStore }, snap, Date.now());
  const audiences = await m.audiences.buildAudiences(settings, new m.audienceMetrics.AudienceMetrics(metrics.registry), store);
  const sink = new CountingSink();
  const money = m.money.buildLedger(settings, snapshots, budgetStore, 0, metrics.registry);
  const deps = {
    settings,
    snapshots,
    metrics,
    signer: await m.signer.loadSigner(settings),
    audiences,
    bidLog: new m.bidLog.BidLog(sink, settings.bidLogSampleRate, settings.requestLogSampleRate, 'hot-'),
    money,
    frequency: m.money.buildFrequency(settings, frequencyStore, metrics.registry),
    models: s.models,
  };
  let handler: Handler | undefined;
  const app = {
    post: (path: string, h: Handler) => {
      if (path === '/bid') handler = h;
      return app;
    },
    any: () => app,
  } as unknown as TemplatedApp;
  m.bidRoute.registerBidRoutes(app, deps);
  if (handler === undefined) throw new Error(`${m.root}: the bid route did not register POST /bid`);
  await money.renew(); // the leases, with the fixtures' spend, before the first request
  return { root: m.root, handler, snap, settings, audiences, sink };
}
