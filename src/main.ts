/**
 * Composition root: settings from the environment, campaigns from the config directory,
 * in-process stores, the bid and admin listeners, and signal handling
 * (SIGHUP reloads campaigns; SIGTERM/SIGINT drain and stop).
 *
 * Two shapes, chosen by WORKERS:
 * - WORKERS=1: everything in this thread (the bid app included), as tests start it.
 * - WORKERS=n>1: this thread owns settings, configuration (validated once here; each worker gets
 *   the validated bundle and compiles its own index), the admin port, the event writer (one spool
 *   per DATA_DIR) and the embedded stores; n worker threads (src/workers/) serve the bid port
 *   together. The port is checked free here first, since the workers listen with SO_REUSEPORT
 *   and would otherwise silently share it with a leftover process.
 *
 * The bid thread (this one with WORKERS=1, each worker otherwise) is built by
 * composition/bid-thread.ts. `main()` reads as the steps below, in start-up order; they share the
 * process's state (`Lifecycle`) and what was built (`Parts`).
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { loadSettings, type Settings } from './settings/settings.js';
import { processEnvironment, type Environment } from './settings/environment.js';
import { DataDirInUse, DataDirLock } from './settings/data-dir-lock.js';
import { openConfigPlane, type ConfigPlane } from './api/plane.js';
import type { ConfigSync } from './campaigns/config-sync.js';
import type { SnapshotRef } from './campaigns/snapshot.js';
import { BidderMetrics } from './metrics/bidder-metrics.js';
import { buildAdminApp, type AppDeps } from './app.js';
import type { Tracing } from './telemetry/tracing.js';
import { assertPortFree, listenExclusive } from './http/listen.js';
import { httpEngine, type HttpEngine } from './http/http-engine.js';
import { registerHttpEngine } from './metrics/engine-metrics.js';
import { ConfigError, formatFieldErrors } from './errors.js';
import { flushLogs, log } from './log.js';
import { buildSegmentStore } from './audiences/build-audiences.js';
import { buildEvents, type Events } from './composition/build-events.js';
import type { EventDatabase } from './events/event-database.js';
import { createRedis, type RedisLike } from './storage/redis-client.js';
import { busyLoop, drainBidServer } from './http/bid-server.js';
import { listenAdmin, type AdminListening } from './api/admin-server.js';
import { TrackedDedupe } from './workers/remote.js';
import { NotifyingSegmentStore } from './workers/notifying-store.js';
import { WorkerPool } from './workers/pool.js';
import { PoolMetrics } from './metrics/thread-metrics.js';
import type { BudgetStore } from './money/budget-store.js';
import type { FrequencyStore } from './money/frequency-store.js';
import { killSwitchOf } from './api/kill-switch.js';
import { buildBudgetStore, buildFrequencyStore } from './composition/build-money.js';
import { buildBidThread, loadKeys, openAudiences, openSnapshots, startThreadTracing, type ThreadAudiences, type ThreadKeys, type VersionedConfig } from './composition/bid-thread.js';
import type { BudgetLedger } from './money/budget-ledger.js';
import { OutcomePublisher } from './models/publisher.js';
import { ModelMetrics } from './metrics/model-metrics.js';
import { OutcomeCollector } from './workers/outcome-link.js';
import { RuleRebuilder } from './audiences/rule-rebuild.js';
import { ProfileFeed, ProfileStore } from './audiences/profiles.js';
import { LookalikeBuilder } from './audiences/lookalikes.js';
import { AudienceRebuilds } from './audiences/rebuilds.js';
import { ProfileCollector } from './workers/profile-link.js';
import type { AudienceService } from './audiences/audience-service.js';

/** What differs between the two shapes: where bids are served, and how they are drained. */
interface BidPlane {
  readonly port: number;
  /** Pushes a validated configuration to whoever bids (no-op in one thread: it shares `snapshots`). */
  reload(bundle: VersionedConfig['bundle'], version: number): Promise<Record<string, unknown>>;
  /** Drains bid serving (see drainBidServer); resolves when no bid socket is left open. */
  drain(delayMs: number, deadline: number): Promise<{ clean: boolean; inFlightLeft: number }>;
  /** True while bid threads other than this one are alive (exiting then would abort the process). */
  readonly threadsAlive: boolean;
}

