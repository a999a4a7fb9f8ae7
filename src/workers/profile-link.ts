/**
 * Lookalike profiles with bid workers (WORKERS>1, LOOKALIKES=1): the one profile store and the
 * lookalike builder live on the main thread; every worker feeds it.
 *
 * Worker side (ProfileForwarder): the worker's ProfileFeed ring (audiences/profiles.ts) is drained
 * every second into this forwarder, which posts the drained sightings to the main thread as one
 * message. The bid path only ever writes references into the ring; the sightings are built, and
 * cloned into the message, on the drain timer.
 *
 * Main side (ProfileCollector): each batch goes into the store, counted per worker. Forgetting a
 * user (DELETE /api/v1/users/...) forgets the profile here and is posted to every worker (their
 * rings and unsent batches); a batch already in flight when the forget was posted could still
 * carry the user, so a forgotten key is refused for FORGET_HOLD_MS after the forget.
 */
import type { Sighting, SightingSink, ProfileStore } from '../audiences/profiles.js';

/** Longer than a drain period plus a message's trip: no sample taken before the forget outlives it. */
export const FORGET_HOLD_MS = 10_000;

export class ProfileForwarder implements SightingSink {
  private pending: Sighting[] = [];

  constructor(private readonly send: (sightings: Sighting[]) => void) {}

  observe(s: Sighting): void {
    // A plain object with arrays: what the structured clone carries, and nothing of the request view.
    this.pending.push({ ...s, categories: s.categories && [...s.categories], segments: s.segments && [...s.segments] });
  }

  forget(key: string): boolean {
    const before = this.pending.length;
    this.pending = this.pending.filter((s) => s.key !== key);
    return this.pending.length < before;
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.send(batch);
  }
}

export class ProfileCollector {
  /** Key → epoch ms until which its sightings are refused. */
  private readonly forgotten = new Map<string, number>();
  /** Sightings taken, per worker index. */
  readonly received = new Map<number, number>();

  constructor(
    readonly store: ProfileStore,
    private readonly now: () => number = Date.now,
  ) {}

  take(worker: number, sightings: readonly Sighting[]): void {
    const now = this.now();
    this.received.set(worker, (this.received.get(worker) ?? 0) + sightings.length);
    if (this.forgotten.size > 0) for (const [k, until] of this.forgotten) if (until <= now) this.forgotten.delete(k);
    for (const s of sightings) if (this.forgotten.size === 0 || !this.forgotten.has(s.key)) this.store.observe(s);
  }

  /** Forgets the user's profile here and holds the key off for FORGET_HOLD_MS (the caller tells the workers). */
  forget(key: string): boolean {
    this.forgotten.set(key, this.now() + FORGET_HOLD_MS);
    return this.store.forget(key);
  }
}
