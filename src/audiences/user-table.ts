/**
 * The in-process store's users, off the JavaScript heap: an open-addressing hash table over typed
 * arrays. A user key's UTF-16 code units live in one arena, each user's memberships (segment
 * number, expiry) in another, so a million users are a few dozen typed arrays and not millions
 * of objects the garbage collector has to trace on every major collection (which is what made
 * the bid thread's pauses, and its p99, grow with the number of users).
 *
 * Space left by deleted users and moved lists is reclaimed by a compaction when it is more than
 * half of an arena.
 */

const EMPTY = 0;
const TOMBSTONE = -1;
const MIN_SLOTS = 1024;

export class UserTable {
  /** entry index + 1, EMPTY or TOMBSTONE */
  private slots = new Int32Array(MIN_SLOTS);
  private used = 0; // live entries + tombstones in `slots`
  private live = 0;

  // Entry columns.
  private hashes = new Int32Array(256);
  private keyStart = new Int32Array(256);
  private keyLength = new Int32Array(256);
  private listStart = new Int32Array(256);
  private listLength = new Int32Array(256);
  private listCapacity = new Int32Array(256);
  private entries = 0;
  private readonly freeEntries: number[] = [];

  // Arenas.
  private keys = new Uint16Array(1 << 16);
  private keysUsed = 0;
  private keysGarbage = 0;
  /** Pairs: segment number, expiry (unix seconds). */
  private lists = new Uint32Array(1 << 16);
  private listsUsed = 0;
  private listsGarbage = 0;

  get size(): number {
    return this.live;
  }