/** The process's state, shared by the steps below as it changes. */
interface Lifecycle {
  /** /readyz answers 200: set once bids are served, cleared by the first stop signal. */
  ready: boolean;
  stopping: boolean;
  /** Set once the event writer starts closing; no bid socket is open by then. */
  eventsClosing: boolean;
  /** The configuration the bid threads run; a (re)started worker begins with it. */
  config: VersionedConfig;
  /** The bid workers (WORKERS>1), made once the admin port is taken. */
  pool?: WorkerPool;
  plane?: BidPlane;
}

/** Made after the config plane that reads them (its API is built first): the event store, the kill switch's store, the audience rebuilds. */
interface LateParts {
  eventStore?: EventDatabase;
  killStore?: BudgetStore;
  rebuilds?: AudienceRebuilds;
}

/** The outcome trainer and its published models (OUTCOME_MODELS), on this thread whatever WORKERS is. */
type Outcomes = ReturnType<OutcomePublisher['start']>;
type Lookalikes = ReturnType<typeof startLookalikes>;

/** What the main thread built, for serving bids, the admin port and the shutdown. */
interface Parts extends ThreadAudiences {
  readonly settings: Settings;
  readonly life: Lifecycle;
  readonly metrics: BidderMetrics;
  readonly snapshots: SnapshotRef;
  readonly configPlane: ConfigPlane;
  readonly outcomeModels: Outcomes | undefined;
  readonly lookalikes: Lookalikes | undefined;
  readonly stores: ProcessStores;
  readonly events: Events;
  readonly keys: ThreadKeys;
  readonly tracing: Tracing;
  readonly dedupe: TrackedDedupe;
  /** Billing and conversion notices waiting for their durable write (WORKERS=1): a drain waits for them too. */
  readonly awaiting: { pending: number };
}

async function main(): Promise<void> {
  const env = processEnvironment();
  const settings = loadSettings(env);
  const multi = settings.workers > 1;
  const bidPort = await claimDataDirAndPort(settings);
  const { metrics, engine } = processMetrics(settings);
  // `config` is the config plane's initial one (below) before anything reads it.
  const life: Lifecycle = { ready: false, stopping: false, eventsClosing: false, config: { bundle: {}, version: 0 } };
  // With workers, changes made through the admin API reach their segment caches at once.
  const threadAudiences = await openAudiences(settings, metrics, multi ? notifyingSegmentStore(settings, life) : undefined);
  // The one outcome trainer (OUTCOME_MODELS) lives on this thread, whatever WORKERS is: it learns
  // from every bid thread's bids and notices and publishes tables to all of them.
  const outcomeModels = settings.outcomeModels ? new OutcomePublisher(settings, new ModelMetrics(metrics.registry)).start(settings.outcomePublishSeconds) : undefined;
  const late: LateParts = {};
  const configPlane = await openConfig(settings, env, threadAudiences.audiences, metrics, outcomeModels, late);
  life.config = configPlane.initial;
  const snapshots = openSnapshots(life.config, multi ? undefined : metrics);
  metrics.configVersion.set(life.config.version);
  metrics.campaignsLive.set(snapshots.current.index.campaigns.length);
  const stores = processStores(settings);
  late.killStore = stores.budgetStore;
  const events = await buildEvents(settings, metrics.registry, settings.redisUrl ? createRedis(settings.redisUrl) : undefined);
  late.eventStore = events.store;
  const rebuilder = startRuleRebuilder(settings, events, threadAudiences.audiences, life);
  const keys = await loadKeys(settings);
  // Off unless an OTLP endpoint is set: then the SDK is loaded and notice and admin request spans are exported.
  const tracing = await startThreadTracing(settings, settings.instanceId);
  // Lookalikes (LOOKALIKES): one profile store and builder on this thread; with workers, each worker
  // samples into its own ring and posts its drains here (workers/profile-link.ts).
  const lookalikes = settings.lookalikes ? startLookalikes(settings, threadAudiences.audiences, metrics.registry, multi) : undefined;
  late.rebuilds = new AudienceRebuilds(threadAudiences.audiences, lookalikes?.builder, () => late.eventStore);
  const parts: Parts = {
    ...threadAudiences,
    settings,
    life,
    metrics,
    snapshots,
    configPlane,
    outcomeModels,
    lookalikes,
    stores,
    events,
    keys,
    tracing,
    dedupe: new TrackedDedupe(events.dedupe),
    awaiting: { pending: 0 },
  };
  const served = multi ? await serveWithWorkers(parts, bidPort) : await serveInThisThread(parts);
  life.plane = served.plane;
  life.ready = true;
  logStart(parts, served.plane, served.admin, engine);
  const sync = followConfig(parts);
  reloadOnSighup(parts, sync);
  stopOnSignals(parts, { ...served, sync, rebuilder });
}

