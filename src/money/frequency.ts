/**
 * Frequency caps for one bid thread: the user's counters read from the frequency store within the
 * request's lookup budget (alongside the audience lookup), kept in an in-process cache for
 * `cacheTtlMs`, plus this thread's own bids for the user in the last `holdMs` ("pending": counted
 * at bid time, so one thread never bids past a cap while the impression notices are on their way).
 * Impressions (or wins) are counted from notices.
 *
 * A held bid stops counting when the thread's read of the counters includes its impression (the
 * store returns the bids it has recorded or seen lose with the counters, frequency-store.ts), so
 * an impression is never counted twice, whichever instance its notice reached; a loss notice on
 * this thread ends the hold at once. `holdMs` only bounds a bid whose notices never come.
 *
 * Race margin (README): threads (and instances) do not see each other's pending bids, only the
 * recorded impressions once their caches refresh, so a user shown ads by T threads at once may get
 * up to (T − 1) × (what the cap still allowed) impressions over the cap; impressions further apart than
 * `cacheTtlMs` plus the notice delay are always capped exactly.
 */
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import type { Snapshot } from '../campaigns/snapshot.js';
import type { UserCaps } from '../bidding/money-gate.js';
import { bucketOf, type BucketRef, type FrequencyStore, type FrequencyWindow } from './frequency-store.js';

export interface FrequencyOptions {
  readonly cacheTtlMs: number;
  readonly holdMs: number;
  readonly maxUsers: number;
  /** Epoch ms; injectable for tests. */
  readonly clock?: () => number;
  /** Lookups by result: `cached`, `store`, `unavailable` (slower than the budget, or failed). */
  readonly lookups?: Counter<'result'>;
}

export interface BidFacts {
  readonly campaignId: string;
  readonly creativeId: string;
  readonly advertiserId: string;
  /** The bid's id: its hold ends when the counters include it. */
  readonly bidId?: string;
}

/**
 * A user's id in notices and counters: a hash of their first user key (never the key itself).
 * SHA-256 through the one-shot `crypto.hash` (Node 20.12+): the same digest as a `createHash`
 * object, at about a third of its cost (0.3 against 1.0 µs a key), once per request with a user.
 */
export function userHash(keys: readonly string[]): string | undefined {
  return keys.length === 0 ? undefined : hash('sha256', keys[0], 'base64url').slice(0, 16);
}

export const fieldsOf = (b: BidFacts) => [`c:${b.campaignId}`, `cr:${b.creativeId}`, `a:${b.advertiserId}`];

interface Entry {
  /** Epoch ms of the last read from the store; 0: never read. */
  fetchedAt: number;
  /** The buckets the counts are for. */
  buckets: readonly BucketRef[];
  /** `${window}|${field}` → impressions recorded in the store. */
  counts: Map<string, number>;
  /** This thread's bids: when, which, and the `${window}|${field}` keys they count for. */
  pending: { at: number; bidId: string | undefined; keys: string[] }[];
  loading: Promise<void> | undefined;
}

class CapsView implements UserCaps {
  constructor(
    readonly user: string,
    readonly known: boolean,
    private readonly entry: Entry | undefined,
    private readonly since: number,
  ) {}
  seen(window: string, field: string): number {
    const e = this.entry;
    if (e === undefined) return 0;
    const key = `${window}|${field}`;
    let n = e.counts.get(key) ?? 0;
    for (const p of e.pending) if (p.at > this.since && p.keys.includes(key)) n++;
    return n;
  }
}

export class FrequencyService {
  private readonly cache: LRUCache<string, Entry>;
  private readonly clock: () => number;
  private windowsFor: { version: number; windows: FrequencyWindow[] } | undefined;
  /** Lookups that did not answer within their budget, or failed. */
  unavailable = 0;
  private bucketsAt: { readonly sec: number; readonly windows: readonly FrequencyWindow[]; readonly buckets: readonly BucketRef[] } | undefined;
  /** `lookups` children bound once: labels() per request hashes its label values every time. */
  private readonly counted: { readonly cached?: { inc(): void }; readonly store?: { inc(): void }; readonly unavailable?: { inc(): void } };

  constructor(
    private readonly store: FrequencyStore,
    private readonly o: FrequencyOptions,
  ) {
    this.cache = new LRUCache({ max: Math.max(1, o.maxUsers) });
    this.clock = o.clock ?? Date.now;
    const l = o.lookups;
    this.counted = l === undefined ? {} : { cached: l.labels('cached'), store: l.labels('store'), unavailable: l.labels('unavailable') };
  }

  /** The windows any campaign of the snapshot caps on (empty: no caps, nothing to look up or count). */
  windows(snap: Snapshot): FrequencyWindow[] {
    if (this.windowsFor?.version !== snap.version) {
      const set = new Set<FrequencyWindow>();
      for (const c of snap.index.campaigns) for (const cap of c.frequency?.caps ?? []) set.add(cap.window);
      this.windowsFor = { version: snap.version, windows: [...set] };
    }
    return this.windowsFor.windows;
  }

