/**
 * Fixed-width bit sets over campaign ranks (bit i = the campaign with rank i).
 * The index keeps one per rule value; a request ANDs a handful of them into scratch space.
 * All operations write into their first argument and allocate nothing.
 */
export type Bits = Uint32Array;

export const wordsFor = (n: number): number => Math.max(1, Math.ceil(n / 32));
export const newBits = (words: number): Bits => new Uint32Array(words);

export function setBit(bits: Bits, i: number): void {
  bits[i >>> 5] |= 1 << (i & 31);
}

export function hasBit(bits: Bits, i: number): boolean {
  return (bits[i >>> 5] & (1 << (i & 31))) !== 0;
}

export function fill(bits: Bits, n: number): void {
  bits.fill(0);
  for (let i = 0; i < n; i++) setBit(bits, i);
}

export function copy(dst: Bits, src: Bits): void {
  dst.set(src);
}

export function and(dst: Bits, a: Bits): void {
  for (let w = 0; w < dst.length; w++) dst[w] &= a[w];
}

/** dst &= (a | b) */
export function andEither(dst: Bits, a: Bits, b: Bits): void {
  for (let w = 0; w < dst.length; w++) dst[w] &= a[w] | b[w];
}

export function andNot(dst: Bits, a: Bits): void {
  for (let w = 0; w < dst.length; w++) dst[w] &= ~a[w];
}

export function or(dst: Bits, a: Bits): void {
  for (let w = 0; w < dst.length; w++) dst[w] |= a[w];
}

export function isEmpty(bits: Bits): boolean {
  for (let w = 0; w < bits.length; w++) if (bits[w] !== 0) return false;
  return true;
}

export function count(bits: Bits): number {
  let n = 0;
  for (let w = 0; w < bits.length; w++) {
    let v = bits[w];
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }
  return n;
}

/**
 * Next set bit at or after `from` in the words before `endWord`, or -1. Callers loop:
 * `for (let i = nextBit(b, 0); i >= 0; i = nextBit(b, i + 1))`.
 */
export function nextBit(bits: Bits, from: number, endWord = bits.length): number {
  let w = from >>> 5;
  if (w >= endWord) return -1;
  let word = bits[w] & (~0 << (from & 31));
  while (word === 0) {
    if (++w >= endWord) return -1;
    word = bits[w];
  }
  return (w << 5) + (31 - Math.clz32(word & -word));
}