/** One bidder process per DATA_DIR (locked before anything under it is opened); with workers, the bid port checked free. */
async function claimDataDirAndPort(settings: Settings): Promise<number> {
  const dataDirLock = await DataDirLock.acquire(settings.dataDir, { log });
  process.on('exit', () => dataDirLock.release());
  // Workers share the bid port (SO_REUSEPORT), so a leftover process on it would silently take part
  // of the traffic: fail fast here, and check again right before the workers listen.
  return settings.workers > 1 ? await assertPortFree(settings.host, settings.port) : settings.port;
}

/** The process's metrics registry, with the HTTP engine gauge (and a warning when it is the JavaScript fallback). */
function processMetrics(settings: Settings): { metrics: BidderMetrics; engine: HttpEngine } {
  const metrics = new BidderMetrics();
  const engine = httpEngine();
  registerHttpEngine(metrics.registry, engine);
  if (engine === 'fallback')
    log('warn', 'HTTP engine is the JavaScript fallback: uWebSockets.js has no binary for this Node.js version (or UWS_USE_FALLBACK is set), so every port is slower (run Node 20: see docs/operations.md, Supported Node.js versions)', {
      node: process.versions.node,
      abi: process.versions.modules,
      forced: settings.httpFallbackForced,
    });
  return { metrics, engine };
}

/** The embedded segment store (WORKERS>1) telling the workers of every change, so their caches drop it at once. */
function notifyingSegmentStore(settings: Settings, life: Lifecycle): NotifyingSegmentStore {
  return new NotifyingSegmentStore(buildSegmentStore(settings), {
    keys: (keys) => life.pool?.broadcast({ t: 'invalidate', keys }),
    meta: () => life.pool?.broadcast({ t: 'registry' }),
  });
}

/**
 * The configuration lives in the config store (memory, seeded from CONFIG_DIR; or Redis, shared by
 * every bidder), edited through the config API; the bid threads follow it (campaigns/config-sync.ts).
 * The event store is opened later; the block-placements call reads it once it is there.
 */
function openConfig(settings: Settings, env: Environment, audiences: AudienceService, metrics: BidderMetrics, outcomeModels: Outcomes | undefined, late: LateParts) {
  return openConfigPlane({
    configDir: settings.configDir,
    env,
    audiences,
    registry: metrics.registry,
    pixelBaseUrl: settings.noticeBaseUrl,
    models: () => ({ enabled: outcomeModels !== undefined, models: [...(outcomeModels?.status() ?? [])].map((m) => ({ ...m, deciles: [...m.deciles] })) }),
    events: () => late.eventStore,
    killSwitch: () => late.killStore && killSwitchOf(late.killStore),
    rebuilds: () => late.rebuilds,
  });
}

