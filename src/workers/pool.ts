/**
 * The bid workers, seen from the main thread: starting them on the shared bid port, replacing
 * one that dies, posting configuration changes, serving their calls to the embedded stores,
 * taking their event batches into the one event writer, collecting their metrics, and draining
 * them at shutdown.
 *
 * Metrics: each worker has its own registry; a scrape asks every live worker for
 * `getMetricsAsJSON()` (1 s budget; a worker that does not answer in time contributes its last
 * answer) and the caller merges them with prom-client's AggregatorRegistry. A worker's counters
 * do not vanish with it: its last word (or last scrape) is folded into a `retired` set that every
 * later scrape adds, so the aggregate counters do not go backwards when a worker is replaced.
 */
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry } from 'prom-client';
import type { Settings } from '../settings/settings.js';
import type { ConfigBundle } from '../campaigns/schema.js';
import type { BidderEvent, EventSink } from '../events/event-types.js';
import type { NoticeDedupe } from '../events/notice-dedupe.js';
import type { MembershipRow, SegmentStore } from '../audiences/segment-store.js';
import type { PoolMetrics } from '../metrics/thread-metrics.js';
import type { FromWorker, MetricsJson, ToWorker, WorkerInit } from './protocol.js';
import type { Sighting } from '../audiences/profiles.js';
import { log } from '../log.js';
import type { BidEnd, BudgetStore, LeaseRequest, SpendEntry } from '../money/budget-store.js';
import type { BucketRef, FrequencyHit, FrequencyStore } from '../money/frequency-store.js';
import type { OutcomeModels } from '../models/outcome-models.js';
import type { OutcomeBatch } from './outcome-link.js';

function budgetCall(store: BudgetStore, method: string, args: readonly unknown[]): Promise<unknown> {
  switch (method) {
    case 'budgetRenew':
      return store.renew(args[0] as string, args[1] as LeaseRequest[], args[2] as number);
    case 'budgetSpend':
      return store.recordSpend(args[0] as string, args[1] as SpendEntry[], args[2] as number, args[3] as BidEnd | undefined);
    case 'budgetEnd':
      return store.endBids(args[0] as BidEnd[]);
    case 'budgetSpent':
      return store.spent(args[0] as string[]);
    default:
      return store.setKill(args[0] as boolean, args[1] as string | undefined);
  }
}

/** What `serveStoreCall` answers for a method it does not know (or whose store this process has not). */
export const UNKNOWN_CALL: unique symbol = Symbol('unknown call');

/**
 * One call from a bid worker on the main thread's stores and event writer (the other end of the
 * Remote* proxies in remote.ts): the store's answer (a value or a promise), or UNKNOWN_CALL.
 */
export function serveStoreCall(
  deps: Pick<PoolDeps, 'segmentStore' | 'dedupe' | 'events' | 'budgetStore' | 'frequencyStore'>,
  method: string,
  args: readonly unknown[],
): unknown {
  const store = deps.segmentStore;
  if (method === 'lookup') {
    const keys = args[0] as string[];
    return store.lookupNow ? store.lookupNow(keys) : store.lookup(keys);
  }
  if (method === 'metaVersion') return store.metaVersion();
  if (method === 'listSegments') return store.listSegments();
  if (method === 'putMatch') return store.putMatch(args[0] as string, args[1] as string, args[2] as number);
  if (method === 'removeMembership') return store.removeMembership(args[0] as string, args[1] as string);
  if (method === 'addMemberships') return store.addMemberships(args[0] as MembershipRow[]);
  if (method === 'firstSeen') return deps.dedupe.firstSeen(args[0] as string);
  if (method === 'forgetSeen') return deps.dedupe.forget(args[0] as string);
  if (method === 'writeDurable') return deps.events.writeDurable(args[0] as BidderEvent);
  if (method === 'flushEvents') return deps.events.flush();
  if (method.startsWith('budget') && deps.budgetStore) return budgetCall(deps.budgetStore, method, args);
  const freq = deps.frequencyStore;
  if (method === 'freqCounts' && freq) return freq.counts(args[0] as string, args[1] as BucketRef[]);
  if (method === 'freqRecord' && freq) return freq.record(args[0] as string, args[1] as FrequencyHit);
  if (method === 'freqEnd' && freq) return freq.end(args[0] as string, args[1] as string);
  return UNKNOWN_CALL;
}

