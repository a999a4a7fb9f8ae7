/**
 * The worker side of what lives on the main thread: calls to the embedded stores, and the event
 * sink that ships events to the main thread's writer in batches.
 */
import type { MessagePort } from 'node:worker_threads';
import type { BidderEvent, EventSink } from '../events/event-types.js';
import type { NoticeDedupe } from '../events/notice-dedupe.js';
import type { MembershipRow, SegmentMeta, SegmentStore, UserSegments } from '../audiences/segment-store.js';
import type { FromWorker, RpcMethod } from './protocol.js';
import type { BidEnd, BudgetStore, KillState, LeaseRequest, RenewResult, SpendEntry } from '../money/budget-store.js';
import type { BucketRef, FrequencyCounts, FrequencyHit, FrequencyStore } from '../money/frequency-store.js';

type Post = (m: FromWorker) => void;

/** Request/reply over the worker's port, each call bounded by a timeout. */
export class MainLink {
  private seq = 0;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(
    private readonly post: Post,
    private readonly timeoutMs = 5_000,
  ) {}

  call<T>(method: RpcMethod, ...args: unknown[]): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(new Error(`main thread did not answer ${method} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.post({ t: 'rpc', id, method, args });
    });
  }

  reply(id: number, ok: boolean, value: unknown, error: string | undefined): void {
    const c = this.calls.get(id);
    if (!c) return; // timed out already
    this.calls.delete(id);
    clearTimeout(c.timer);
    if (ok) c.resolve(value);
    else c.reject(new Error(error ?? 'failed'));
  }

  /** Calls still waiting for their answer. */
  get pending(): number {
    return this.calls.size;
  }
}

const adminOnly = () => Promise.reject(new Error('the embedded segment store is administered on the main thread (admin port)'));

/**
 * The embedded (in-memory) segment store as a worker sees it: lookups are calls to the main
 * thread, which owns the one store the admin API writes to. No `lookupNow`, so the worker's
 * AudienceService keeps its own LRU cache in front and races each call against the request's
 * lookup budget, exactly as it does for Redis; the main thread invalidates cached keys it changes.
 */
export class RemoteSegmentStore implements SegmentStore {
  readonly kind = 'memory' as const;
  constructor(private readonly link: MainLink) {}
  lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    return this.link.call('lookup', keys);
  }
  metaVersion(): Promise<number> {
    return this.link.call('metaVersion');
  }
  listSegments(): Promise<SegmentMeta[]> {
    return this.link.call('listSegments');
  }
  /** Memberships and matches learnt on the exchange-facing port (pixels, user matching) go to the main thread's store. */
  addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    return this.link.call('addMemberships', rows);
  }
  putMatch(exchangeKey: string, userKey: string, expiresAt: number): Promise<void> {
    return this.link.call('putMatch', exchangeKey, userKey, expiresAt);
  }
  removeMembership(key: string, segment: string): Promise<boolean> {
    return this.link.call('removeMembership', key, segment);
  }
  removeUser(_key: string): Promise<boolean> {
    return adminOnly();
  }
  putSegment(_meta: SegmentMeta): Promise<void> {
    return adminOnly();
  }
  getSegment(_id: string): Promise<SegmentMeta | undefined> {
    return adminOnly();
  }
  dropSegment(_id: string): Promise<boolean> {
    return adminOnly();
  }
  async close(): Promise<void> {}
}

/** The embedded notice dedupe (one LRU on the main thread, so a repeat is caught whichever worker gets it). */
export class RemoteNoticeDedupe implements NoticeDedupe {
  constructor(private readonly link: MainLink) {}
  firstSeen(eventId: string): Promise<boolean> {
    // Same contract as the others: when the check cannot be made, record (storage keeps one row per event id).
    return this.link.call<boolean>('firstSeen', eventId).catch(() => true);
  }
  async forget(eventId: string): Promise<void> {
    await this.link.call('forgetSeen', eventId).catch(() => undefined);
  }
}

/** The embedded budget store (on the main thread: one per process, shared by its bid threads). */
export class RemoteBudgetStore implements BudgetStore {
  readonly kind = 'memory' as const;
  constructor(private readonly link: MainLink) {}
  renew(holder: string, requests: readonly LeaseRequest[], leaseTtlMs: number): Promise<RenewResult> {
    return this.link.call('budgetRenew', holder, requests, leaseTtlMs);
  }
  recordSpend(eventId: string, entries: readonly SpendEntry[], markerTtlSec: number, end?: BidEnd): Promise<boolean> {
    return this.link.call('budgetSpend', eventId, entries, markerTtlSec, end);
  }
  endBids(ends: readonly BidEnd[]): Promise<void> {
    return this.link.call('budgetEnd', ends);
  }
  spent(accounts: readonly string[]): Promise<number[]> {
    return this.link.call('budgetSpent', accounts);
  }
  setKill(on: boolean, campaign?: string): Promise<KillState> {
    return this.link.call('budgetKill', on, campaign);
  }
  async close(): Promise<void> {}
}

/** The embedded frequency store (on the main thread, shared by the process's bid threads). */
export class RemoteFrequencyStore implements FrequencyStore {
  readonly kind = 'memory' as const;
  constructor(private readonly link: MainLink) {}
  counts(user: string, buckets: readonly BucketRef[]): Promise<FrequencyCounts> {
    return this.link.call('freqCounts', user, buckets);
  }
  record(user: string, hit: FrequencyHit): Promise<void> {
    return this.link.call('freqRecord', user, hit);
  }
  end(user: string, bidId: string): Promise<void> {
    return this.link.call('freqEnd', user, bidId);
  }
  async close(): Promise<void> {}
}

/** Counts dedupe checks under way: a notice's event is written only when its check answers, so a drain waits for them. */
export class TrackedDedupe implements NoticeDedupe {
  pending = 0;
  constructor(private readonly inner: NoticeDedupe) {}
  firstSeen(eventId: string): Promise<boolean> {
    this.pending++;
    const p = this.inner.firstSeen(eventId);
    // The caller's `.then` (which writes the event) hangs off the returned promise: it runs right
    // after `pending` drops, in the same microtask checkpoint, so a drain polling with a timer never
    // sees 0 before the event is written.
    return p.finally(() => {
      this.pending--;
    });
  }
  forget(eventId: string): Promise<void> {
    return this.inner.forget(eventId);
  }
}

/**
 * Events from a worker, shipped to the main thread's writer (one writer per DATA_DIR spool) in
 * batches: at `maxBatch` events or `maxDelayMs` after the first of a batch, never per event.
 * A worker that dies abruptly loses at most the batch it holds (≤ maxDelayMs of events); a
 * worker that drains or crashes through its handler sends it first.
 *
 * A durable write is one call to the main thread, whose writer owns the spool: it is answered when
 * the group commit that covers the event has completed there (a thread hop each way, tens of
 * microseconds, against the fdatasync's milliseconds), or fails after the link's timeout.
 */
export class ForwardingEventSink implements EventSink {
  private buf: BidderEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly post: Post,
    private readonly link: MainLink,
    private readonly maxBatch = 512,
    private readonly maxDelayMs = 20,
  ) {}

  write(event: BidderEvent): void {
    this.buf.push(event);
    if (this.buf.length >= this.maxBatch) this.send();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.send(), this.maxDelayMs);
      this.timer.unref();
    }
  }

  async writeDurable(event: BidderEvent): Promise<void> {
    await this.link.call('writeDurable', event);
  }

  private send(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buf.length === 0) return;
    const events = this.buf;
    this.buf = [];
    this.post({ t: 'events', events });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Sends the batch held, then has the main thread's writer flush: on the one ordered port, the
   * batch is in the writer before the call is served, so this resolves when everything written
   * here is stored (or durably spooled), as EventSink promises. Like the writer's own flush it does
   * not reject; a main thread that does not answer within the link's timeout ends the wait.
   */
  async flush(): Promise<void> {
    this.send();
    await this.link.call('flushEvents').catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.send();
  }
}

/** The worker's port as a typed poster. */
export function poster(port: MessagePort): Post {
  return (m) => port.postMessage(m);
}
