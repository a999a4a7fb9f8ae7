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
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { loadSettings } from './config/settings.js';
import { processEnvironment } from './config/environment.js';
import { buildSnapshot, SnapshotRef } from './campaigns/snapshot.js';
import { openConfigPlane } from './api/plane.js';
import type { ConfigBundle } from './campaigns/schema.js';
import { BidderMetrics } from './metrics/bidder-metrics.js';
import { buildAdminApp, buildBidApp, type AppDeps } from './app.js';
import { NO_TRACING, startTracing } from './telemetry/tracing.js';
import { assertPortFree, listenExclusive, type Listening } from './http/listen.js';
import { httpEngine } from './http/http-engine.js';
import { registerHttpEngine } from './metrics/engine-metrics.js';
import { ConfigError, formatFieldErrors } from './errors.js';
import { DataDirInUse, DataDirLock } from './config/data-dir-lock.js';
import { flushLogs, log } from './log.js';
import { AudienceMetrics } from './metrics/audience-metrics.js';
import { buildAudiences, buildSegmentStore } from './audiences/build-audiences.js';
import { loadSigner } from './events/load-signer.js';
import { loadUserKeyer } from './events/user-key.js';
import { buildEvents } from './composition/build-events.js';
import type { EventStore } from './events/event-store.js';
import { BidLog } from './events/bid-log.js';
import { createRedis } from './storage/redis-client.js';
import { busyLoop, drainBidServer, threadGate } from './http/bid-server.js';
import { listenAdmin, type AdminListening } from './api/admin-server.js';
import { TrackedDedupe } from './workers/remote.js';
import { NotifyingSegmentStore } from './workers/notifying-store.js';
import { WorkerPool } from './workers/pool.js';
import { PoolMetrics } from './metrics/thread-metrics.js';
import type { BudgetStore } from './money/budget-store.js';
import { killSwitchOf } from './api/kill-switch.js';
import { buildBudgetStore, buildFrequency, buildFrequencyStore, buildLedger } from './composition/build-money.js';
import type { BudgetLedger } from './money/budget-ledger.js';
import { OutcomePublisher } from './models/publisher.js';
import { ModelMetrics } from './metrics/model-metrics.js';
import { OutcomeCollector } from './workers/outcome-link.js';
import type { Settings } from './config/settings.js';
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
  reload(bundle: ConfigBundle, version: number): Promise<Record<string, unknown>>;
  /** Drains bid serving (see drainBidServer); resolves when no bid socket is left open. */
  drain(delayMs: number, deadline: number): Promise<{ clean: boolean; inFlightLeft: number }>;
  /** True while bid threads other than this one are alive (exiting then would abort the process). */
  readonly threadsAlive: boolean;
}

