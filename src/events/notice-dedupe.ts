/**
 * "Have we recorded this notice already?" across bidder instances and restarts: Redis SET NX with
 * an expiry (production), or an in-process set (embedded; per process). The window must exceed the
 * latest an exchange sends a notice (one large exchange keeps billing notices 3 h). When the check
 * cannot be made (Redis down), the notice is recorded anyway: storage keeps one row per event id
 * and reports count each event id once, so a missed check costs a duplicate row, never an event.
 *
 * A notice whose event could not be made durable is answered 503 and its mark is taken back
 * (`forget`), so the exchange's retry is recorded rather than refused as a duplicate.
 */
import type { RedisLike } from '../storage/redis-client.js';

export interface NoticeDedupe {
  /** True the first time an event id is seen within the window; errors resolve to true. */
  firstSeen(eventId: string): Promise<boolean>;
  /** Takes back the mark `firstSeen` set (the event was not kept): the next notice is first again. */
  forget(eventId: string): Promise<void>;
}

/**
 * Two generations of seen ids: new ids go into `current`; every window `current` becomes
 * `previous` and the old `previous` is dropped. An id is remembered for one to two windows (at
 * least the window), or less only when `maxEntries` ids arrive within one (then a generation
 * turns over early, as an LRU would evict). Memory grows with the notices actually seen: nothing
 * is allocated up front (a preallocated LRU of 2M entries was 64 MB of heap for the garbage
 * collector to walk on every major collection of the bid thread).
 */
export class MemoryNoticeDedupe implements NoticeDedupe {
  private current = new Set<string>();
  private previous = new Set<string>();
  private turnedAt: number;

  constructor(
    private readonly windowSec: number,
    private readonly maxEntries = 2_000_000,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.turnedAt = nowMs();
  }

  async firstSeen(eventId: string): Promise<boolean> {
    this.turnOver();
    if (this.current.has(eventId) || this.previous.has(eventId)) return false;
    this.current.add(eventId);
    return true;
  }

  async forget(eventId: string): Promise<void> {
    this.current.delete(eventId);
    this.previous.delete(eventId);
  }

  private turnOver(): void {
    const t = this.nowMs();
    const windowMs = this.windowSec * 1000;
    const age = t - this.turnedAt;
    if (age < windowMs && this.current.size < this.maxEntries / 2) return;
    // After two idle windows, what `current` holds is older than the window too.
    this.previous = age >= 2 * windowMs ? new Set() : this.current;
    this.current = new Set();
    this.turnedAt = t;
  }
}

export class RedisNoticeDedupe implements NoticeDedupe {
  constructor(
    private readonly redis: RedisLike,
    private readonly windowSec: number,
    private readonly prefix = 'evt:seen:',
  ) {}
  async firstSeen(eventId: string): Promise<boolean> {
    try {
      return (await this.redis.set(this.prefix + eventId, '1', 'EX', this.windowSec, 'NX')) === 'OK';
    } catch {
      return true;
    }
  }
  async forget(eventId: string): Promise<void> {
    // Not reached, the mark stays until it expires, and a retry is answered as a duplicate: the
    // one case (Redis failing while the disk fails) where a refused notice is not recorded.
    await this.redis.del(this.prefix + eventId).catch(() => undefined);
  }
}
