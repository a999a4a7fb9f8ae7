/**
 * Per-key rate limits: a token bucket per API key (`burst` tokens, refilled at `perSecond`),
 * in this process. A key over its limit gets 429 with Retry-After (whole seconds, at least 1).
 */
import type { RateLimit } from './auth.js';

interface Bucket {
  tokens: number;
  at: number;
}

export type Take = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly defaults: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(keyId: string, limit: RateLimit = this.defaults): Take {
    const now = this.now();
    let b = this.buckets.get(keyId);
    if (!b) this.buckets.set(keyId, (b = { tokens: limit.burst, at: now }));
    b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, remaining: Math.floor(b.tokens) };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / limit.perSecond)) };
  }
}