interface ProcessStores {
  /** The Redis of budgets and frequency counters (REDIS_URL), disconnected last. */
  readonly budgetRedis: RedisLike | undefined;
  readonly budgetStore: BudgetStore;
  readonly frequencyStore: FrequencyStore;
}

/**
 * Budgets: one store per process (Redis, shared by every instance; or in this process, shared by
 * its bid threads); each bid thread leases slices of it (money/budget-ledger.ts). Frequency counters alike.
 */
function processStores(settings: Settings): ProcessStores {
  const budgetRedis = settings.redisUrl ? createRedis(settings.redisUrl) : undefined;
  return { budgetRedis, budgetStore: buildBudgetStore(budgetRedis), frequencyStore: buildFrequencyStore(budgetRedis) };
}

/** Rule audiences from the event store (audiences/rule-rebuild.ts), on this thread only: its writes reach the workers' caches. */
function startRuleRebuilder(settings: Settings, events: Events, audiences: AudienceService, life: Lifecycle): RuleRebuilder {
  const rebuilder = new RuleRebuilder(events.store, audiences, settings.ruleRebuildMinutes > 0 ? settings.ruleRebuildMinutes * 60_000 : Infinity);
  events.schemaReady.then(() => rebuilder.start(), () => {});
  // A schema newer than this code: refuse to run. A migration cut short by our own shutdown (the store was
  // closed under it) is not that: the next start carries on where it stopped.
  events.schemaReady.catch(() => (life.stopping ? undefined : fatal(life, 'event schema refused')));
  return rebuilder;
}

/** The admin port's dependencies (the bid port's are the bid thread's: composition/bid-thread.ts). */
function adminDeps(p: Parts): AppDeps {
  const { settings, metrics, life, lookalikes } = p;
  return {
    settings,
    snapshots: p.snapshots,
    metrics,
    audiences: p.audiences,
    profiles: lookalikes?.feed,
    audienceMetrics: p.audienceMetrics,
    signer: p.keys.signer,
    userKeys: p.keys.userKeys,
    isReady: () => life.ready,
    reports: { store: p.events.store },
    tracing: p.tracing,
    metricsText:
      settings.workers > 1
        ? async () => AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), ...(await life.pool!.scrape())]).metrics()
        : undefined,
    readyStatus: settings.workers > 1 ? () => ({ workers: life.pool!.status() }) : undefined,
    configApi: p.configPlane.api,
    budgetStore: p.stores.budgetStore,
    forgetProfile:
      lookalikes?.collector &&
      ((key: string) => {
        life.pool?.broadcast({ t: 'forget-profile', key });
        return lookalikes.collector!.forget(key);
      }),
  };
}

interface Served {
  readonly plane: BidPlane;
  readonly admin: AdminListening;
  /** This thread's budget ledger (WORKERS=1; each worker stops its own). */
  readonly money?: BudgetLedger;
}

/** WORKERS=1: this thread is the bid thread too; the bid port, then the admin port. */
async function serveInThisThread(p: Parts): Promise<Served> {
  const { settings, life, dedupe, awaiting } = p;
  const bid = buildBidThread({
    ...p,
    thread: 0,
    budgetStore: p.stores.budgetStore,
    frequencyStore: p.stores.frequencyStore,
    models: p.outcomeModels?.models,
    outcomes: p.outcomeModels?.trainer,
    profiles: p.lookalikes?.feed,
    notices: {
      events: p.events.writer,
      dedupe,
      metrics: p.events.noticeMetrics,
      maxAgeSec: settings.noticeMaxAgeSeconds,
      // The drain closes every bid connection before the writer closes, so this only guards against a
      // notice arriving after that (it would get 503 and retry elsewhere rather than be dropped).
      accepting: () => !life.eventsClosing,
      awaiting,
      tracing: p.tracing,
    },
  });
  const listening = await listenExclusive(bid.app, settings.host, settings.port);
  const hooks = settings.testHooks ? { crash: () => false, lag: (busy: number, every: number, forMs: number) => void busyLoop(busy, every, forMs) } : undefined;
  const admin = await listenAdmin(await buildAdminApp(adminDeps(p), hooks), settings.host, settings.adminPort);
  const plane: BidPlane = {
    port: listening.port,
    threadsAlive: false,
    reload: async () => ({}),
    async drain(delayMs, deadline) {
      const r = await drainBidServer(bid.app, listening, bid.gate, { delayMs, deadline, pending: () => dedupe.pending + awaiting.pending });
      bid.lag.stop();
      return { clean: r.inFlightLeft === 0, inFlightLeft: r.inFlightLeft };
    },
  };
  return { plane, admin, money: bid.money };
}

