/**
 * Per-key rate limits, on rate-limiter-flexible. A key's limit `{ perSecond, burst }` is a fixed
 * window of `ceil(burst / perSecond)` seconds (at least 1) allowing `burst` requests: on average
 * no more than `perSecond`, and at most `burst` at once (twice that across a window's edge).
 * A key over its limit gets 429 with Retry-After (whole seconds, at least 1: the rest of its window).
 *
 * With a Redis (`shared`), the windows live there (one key per API key and limit, under the
 * prefix): every instance of the API counts against the same window, so N instances allow a key
 * its limit, not N times it. When Redis fails (down, not connected, a command timing out), the
 * request is counted by this instance alone instead (fail open to the per-instance limit) and
 * `onStoreError` is called (a metric); the next request tries Redis again.
 * Without Redis, the windows are in this process (RateLimiterMemory).
 *
 * Framework-agnostic: `take(keyId, limit)` is all a router calls.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisLike } from '../storage/redis-client.js';
import type { RateLimit } from './auth.js';

export type Take = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

export interface SharedLimits {
  readonly redis: RedisLike;
  /** Key prefix in that Redis (default `api`): keys are `<prefix>:rl:<points>/<seconds>:<keyId>`. */
  readonly prefix?: string;
  /** Called when Redis failed and this instance counted the request alone. */
  readonly onStoreError?: (e: unknown) => void;
}

/** The window a limit becomes: `points` requests per `seconds` (whole seconds: Redis expiries are). */
export function windowOf(limit: RateLimit): { points: number; seconds: number } {
  const seconds = Math.max(1, Math.ceil(limit.burst / limit.perSecond));
  return { points: Math.max(1, Math.floor(limit.burst)), seconds };
}

interface Pair {
  readonly shared: RateLimiterRedis | undefined;
  readonly local: RateLimiterMemory;
}

export class RateLimiter {
  /** One pair per distinct limit (keys may have their own); few in practice. */
  private readonly byLimit = new Map<string, Pair>();

  constructor(
    readonly defaults: RateLimit,
    private readonly shared?: SharedLimits,
  ) {}

  async take(keyId: string, limit: RateLimit = this.defaults): Promise<Take> {
    const pair = this.pair(limit);
    if (pair.shared) {
      try {
        return answer(await pair.shared.consume(keyId));
      } catch (e) {
        if (e instanceof RateLimiterRes) return refused(e);
        this.shared!.onStoreError?.(e);
      }
    }
    try {
      return answer(await pair.local.consume(keyId));
    } catch (e) {
      if (e instanceof RateLimiterRes) return refused(e);
      throw e;
    }
  }

  private pair(limit: RateLimit): Pair {
    const { points, seconds } = windowOf(limit);
    const id = `${points}/${seconds}`;
    let p = this.byLimit.get(id);
    if (!p) {
      const prefix = `${this.shared?.prefix ?? 'api'}:rl:${id}`;
      p = {
        shared: this.shared && new RateLimiterRedis({ storeClient: this.shared.redis, points, duration: seconds, keyPrefix: prefix, rejectIfRedisNotReady: true }),
        local: new RateLimiterMemory({ points, duration: seconds, keyPrefix: prefix }),
      };
      this.byLimit.set(id, p);
    }
    return p;
  }
}

const answer = (r: RateLimiterRes): Take => ({ ok: true, remaining: Math.max(0, r.remainingPoints) });
const refused = (r: RateLimiterRes): Take => ({ ok: false, retryAfterSeconds: Math.max(1, Math.ceil(r.msBeforeNext / 1000)) });

