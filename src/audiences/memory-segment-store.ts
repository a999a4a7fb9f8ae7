/**
 * The embedded segment store: plain Maps in this process. Same contract as the Redis store,
 * for `npm start` without servers and for tests; it does not share data between processes.
 */
import type { MembershipRow, SegmentMeta, SegmentStore, UserSegments } from './segment-store.js';

export class MemorySegmentStore implements SegmentStore {
  readonly kind = 'memory' as const;
  /** user key → segment → expiresAt */
  private readonly users = new Map<string, Map<string, number>>();
  private readonly segments = new Map<string, SegmentMeta>();
  private readonly sizes = new Map<string, number>();
  private version = 0;

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  async lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    return this.lookupNow(keys);
  }

  lookupNow(keys: readonly string[]): (UserSegments | undefined)[] {
    const now = this.nowSeconds();
    return keys.map((key) => {
      const m = this.users.get(key);
      if (!m) return undefined;
      const out: { segment: string; expiresAt: number }[] = [];
      for (const [segment, expiresAt] of m) if (expiresAt > now) out.push({ segment, expiresAt });
      if (out.length === 0) {
        this.users.delete(key);
        return undefined;
      }
      return out;
    });
  }

  async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    for (const row of rows) {
      let m = this.users.get(row.key);
      if (!m) this.users.set(row.key, (m = new Map()));
      for (const seg of row.segments) {
        const current = m.get(seg);
        if (current === undefined) this.sizes.set(seg, (this.sizes.get(seg) ?? 0) + 1);
        if (current === undefined || current < row.expiresAt) m.set(seg, row.expiresAt);
      }
    }
  }

  async removeUser(key: string): Promise<boolean> {
    const m = this.users.get(key);
    if (!m) return false;
    for (const seg of m.keys()) this.sizes.set(seg, Math.max(0, (this.sizes.get(seg) ?? 1) - 1));
    return this.users.delete(key);
  }

  async putSegment(meta: SegmentMeta): Promise<void> {
    this.segments.set(meta.id, meta);
    this.version++;
  }

  async getSegment(id: string): Promise<SegmentMeta | undefined> {
    const meta = this.segments.get(id);
    return meta && { ...meta, approximateSize: this.sizes.get(id) ?? 0 };
  }

  async listSegments(): Promise<SegmentMeta[]> {
    return [...this.segments.values()].map((m) => ({ ...m, approximateSize: this.sizes.get(m.id) ?? 0 }));
  }

  async dropSegment(id: string): Promise<boolean> {
    if (!this.segments.delete(id)) return false;
    this.version++;
    this.sizes.delete(id);
    let n = 0;
    for (const [key, m] of this.users) {
      if (m.delete(id) && m.size === 0) this.users.delete(key);
      if (++n % 50_000 === 0) await new Promise((r) => setImmediate(r)); // let bids through
    }
    return true;
  }

  async metaVersion(): Promise<number> {
    return this.version;
  }

  async close(): Promise<void> {}
}