  /**
   * The buckets of `windows` at `nowSec`, made once a second (and per windows list) and shared by
   * every request in it: they change only at a bucket's boundary, and nothing writes to them.
   */
  private bucketsFor(windows: readonly FrequencyWindow[], nowSec: number): readonly BucketRef[] {
    const at = this.bucketsAt;
    if (at !== undefined && at.sec === nowSec && at.windows === windows) return at.buckets;
    const buckets = windows.map((w) => ({ window: w, bucket: bucketOf(w, nowSec) }));
    this.bucketsAt = { sec: nowSec, windows, buckets };
    return buckets;
  }

  /** The user's counters now when cached, else a promise that answers within `budgetMs` (unknown on a timeout or error). */
  resolve(user: string, windows: readonly FrequencyWindow[], budgetMs: number): UserCaps | Promise<UserCaps> {
    const now = this.clock();
    const buckets = this.bucketsFor(windows, Math.floor(now / 1000));
    let e = this.cache.get(user);
    if (e !== undefined && e.fetchedAt > 0 && now - e.fetchedAt < this.o.cacheTtlMs && sameBuckets(e.buckets, buckets)) {
      this.counted.cached?.inc();
      return this.view(user, true, e, now);
    }
    if (e === undefined) this.cache.set(user, (e = { fetchedAt: 0, buckets, counts: new Map(), pending: [], loading: undefined }));
    const entry = e;
    entry.loading ??= this.store.counts(user, buckets).then(
      ({ rows, ended }) => {
        const counts = new Map<string, number>();
        rows.forEach((row, i) => {
          for (const field in row) counts.set(`${buckets[i].window}|${field}`, row[field]);
        });
        entry.counts = counts;
        // Bids the counters now include (or that lost) stop counting as pending: with the same read, so never twice, never none.
        if (ended.length > 0 && entry.pending.length > 0) {
          const done = new Set(ended);
          entry.pending = entry.pending.filter((p) => p.bidId === undefined || !done.has(p.bidId));
        }
        entry.buckets = buckets;
        entry.fetchedAt = this.clock();
        entry.loading = undefined;
      },
      () => {
        entry.loading = undefined;
      },
    );
    if (!(budgetMs > 0)) {
      this.miss();
      return this.view(user, false, entry, now);
    }
    return new Promise<UserCaps>((resolve) => {
      const timer = setTimeout(() => {
        this.miss();
        resolve(this.view(user, false, entry, now));
      }, budgetMs);
      void entry.loading!.then(() => {
        clearTimeout(timer);
        const ok = entry.fetchedAt > 0 && sameBuckets(entry.buckets, buckets);
        if (!ok) this.miss();
        else this.counted.store?.inc();
        resolve(this.view(user, ok, entry, now));
      });
    });
  }

  /** Counts this thread's bids for the user until the counters it reads include their impressions (at most `holdMs`). */
  bid(user: string, bids: readonly BidFacts[], windows: readonly FrequencyWindow[]): void {
    if (windows.length === 0) return;
    const now = this.clock();
    let e = this.cache.get(user);
    if (e === undefined) this.cache.set(user, (e = { fetchedAt: 0, buckets: [], counts: new Map(), pending: [], loading: undefined }));
    for (const b of bids) e.pending.push({ at: now, bidId: b.bidId, keys: windows.flatMap((w) => fieldsOf(b).map((f) => `${w}|${f}`)) });
  }

  /** An impression (or win) notice, first time seen: one more for the campaign, creative and advertiser in every window in use. */
  record(user: string, b: BidFacts, windows: readonly FrequencyWindow[], nowSec: number): Promise<void> {
    if (windows.length === 0) return Promise.resolve();
    return this.store.record(user, { fields: fieldsOf(b), buckets: windows.map((w) => ({ window: w, bucket: bucketOf(w, nowSec) })), bidId: b.bidId });
  }

  /**
   * A loss notice, first time seen: the bid will have no impression. Held here, its hold ends now;
   * else it was made by another thread or instance, which learns it from the store at its next read.
   */
  end(user: string, bidId: string): Promise<void> {
    const e = this.cache.get(user);
    const i = e?.pending.findIndex((p) => p.bidId === bidId) ?? -1;
    if (i >= 0) {
      e!.pending.splice(i, 1);
      return Promise.resolve();
    }
    return this.store.end(user, bidId);
  }

  private miss(): void {
    this.unavailable++;
    this.counted.unavailable?.inc();
  }

  private view(user: string, known: boolean, e: Entry, now: number): CapsView {
    const since = now - this.o.holdMs;
    if (e.pending.length > 0 && e.pending[0].at <= since) e.pending = e.pending.filter((p) => p.at > since);
    return new CapsView(user, known, e, since);
  }
}

function sameBuckets(a: readonly BucketRef[], b: readonly BucketRef[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].window !== b[i].window || a[i].bucket !== b[i].bucket) return false;
  return true;
}