/** WORKERS>1: the admin port here, then the bid workers on the bid port (checked free once more right before). */
async function serveWithWorkers(p: Parts, bidPort: number): Promise<Served> {
  const { settings, life, outcomeModels, lookalikes } = p;
  const collector = outcomeModels && new OutcomeCollector(outcomeModels.trainer);
  // The test hooks reach the worker pool, made once the admin port is taken.
  const hooks = settings.testHooks
    ? { crash: (n: number) => life.pool?.crash(n) ?? false, lag: (busyMs: number, everyMs: number, forMs: number) => life.pool?.broadcast({ t: 'test-lag', busyMs, everyMs, forMs }) }
    : undefined;
  const admin = await listenAdmin(await buildAdminApp(adminDeps(p), hooks), settings.host, settings.adminPort);
  const port = await assertPortFree(settings.host, bidPort).catch((e: Error) => fatal(life, e.message));
  const workers = new WorkerPool({
    settings,
    size: settings.workers,
    port,
    config: () => life.config,
    events: p.events.writer,
    segmentStore: p.audiences.store,
    dedupe: p.dedupe,
    budgetStore: p.stores.budgetStore,
    frequencyStore: p.stores.frequencyStore,
    metrics: new PoolMetrics(p.metrics.registry),
    profiles: lookalikes?.collector && {
      take: (worker, sightings) => {
        lookalikes.sightings.inc({ thread: `w${worker}` }, sightings.length);
        lookalikes.collector!.take(worker, sightings);
      },
    },
    outcomes: collector && { take: (batch) => collector.take(batch), latest: () => (outcomeModels!.models.current.version > 0 ? outcomeModels!.models.current : undefined) },
  });
  life.pool = workers;
  if (outcomeModels) outcomeModels.onPublish = (models) => life.pool?.broadcast({ t: 'models', models });
  process.on('uncaughtException', (e) => fatal(life, `uncaught exception: ${e?.stack ?? e}`));
  await workers.start().catch((e: Error) => fatal(life, e.message));
  const plane: BidPlane = {
    port,
    get threadsAlive() {
      return workers.aliveCount > 0;
    },
    async reload(next, version) {
      const r = await workers.broadcastConfig(next, version);
      return { workers: r.acked, ...(r.failed.length ? { failed: r.failed } : {}) };
    },
    drain: (delayMs, deadline) => workers.drain(delayMs, deadline),
  };
  return { plane, admin };
}

function logStart(p: Parts, plane: BidPlane, admin: AdminListening, engine: HttpEngine): void {
  const { settings, snapshots } = p;
  log('info', 'bidder listening', {
    bid: `http://${settings.host}:${plane.port}/bid`,
    admin: `http://${settings.host}:${admin.port}`,
    httpEngine: engine,
    workers: settings.workers,
    campaigns: snapshots.current.index.campaigns.length,
    exchanges: [...snapshots.current.exchanges.keys()],
    instance: settings.instanceId,
    segmentStore: p.audiences.store.kind,
    eventStore: p.events.store.kind,
    ...p.configPlane.startInfo(),
  });
  if (!settings.noticeBaseUrl.startsWith('https:'))
    log('warn', 'NOTICE_BASE_URL is not https: bids on secure imps will carry no impression pixel or click tracking', {
      noticeBaseUrl: settings.noticeBaseUrl,
    });
}