async function main(): Promise<void> {
  const env = processEnvironment();
  const settings = loadSettings(env);
  // Before anything under DATA_DIR is opened: one bidder process per DATA_DIR.
  const dataDirLock = await DataDirLock.acquire(settings.dataDir, { log });
  process.on('exit', () => dataDirLock.release());
  const multi = settings.workers > 1;
  // Workers share the bid port (SO_REUSEPORT), so a leftover process on it would silently take part
  // of the traffic: fail fast here, and check again right before the workers listen.
  const bidPort = multi ? await assertPortFree(settings.host, settings.port) : settings.port;
  const metrics = new BidderMetrics();
  const engine = httpEngine();
  registerHttpEngine(metrics.registry, engine);
  if (engine === 'fallback')
    log('warn', 'HTTP engine is the JavaScript fallback: uWebSockets.js has no binary for this Node.js version (or UWS_USE_FALLBACK is set), so every port is slower (run Node 20: see docs/operations.md, Supported Node.js versions)', {
      node: process.versions.node,
      abi: process.versions.modules,
      forced: settings.httpFallbackForced,
    });
  let pool: WorkerPool | undefined;
  const audienceMetrics = new AudienceMetrics(metrics.registry);
  // With workers, changes made through the admin API reach their segment caches at once.
  const segmentStore = multi
    ? new NotifyingSegmentStore(buildSegmentStore(settings), {
        keys: (keys) => pool?.broadcast({ t: 'invalidate', keys }),
        meta: () => pool?.broadcast({ t: 'registry' }),
      })
    : undefined;
  const audiences = await buildAudiences(settings, audienceMetrics, segmentStore);
  // The one outcome trainer (OUTCOME_MODELS) lives on this thread, whatever WORKERS is: it learns
  // from every bid thread's bids and notices and publishes tables to all of them.
  const outcomeModels = settings.outcomeModels ? new OutcomePublisher(settings, new ModelMetrics(metrics.registry)).start(settings.outcomePublishSeconds) : undefined;

  // The configuration lives in the config store (memory, seeded from CONFIG_DIR; or Redis, shared by
  // every bidder), edited through the config API; the bid threads follow it (campaigns/config-sync.ts).
  // The event store is opened below; the block-placements call reads it once it is there.
  let eventStore: EventStore | undefined;
  let killStore: BudgetStore | undefined;
  let rebuilds: AudienceRebuilds | undefined;
  const configPlane = await openConfigPlane({
    configDir: settings.configDir,
    env,
    audiences,
    registry: metrics.registry,
    pixelBaseUrl: settings.noticeBaseUrl,
    models: () => ({ enabled: outcomeModels !== undefined, models: [...(outcomeModels?.status() ?? [])].map((m) => ({ ...m, deciles: [...m.deciles] })) }),
    events: () => eventStore,
    killSwitch: () => killStore && killSwitchOf(killStore),
    rebuilds: () => rebuilds,
  });
  let config = configPlane.initial;
  const snapshots = new SnapshotRef(buildSnapshot(config.bundle, config.version));
  metrics.configVersion.set(config.version);
  metrics.campaignsLive.set(snapshots.current.index.campaigns.length);
  if (!multi) for (const id of snapshots.current.exchanges.keys()) metrics.forExchange(id);

  // Budgets: one store per process (Redis, shared by every instance; or in this process, shared by
  // its bid threads); each bid thread leases slices of it (money/budget-ledger.ts).
  const budgetRedis = settings.redisUrl ? createRedis(settings.redisUrl) : undefined;
  const budgetStore = buildBudgetStore(budgetRedis);
  killStore = budgetStore;
  const frequencyStore = buildFrequencyStore(budgetRedis);
  let money: BudgetLedger | undefined;

  const events = await buildEvents(settings, metrics.registry, settings.redisUrl ? createRedis(settings.redisUrl) : undefined);
  eventStore = events.store;
  // Rule audiences from the event store (audiences/rule-rebuild.ts), on this thread only: its writes reach the workers' caches.
  const rebuilder = new RuleRebuilder(events.store, audiences, settings.ruleRebuildMinutes > 0 ? settings.ruleRebuildMinutes * 60_000 : Infinity);
  events.schemaReady.then(() => rebuilder.start(), () => {});
  // A schema newer than this code: refuse to run. A migration cut short by our own shutdown (the store was
  // closed under it) is not that: the next start carries on where it stopped.
  events.schemaReady.catch(() => (stopping ? undefined : fatal('event schema refused')));

  let ready = false;
  let stopping = false;
  /** Set once the event writer starts closing; no bid socket is open by then. */
  let eventsClosing = false;
  const signer = await loadSigner(settings);
  // Off unless an OTLP endpoint is set: then the SDK is loaded and notice and admin request spans are exported.
  const tracing = settings.tracesEndpoint
    ? await startTracing({ endpoint: settings.tracesEndpoint, serviceName: settings.serviceName, instanceId: settings.instanceId })
    : NO_TRACING;
  const userKeys = await loadUserKeyer(settings);
  const dedupe = new TrackedDedupe(events.dedupe);
  /** Billing and conversion notices waiting for their durable write (WORKERS=1): a drain waits for them too. */
  const awaiting = { pending: 0 };
  // Lookalikes (LOOKALIKES): one profile store and builder on this thread; with workers, each worker
  // samples into its own ring and posts its drains here (workers/profile-link.ts).
  const lookalikes = settings.lookalikes ? startLookalikes(settings, audiences, metrics.registry, multi) : undefined;
  rebuilds = new AudienceRebuilds(audiences, lookalikes?.builder, () => eventStore);
  const profiles = lookalikes?.feed;
  const deps: AppDeps = {
    settings,
    snapshots,
    metrics,
    audiences,
    profiles,
    audienceMetrics,
    signer,
    userKeys,
    isReady: () => ready,
    notices: {
      events: events.writer,
      dedupe,
      metrics: events.noticeMetrics,
      maxAgeSec: settings.noticeMaxAgeSeconds,
      // The drain closes every bid connection before the writer closes, so this only guards against a
      // notice arriving after that (it would get 503 and retry elsewhere rather than be dropped).
      accepting: () => !eventsClosing,
      awaiting,
      tracing,
    },
    bidLog: new BidLog(events.writer, settings.bidLogSampleRate, settings.requestLogSampleRate, `${settings.instanceId}${Date.now().toString(36)}-`),
    reports: { store: events.store },
    tracing,
    metricsText: multi
      ? async () => AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), ...(await pool!.scrape())]).metrics()
      : undefined,
    readyStatus: multi ? () => ({ workers: pool!.status() }) : undefined,
    configApi: configPlane.api,
    budgetStore,
    forgetProfile:
      lookalikes?.collector &&
      ((key: string) => {
        pool?.broadcast({ t: 'forget-profile', key });
        return lookalikes.collector!.forget(key);
      }),
  };

  let plane: BidPlane;
  let admin: AdminListening;
  if (!multi) {
    const thread = threadGate(settings, metrics.registry, 'main');
    money = buildLedger(settings, snapshots, budgetStore, 0, metrics.registry);
    const outcomes = outcomeModels && { models: outcomeModels.models, outcomes: outcomeModels.trainer };
    const bidApp = buildBidApp({ ...deps, ...outcomes, gate: thread.gate, money, frequency: buildFrequency(settings, frequencyStore, metrics.registry) });
    const bid = await listenExclusive(bidApp, settings.host, settings.port);
    admin = await listenAdmin(
      await buildAdminApp(deps, settings.testHooks ? { crash: () => false, lag: (busy, every, forMs) => void busyLoop(busy, every, forMs) } : undefined),
      settings.host,
      settings.adminPort,
    );
    plane = {
      port: bid.port,
      threadsAlive: false,
      reload: async () => ({}),
      async drain(delayMs, deadline) {
        const r = await drainBidServer(bidApp, bid, thread.gate, { delayMs, deadline, pending: () => dedupe.pending + awaiting.pending });
        thread.lag.stop();
        return { clean: r.inFlightLeft === 0, inFlightLeft: r.inFlightLeft };
      },
    };
  } else {
    const collector = outcomeModels && new OutcomeCollector(outcomeModels.trainer);
    // The test hooks reach the worker pool, made once the admin port is taken.
    const hooks = settings.testHooks
      ? { crash: (n: number) => pool?.crash(n) ?? false, lag: (busyMs: number, everyMs: number, forMs: number) => pool?.broadcast({ t: 'test-lag', busyMs, everyMs, forMs }) }
      : undefined;
    admin = await listenAdmin(await buildAdminApp(deps, hooks), settings.host, settings.adminPort);
    const port = await assertPortFree(settings.host, bidPort).catch((e: Error) => fatal(e.message));
    pool = new WorkerPool({
      settings,
      size: settings.workers,
      port,
      config: () => config,
      events: events.writer,
      segmentStore: audiences.store,
      dedupe,
      budgetStore,
      frequencyStore,
      metrics: new PoolMetrics(metrics.registry),
      profiles: lookalikes?.collector && {
        take: (worker, sightings) => {
          lookalikes.sightings.inc({ thread: `w${worker}` }, sightings.length);
          lookalikes.collector!.take(worker, sightings);
        },
      },
      outcomes: collector && { take: (batch) => collector.take(batch), latest: () => (outcomeModels!.models.current.version > 0 ? outcomeModels!.models.current : undefined) },
    });
    if (outcomeModels) outcomeModels.onPublish = (models) => pool?.broadcast({ t: 'models', models });
    const workers = pool;
    process.on('uncaughtException', (e) => fatal(`uncaught exception: ${e?.stack ?? e}`));
    await workers.start().catch((e: Error) => fatal(e.message));
    plane = {
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
  }
  ready = true;
  log('info', 'bidder listening', {
    bid: `http://${settings.host}:${plane.port}/bid`,
    admin: `http://${settings.host}:${admin.port}`,
    httpEngine: engine,
    workers: settings.workers,
    campaigns: snapshots.current.index.campaigns.length,
    exchanges: [...snapshots.current.exchanges.keys()],
    instance: settings.instanceId,
    segmentStore: audiences.store.kind,
    eventStore: events.store.kind,
    ...configPlane.startInfo(),
  });

  if (!settings.noticeBaseUrl.startsWith('https:'))
    log('warn', 'NOTICE_BASE_URL is not https: bids on secure imps will carry no impression pixel or click tracking', {
      noticeBaseUrl: settings.noticeBaseUrl,
    });

  // Every new config version (an API change, an import, SIGHUP, another bidder's change in a shared
  // Redis store) is validated and compiled off the request path and swapped into `snapshots`; then
  // posted to the bid threads, one version at a time so they stay in order on every thread.
  let spreading: Promise<void> = Promise.resolve();
  const sync = configPlane.follow({
    snapshots,
    metrics,
    onSwap: (snap, bundle) => {
      config = { bundle, version: snap.version };
      spreading = spreading.then(async () => {
        const spread = await plane.reload(bundle, snap.version);
        log('failed' in spread ? 'error' : 'info', 'configuration reloaded', { version: snap.version, campaigns: snap.index.campaigns.length, ...spread });
      });
    },
    onError: (e) => log('error', 'configuration refused; keeping the running campaigns', describe(e)),
  });

  // SIGHUP: the embedded store merges config/ in again (the change then arrives through `sync`);
  // a Redis store is the source of truth, so it is re-read at once (the poll would find it anyway).
  let reloading: Promise<unknown> = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      if (stopping) return;
      try {
        const r = await configPlane.reload();
        if (r === undefined) await sync.refresh();
        else if (r.created + r.updated + r.deleted === 0) log('info', 'configuration unchanged (SIGHUP)', { version: r.configVersion });
      } catch (e) {
        log('error', 'configuration reload refused; keeping the running campaigns', describe(e as Error));
      }
    });
  });

  /**
   * SIGTERM/SIGINT: readiness fails at once; the bid listener stays open SHUTDOWN_DELAY_MS (the
   * preStop pause: the load balancer stops sending new connections meanwhile) while every answer
   * already says `Connection: close`; then the listener closes, in-flight requests finish (or are
   * cut off at the request deadline), every bid connection is closed, the event writer flushes
   * (to the store, or durably to the spool for the next start), and the process exits 0. All of it
   * within SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS: requests get the timeout less a reserve for the
   * flush (min(5 s, half of it)), and a hard timer ends the process with 1 if anything hangs.
   */
  const stop = (signal: string) => {
    // Once only; a repeated signal (npm and a process-group kill both forwarding SIGTERM, a second
    // Ctrl-C) must not fall back to the default action and kill the process mid-flush.
    if (stopping) return log('info', 'already stopping', { signal });
    stopping = true;
    ready = false;
    const t0 = Date.now();
    const { shutdownDelayMs: delayMs, shutdownTimeoutMs: timeoutMs } = settings;
    const requestDeadline = t0 + delayMs + timeoutMs - Math.min(5_000, timeoutMs / 2);
    log('info', 'stopping', { signal, delayMs, timeoutMs });
    setTimeout(() => {
      log('error', 'shutdown took too long; exiting (unsent events stay in the spool)');
      exitNow(1);
    }, delayMs + timeoutMs).unref();
    void (async () => {
      const drained = await plane.drain(delayMs, requestDeadline);
      log(drained.clean ? 'info' : 'warn', 'bid traffic drained', { ms: Date.now() - t0, ...drained });
      sync.stop();
      await money?.stop();
      await rebuilder.stop();
      eventsClosing = true;
      await events.close();
      await tracing.shutdown().catch(() => undefined);
      await configPlane.close();
      await audiences.close();
      budgetRedis?.disconnect();
      await admin.stop();
      log('info', 'stopped', { ms: Date.now() - t0 });
      exitNow(0);
    })().catch((e: Error) => {
      log('error', 'shutdown failed', { error: e.message });
      exitNow(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  /** Exits; with worker threads still holding sockets a normal exit would abort, so they are killed with the process. */
  function exitNow(code: number): never {
    flushLogs(); // SIGKILL skips the exit hooks that flush the asynchronous log destinations
    if (plane?.threadsAlive) process.kill(process.pid, 'SIGKILL');
    process.exit(code);
  }

  /** A fatal error after start-up began: workers are stopped first (a thread exiting with open sockets aborts the process). */
  async function fatal(message: string): Promise<never> {
    log('error', 'bidder stopped on a fatal error', { error: message });
    if (pool) await pool.drain(0, Date.now()).catch(() => undefined);
    flushLogs(); // SIGKILL skips the exit hooks that flush the asynchronous log destinations
    if (pool && pool.aliveCount > 0) process.kill(process.pid, 'SIGKILL');
    process.exit(1);
  }
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
