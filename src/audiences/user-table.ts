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

// An entry's fields, at entry × F + field in `ent`.
const HASH = 0;
const KEY_START = 1;
const KEY_LENGTH = 2;
const LIST_START = 3;
const LIST_LENGTH = 4;
const LIST_CAPACITY = 5;
const F = 6;

export class UserTable {
  /** entry index + 1, EMPTY or TOMBSTONE */
  private slots = new Int32Array(MIN_SLOTS);
  private used = 0; // live entries + tombstones in `slots`
  private live = 0;

  /**
   * The entries, F fields each, side by side (HASH, KEY_START, ...): a lookup reads one 24-byte
   * record, where a column per field cost a cache miss per field (five, at a million users).
   */
  private ent = new Int32Array(256 * F);
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
      if (s !== TOMBSTONE && this.ent[(s - 1) * F + HASH] === h && this.keyEquals(s - 1, key)) return s - 1;
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
    return this.ent[e * F + LIST_LENGTH];
  }

  segmentAt(e: number, i: number): number {
    return this.lists[(this.ent[e * F + LIST_START] + i) * 2];
  }

  expiryAt(e: number, i: number): number {
    return this.lists[(this.ent[e * F + LIST_START] + i) * 2 + 1];
  }

  /** Sets the membership of `segment` (adding it at the end when absent). True when it was added. */
  put(e: number, segment: number, expiresAt: number): boolean {
    const n = this.ent[e * F + LIST_LENGTH];
    const start = this.ent[e * F + LIST_START];
    for (let i = 0; i < n; i++)
      if (this.lists[(start + i) * 2] === segment) {
        this.lists[(start + i) * 2 + 1] = expiresAt;
        return false;
      }
    if (n === this.ent[e * F + LIST_CAPACITY]) this.moveList(e, Math.max(2, n * 2));
    const at = (this.ent[e * F + LIST_START] + n) * 2;
    this.lists[at] = segment;
    this.lists[at + 1] = expiresAt;
    this.ent[e * F + LIST_LENGTH] = n + 1;
    return true;
  }

  /** Removes the membership at position `i` (the last one takes its place). */
  removeAt(e: number, i: number): void {
    const n = this.ent[e * F + LIST_LENGTH] - 1;
    const start = this.ent[e * F + LIST_START];
    this.lists[(start + i) * 2] = this.lists[(start + n) * 2];
    this.lists[(start + i) * 2 + 1] = this.lists[(start + n) * 2 + 1];
    this.ent[e * F + LIST_LENGTH] = n;
  }

  /** Forgets an entry found by `find`. */
  delete(e: number): void {
    const h = this.ent[e * F + HASH];
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = this.slots[i];
      if (s === EMPTY) return;
      if (s === e + 1) {
        this.slots[i] = TOMBSTONE;
        break;
      }
    }
    this.keysGarbage += this.ent[e * F + KEY_LENGTH];
    this.listsGarbage += this.ent[e * F + LIST_CAPACITY];
    this.ent[e * F + LIST_LENGTH] = -1; // dead
    this.freeEntries.push(e);
    this.live--;
    this.compactIfWasteful();
  }

  /** Entries ever made (live or dead): the bound for a walk over them with `isLive`. */
  get entryCount(): number {
    return this.entries;
  }

  isLive(e: number): boolean {
    return e < this.entries && this.ent[e * F + LIST_LENGTH] >= 0;
  }

  // ---- internals -------------------------------------------------------------------------------

  private keyEquals(e: number, key: string): boolean {
    const n = this.ent[e * F + KEY_LENGTH];
    if (n !== key.length) return false;
    const start = this.ent[e * F + KEY_START];
    const keys = this.keys;
    for (let i = 0; i < n; i++) if (keys[start + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  private newEntry(key: string): number {
    const e = this.freeEntries.length > 0 ? this.freeEntries.pop()! : this.entries++;
    if ((e + 1) * F > this.ent.length) this.growEntries();
    this.ent[e * F + HASH] = hashOf(key);
    this.ent[e * F + KEY_START] = this.appendKey(key);
    this.ent[e * F + KEY_LENGTH] = key.length;
    this.ent[e * F + LIST_START] = 0;
    this.ent[e * F + LIST_LENGTH] = 0;
    this.ent[e * F + LIST_CAPACITY] = 0;
    return e;
  }

  private place(e: number): void {
    const mask = this.slots.length - 1;
    for (let i = this.ent[e * F + HASH] & mask; ; i = (i + 1) & mask)
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
    const b = new Int32Array(this.ent.length * 2);
    b.set(this.ent);
    this.ent = b;
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
    const from = this.ent[e * F + LIST_START] * 2;
    const to = this.listsUsed * 2;
    this.lists.copyWithin(to, from, from + this.ent[e * F + LIST_LENGTH] * 2);
    this.listsGarbage += this.ent[e * F + LIST_CAPACITY];
    this.ent[e * F + LIST_START] = this.listsUsed;
    this.ent[e * F + LIST_CAPACITY] = capacity;
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
      const cap = this.ent[e * F + LIST_LENGTH];
      if (cap < 0) continue; // dead
      const keyFrom = this.ent[e * F + KEY_START];
      const keyLength = this.ent[e * F + KEY_LENGTH];
      for (let i = 0; i < keyLength; i++) keys[k + i] = oldKeys[keyFrom + i];
      this.ent[e * F + KEY_START] = k;
      k += keyLength;
      const listFrom = this.ent[e * F + LIST_START] * 2;
      for (let i = 0; i < cap * 2; i++) lists[l * 2 + i] = oldLists[listFrom + i];
      this.ent[e * F + LIST_START] = l;
      this.ent[e * F + LIST_CAPACITY] = cap;
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
