import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  and,
  andEither,
  andNot,
  copy,
  count,
  fill,
  hasBit,
  isEmpty,
  newBits,
  nextBit,
  or,
  setBit,
  wordsFor,
  type Bits,
} from '../../src/targeting/bitset.js';
import { bitList } from '../bidding/support.js';

const N = 200; // 7 words: several full words and a partial one
const bitsOf = (idx: Iterable<number>, n = N): Bits => {
  const b = newBits(wordsFor(n));
  for (const i of idx) setBit(b, i);
  return b;
};
const indexSet = fc.uniqueArray(fc.integer({ min: 0, max: N - 1 }), { maxLength: 80 });
const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);

describe('bitset', () => {
  it('sizes: at least one word, 32 bits a word', () => {
    expect(wordsFor(0)).toBe(1);
    expect(wordsFor(1)).toBe(1);
    expect(wordsFor(32)).toBe(1);
    expect(wordsFor(33)).toBe(2);
    expect(wordsFor(10_000)).toBe(313);
  });

  it('setBit/hasBit at word edges, the sign bit included', () => {
    const b = bitsOf([0, 31, 32, 63, 64, 199]);
    for (const i of [0, 31, 32, 63, 64, 199]) expect(hasBit(b, i), `bit ${i}`).toBe(true);
    for (const i of [1, 30, 33, 62, 65, 198]) expect(hasBit(b, i), `bit ${i}`).toBe(false);
  });

  it('nextBit walks set bits in order, across words and the sign bit', () => {
    const b = bitsOf([0, 5, 31, 32, 95, 96, 199]);
    expect(bitList(b)).toEqual([0, 5, 31, 32, 95, 96, 199]);
    expect(nextBit(b, 1)).toBe(5);
    expect(nextBit(b, 6)).toBe(31); // the top bit of word 0
    expect(nextBit(b, 33)).toBe(95); // skips the empty word 1 and most of word 2
    expect(nextBit(b, 97)).toBe(199);
    expect(nextBit(b, 200)).toBe(-1);
    expect(nextBit(b, 10_000)).toBe(-1);
  });

  it('nextBit on empty sets and from the last bit of a word', () => {
    expect(nextBit(newBits(3), 0)).toBe(-1);
    const top = bitsOf([31, 63]);
    expect(nextBit(top, 31)).toBe(31);
    expect(nextBit(top, 32)).toBe(63);
    expect(nextBit(top, 64)).toBe(-1);
  });

  it('nextBit enumerates exactly the set bits (property)', () => {
    fc.assert(
      fc.property(indexSet, (idx) => {
        expect(bitList(bitsOf(idx))).toEqual(sorted(idx));
      }),
    );
  });

  it('count: empty, full words, and any set (property)', () => {
    expect(count(newBits(4))).toBe(0);
    const full = newBits(4);
    full.fill(0xffffffff);
    expect(count(full)).toBe(128);
    expect(count(bitsOf([31]))).toBe(1);
    fc.assert(
      fc.property(indexSet, (idx) => {
        expect(count(bitsOf(idx))).toBe(idx.length);
      }),
    );
  });

  it('fill sets exactly the first n bits, clearing the rest', () => {
    const b = bitsOf([150, 199]);
    fill(b, 70);
    expect(count(b)).toBe(70);
    expect(hasBit(b, 69)).toBe(true);
    expect(hasBit(b, 70)).toBe(false);
    expect(hasBit(b, 150)).toBe(false);
    fill(b, 0);
    expect(isEmpty(b)).toBe(true);
  });

  it('and / or / andNot / andEither / copy agree with set algebra (property)', () => {
    fc.assert(
      fc.property(indexSet, indexSet, indexSet, (d, a, x) => {
        const A = new Set(a);
        const X = new Set(x);
        const run = (op: (dst: Bits) => void) => {
          const dst = bitsOf(d);
          op(dst);
          return bitList(dst);
        };
        expect(run((dst) => and(dst, bitsOf(a)))).toEqual(sorted(d.filter((i) => A.has(i))));
        expect(run((dst) => or(dst, bitsOf(a)))).toEqual(sorted(new Set([...d, ...a])));
        expect(run((dst) => andNot(dst, bitsOf(a)))).toEqual(sorted(d.filter((i) => !A.has(i))));
        expect(run((dst) => andEither(dst, bitsOf(a), bitsOf(x)))).toEqual(sorted(d.filter((i) => A.has(i) || X.has(i))));
        expect(run((dst) => copy(dst, bitsOf(a)))).toEqual(sorted(a));
      }),
    );
  });

  it('andEither keeps a bit present in only one of the two (and not in neither)', () => {
    const dst = bitsOf([1, 2, 3, 40]);
    andEither(dst, bitsOf([1, 40]), bitsOf([2]));
    expect(bitList(dst)).toEqual([1, 2, 40]);
  });

  it('isEmpty looks at every word', () => {
    expect(isEmpty(newBits(7))).toBe(true);
    expect(isEmpty(bitsOf([199]))).toBe(false);
  });
});