export interface PoolDeps {
  readonly settings: Settings;
  readonly size: number;
  /** The concrete bid port, checked free by the caller. */
  readonly port: number;
  /** The configuration a (re)started worker begins with. */
  readonly config: () => { readonly bundle: ConfigBundle; readonly version: number };
  /** The main thread's event writer: workers' batches go into it, and their durable writes (billing and conversion notices). */
  readonly events: EventSink;
  /** Main-thread stores that workers without Redis call: lookups (segments), firstSeen and forget (notices). */
  readonly segmentStore: SegmentStore;
  readonly dedupe: NoticeDedupe;
  /** The embedded budget store (workers without Redis renew their budget slices against it). */
  readonly budgetStore?: BudgetStore;
  /** The embedded frequency store (workers without Redis read and count caps on it). */
  readonly frequencyStore?: FrequencyStore;
  readonly metrics: PoolMetrics;
  /** The outcome trainer's side (OUTCOME_MODELS): takes workers' batches; `latest` is what a (re)started worker prices from. */
  readonly outcomes?: { take(batch: OutcomeBatch): void; latest(): OutcomeModels | undefined };
  /** The lookalike profile store's side (LOOKALIKES): takes workers' sightings. */
  readonly profiles?: { take(worker: number, sightings: readonly Sighting[]): void };
  /** The worker script (default: bid-worker.js next to this file). */
  readonly workerUrl?: URL;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  configVersion: number;
  startedAt: number;
  /** Deaths in a row, each within QUICK_DEATH_MS of its start: the restart backoff grows with them. */
  quickDeaths: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** The worker's last metrics (final message or last scrape): folded into `retired` when it exits. */
  lastMetrics: MetricsJson | undefined;
  inFlightLeft: number;
  /** Started with the pool and not yet listening: a death then fails the start instead of being replaced. */
  atBoot: boolean;
  readonly exited: (() => void)[];
}

const QUICK_DEATH_MS = 10_000;
const MAX_BACKOFF_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
const METRICS_TIMEOUT_MS = 1_000;
const CONFIG_TIMEOUT_MS = 10_000;

export interface DrainSummary {
  /** Every worker exited before the deadline. */
  readonly clean: boolean;
  /** Requests cut off at the deadline, over all workers. */
  readonly inFlightLeft: number;
}

export class WorkerPool {
  private readonly slots: Slot[];
  private stopping = false;
  private seq = 0;
  private readonly metricWaiters = new Map<number, (m: MetricsJson | undefined) => void>();
  private readonly configWaiters = new Set<(slot: Slot, version: number, error?: string) => void>();
  private retired: MetricsJson = [];
  private retiring: Promise<void> = Promise.resolve();
  private readonly url: URL;

  constructor(private readonly deps: PoolDeps) {
    this.url = deps.workerUrl ?? new URL('./bid-worker.js', import.meta.url);
    this.slots = Array.from({ length: deps.size }, (_, i) => ({
      index: i + 1,
      worker: undefined,
      ready: false,
      configVersion: 0,
      startedAt: 0,
      quickDeaths: 0,
      restartTimer: undefined,
      lastMetrics: undefined,
      inFlightLeft: 0,
      atBoot: true,
      exited: [],
    }));
  }

  /** Starts every worker and resolves once all listen; rejects (after stopping the others) if one cannot. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.slots.map((s) => this.spawn(s, true)));
    } catch (e) {
      await this.drain(0, Date.now());
      throw e;
    }
  }

  /** Workers whose thread is running (listening or not). */
  get aliveCount(): number {
    return this.slots.filter((s) => s.worker).length;
  }

