/**
 * Outcomes arrive late: a click minutes after the impression, a conversion hours or days after the
 * click. An example waits here, in arrival order, until its outcome comes (a positive) or its window
 * passes without one (only then a negative): counting a recent impression as a non-click at once
 * would teach the model that fresh traffic never clicks. Bounded: when full, the oldest entry is
 * settled early (as a negative, counted in `early`), so memory stays flat under any traffic.
 */
export class PendingLabels<T> {
  /** Map iteration is insertion order: entries are added in time order, so the oldest come first. */
  private readonly entries = new Map<string, { readonly at: number; readonly value: T }>();
  /** Entries settled before their window passed because the map was full. */
  early = 0;

  constructor(
    readonly windowSec: number,
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** `onExpired` receives entries pushed out to make room (they count as negatives too). */
  add(key: string, atSec: number, value: T, onExpired: (value: T) => void): void {
    if (this.entries.has(key)) return; // a repeated notice: the first one stands
    while (this.entries.size >= this.capacity) {
      const first = this.entries.entries().next().value!;
      this.entries.delete(first[0]);
      this.early++;
      onExpired(first[1].value);
    }
    this.entries.set(key, { at: atSec, value });
  }

  /** The outcome arrived: the entry leaves, and is returned (undefined when unknown or already settled). */
  take(key: string): T | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    return e.value;
  }

  /** Settles every entry whose window has passed at `nowSec`, oldest first; returns how many. */
  expire(nowSec: number, onExpired: (value: T) => void): number {
    let k = 0;
    for (const [key, e] of this.entries) {
      if (e.at + this.windowSec > nowSec) break;
      this.entries.delete(key);
      onExpired(e.value);
      k++;
    }
    return k;
  }
}
