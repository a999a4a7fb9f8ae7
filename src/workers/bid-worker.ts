/**
 * A bid worker thread: its own uWS bid app on the shared bid port (SO_REUSEPORT), its own
 * snapshot (compiled here from the validated bundle the main thread posts), its own audience
 * cache, metrics registry and gate. Events go to the main thread's writer in batches; the
 * embedded segment store and notice dedupe are reached over the worker's port (remote.ts).
 *
 * A worker never dies with a uWS socket open: a thread exiting with open uWS handles aborts the
 * whole process (`uv_loop_close() while having open handles`). So an uncaught exception does not
 * end the thread: the handler closes the app (every connection of this worker; their requests
 * fail), sends its last events and counters, and lets the loop run empty; the main thread then
 * sees the exit and starts a replacement. A drain ends the same way, after its requests finished.
 */
import { NO_TRACING, startTracing, type Tracing } from '../telemetry/tracing.js';
import { parentPort, workerData } from 'node:worker_threads';
import type { TemplatedApp } from 'uWebSockets.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import type { Settings } from '../config/settings.js';
import { BidderMetrics } from '../metrics/bidder-metrics.js';
import { AudienceMetrics } from '../metrics/audience-metrics.js';
import { NoticeMetrics } from '../metrics/notice-metrics.js';
import { SnapshotRef, buildSnapshot } from '../campaigns/snapshot.js';
import { buildAudiences } from '../audiences/build-audiences.js';
import type { AudienceService } from '../audiences/audience-service.js';
import { createRedis } from '../storage/redis-client.js';
import { RedisSegmentStore } from '../audiences/redis-segment-store.js';
import { RedisNoticeDedupe } from '../events/notice-dedupe.js';
import { loadSigner } from '../events/load-signer.js';
import { BidLog } from '../events/bid-log.js';
import { buildBidApp } from '../app.js';
import { loadUserKeyer } from '../events/user-key.js';
import { listenShared, type Listening } from '../http/listen.js';
import { busyLoop, closeApp, drainBidServer, threadGate, type ThreadGate } from '../http/bid-server.js';
import { ForwardingEventSink, MainLink, RemoteBudgetStore, RemoteFrequencyStore, RemoteNoticeDedupe, RemoteSegmentStore, TrackedDedupe } from './remote.js';
import { log } from '../log.js';
import { RedisBudgetStore } from '../money/redis-budget-store.js';
import { buildFrequency, buildLedger } from '../composition/build-money.js';
import { RedisFrequencyStore } from '../money/frequency-store.js';
import type { BudgetLedger } from '../money/budget-ledger.js';
import { NO_MODELS, OutcomeModelsRef } from '../models/outcome-models.js';
import { OutcomeForwarder } from './outcome-link.js';
import { ProfileFeed } from '../audiences/profiles.js';
import { ProfileForwarder } from './profile-link.js';

/** Reported by the main thread only (they describe the process, not a thread). */
const MAIN_THREAD_METRICS = ['bidder_campaigns_live', 'bidder_config_version', 'bidder_config_reloads_total'];

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

// Each worker makes its own bid ids: INSTANCE_ID alone would collide between workers started in
// the same millisecond. `_` never occurs in an INSTANCE_ID, so these cannot clash with another instance's.
const settings: Settings = Object.freeze({ ...init.settings, instanceId: `${init.settings.instanceId}_${init.index}_` });

let app: TemplatedApp | undefined;
let listening: Listening | undefined;
let thread: ThreadGate | undefined;
let audiences: AudienceService | undefined;
let money: BudgetLedger | undefined;
let ending = false;
const metrics = new BidderMetrics({ defaultMetrics: false });
for (const name of MAIN_THREAD_METRICS) metrics.registry.removeSingleMetric(name);
const link = new MainLink(post);
const sink = new ForwardingEventSink(post, link);
/** Billing and conversion notices waiting for their durable write: a drain waits for them too. */
const awaiting = { pending: 0 };
const timers = new Set<NodeJS.Timeout>();
// Outcome models (OUTCOME_MODELS): the trainer is on the main thread; this worker sends it its bids'
// features and the notices it receives, and prices from the tables the main thread publishes.
const models = settings.outcomeModels ? new OutcomeModelsRef({ ...NO_MODELS, record: true }) : undefined;
const outcomes = settings.outcomeModels ? new OutcomeForwarder((batch) => post({ t: 'outcomes', batch })) : undefined;
// Lookalike profiles (LOOKALIKES): the store and builder are on the main thread; this worker samples
// the users it may keep data of into its ring and posts each drain there (workers/profile-link.ts).
const profiles = settings.lookalikes
  ? new ProfileFeed(new ProfileForwarder((sightings) => post({ t: 'profiles', sightings })), { slots: 4096, sampleEvery: settings.profileSampleEvery })
  : undefined;

process.on('uncaughtException', (e) => {
  log('error', 'bid worker failed; closing its connections and exiting', { worker: init.index, error: e?.stack ?? String(e) });
  if (ending) return;
  try {
    listening?.close();
    if (app) closeApp(app);
  } catch {
    /* closing what is already closed */
  }
  void finish(1, thread?.gate.busy ?? 0);
});

// Listening from the first moment: start-up itself calls the main thread (the segment registry).
// Anything but an answer to such a call waits until start-up is done.
let handle: ((m: ToWorker) => void) | undefined;
const early: ToWorker[] = [];
port.on('message', (m: ToWorker) => {
  if (m.t === 'rpc-reply') link.reply(m.id, m.ok, m.value, m.error);
  else if (handle) handle(m);
  else early.push(m);
});

