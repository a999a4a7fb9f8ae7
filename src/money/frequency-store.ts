/**
 * Frequency counters: per user (a hashed user key), per window bucket, how many impressions each
 * campaign, creative and advertiser had. One hash per (user, window, bucket), fields `c:<id>`,
 * `cr:<id>`, `a:<id>`, so a request reads all of a user's counters in one round trip (one HGETALL
 * per window kind in use, pipelined). Windows are fixed buckets: the UTC hour, day, ISO-ish week
 * (7-day buckets from the epoch) and lifetime.
 *
 * Ended bids: a recorded impression (or a loss) also notes its bid id for the user, in the same
 * write, and a read of the counters returns those ids with them. The bid thread that made the bid
 * counts it at once ("pending", frequency.ts) until its impression is in the counters it reads;
 * the ids it gets back tell it which of its bids the counters now include (or will never include),
 * so it stops counting them then, whichever instance the notice reached (a fleet behind one
 * load-balanced notice address), and counts no impression twice.
 */
import type { ChainableCommander } from 'ioredis';
import type { RedisLike } from '../storage/redis-client.js';

export const WINDOWS = ['hour', 'day', 'week', 'lifetime'] as const;
export type FrequencyWindow = (typeof WINDOWS)[number];

const SPAN_SEC: Record<FrequencyWindow, number> = { hour: 3600, day: 86_400, week: 7 * 86_400, lifetime: 0 };
const LIFETIME_TTL_SEC = 400 * 86_400;
/** How long a user's ended bid ids are kept: the longest `FREQ_HOLD_MS`, after which no thread still counts the bid. */
export const ENDED_KEEP_MS = 3_600_000;

/** The bucket of `window` that `nowSec` falls in ('l' for lifetime). */
export function bucketOf(window: FrequencyWindow, nowSec: number): string {
  return window === 'lifetime' ? 'l' : String(Math.floor(nowSec / SPAN_SEC[window]));
}

/** Seconds a bucket's counters are kept after their last write. */
export function ttlOf(window: FrequencyWindow): number {
  return window === 'lifetime' ? LIFETIME_TTL_SEC : SPAN_SEC[window] + 60;
}

export interface BucketRef {
  readonly window: FrequencyWindow;
  readonly bucket: string;
}

/** One impression's counters: the fields (`c:<id>`, `cr:<id>`, `a:<id>`) to add 1 to, in each bucket. */
export interface FrequencyHit {
  readonly fields: readonly string[];
  readonly buckets: readonly BucketRef[];
  /** The bid shown: noted as ended for the user with the same write. */
  readonly bidId?: string;
}

/** A user's counters as one read. */
export interface FrequencyCounts {
  /** The counters in each bucket asked for, in order (an empty record for none). */
  readonly rows: Record<string, number>[];
  /** Bids of the user in the last `ENDED_KEEP_MS` whose impression `rows` already include, or that lost. */
  readonly ended: string[];
}

export interface FrequencyStore {
  readonly kind: 'memory' | 'redis';
  /** The user's counters in each bucket and the ended bids, read together (as of one moment). */
  counts(user: string, buckets: readonly BucketRef[]): Promise<FrequencyCounts>;
  /** Adds one impression (and ends its bid, when given). */
  record(user: string, hit: FrequencyHit): Promise<void>;
  /** Ends a bid that will have no impression (a loss). */
  end(user: string, bidId: string): Promise<void>;
  close(): Promise<void>;
}

const keyOf = (user: string, b: BucketRef) => `${b.window[0]}:${b.bucket}:${user}`;

export class MemoryFrequencyStore implements FrequencyStore {
  readonly kind = 'memory' as const;
  private readonly data = new Map<string, { counts: Record<string, number>; expiresAt: number }>();
  /** Per user: ended bid id → epoch ms it was noted. */
  private readonly endedBids = new Map<string, Map<string, number>>();
  private sweptAt = 0;
  constructor(private readonly clock: () => number = Date.now) {}

  async counts(user: string, buckets: readonly BucketRef[]): Promise<FrequencyCounts> {
    const now = this.clock();
    const rows = buckets.map((b) => {
      const e = this.data.get(keyOf(user, b));
      return e && e.expiresAt > now ? { ...e.counts } : {};
    });
    const ended: string[] = [];
    for (const [bidId, at] of this.endedBids.get(user) ?? []) if (at > now - ENDED_KEEP_MS) ended.push(bidId);
    return { rows, ended };
  }

