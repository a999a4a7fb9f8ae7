/**
 * The embedded segment store, in this process. Same contract as the Redis store, for `npm start`
 * without servers and for tests; it does not share data between processes.
 *
 * Users live off the JavaScript heap (user-table.ts): a million of them cost the garbage collector
 * nothing to trace. Segment ids are numbered once; a lookup builds the user's memberships from
 * shared, frozen objects (one per segment and expiry, and an upload gives its rows one expiry).
 */
import { MATCH_PREFIX, type Membership, type MembershipRow, type SegmentMeta, type SegmentStore, type UserSegments } from './segment-store.js';
import { UserTable } from './user-table.js';

/** Interned memberships kept at most; past it the table starts over. */
const MAX_INTERNED = 65_536;
/** Expiries are kept as unsigned 32-bit unix seconds (until 2106). */
const MAX_EXPIRY = 0xffff_ffff;

export class MemorySegmentStore implements SegmentStore {
  readonly kind = 'memory' as const;
  private readonly users = new UserTable();
  /** segment id ↔ number, for the user table */
  private readonly segmentNumbers = new Map<string, number>();
  private readonly segmentIds: string[] = [];
  private readonly segments = new Map<string, SegmentMeta>();
  private readonly sizes = new Map<string, number>();
  /** segment number × 2^32 + expiry → the shared membership */
  private readonly interned = new Map<number, Membership>();
  /** By segment number: the membership `membership()` returned last for it. */
  private readonly lastMembership: (Membership | undefined)[] = [];
  private version = 0;
  /**
   * The match table, both ways: key → linked key → expiry. On the heap (a map per matched key), unlike
   * segment memberships: fine for one process and for tests; production match tables live in Redis.
   */
  private readonly links = new Map<string, Map<string, number>>();

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  /** Users stored (with at least one membership, expired or not). */
  get userCount(): number {
    return this.users.size;
  }