  /** The entry of `key`, or -1. */
  find(key: string): number {
    const h = hashOf(key);
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i];
      if (s === EMPTY) return -1;
      if (s !== TOMBSTONE && this.hashes[s - 1] === h && this.keyEquals(s - 1, key)) return s - 1;
    }
  }

  /** The entry of `key`, made (with no memberships) when there is none. */
  findOrAdd(key: string): number {
    const found = this.find(key);
    if (found >= 0) return found;
    if ((this.used + 1) * 2 > this.slots.length) this.resize(this.live + 1);
    const e = this.newEntry(key);
    this.place(e);
    this.used++;
    this.live++;
    return e;
  }

  /** Number of memberships of an entry. */
  count(e: number): number {
    return this.listLength[e];
  }

  segmentAt(e: number, i: number): number {
    return this.lists[(this.listStart[e] + i) * 2];
  }

  expiryAt(e: number, i: number): number {
    return this.lists[(this.listStart[e] + i) * 2 + 1];
  }

  /** Sets the membership of `segment` (adding it at the end when absent). True when it was added. */
  put(e: number, segment: number, expiresAt: number): boolean {
    const n = this.listLength[e];
    const start = this.listStart[e];
    for (let i = 0; i < n; i++)
      if (this.lists[(start + i) * 2] === segment) {
        this.lists[(start + i) * 2 + 1] = expiresAt;
        return false;
      }
    if (n === this.listCapacity[e]) this.moveList(e, Math.max(2, n * 2));
    const at = (this.listStart[e] + n) * 2;
    this.lists[at] = segment;
    this.lists[at + 1] = expiresAt;
    this.listLength[e] = n + 1;
    return true;
  }

  /** Removes the membership at position `i` (the last one takes its place). */
  removeAt(e: number, i: number): void {
    const n = this.listLength[e] - 1;
    const start = this.listStart[e];
    this.lists[(start + i) * 2] = this.lists[(start + n) * 2];
    this.lists[(start + i) * 2 + 1] = this.lists[(start + n) * 2 + 1];
    this.listLength[e] = n;
  }

  /** Forgets an entry found by `find`. */
  delete(e: number): void {
    const h = this.hashes[e];
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i];
      if (s === EMPTY) return;
      if (s === e + 1) {
        this.slots[i] = TOMBSTONE;
        break;
      }
    }
    this.keysGarbage += this.keyLength[e];
    this.listsGarbage += this.listCapacity[e];
    this.listLength[e] = -1; // dead
    this.freeEntries.push(e);
    this.live--;
    this.compactIfWasteful();
  }

  /** Entries ever made (live or dead): the bound for a walk over them with `isLive`. */
  get entryCount(): number {
    return this.entries;
  }

  isLive(e: number): boolean {
    return e < this.entries && this.listLength[e] >= 0;
  }

  // ---- internals -------------------------------------------------------------------------------

  private keyEquals(e: number, key: string): boolean {
    const n = this.keyLength[e];
    if (n !== key.length) return false;
    const start = this.keyStart[e];
    const keys = this.keys;
    for (let i = 0; i < n; i++) if (keys[start + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  private newEntry(key: string): number {
    const e = this.freeEntries.length > 0 ? this.freeEntries.pop()! : this.entries++;
    if (e >= this.hashes.length) this.growEntries();
    this.hashes[e] = hashOf(key);
    this.keyStart[e] = this.appendKey(key);
    this.keyLength[e] = key.length;
    this.listStart[e] = 0;
    this.listLength[e] = 0;
    this.listCapacity[e] = 0;
    return e;
  }

  private place(e: number): void {
    const mask = this.slots.length - 1;
    for (let i = this.hashes[e] & mask; ; i = (i + 1) & mask)
      if (this.slots[i] === EMPTY) {
        this.slots[i] = e + 1;
        return;
      }
  }

  /** New slots for at least `liveEntries`, at most half full, without tombstones. */
  private resize(liveEntries: number): void {
    let n = MIN_SLOTS;
    while (n < liveEntries * 4) n *= 2;
    this.slots = new Int32Array(n);
    this.used = 0;
    for (let e = 0; e < this.entries; e++)
      if (this.isLive(e)) {
        this.place(e);
        this.used++;
      }
  }

  private growEntries(): void {
    const grow = (a: Int32Array) => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.hashes = grow(this.hashes);
    this.keyStart = grow(this.keyStart);
    this.keyLength = grow(this.keyLength);
    this.listStart = grow(this.listStart);
    this.listLength = grow(this.listLength);
    this.listCapacity = grow(this.listCapacity);
  }

  private appendKey(key: string): number {
    if (this.keysUsed + key.length > this.keys.length) {
      let n = this.keys.length * 2;
      while (n < this.keysUsed + key.length) n *= 2;
      const b = new Uint16Array(n);
      b.set(this.keys.subarray(0, this.keysUsed));
      this.keys = b;
    }
    const start = this.keysUsed;
    for (let i = 0; i < key.length; i++) this.keys[start + i] = key.charCodeAt(i);
    this.keysUsed += key.length;
    return start;
  }

  /** Moves an entry's list to the end of the arena with room for `capacity` memberships. */
  private moveList(e: number, capacity: number): void {
    if ((this.listsUsed + capacity) * 2 > this.lists.length) {
      let n = this.lists.length * 2;
      while (n < (this.listsUsed + capacity) * 2) n *= 2;
      const b = new Uint32Array(n);
      b.set(this.lists.subarray(0, this.listsUsed * 2));
      this.lists = b;
    }
    const from = this.listStart[e] * 2;
    const to = this.listsUsed * 2;
    this.lists.copyWithin(to, from, from + this.listLength[e] * 2);
    this.listsGarbage += this.listCapacity[e];
    this.listStart[e] = this.listsUsed;
    this.listCapacity[e] = capacity;
    this.listsUsed += capacity;
  }

  /** Rewrites the arenas without the space of deleted users and moved lists, when that is most of them. */
  private compactIfWasteful(): void {
    const keysWaste = this.keysGarbage > 1 << 16 && this.keysGarbage * 2 > this.keysUsed;
    const listsWaste = this.listsGarbage > 1 << 15 && this.listsGarbage * 2 > this.listsUsed;
    if (!keysWaste && !listsWaste) return;
    const keys = new Uint16Array(Math.max(1 << 16, (this.keysUsed - this.keysGarbage) * 2));
    const lists = new Uint32Array(Math.max(1 << 16, (this.listsUsed - this.listsGarbage) * 4));
    // Element by element: a subarray per entry for `set` would be two allocations per user, and at a
    // million users the pause of the bid thread several times longer.
    const oldKeys = this.keys;
    const oldLists = this.lists;
    let k = 0;
    let l = 0;
    for (let e = 0; e < this.entries; e++) {
      const cap = this.listLength[e];
      if (cap < 0) continue; // dead
      const keyFrom = this.keyStart[e];
      const keyLength = this.keyLength[e];
      for (let i = 0; i < keyLength; i++) keys[k + i] = oldKeys[keyFrom + i];
      this.keyStart[e] = k;
      k += keyLength;
      const listFrom = this.listStart[e] * 2;
      for (let i = 0; i < cap * 2; i++) lists[l * 2 + i] = oldLists[listFrom + i];
      this.listStart[e] = l;
      this.listCapacity[e] = cap;
      l += cap;
    }
    this.keys = keys;
    this.keysUsed = k;
    this.keysGarbage = 0;
    this.lists = lists;
    this.listsUsed = l;
    this.listsGarbage = 0;
    if (this.used > this.live * 2 + MIN_SLOTS) this.resize(this.live);
  }
}

/** FNV-1a over UTF-16 code units. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