  async record(user: string, hit: FrequencyHit): Promise<void> {
    const now = this.clock();
    this.sweep(now);
    for (const b of hit.buckets) {
      const key = keyOf(user, b);
      let e = this.data.get(key);
      if (!e || e.expiresAt <= now) this.data.set(key, (e = { counts: {}, expiresAt: 0 }));
      e.expiresAt = now + ttlOf(b.window) * 1000;
      for (const f of hit.fields) e.counts[f] = (e.counts[f] ?? 0) + 1;
    }
    if (hit.bidId !== undefined) this.noteEnded(user, hit.bidId, now);
  }

  async end(user: string, bidId: string): Promise<void> {
    const now = this.clock();
    this.sweep(now);
    this.noteEnded(user, bidId, now);
  }

  private noteEnded(user: string, bidId: string, now: number): void {
    let bids = this.endedBids.get(user);
    if (bids === undefined) this.endedBids.set(user, (bids = new Map()));
    bids.set(bidId, now);
  }

  async close(): Promise<void> {}

  private sweep(now: number): void {
    if (now - this.sweptAt < 60_000) return;
    this.sweptAt = now;
    for (const [k, e] of this.data) if (e.expiresAt <= now) this.data.delete(k);
    for (const [user, bids] of this.endedBids) {
      for (const [bidId, at] of bids) if (at <= now - ENDED_KEEP_MS) bids.delete(bidId);
      if (bids.size === 0) this.endedBids.delete(user);
    }
  }
}

/**
 * Keys `fq:{<user>}:<w>:<bucket>` (hashes) and `fq:{<user>}:e` (the ended bids, a sorted set scored
 * by epoch ms; `<user>` as `slotTag` writes it): one user's keys share a Cluster slot, so a record and a read are each one
 * transaction; users spread over all slots.
 */
export class RedisFrequencyStore implements FrequencyStore {
  readonly kind = 'redis' as const;
  constructor(
    private readonly redis: RedisLike,
    private readonly prefix = 'fq:',
    private readonly ownsClient = false,
  ) {}

  private key(user: string, b: BucketRef): string {
    return `${this.prefix}{${slotTag(user)}}:${b.window[0]}:${b.bucket}`;
  }

  private endedKey(user: string): string {
    return `${this.prefix}{${slotTag(user)}}:e`;
  }

  async counts(user: string, buckets: readonly BucketRef[]): Promise<FrequencyCounts> {
    // One transaction: the ended bids are exactly those whose impressions the counters include.
    const multi = this.redis.multi();
    for (const b of buckets) multi.hgetall(this.key(user, b));
    multi.zrangebyscore(this.endedKey(user), Date.now() - ENDED_KEEP_MS, '+inf');
    const r = await exec(multi);
    const rows = r.slice(0, buckets.length).map((h) => {
      const out: Record<string, number> = {};
      for (const k in h as Record<string, string>) out[k] = Number((h as Record<string, string>)[k]);
      return out;
    });
    return { rows, ended: r[buckets.length] as string[] };
  }

  async record(user: string, hit: FrequencyHit): Promise<void> {
    const multi = this.redis.multi();
    for (const b of hit.buckets) {
      const key = this.key(user, b);
      for (const f of hit.fields) multi.hincrby(key, f, 1);
      multi.expire(key, ttlOf(b.window));
    }
    if (hit.bidId !== undefined) this.noteEnded(multi, user, hit.bidId);
    await exec(multi);
  }

  async end(user: string, bidId: string): Promise<void> {
    const multi = this.redis.multi();
    this.noteEnded(multi, user, bidId);
    await exec(multi);
  }

  private noteEnded(multi: ChainableCommander, user: string, bidId: string): void {
    const key = this.endedKey(user);
    const now = Date.now();
    multi.zadd(key, now, bidId);
    multi.zremrangebyscore(key, '-inf', now - ENDED_KEEP_MS);
    multi.pexpire(key, ENDED_KEEP_MS);
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.redis.disconnect();
  }
}

/**
 * The user as written between the braces of their keys. A Cluster hashes the text up to the first
 * `}`: for an empty user, or one starting with `}`, that would be nothing, each key would hash on
 * its own, and the user's transaction would span slots (refused). Those users, and those starting
 * with `~` (so no two users share keys), get a leading `~`; every other user (the user hashes the
 * bidder makes are base64url) is written as is.
 */
function slotTag(user: string): string {
  return user === '' || user[0] === '}' || user[0] === '~' ? `~${user}` : user;
}

/** The replies of a transaction, or its first error. */
async function exec(multi: ChainableCommander): Promise<unknown[]> {
  const r = await multi.exec();
  if (r === null) throw new Error('frequency transaction aborted');
  const failed = r.find(([e]) => e);
  if (failed) throw failed[0];
  return r.map(([, v]) => v);
}