/**
 * Every new config version (an API change, an import, SIGHUP, another bidder's change in a shared
 * Redis store) is validated and compiled off the request path and swapped into `snapshots`; then
 * posted to the bid threads, one version at a time so they stay in order on every thread.
 */
function followConfig(p: Parts): ConfigSync {
  const { life } = p;
  let spreading: Promise<void> = Promise.resolve();
  return p.configPlane.follow({
    snapshots: p.snapshots,
    metrics: p.metrics,
    onSwap: (snap, bundle) => {
      life.config = { bundle, version: snap.version };
      spreading = spreading.then(async () => {
        const spread = await life.plane!.reload(bundle, snap.version);
        log('failed' in spread ? 'error' : 'info', 'configuration reloaded', { version: snap.version, campaigns: snap.index.campaigns.length, ...spread });
      });
    },
    onError: (e) => log('error', 'configuration refused; keeping the running campaigns', describe(e)),
  });
}

/**
 * SIGHUP: the embedded store merges config/ in again (the change then arrives through `sync`);
 * a Redis store is the source of truth, so it is re-read at once (the poll would find it anyway).
 */
function reloadOnSighup(p: Parts, sync: ConfigSync): void {
  let reloading: Promise<unknown> = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      if (p.life.stopping) return;
      try {
        const r = await p.configPlane.reload();
        if (r === undefined) await sync.refresh();
        else if (r.created + r.updated + r.deleted === 0) log('info', 'configuration unchanged (SIGHUP)', { version: r.configVersion });
      } catch (e) {
        log('error', 'configuration reload refused; keeping the running campaigns', describe(e as Error));
      }
    });
  });
}

/** What the shutdown stops, besides the parts. */
type Running = Served & { readonly sync: ConfigSync; readonly rebuilder: RuleRebuilder };

/**
 * SIGTERM/SIGINT: readiness fails at once; the bid listener stays open SHUTDOWN_DELAY_MS (the
 * preStop pause: the load balancer stops sending new connections meanwhile) while every answer
 * already says `Connection: close`; then the listener closes, in-flight requests finish (or are
 * cut off at the request deadline), every bid connection is closed, the event writer flushes
 * (to the store, or durably to the spool for the next start), and the process exits 0. All of it
 * within SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS: requests get the timeout less a reserve for the
 * flush (min(5 s, half of it)), and a hard timer ends the process with 1 if anything hangs.
 */
