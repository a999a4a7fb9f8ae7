/**
 * The embedded segment store, in this process. Same contract as the Redis store, for `npm start`
 * without servers and for tests; it does not share data between processes.
 *
 * Laid out for a million users on the bid thread's heap: each user is one map entry whose value
 * is one array of memberships, and a membership (segment, expiry) is one object shared by every
 * user uploaded with it (an upload gives its rows the same expiry, so there are few). A lookup
 * hands out the stored array itself (no copy, no allocation), and the garbage collector has about
 * two objects per user to trace instead of a map per user.
 */
import type { Membership, MembershipRow, SegmentMeta, SegmentStore, UserSegments } from './segment-store.js';

/** Interned memberships kept at most; past it the table starts over (old users keep theirs). */
const MAX_INTERNED = 65_536;

export class MemorySegmentStore implements SegmentStore {
  readonly kind = 'memory' as const;
  /** user key → memberships (replaced, never mutated, once handed out) */
  private readonly users = new Map<string, Membership[]>();
  private readonly segments = new Map<string, SegmentMeta>();
  private readonly sizes = new Map<string, number>();
  /** `<expiresAt> <segment>` → the shared membership */
  private readonly interned = new Map<string, Membership>();
  private version = 0;

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  async lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    return this.lookupNow(keys);
  }

  lookupNow(keys: readonly string[]): (UserSegments | undefined)[] {
    const now = this.nowSeconds();
    const out = new Array<UserSegments | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const list = this.users.get(keys[i]);
      if (list !== undefined && !anyLive(list, now)) {
        this.forget(keys[i], list);
        out[i] = undefined;
      } else out[i] = list;
    }
    return out;
  }

  async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    for (const row of rows) {
      const current = this.users.get(row.key);
      let next: Membership[] | undefined;
      for (const segment of row.segments) {
        const list = next ?? current;
        const at = list === undefined ? -1 : indexOfSegment(list, segment);
        if (at >= 0 && list![at].expiresAt >= row.expiresAt) continue; // a later expiry is kept
        // Copy on write: an array already handed out by a lookup never changes under its reader.
        next ??= current === undefined ? [] : current.slice();
        const m = this.membership(segment, row.expiresAt);
        if (at >= 0) next[at] = m;
        else {
          next.push(m);
          this.sizes.set(segment, (this.sizes.get(segment) ?? 0) + 1);
        }
      }
      if (next !== undefined) this.users.set(row.key, next);
    }
  }

  async removeUser(key: string): Promise<boolean> {
    const list = this.users.get(key);
    if (!list) return false;
    this.forget(key, list);
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
    let n = 0;
    for (const [key, list] of this.users) {
      const at = indexOfSegment(list, id);
      if (at >= 0) {
        if (list.length === 1) this.users.delete(key);
        else this.users.set(key, list.filter((m) => m.segment !== id));
      }
      if (++n % 50_000 === 0) await new Promise((r) => setImmediate(r)); // let bids through
    }
    return true;
  }

  async metaVersion(): Promise<number> {
    return this.version;
  }

  async close(): Promise<void> {}

  private forget(key: string, list: readonly Membership[]): void {
    for (const m of list) this.sizes.set(m.segment, Math.max(0, (this.sizes.get(m.segment) ?? 1) - 1));
    this.users.delete(key);
  }

  private membership(segment: string, expiresAt: number): Membership {
    const k = `${expiresAt} ${segment}`;
    let m = this.interned.get(k);
    if (m === undefined) {
      if (this.interned.size >= MAX_INTERNED) this.interned.clear();
      m = Object.freeze({ segment, expiresAt });
      this.interned.set(k, m);
    }
    return m;
  }
}

function indexOfSegment(list: readonly Membership[], segment: string): number {
  for (let i = 0; i < list.length; i++) if (list[i].segment === segment) return i;
  return -1;
}

function anyLive(list: readonly Membership[], now: number): boolean {
  for (let i = 0; i < list.length; i++) if (list[i].expiresAt > now) return true;
  return false;
}
