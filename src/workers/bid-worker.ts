/**
 * A bid worker thread: its own uWS bid app on the shared bid port (SO_REUSEPORT), its own
 * snapshot (compiled here from the validated bundle the main thread posts), its own audience
 * cache, metrics registry and gate. Events go to the main thread's writer in batches; the
 * embedded segment store and notice dedupe are reached over the worker's port (remote.ts).
 * The bid thread itself is built as the main thread builds its own (composition/bid-thread.ts);
 * this file adds what only a worker has: its stores, its side of the protocol, and its end.
 *
 * A worker never dies with a uWS socket open: a thread exiting with open uWS handles aborts the
 * whole process (`uv_loop_close() while having open handles`). So an uncaught exception does not
 * end the thread: the handler closes the app (every connection of this worker; their requests
 * fail), sends its last events and counters, and lets the loop run empty; the main thread then
 * sees the exit and starts a replacement. A drain ends the same way, after its requests finished.
 */
import { NO_TRACING, type Tracing } from '../telemetry/tracing.js';
import { parentPort, workerData } from 'node:worker_threads';
import type { TemplatedApp } from 'uWebSockets.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import type { Settings } from '../settings/settings.js';
import { BidderMetrics } from '../metrics/bidder-metrics.js';
import { NoticeMetrics } from '../metrics/notice-metrics.js';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import type { AudienceService } from '../audiences/audience-service.js';
import { createRedis } from '../storage/redis-client.js';
import { RedisSegmentStore } from '../audiences/redis-segment-store.js';
import { RedisNoticeDedupe } from '../events/notice-dedupe.js';
import { listenShared, type Listening } from '../http/listen.js';
import { busyLoop, closeApp, drainBidServer, type ThreadGate } from '../http/bid-server.js';
import type { RequestGate } from '../http/request-gate.js';
import { ForwardingEventSink, MainLink, RemoteBudgetStore, RemoteFrequencyStore, RemoteNoticeDedupe, RemoteSegmentStore, TrackedDedupe } from './remote.js';
import { log } from '../log.js';
import { RedisBudgetStore } from '../money/redis-budget-store.js';
import { RedisFrequencyStore } from '../money/frequency-store.js';
import type { BudgetLedger } from '../money/budget-ledger.js';
import { NO_MODELS, OutcomeModelsRef } from '../models/outcome-models.js';
import { OutcomeForwarder } from './outcome-link.js';
import { ProfileFeed } from '../audiences/profiles.js';
import { ProfileForwarder } from './profile-link.js';
import { buildBidThread, loadKeys, openAudiences, openSnapshots, startThreadTracing, swapSnapshot } from '../composition/bid-thread.js';

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

/** Where this worker's segments, notice dedupe, budgets and frequency counters are: one Redis client of its own, or the main thread's embedded stores over the port. */
function workerStores() {
  const redis = settings.redisUrl ? createRedis(settings.redisUrl) : undefined;
  return {
    segments: redis ? new RedisSegmentStore(redis, redis) : new RemoteSegmentStore(link),
    dedupe: new TrackedDedupe(redis ? new RedisNoticeDedupe(redis, settings.noticeDedupeWindowSeconds) : new RemoteNoticeDedupe(link)),
    budgets: redis ? new RedisBudgetStore(redis) : new RemoteBudgetStore(link),
    frequency: redis ? new RedisFrequencyStore(redis) : new RemoteFrequencyStore(link),
  };
}

async function start(): Promise<void> {
  const snapshots = openSnapshots(init, metrics);
  const stores = workerStores();
  const threadAudiences = await openAudiences(settings, metrics, stores.segments);
  audiences = threadAudiences.audiences;
  const keys = await loadKeys(settings); // the main thread made the secret files, if any, before workers start
  // Each worker exports its own notice spans (off unless an OTLP endpoint is set).
  tracing = await startThreadTracing(settings, `${settings.instanceId}-w${init.index}`);
  const bid = buildBidThread({
    ...threadAudiences,
    settings,
    thread: init.index,
    snapshots,
    metrics,
    keys,
    budgetStore: stores.budgets,
    frequencyStore: stores.frequency,
    models,
    outcomes,
    profiles,
    notices: {
      events: sink,
      dedupe: stores.dedupe,
      metrics: new NoticeMetrics(metrics.registry),
      maxAgeSec: settings.noticeMaxAgeSeconds,
      accepting: () => !sink.isClosed,
      awaiting,
      tracing,
    },
  });
  app = bid.app;
  money = bid.money;
  thread = bid;
  listening = await listenShared(bid.app, settings.host, init.port);
  const drain = drainOnRequest(bid.app, listening, bid.gate, stores.dedupe);
  handle = (m) => handleMessage(m, snapshots, drain);
  profiles?.start(1000);
  post({ t: 'ready', port: listening.port });
  for (const m of early.splice(0)) handle(m);
}

/** The drain the main thread asks for: stop taking requests, let those in flight and the notices' durable writes finish, then end. */
function drainOnRequest(bidApp: TemplatedApp, listen: Listening, gate: RequestGate, dedupe: TrackedDedupe) {
  return (delayMs: number, deadline: number) =>
    void drainBidServer(bidApp, listen, gate, { delayMs, deadline, pending: () => dedupe.pending + awaiting.pending }).then((r) => finish(0, r.inFlightLeft));
}

/** One message from the main thread, once start-up is done (protocol.ts). */
function handleMessage(m: ToWorker, snapshots: SnapshotRef, drain: (delayMs: number, deadline: number) => void): void {
  switch (m.t) {
    case 'config':
      if (m.version <= snapshots.current.version) return post({ t: 'config-ok', version: snapshots.current.version });
      try {
        // Compiled here, off every other worker's thread; the swap is one reference change.
        const next = swapSnapshot(snapshots, m, metrics);
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
      drain(m.delayMs, m.deadline);
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