  get readyCount(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  status(): { worker: number; ready: boolean; configVersion: number }[] {
    return this.slots.map((s) => ({ worker: s.index, ready: s.ready, configVersion: s.configVersion }));
  }

  private spawn(slot: Slot, atStart: boolean): Promise<void> {
    const { bundle, version } = this.deps.config();
    const init: WorkerInit = { index: slot.index, settings: this.deps.settings, port: this.deps.port, bundle, version, testHooks: this.deps.settings.testHooks };
    const worker = new Worker(this.url, { workerData: init });
    slot.worker = worker;
    slot.ready = false;
    slot.atBoot = atStart;
    slot.startedAt = Date.now();
    slot.lastMetrics = undefined;
    slot.inFlightLeft = 0;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`bid worker ${slot.index} did not start: ${why}`));
      };
      const timer = setTimeout(() => fail(`not listening after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
      worker.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          settled = true;
          clearTimeout(timer);
          slot.ready = true;
          slot.atBoot = false;
          slot.configVersion = version;
          this.deps.metrics.workers.set(this.readyCount);
          if (!atStart) log('info', 'bid worker replaced', { worker: slot.index });
          // A reload may have happened while it started: bring it up to date.
          const now = this.deps.config();
          if (now.version > version) this.post(slot, { t: 'config', bundle: now.bundle, version: now.version });
          const models = this.deps.outcomes?.latest();
          if (models) this.post(slot, { t: 'models', models });
          resolve();
        } else if (m.t === 'fatal') {
          log('error', 'bid worker failed to start', { worker: slot.index, error: m.error });
          fail(m.error.split('\n')[0]);
        } else this.onMessage(slot, m);
      });
      worker.on('error', (e) => {
        // Only errors the worker's own handler could not take (it failed to load, or ran out of memory).
        log('error', 'bid worker error', { worker: slot.index, error: e?.stack ?? String(e) });
      });
      worker.once('exit', (code) => {
        fail(`exited with code ${code}`);
        this.onExit(slot, worker, code);
      });
    });
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    switch (m.t) {
      case 'events':
        for (const e of m.events) this.deps.events.write(e);
        return;
      case 'outcomes':
        this.deps.outcomes?.take(m.batch);
        return;
      case 'profiles':
        this.deps.profiles?.take(slot.index, m.sightings);
        return;
      case 'rpc':
        return this.serve(slot, m.id, m.method, m.args);
      case 'metrics': {
        slot.lastMetrics = m.metrics;
        const w = this.metricWaiters.get(m.id);
        this.metricWaiters.delete(m.id);
        w?.(m.metrics);
        return;
      }
      case 'config-ok':
        slot.configVersion = Math.max(slot.configVersion, m.version);
        for (const w of this.configWaiters) w(slot, m.version);
        return;
      case 'config-failed':
        for (const w of this.configWaiters) w(slot, m.version, m.error);
        return;
      case 'final':
        slot.lastMetrics = m.metrics;
        slot.inFlightLeft = m.inFlightLeft;
        return;
    }
  }

  private serve(slot: Slot, id: number, method: string, args: readonly unknown[]): void {
    const worker = slot.worker;
    const reply = (ok: boolean, value?: unknown, error?: string) => {
      if (slot.worker === worker) this.post(slot, { t: 'rpc-reply', id, ok, value, error });
    };
    try {
      const result = serveStoreCall(this.deps, method, args);
      if (result === UNKNOWN_CALL) return reply(false, undefined, `unknown call ${method}`);
      Promise.resolve(result).then(
        (v) => reply(true, v),
        (e: Error) => reply(false, undefined, e?.message ?? String(e)),
      );
    } catch (e) {
      reply(false, undefined, (e as Error).message);
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    this.deps.metrics.workers.set(this.readyCount);
    const last = slot.lastMetrics;
    slot.lastMetrics = undefined;
    if (last) this.retire(last);
    for (const w of slot.exited.splice(0)) w();
    if (this.stopping || slot.atBoot) return;
    const lived = Date.now() - slot.startedAt;
    slot.quickDeaths = lived < QUICK_DEATH_MS ? slot.quickDeaths + 1 : 0;
    const backoff = Math.min(100 * 2 ** slot.quickDeaths, MAX_BACKOFF_MS);
    log('error', 'bid worker exited; replacing it', { worker: slot.index, code, livedMs: lived, restartInMs: backoff, workersLeft: this.readyCount });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      this.deps.metrics.restarts.inc();
      // A replacement that dies before listening comes back through its exit, with a longer backoff.
      this.spawn(slot, false).catch((e: Error) => log('error', 'bid worker replacement failed', { worker: slot.index, error: e.message }));
    }, backoff);
  }

  /** Counters and histograms of an exited worker stay in the aggregate (gauges go with it). */
  private retire(json: MetricsJson): void {
    const kept = json.filter((m) => (m.type as unknown as string) !== 'gauge');
    this.retiring = this.retiring.then(async () => {
      this.retired = await AggregatorRegistry.aggregate([this.retired, kept]).getMetricsAsJSON();
    });
  }

  private post(slot: Slot, m: ToWorker): void {
    try {
      slot.worker?.postMessage(m);
    } catch {
      /* the worker is exiting */
    }
  }

  /** Posts to every worker (cache invalidations, registry changes, test hooks). */
  broadcast(m: ToWorker): void {
    for (const s of this.slots) this.post(s, m);
  }

  /** Sends a new configuration; resolves once every live worker has swapped (or refused, or timed out). */
  async broadcastConfig(bundle: ConfigBundle, version: number): Promise<{ acked: number[]; failed: { worker: number; error: string }[] }> {
    const live = this.slots.filter((s) => s.worker);
    const acked: number[] = [];
    const failed: { worker: number; error: string }[] = [];
    await new Promise<void>((resolve) => {
      const waiting = new Set(live);
      const done = () => {
        this.configWaiters.delete(waiter);
        clearTimeout(timer);
        resolve();
      };
      const waiter = (slot: Slot, v: number, error?: string) => {
        if (v < version || !waiting.has(slot)) return;
        waiting.delete(slot);
        if (error) failed.push({ worker: slot.index, error });
        else acked.push(slot.index);
        if (waiting.size === 0) done();
      };
      const timer = setTimeout(() => {
        for (const s of waiting) failed.push({ worker: s.index, error: `no answer within ${CONFIG_TIMEOUT_MS} ms` });
        done();
      }, CONFIG_TIMEOUT_MS);
      this.configWaiters.add(waiter);
      if (waiting.size === 0) return done();
      for (const s of live) this.post(s, { t: 'config', bundle, version });
    });
    return { acked: acked.sort((a, b) => a - b), failed };
  }

  /** Every live worker's metrics, plus the retired counters: ready for AggregatorRegistry.aggregate. */
  async scrape(): Promise<MetricsJson[]> {
    const asked = this.slots
      .filter((s) => s.worker && s.ready)
      .map(async (s) => {
        const worker = s.worker;
        const id = ++this.seq;
        const answer = await new Promise<MetricsJson | undefined>((resolve) => {
          const timer = setTimeout(() => {
            this.metricWaiters.delete(id);
            resolve(s.lastMetrics);
          }, METRICS_TIMEOUT_MS);
          this.metricWaiters.set(id, (m) => {
            clearTimeout(timer);
            resolve(m);
          });
          this.post(s, { t: 'metrics', id });
        });
        // Exited meanwhile: its numbers are in `retired` now, not to be counted twice.
        return s.worker === worker ? answer : undefined;
      });
    const parts = (await Promise.all(asked)).filter((p): p is MetricsJson => p !== undefined);
    await this.retiring;
    if (this.retired.length > 0) parts.push(this.retired);
    return parts;
  }

  /**
   * Drains every worker (see drainBidServer) and resolves once all have exited, or at the deadline
   * plus a grace second. No worker is started after this.
   */
  async drain(delayMs: number, deadline: number): Promise<DrainSummary> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
    }
    const live = this.slots.filter((s) => s.worker);
    const exits = live.map((s) => new Promise<void>((resolve) => s.exited.push(resolve)));
    for (const s of live) this.post(s, { t: 'drain', delayMs, deadline });
    const grace = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()) + 1_000).unref());
    const r = await Promise.race([Promise.all(exits).then(() => 'exited' as const), grace]);
    return { clean: r === 'exited', inFlightLeft: live.reduce((n, s) => n + s.inFlightLeft, 0) };
  }

  /** Test hook: the worker in `slot` throws an uncaught exception. */
  crash(index: number): boolean {
    const s = this.slots.find((x) => x.index === index);
    if (!s?.worker) return false;
    this.post(s, { t: 'test-crash' });
    return true;
  }
}