let tracing: Tracing = NO_TRACING;

async function start(): Promise<void> {
  const snapshots = new SnapshotRef(buildSnapshot(init.bundle, init.version));
  for (const id of snapshots.current.exchanges.keys()) metrics.forExchange(id);
  const audienceMetrics = new AudienceMetrics(metrics.registry);
  // One hot-path Redis client per worker (segment lookups and the notice dedupe); the embedded
  // stores live on the main thread and are reached over the port.
  const redis = settings.redisUrl ? createRedis(settings.redisUrl) : undefined;
  audiences = await buildAudiences(settings, audienceMetrics, redis ? new RedisSegmentStore(redis, redis) : new RemoteSegmentStore(link));
  const dedupe = new TrackedDedupe(redis ? new RedisNoticeDedupe(redis, settings.noticeDedupeWindowSeconds) : new RemoteNoticeDedupe(link));
  money = buildLedger(settings, snapshots, redis ? new RedisBudgetStore(redis) : new RemoteBudgetStore(link), init.index, metrics.registry);
  thread = threadGate(settings, metrics.registry, `w${init.index}`);
  const gate = thread.gate;
  const signer = await loadSigner(settings);
  const userKeys = await loadUserKeyer(settings); // the main thread made the secret file, if any, before workers start
  // Each worker exports its own notice spans (off unless an OTLP endpoint is set).
  if (settings.tracesEndpoint)
    tracing = await startTracing({ endpoint: settings.tracesEndpoint, serviceName: settings.serviceName, instanceId: `${settings.instanceId}-w${init.index}` });
  app = buildBidApp({
    userKeys,
    settings,
    snapshots,
    metrics,
    audiences,
    audienceMetrics,
    signer,
    gate,
    money,
    frequency: buildFrequency(settings, redis ? new RedisFrequencyStore(redis) : new RemoteFrequencyStore(link), metrics.registry),
    isReady: () => true,
    models,
    outcomes,
    profiles,
    notices: {
      events: sink,
      dedupe,
      metrics: new NoticeMetrics(metrics.registry),
      maxAgeSec: settings.noticeMaxAgeSeconds,
      accepting: () => !sink.isClosed,
      awaiting,
      tracing,
    },
    bidLog: new BidLog(sink, settings.bidLogSampleRate, settings.requestLogSampleRate, `${settings.instanceId}${Date.now().toString(36)}-`),
  });
  const bidApp = app;
  listening = await listenShared(bidApp, settings.host, init.port);
  const listen = listening;

  handle = (m: ToWorker) => {
    switch (m.t) {
      case 'config':
        if (m.version <= snapshots.current.version) return post({ t: 'config-ok', version: snapshots.current.version });
        try {
          // Compiled here, off every other worker's thread; the swap is one reference change.
          const next = buildSnapshot(m.bundle, m.version);
          for (const id of next.exchanges.keys()) metrics.forExchange(id);
          snapshots.swap(next);
          post({ t: 'config-ok', version: next.version });
        } catch (e) {
          post({ t: 'config-failed', version: m.version, error: (e as Error).message });
        }
        return;
      case 'metrics':
        void metrics.registry.getMetricsAsJSON().then((json) => post({ t: 'metrics', id: m.id, metrics: json }));
        return;
      case 'invalidate':
        return audiences?.invalidate(m.keys);
      case 'registry':
        void audiences?.refreshRegistry(true).catch(() => {});
        return;
      case 'models':
        return models?.swap(m.models);
      case 'forget-profile':
        profiles?.forget(m.key);
        return;
      case 'drain':
        if (ending) return;
        void drainBidServer(bidApp, listen, gate, { delayMs: m.delayMs, deadline: m.deadline, pending: () => dedupe.pending + awaiting.pending }).then((r) =>
          finish(0, r.inFlightLeft),
        );
        return;
      case 'test-crash':
        if (init.testHooks) setImmediate(() => {
          throw new Error('test crash (BIDDER_TEST_HOOKS)');
        });
        return;
      case 'test-lag':
        if (init.testHooks) timers.add(busyLoop(m.busyMs, m.everyMs, m.forMs));
        return;
    }
  };
  profiles?.start(1000);
  post({ t: 'ready', port: listening.port });
  for (const m of early.splice(0)) handle(m);
}

/**
 * Last steps of a worker whose app is closed: its buffered events and final counters go to the
 * main thread (in this order, on the one channel), its stores are closed, and nothing is left to
 * keep the loop alive, so the thread ends by itself, with no uWS handle open.
 */
async function finish(code: number, inFlightLeft: number): Promise<void> {
  if (ending) return;
  ending = true;
  process.exitCode = code;
  for (const t of timers) clearInterval(t);
  thread?.lag.stop();
  try {
    await money?.stop();
    outcomes?.close();
    profiles?.stop();
    profiles?.drain(); // the last samples go before `final`
    await sink.close();
    await tracing.shutdown().catch(() => undefined);
    post({ t: 'final', metrics: await metrics.registry.getMetricsAsJSON(), inFlightLeft });
    await audiences?.close();
  } catch (e) {
    log('error', 'bid worker could not finish cleanly', { worker: init.index, error: (e as Error).message });
  }
  port.removeAllListeners('message');
  port.unref();
}

start().catch((e: Error) => {
  post({ t: 'fatal', error: e?.stack ?? String(e) });
  try {
    listening?.close();
    if (app) closeApp(app);
  } catch {
    /* nothing more to close */
  }
  void finish(1, 0);
});
