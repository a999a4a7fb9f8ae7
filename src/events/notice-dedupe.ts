/**
 * "Have we recorded this notice already?" across bidder instances and restarts: Redis SET NX with
 * an expiry (production), or an in-process LRU (embedded; per process). The window must exceed the
 * latest an exchange sends a notice (one large exchange keeps billing notices 3 h). When the check
 * cannot be made (Redis down), the notice is recorded anyway: storage keeps one row per event id
 * and reports count each event id once, so a missed check costs a duplicate row, never an event.
 */
import { LRUCache } from 'lru-cache';
import type { RedisLike } from '../audiences/redis-client.js';

export interface NoticeDedupe {
  /** True the first time an event id is seen within the window; errors resolve to true. */
  firstSeen(eventId: string): Promise<boolean>;
}

export class MemoryNoticeDedupe implements NoticeDedupe {
  private readonly seen: LRUCache<string, true>;
  constructor(windowSec: number, maxEntries = 2_000_000) {
    this.seen = new LRUCache({ max: maxEntries, ttl: windowSec * 1000 });
  }
  async firstSeen(eventId: string): Promise<boolean> {
    if (this.seen.has(eventId)) return false;
    this.seen.set(eventId, true);
    return true;
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
}
