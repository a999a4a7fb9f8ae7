/**
 * Frequency counters: per user (a hashed user key), per window bucket, how many impressions each
 * campaign, creative and advertiser had. One hash per (user, window, bucket), fields `c:<id>`,
 * `cr:<id>`, `a:<id>`, so a request reads all of a user's counters in one round trip (one HGETALL
 * per window kind in use, pipelined). Windows are fixed buckets: the UTC hour, day, ISO-ish week
 * (7-day buckets from the epoch) and lifetime.
 */
import type { RedisLike } from '../audiences/redis-client.js';

export const WINDOWS = ['hour', 'day', 'week', 'lifetime'] as const;
export type FrequencyWindow = (typeof WINDOWS)[number];

const SPAN_SEC: Record<FrequencyWindow, number> = { hour: 3600, day: 86_400, week: 7 * 86_400, lifetime: 0 };
const LIFETIME_TTL_SEC = 400 * 86_400;

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
}

export interface FrequencyStore {
  readonly kind: 'memory' | 'redis';
  /** The user's counters in each bucket, in order (an empty record for none). */
  counts(user: string, buckets: readonly BucketRef[]): Promise<Record<string, number>[]>;
  /** Adds one impression. */
  record(user: string, hit: FrequencyHit): Promise<void>;
  close(): Promise<void>;
}

const keyOf = (user: string, b: BucketRef) => `${b.window[0]}:${b.bucket}:${user}`;

export class MemoryFrequencyStore implements FrequencyStore {
  readonly kind = 'memory' as const;
  private readonly data = new Map<string, { counts: Record<string, number>; expiresAt: number }>();
  private sweptAt = 0;
  constructor(private readonly clock: () => number = Date.now) {}

  async counts(user: string, buckets: readonly BucketRef[]): Promise<Record<string, number>[]> {
    const now = this.clock();
    return buckets.map((b) => {
      const e = this.data.get(keyOf(user, b));
      return e && e.expiresAt > now ? { ...e.counts } : {};
    });
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
  }

  async close(): Promise<void> {}

  private sweep(now: number): void {
    if (now - this.sweptAt < 60_000) return;
    this.sweptAt = now;
    for (const [k, e] of this.data) if (e.expiresAt <= now) this.data.delete(k);
  }
}

/** Keys `fq:{<user>}:<w>:<bucket>`: one user's keys share a Cluster slot; users spread over all of them. */
export class RedisFrequencyStore implements FrequencyStore {
  readonly kind = 'redis' as const;
  constructor(
    private readonly redis: RedisLike,
    private readonly prefix = 'fq:',
    private readonly ownsClient = false,
  ) {}

  private key(user: string, b: BucketRef): string {
    return `${this.prefix}{${user}}:${b.window[0]}:${b.bucket}`;
  }

  async counts(user: string, buckets: readonly BucketRef[]): Promise<Record<string, number>[]> {
    const raw = await Promise.all(buckets.map((b) => this.redis.hgetall(this.key(user, b))));
    return raw.map((h) => {
      const out: Record<string, number> = {};
      for (const k in h) out[k] = Number(h[k]);
      return out;
    });
  }

  async record(user: string, hit: FrequencyHit): Promise<void> {
    const multi = this.redis.multi();
    for (const b of hit.buckets) {
      const key = this.key(user, b);
      for (const f of hit.fields) multi.hincrby(key, f, 1);
      multi.expire(key, ttlOf(b.window));
    }
    const r = await multi.exec();
    const failed = r?.find(([e]) => e);
    if (failed) throw failed[0];
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.redis.disconnect();
  }
}
