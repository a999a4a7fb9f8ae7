/**
 * The candidate plan against a direct evaluation: random operations over random bit sets, evaluated
 * over random word ranges, must give exactly `init & op1 & op2 ...` there, leave other words alone,
 * and say whether the range holds any bit, whatever the weights (they only reorder the operations).
 */
import { describe, expect, it } from 'vitest';
import { CandidatePlan } from '../../src/targeting/candidate-plan.js';
import { newBits, type Bits } from '../../src/targeting/bitset.js';
import { rng } from '../helpers/rng.js';

type Op = { kind: 'and'; a: Bits } | { kind: 'either'; a: Bits; b: Bits } | { kind: 'not'; a: Bits } | { kind: 'any'; list: Bits[] };

function randomBits(words: number, density: number, r: () => number): Bits {
  const b = newBits(words);
  for (let w = 0; w < words; w++) for (let i = 0; i < 32; i++) if (r() < density) b[w] |= 1 << i;
  return b;
}

function direct(init: Bits, ops: readonly Op[], w: number): number {
  let v = init[w];
  for (const op of ops) {
    if (op.kind === 'and') v &= op.a[w];
    else if (op.kind === 'either') v &= op.a[w] | op.b[w];
    else if (op.kind === 'not') v &= ~op.a[w];
    else v &= op.list.reduce((u, b) => u | b[w], 0);
  }
  return v >>> 0;
}

describe('CandidatePlan', () => {
  it('evaluates init AND every operation over the range, in any order of weights', () => {
    const r = rng(20261123);
    const plan = new CandidatePlan();
    let emptyRanges = 0;
    for (let round = 0; round < 400; round++) {
      const words = 1 + Math.floor(r() * 40);
      const density = [0.02, 0.2, 0.6, 0.95][round % 4];
      const ops: Op[] = [];
      plan.reset();
      const n = Math.floor(r() * 8);
      for (let k = 0; k < n; k++) {
        const weight = Math.floor(r() * 1000);
        const pick = r();
        if (pick < 0.3) {
          const op = { kind: 'and' as const, a: randomBits(words, density, r) };
          ops.push(op);
          plan.and(op.a, weight);
        } else if (pick < 0.55) {
          const op = { kind: 'either' as const, a: randomBits(words, density / 2, r), b: randomBits(words, density / 2, r) };
          ops.push(op);
          plan.andEither(op.a, op.b, weight);
        } else if (pick < 0.75) {
          const op = { kind: 'not' as const, a: randomBits(words, 1 - density, r) };
          ops.push(op);
          plan.andNot(op.a, weight);
        } else {
          const list = Array.from({ length: Math.floor(r() * 4) }, () => randomBits(words, density / 2, r));
          ops.push({ kind: 'any', list });
          plan.andAny();
          for (const b of list) plan.anyOf(b, Math.floor(r() * 100));
        }
      }
      const init = randomBits(words, 0.9, r);
      const dst = randomBits(words, 0.5, r);
      const before = dst.slice();
      const from = Math.floor(r() * words);
      const to = from + 1 + Math.floor(r() * (words - from));
      const some = plan.evaluate(dst, init, from, to);
      let expectedSome = false;
      for (let w = 0; w < words; w++) {
        if (w < from || w >= to) {
          expect(dst[w], `round ${round}: word ${w} outside [${from}, ${to}) changed`).toBe(before[w]);
          continue;
        }
        const want = direct(init, ops, w);
        if (want !== 0) expectedSome = true;
        // Once the range is empty the plan stops: a word it did not finish is then 0, as it must be.
        if (some) expect(dst[w] >>> 0, `round ${round}: word ${w}`).toBe(want);
      }
      expect(some, `round ${round}: any bit in range`).toBe(expectedSome);
      if (!some) {
        emptyRanges++;
        // Stopped early or not, an empty answer leaves no stray bit in the range.
        for (let w = from; w < to; w++) expect(dst[w], `round ${round}: word ${w} of an empty range`).toBe(0);
      }
    }
    // Both outcomes must have been exercised for the test to mean anything.
    expect(emptyRanges).toBeGreaterThan(40);
    expect(emptyRanges).toBeLessThan(360);
  });

  it('an empty union empties the range; an empty plan keeps init', () => {
    const init = newBits(2);
    init[0] = 0b1011;
    init[1] = 1;
    const dst = newBits(2);
    const plan = new CandidatePlan();
    expect(plan.evaluate(dst, init, 0, 2)).toBe(true);
    expect([...dst]).toEqual([0b1011, 1]);
    plan.andAny();
    expect(plan.evaluate(dst, init, 0, 2)).toBe(false);
    expect([...dst]).toEqual([0, 0]);
  });

  it('runs the most selective operation first and stops once the range is empty', () => {
    const init = newBits(1);
    init[0] = 0xffff;
    const none = newBits(1);
    // A proxy that records which bit sets the plan reads.
    const reads: string[] = [];
    const watched = (name: string, b: Bits): Bits =>
      new Proxy(b, {
        get(t, k, rcv) {
          if (k === '0') reads.push(name);
          return Reflect.get(t, k, rcv);
        },
      });
    const plan = new CandidatePlan();
    plan.and(watched('broad', Uint32Array.of(0xffff)), 500);
    plan.and(watched('empty', none), 3);
    plan.and(watched('middle', Uint32Array.of(0xff)), 100);
    expect(plan.evaluate(newBits(1), init, 0, 1)).toBe(false);
    expect(reads).toEqual(['empty']);
  });
});