function stopOnSignals(p: Parts, running: Running): void {
  const { settings, life } = p;
  const stop = (signal: string) => {
    // Once only; a repeated signal (npm and a process-group kill both forwarding SIGTERM, a second
    // Ctrl-C) must not fall back to the default action and kill the process mid-flush.
    if (life.stopping) return log('info', 'already stopping', { signal });
    life.stopping = true;
    life.ready = false;
    const t0 = Date.now();
    const { shutdownDelayMs: delayMs, shutdownTimeoutMs: timeoutMs } = settings;
    const requestDeadline = t0 + delayMs + timeoutMs - Math.min(5_000, timeoutMs / 2);
    log('info', 'stopping', { signal, delayMs, timeoutMs });
    setTimeout(() => {
      log('error', 'shutdown took too long; exiting (unsent events stay in the spool)');
      exitNow(life, 1);
    }, delayMs + timeoutMs).unref();
    shutDown(p, running, t0, delayMs, requestDeadline).then(
      () => {
        log('info', 'stopped', { ms: Date.now() - t0 });
        exitNow(life, 0);
      },
      (e: Error) => {
        log('error', 'shutdown failed', { error: e.message });
        exitNow(life, 1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The shutdown, in this order: bid traffic drained, then everything it fed, then the admin port last. */
async function shutDown(p: Parts, running: Running, t0: number, delayMs: number, requestDeadline: number): Promise<void> {
  const drained = await running.plane.drain(delayMs, requestDeadline);
  log(drained.clean ? 'info' : 'warn', 'bid traffic drained', { ms: Date.now() - t0, ...drained });
  running.sync.stop();
  await running.money?.stop();
  await running.rebuilder.stop();
  p.life.eventsClosing = true;
  await p.events.close();
  await p.tracing.shutdown().catch(() => undefined);
  await p.configPlane.close();
  await p.audiences.close();
  p.stores.budgetRedis?.disconnect();
  await running.admin.stop();
}

/** Exits; with worker threads still holding sockets a normal exit would abort, so they are killed with the process. */
function exitNow(life: Lifecycle, code: number): never {
  flushLogs(); // SIGKILL skips the exit hooks that flush the asynchronous log destinations
  if (life.plane?.threadsAlive) process.kill(process.pid, 'SIGKILL');
  process.exit(code);
}

/** A fatal error after start-up began: workers are stopped first (a thread exiting with open sockets aborts the process). */
async function fatal(life: Lifecycle, message: string): Promise<never> {
  log('error', 'bidder stopped on a fatal error', { error: message });
  const pool = life.pool;
  if (pool) await pool.drain(0, Date.now()).catch(() => undefined);
  flushLogs(); // SIGKILL skips the exit hooks that flush the asynchronous log destinations
  if (pool && pool.aliveCount > 0) process.kill(process.pid, 'SIGKILL');
  process.exit(1);
}

function describe(e: Error): Record<string, unknown> {
  return e instanceof ConfigError ? { errors: e.errors } : { error: e.message };
}


main().catch((e: unknown) => {
  if (e instanceof ConfigError) process.stderr.write(`${e.message.split('\n')[0]}\n${formatFieldErrors(e.errors)}\n`);
  else if (e instanceof DataDirInUse) log('error', 'bidder failed to start', { error: e.message });
  else log('error', 'bidder failed to start', { error: (e as Error)?.stack ?? String(e) });
  process.exit(1);
});

/**
 * Lookalike audiences, on the main thread whatever WORKERS is. One thread: the bid route samples
 * the users it may keep data of into a ring, drained every second into the profile store. With
 * workers: each worker has the ring and posts its drains here, into the same store (the collector).
 * The builder checks every minute for lookalikes due a rebuild.
 */
function startLookalikes(settings: Settings, audiences: AudienceService, registry: Registry, multi: boolean) {
  const store = new ProfileStore(settings.profileUsers);
  const feed = multi ? undefined : new ProfileFeed(store, { slots: 4096, sampleEvery: settings.profileSampleEvery });
  const collector = multi ? new ProfileCollector(store) : undefined;
  new Gauge({
    name: 'lookalike_profiles',
    help: 'Users with a profile for lookalike audiences.',
    registers: [registry],
    collect(this: Gauge) {
      this.set(store.size);
    },
  });
  const sightings = new Counter({
    name: 'lookalike_profile_sightings_total',
    help: 'Sampled users seen by each bid worker and taken into the profile store (WORKERS>1).',
    labelNames: ['thread'],
    registers: [registry],
  });
  const buildSeconds = new Histogram({
    name: 'lookalike_build_duration_seconds',
    help: 'Time to build and publish one lookalike audience.',
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const size = new Gauge({ name: 'lookalike_members', help: 'Members of each lookalike audience at its last build.', labelNames: ['segment'], registers: [registry] });
  const builder = new LookalikeBuilder(audiences, store, {
    built(id, seconds, n) {
      buildSeconds.observe(seconds);
      size.set({ segment: id }, n);
    },
  });
  feed?.start(1000);
  builder.start(60_000);
  return { store, feed, collector, sightings, builder };
}
