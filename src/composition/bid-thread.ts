/**
 * Everything a bid thread needs, built in one place for both kinds of bid thread: the main thread
 * when WORKERS=1 (src/main.ts) and each bid worker when WORKERS>1 (src/workers/bid-worker.ts).
 *
 * - `openSnapshots`, `swapSnapshot`: the thread's compiled configuration (each exchange's counters made at once);
 * - `openAudiences`: the audience service on a segment store, with its metrics;
 * - `loadKeys`, `startThreadTracing`: the notice signer and user keyer, and the notice spans;
 * - `buildBidThread`: the gate, the budget ledger, the frequency caps, the bid log and the bid app.
 *
 * What differs between the two kinds is a parameter, never a branch here: the thread's number
 * (0: the main thread, n: worker n), where its stores are (the process's own, or in a worker Redis
 * or the proxies to the main thread's), where its events go (the event writer, or the worker's
 * forwarding sink), and what it is told by whoever owns the trainer and the profile store.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Settings } from '../settings/settings.js';
import type { ConfigBundle } from '../campaigns/schema.js';
import { SnapshotRef, buildSnapshot, type Snapshot } from '../campaigns/snapshot.js';
import type { BidderMetrics } from '../metrics/bidder-metrics.js';
import { AudienceMetrics } from '../metrics/audience-metrics.js';
import type { AudienceService } from '../audiences/audience-service.js';
import type { SegmentStore } from '../audiences/segment-store.js';
import { buildAudiences } from '../audiences/build-audiences.js';
import type { ProfileFeed, SightingSink } from '../audiences/profiles.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import { loadSigner } from '../events/load-signer.js';
import { loadUserKeyer, type UserKeyer } from '../events/user-key.js';
import { BidLog } from '../events/bid-log.js';
import type { BudgetStore } from '../money/budget-store.js';
import type { BudgetLedger } from '../money/budget-ledger.js';
import type { FrequencyStore } from '../money/frequency-store.js';
import type { OutcomeModelsRef } from '../models/outcome-models.js';
import { NO_TRACING, startTracing, type Tracing } from '../telemetry/tracing.js';
import { threadGate, type ThreadGate } from '../http/bid-server.js';
import { buildBidApp, type AppDeps } from '../app.js';
import { buildFrequency, buildLedger } from './build-money.js';

/** A validated configuration and its config version. */
export interface VersionedConfig {
  readonly bundle: ConfigBundle;
  readonly version: number;
}

/**
 * The configuration compiled into a snapshot. With `threadMetrics` (a bid thread's), each exchange's
 * counters are made now, so they show at 0 before its first request.
 */
export function openSnapshots(config: VersionedConfig, threadMetrics?: BidderMetrics): SnapshotRef {
  const snapshots = new SnapshotRef(buildSnapshot(config.bundle, config.version));
  if (threadMetrics) for (const id of snapshots.current.exchanges.keys()) threadMetrics.forExchange(id);
  return snapshots;
}

/** Compiles `config` (on this thread) and swaps it in: one reference change for the requests. Throws on a bundle that does not compile. */
export function swapSnapshot(snapshots: SnapshotRef, config: VersionedConfig, threadMetrics: BidderMetrics): Snapshot {
  const next = buildSnapshot(config.bundle, config.version);
  for (const id of next.exchanges.keys()) threadMetrics.forExchange(id);
  snapshots.swap(next);
  return next;
}

export interface ThreadAudiences {
  readonly audiences: AudienceService;
  readonly audienceMetrics: AudienceMetrics;
}

/** The audience service on `store` (default: the one the settings name, segment-store of build-audiences.ts), its metrics in `metrics`' registry. */
export async function openAudiences(settings: Settings, metrics: BidderMetrics, store?: SegmentStore): Promise<ThreadAudiences> {
  const audienceMetrics = new AudienceMetrics(metrics.registry);
  return { audiences: await buildAudiences(settings, audienceMetrics, store), audienceMetrics };
}

export interface ThreadKeys {
  /** Signs (and checks) notice URLs. */
  readonly signer: NoticeSigner;
  /** Keys users as event rows do. */
  readonly userKeys: UserKeyer;
}

/** The keys from the settings, or from the secret files under DATA_DIR (made by the first thread that needs them: the main thread). */
export async function loadKeys(settings: Settings): Promise<ThreadKeys> {
  const signer = await loadSigner(settings);
  const userKeys = await loadUserKeyer(settings);
  return { signer, userKeys };
}

/** Notice (and admin request) spans exported as `instanceId`: off (NO_TRACING) unless an OTLP endpoint is set. */
export async function startThreadTracing(settings: Settings, instanceId: string): Promise<Tracing> {
  return settings.tracesEndpoint ? startTracing({ endpoint: settings.tracesEndpoint, serviceName: settings.serviceName, instanceId }) : NO_TRACING;
}

export interface BidThreadOptions extends ThreadAudiences {
  readonly settings: Settings;
  /** 0: the main thread (gate `main`); n: bid worker n (gate `wn`). Also names the thread's budget holder. */
  readonly thread: number;
  readonly snapshots: SnapshotRef;
  /** This thread's metrics. */
  readonly metrics: BidderMetrics;
  readonly keys: ThreadKeys;
  /** Where this thread leases budget slices: the process's store (main thread), or Redis or the main thread's store (worker). */
  readonly budgetStore: BudgetStore;
  /** Where this thread's frequency counters are, likewise. */
  readonly frequencyStore: FrequencyStore;
  /** The notice routes' event sink, dedupe and the rest; the bid log writes to the same sink. */
  readonly notices: NonNullable<AppDeps['notices']>;
  /** The outcome models goals are priced from, and where bids' features and notices go (OUTCOME_MODELS). */
  readonly models?: OutcomeModelsRef;
  readonly outcomes?: AppDeps['outcomes'];
  /** The thread's sample of the users seen (LOOKALIKES). */
  readonly profiles?: ProfileFeed<SightingSink>;
}

export interface BidThread extends ThreadGate {
  /** The bid port's app, not listening yet. */
  readonly app: TemplatedApp;
  /** The thread's budget ledger, started: stop it on the way out. */
  readonly money: BudgetLedger;
}

/** The gate, money, bid log and bid app of one bid thread; metrics go to `o.metrics`' registry. */
export function buildBidThread(o: BidThreadOptions): BidThread {
  const { settings, metrics } = o;
  const { gate, lag } = threadGate(settings, metrics.registry, o.thread === 0 ? 'main' : `w${o.thread}`);
  const money = buildLedger(settings, o.snapshots, o.budgetStore, o.thread, metrics.registry);
  const app = buildBidApp({
    settings,
    snapshots: o.snapshots,
    metrics,
    audiences: o.audiences,
    audienceMetrics: o.audienceMetrics,
    signer: o.keys.signer,
    userKeys: o.keys.userKeys,
    gate,
    money,
    frequency: buildFrequency(settings, o.frequencyStore, metrics.registry),
    isReady: () => true, // read by the admin port's probes only, never by the bid app
    models: o.models,
    outcomes: o.outcomes,
    profiles: o.profiles,
    notices: o.notices,
    bidLog: new BidLog(o.notices.events, settings.bidLogSampleRate, settings.requestLogSampleRate, `${settings.instanceId}${Date.now().toString(36)}-`),
  });
  return { app, gate, lag, money };
}
