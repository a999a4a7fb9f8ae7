/**
 * Failed authentication, limited per source address. After `limit` failures (no key, a malformed,
 * unknown, wrong, paused or revoked one) from one address within `windowMs` of its first, every
 * request from that address that needs a key is answered 429 with Retry-After (the rest of the
 * window) without its key being checked, whatever key it sends, until that window ends; the next
 * failure starts a new one. So a guesser gets `limit` tries per window, and a correct key learned
 * meanwhile is no use to it from that address before the window ends.
 *
 * The address is the socket's peer, unless `trustedProxies` says how many proxies in front of the
 * admin port append to X-Forwarded-For: then it is the entry the outermost of them appended (a
 * client can write anything to the left of it, never that entry). IPv6 addresses count by their
 * /64, which one host usually holds whole. Addresses are kept in an LRU (MAX_TRACKED_ADDRESSES),
 * so memory stays bounded however many addresses fail; a window forgotten that way starts afresh.
 *
 * Requests racing the check (sent together, before any of them has failed) are each checked, so
 * the overshoot is bounded by what one address has in flight at once.
 *
 * Shared across instances: with a Redis (`shared`), `check`/`record` count an address's failures
 * there (rate-limiter-flexible, one key per address, the window starting at its first failure and
 * rounded up to whole seconds), so a guesser gets `limit` tries per window from the whole fleet,
 * not from each instance. When Redis fails, the call falls back to this instance's own count (fail
 * open to the per-instance limit) and `onStoreError` is called (a metric).
 */
import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { SharedLimits } from './rate-limit.js';
import type { AuthMetrics, AuthSurface } from '../metrics/auth-metrics.js';

export interface AuthFailureSettings {
  /** Failures from one address in a window before it is refused; 0: no limit. */
  readonly limit: number;
  readonly windowMs: number;
  /** Proxies in front of the admin port whose X-Forwarded-For entries are trusted; 0: the socket's peer. */
  readonly trustedProxies: number;
}

export const DEFAULT_AUTH_FAILURES: AuthFailureSettings = { limit: 20, windowMs: 60_000, trustedProxies: 0 };

/** About 100 bytes each: 50,000 addresses are a few MB. */
export const MAX_TRACKED_ADDRESSES = 50_000;

interface Window {
  failures: number;
  readonly since: number;
}

export class AuthFailureLimiter {
  private readonly windows = new LRUCache<string, Window>({ max: MAX_TRACKED_ADDRESSES });
  private readonly redis: RateLimiterRedis | undefined;

  constructor(
    readonly settings: AuthFailureSettings,
    private readonly metrics: AuthMetrics,
    private readonly now: () => number = () => performance.now(),
    private readonly shared?: SharedLimits,
  ) {
    this.redis =
      shared && settings.limit > 0
        ? new RateLimiterRedis({
            storeClient: shared.redis,
            points: settings.limit,
            duration: Math.max(1, Math.ceil(settings.windowMs / 1000)),
            keyPrefix: `${shared.prefix ?? 'api'}:authfail`,
            rejectIfRedisNotReady: true,
          })
        : undefined;
  }

  /** `refusal`, counted in the shared Redis when there is one (else, or when it fails, in this process). */
  async check(address: string, surface: AuthSurface): Promise<number | undefined> {
    if (this.redis) {
      try {
        const r = await this.redis.get(address);
        if (!r || r.consumedPoints < this.settings.limit) return undefined;
        this.metrics.refused.labels(surface).inc();
        return Math.max(1, Math.ceil(r.msBeforeNext / 1000));
      } catch (e) {
        this.shared!.onStoreError?.(e);
      }
    }
    return this.refusal(address, surface);
  }

  /** `failed`, counted in the shared Redis when there is one (else, or when it fails, in this process). */
  async record(address: string, surface: AuthSurface): Promise<void> {
    if (this.redis) {
      try {
        await this.redis.penalty(address, 1);
        this.metrics.failures.labels(surface).inc();
        return;
      } catch (e) {
        this.shared!.onStoreError?.(e);
      }
    }
    this.failed(address, surface);
  }

  /** Addresses with a window open (for tests: bounded by MAX_TRACKED_ADDRESSES). */
  get tracked(): number {
    return this.windows.size;
  }

  /** Seconds until `address` may try again when it is over the limit (counted as a refusal); else undefined. */
  refusal(address: string, surface: AuthSurface): number | undefined {
    if (this.settings.limit === 0) return undefined;
    const w = this.windows.get(address);
    if (!w || w.failures < this.settings.limit) return undefined;
    const left = w.since + this.settings.windowMs - this.now();
    if (left <= 0) {
      this.windows.delete(address);
      return undefined;
    }
    this.metrics.refused.labels(surface).inc();
    return Math.max(1, Math.ceil(left / 1000));
  }

  failed(address: string, surface: AuthSurface): void {
    this.metrics.failures.labels(surface).inc();
    if (this.settings.limit === 0) return;
    const now = this.now();
    const w = this.windows.get(address);
    if (w && now - w.since < this.settings.windowMs) w.failures++;
    else this.windows.set(address, { failures: 1, since: now });
  }
}

/** The address a request counts against (see above). Read it synchronously in the uWS handler. */
export function sourceAddress(res: HttpResponse, req: HttpRequest, trustedProxies: number): string {
  return sourceAddressOf(Buffer.from(res.getRemoteAddressAsText()).toString(), req.getHeader('x-forwarded-for'), trustedProxies);
}

/** The same from the peer address and the X-Forwarded-For header (the admin port's node:http requests). */
export function sourceAddressOf(peer: string, forwardedFor: string, trustedProxies: number): string {
  if (trustedProxies > 0) {
    const hops = forwardedFor
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    // Fewer entries than proxies: every one of them was written by a trusted proxy; the leftmost is the farthest known.
    const entry = hops.length ? hops[Math.max(0, hops.length - trustedProxies)] : undefined;
    if (entry !== undefined && ipaddr.isValid(entry)) return addressKey(entry);
  }
  return addressKey(peer);
}

/** IPv4 as is (also when mapped into IPv6); IPv6 by its /64. */
export function addressKey(text: string): string {
  if (!ipaddr.isValid(text)) return text.slice(0, 64);
  let a = ipaddr.parse(text);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  if (a.kind() === 'ipv4') return a.toString();
  const parts = (a as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16));
  return `${parts.join(':')}::/64`;
}
