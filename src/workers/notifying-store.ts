/**
 * The main thread's segment store, telling the bid workers what changed so their caches follow at
 * once: the keys an upload or a deletion touched (dropped from each worker's LRU) and metadata
 * changes (each worker re-reads the registry). Without it a worker would keep serving a cached
 * answer until its TTL (AUDIENCE_CACHE_TTL_MS, AUDIENCE_NEGATIVE_TTL_MS).
 */
import { MATCH_PREFIX, type MembershipRow, type SegmentMeta, type SegmentStore, type UserSegments } from '../audiences/segment-store.js';

export interface StoreChanges {
  keys(keys: readonly string[]): void;
  meta(): void;
}

export class NotifyingSegmentStore implements SegmentStore {
  readonly kind: SegmentStore['kind'];
  readonly lookupNow?: (keys: readonly string[]) => (UserSegments | undefined)[];

  constructor(
    private readonly inner: SegmentStore,
    private readonly changes: StoreChanges,
  ) {
    this.kind = inner.kind;
    if (inner.lookupNow) this.lookupNow = (keys) => inner.lookupNow!(keys);
  }

  lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    return this.inner.lookup(keys);
  }
  async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    await this.inner.addMemberships(rows);
    this.changes.keys(rows.map((r) => r.key));
  }
  async removeUser(key: string): Promise<boolean> {
    // The keys matched to this one go with it: their cached answers must go too.
    const [known] = await this.inner.lookup([key]);
    const linked = (known ?? []).filter((m) => m.segment.startsWith(MATCH_PREFIX)).map((m) => m.segment.slice(MATCH_PREFIX.length));
    const removed = await this.inner.removeUser(key);
    this.changes.keys([key, ...linked]);
    return removed;
  }
  async removeMembership(key: string, segment: string): Promise<boolean> {
    const removed = await this.inner.removeMembership(key, segment);
    this.changes.keys([key]);
    return removed;
  }
  async putMatch(exchangeKey: string, userKey: string, expiresAt: number): Promise<void> {
    await this.inner.putMatch(exchangeKey, userKey, expiresAt);
    this.changes.keys([exchangeKey, userKey]);
  }
  async putSegment(meta: SegmentMeta): Promise<void> {
    await this.inner.putSegment(meta);
    this.changes.meta();
  }
  getSegment(id: string): Promise<SegmentMeta | undefined> {
    return this.inner.getSegment(id);
  }
  listSegments(): Promise<SegmentMeta[]> {
    return this.inner.listSegments();
  }
  async dropSegment(id: string): Promise<boolean> {
    const p = this.inner.dropSegment(id);
    // The metadata goes at once (before the sweep): tell the workers now, and again when it is done.
    this.changes.meta();
    const dropped = await p;
    this.changes.meta();
    return dropped;
  }
  metaVersion(): Promise<number> {
    return this.inner.metaVersion();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