  async lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    return this.lookupNow(keys);
  }

  lookupNow(keys: readonly string[]): (UserSegments | undefined)[] {
    const now = this.nowSeconds();
    const out = new Array<UserSegments | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const e = this.users.find(keys[i]);
      let list = e >= 0 ? this.membershipsOf(e, now) : undefined;
      if (this.links.size > 0) {
        const linked = this.linksOf(keys[i], now);
        if (linked !== undefined) list = list === undefined ? linked : list.concat(linked);
      }
      out[i] = list;
    }
    return out;
  }

  /** An entry's memberships; undefined (and the entry forgotten) when every one has expired. */
  private membershipsOf(e: number, now: number): Membership[] | undefined {
    const n = this.users.count(e);
    let live = false;
    const list = new Array<Membership>(n);
    for (let j = 0; j < n; j++) {
      const expiresAt = this.users.expiryAt(e, j);
      if (expiresAt > now) live = true;
      list[j] = this.membership(this.users.segmentAt(e, j), expiresAt);
    }
    if (live) return list;
    this.forget(e);
    return undefined;
  }

  /** A key's unexpired links as memberships (`=<other key>`); expired ones are dropped. */
  private linksOf(key: string, now: number): Membership[] | undefined {
    const links = this.links.get(key);
    if (links === undefined) return undefined;
    let out: Membership[] | undefined;
    for (const [other, expiresAt] of links) {
      if (expiresAt > now) (out ??= []).push({ segment: MATCH_PREFIX + other, expiresAt });
      else links.delete(other);
    }
    if (links.size === 0) this.links.delete(key);
    return out;
  }

  async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    for (const row of rows) {
      if (row.segments.length === 0) continue;
      const e = this.users.findOrAdd(row.key);
      const expiresAt = Math.min(MAX_EXPIRY, Math.max(0, Math.floor(row.expiresAt)));
      for (const segment of row.segments) {
        const s = this.numberOf(segment);
        const at = indexOfSegment(this.users, e, s);
        if (at >= 0 && this.users.expiryAt(e, at) >= expiresAt) continue; // a later expiry is kept
        if (this.users.put(e, s, expiresAt)) this.sizes.set(segment, (this.sizes.get(segment) ?? 0) + 1);
      }
    }
  }

  async removeUser(key: string): Promise<boolean> {
    const linked = this.links.get(key);
    this.links.delete(key);
    let removed = linked !== undefined;
    for (const other of linked?.keys() ?? []) {
      this.links.delete(other);
      removed = this.forgetKey(other) || removed;
    }
    return this.forgetKey(key) || removed;
  }

  async removeMembership(key: string, segment: string): Promise<boolean> {
    const e = this.users.find(key);
    const s = this.segmentNumbers.get(segment);
    if (e < 0 || s === undefined) return false;
    const at = indexOfSegment(this.users, e, s);
    if (at < 0) return false;
    this.users.removeAt(e, at);
    this.sizes.set(segment, Math.max(0, (this.sizes.get(segment) ?? 1) - 1));
    if (this.users.count(e) === 0) this.users.delete(e);
    return true;
  }

  async putMatch(exchangeKey: string, userKey: string, expiresAt: number): Promise<void> {
    const at = Math.min(MAX_EXPIRY, Math.max(0, Math.floor(expiresAt)));
    let theirs = this.links.get(exchangeKey);
    if (theirs === undefined) this.links.set(exchangeKey, (theirs = new Map()));
    for (const other of theirs.keys()) if (other !== userKey && other.startsWith('uid:')) theirs.delete(other); // one of our users per exchange id
    theirs.set(userKey, Math.max(at, theirs.get(userKey) ?? 0));
    let ours = this.links.get(userKey);
    if (ours === undefined) this.links.set(userKey, (ours = new Map()));
    ours.set(exchangeKey, Math.max(at, ours.get(exchangeKey) ?? 0));
  }

  private forgetKey(key: string): boolean {
    const e = this.users.find(key);
    if (e < 0) return false;
    this.forget(e);
    return true;
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
    const s = this.segmentNumbers.get(id);
    if (s === undefined) return true;
    const users = this.users;
    for (let e = 0; e < users.entryCount; e++) {
      if (users.isLive(e)) {
        const at = indexOfSegment(users, e, s);
        if (at >= 0) {
          users.removeAt(e, at);
          if (users.count(e) === 0) users.delete(e);
        }
      }
      if (e % 50_000 === 49_999) await new Promise((r) => setImmediate(r)); // let bids through
    }
    return true;
  }

  async metaVersion(): Promise<number> {
    return this.version;
  }

  async close(): Promise<void> {}

  private forget(e: number): void {
    for (let j = 0; j < this.users.count(e); j++) {
      const id = this.segmentIds[this.users.segmentAt(e, j)];
      this.sizes.set(id, Math.max(0, (this.sizes.get(id) ?? 1) - 1));
    }
    this.users.delete(e);
  }

  private numberOf(segment: string): number {
    let s = this.segmentNumbers.get(segment);
    if (s === undefined) {
      s = this.segmentIds.length;
      this.segmentIds.push(segment);
      this.segmentNumbers.set(segment, s);
    }
    return s;
  }

  private membership(s: number, expiresAt: number): Membership {
    // Most of a segment's members share an expiry (one upload, one TTL): the last one made for the
    // segment is checked first, which spares the map lookup (its key a double: hashed every time).
    const last = this.lastMembership[s];
    if (last !== undefined && last.expiresAt === expiresAt) return last;
    const k = s * 0x1_0000_0000 + expiresAt;
    let m = this.interned.get(k);
    if (m === undefined) {
      if (this.interned.size >= MAX_INTERNED) this.interned.clear();
      m = Object.freeze({ segment: this.segmentIds[s], expiresAt });
      this.interned.set(k, m);
    }
    this.lastMembership[s] = m;
    return m;
  }
}

function indexOfSegment(users: UserTable, e: number, s: number): number {
  const n = users.count(e);
  for (let j = 0; j < n; j++) if (users.segmentAt(e, j) === s) return j;
  return -1;
}
