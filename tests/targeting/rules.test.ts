import { describe, expect, it } from 'vitest';
import { AllowRule, BlockRule, ListRules } from '../../src/targeting/rules.js';
import { rng } from '../helpers/rng.js';
import { fill, newBits, type Bits } from '../../src/targeting/bitset.js';
import { CandidatePlan } from '../../src/targeting/candidate-plan.js';
import { bitList } from '../bidding/support.js';

/** `candidates` narrowed by what `add` plans (evaluated in place, every word). */
function narrowed(candidates: Bits, add: (plan: CandidatePlan) => void): Bits {
  const plan = new CandidatePlan();
  add(plan);
  plan.evaluate(candidates, candidates, 0, candidates.length);
  return candidates;
}

/** Campaigns 0..4; rule values per campaign (undefined/empty = unconstrained). */
function allowRule(values: (string[] | undefined)[]) {
  const r = new AllowRule(1);
  values.forEach((v, i) => r.add(i, v));
  return r;
}
const all = () => {
  const b = newBits(1);
  fill(b, 5);
  return b;
};

describe('AllowRule', () => {
  const rule = allowRule([['US'], ['US', 'CA'], undefined, ['DE'], []]);

  it('keeps the campaigns listing the value plus the unconstrained ones', () => {
    const b = all();
    narrowed(b, (p) => rule.plan(p, 'US'));
    expect(bitList(b)).toEqual([0, 1, 2, 4]);
    const c = all();
    narrowed(c, (p) => rule.plan(p, 'CA'));
    expect(bitList(c)).toEqual([1, 2, 4]);
  });

  it('a value nobody lists, or no value at all, keeps only the unconstrained', () => {
    for (const v of ['FR', undefined]) {
      const b = all();
      narrowed(b, (p) => rule.plan(p, v));
      expect(bitList(b), String(v)).toEqual([2, 4]);
    }
  });

  it('planAny keeps campaigns accepting any of the values', () => {
    const b = all();
    narrowed(b, (p) => rule.planAny(p, ['CA', 'DE']));
    expect(bitList(b)).toEqual([1, 2, 3, 4]);
    const none = all();
    narrowed(none, (p) => rule.planAny(p, []));
    expect(bitList(none)).toEqual([2, 4]);
  });

  it('applies only to the current candidates', () => {
    const b = newBits(1);
    b[0] = 0b00011; // campaigns 0 and 1
    narrowed(b, (p) => rule.plan(p, 'CA'));
    expect(bitList(b)).toEqual([1]);
  });

  it('a rule no campaign constrains adds nothing to the plan', () => {
    const r = allowRule([undefined, []]);
    expect(r.constrained).toBe(false);
    const plan = new CandidatePlan();
    r.plan(plan, undefined);
    r.planAny(plan, ['x']);
    expect(plan.size).toBe(0);
    const b = all();
    narrowed(b, (p) => r.plan(p, undefined));
    expect(bitList(b)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('BlockRule', () => {
  const r = new BlockRule(1);
  r.add(0, ['bad.example']);
  r.add(1, ['bad.example', 'worse.example']);
  r.add(2, undefined);
  r.add(3, []);

  it('removes the campaigns blocking the value, keeps everyone else', () => {
    const b = all();
    narrowed(b, (p) => r.plan(p, 'bad.example'));
    expect(bitList(b)).toEqual([2, 3, 4]);
    const c = all();
    narrowed(c, (p) => r.plan(p, 'worse.example'));
    expect(bitList(c)).toEqual([0, 2, 3, 4]);
  });

  it('a missing or unlisted value removes nobody', () => {
    for (const v of ['good.example', undefined]) {
      const b = all();
      narrowed(b, (p) => r.plan(p, v));
      expect(bitList(b), String(v)).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('planAll removes the campaigns blocking any of the values', () => {
    const b = all();
    narrowed(b, (p) => r.planAll(p, ['good.example', 'worse.example']));
    expect(bitList(b)).toEqual([0, 2, 3, 4]);
  });
});

describe('ListRules', () => {
  /** The same campaigns in a ListRules and in an AllowRule and a BlockRule of their own. */
  function both(rows: { allow?: string[]; block?: string[] }[]) {
    const words = Math.ceil(rows.length / 32);
    const list = new ListRules(words);
    const allow = new AllowRule(words);
    const block = new BlockRule(words);
    rows.forEach((row, i) => {
      list.allow.add(i, row.allow);
      list.block.add(i, row.block);
      allow.add(i, row.allow);
      block.add(i, row.block);
    });
    return { list, allow, block, words, n: rows.length };
  }
  const everyone = (words: number, n: number) => {
    const b = newBits(words);
    fill(b, n);
    return b;
  };

  it('plans exactly what its allow and block rules plan apart, one lookup serving both', () => {
    const r = rng(20261206);
    const vocabulary = ['a', 'b', 'c', 'd', 'e', 'f'];
    const pick = () => vocabulary.filter(() => r() < 0.3);
    let narrowedSome = 0;
    for (let round = 0; round < 300; round++) {
      const rows = Array.from({ length: 1 + Math.floor(r() * 70) }, () => ({
        allow: r() < 0.5 ? pick() : undefined,
        block: r() < 0.4 ? pick() : undefined,
      }));
      const { list, allow, block, words, n } = both(rows);
      if (round % 2 === 0) {
        list.allow.seal();
        allow.seal();
      }
      const value = r() < 0.15 ? undefined : vocabulary[Math.floor(r() * vocabulary.length)];
      const got = narrowed(everyone(words, n), (p) => list.plan(p, value));
      const want = narrowed(everyone(words, n), (p) => {
        allow.plan(p, value);
        block.plan(p, value);
      });
      expect(bitList(got), `round ${round}: plan(${value})`).toEqual(bitList(want));
      if (bitList(want).length < n) narrowedSome++;

      const values = pick();
      for (const blockToo of [true, false]) {
        const gotAny = narrowed(everyone(words, n), (p) => list.planAny(p, values, blockToo));
        const wantAny = narrowed(everyone(words, n), (p) => {
          allow.planAny(p, values);
          if (blockToo) block.planAll(p, values);
        });
        expect(bitList(gotAny), `round ${round}: planAny(${values}, ${blockToo})`).toEqual(bitList(wantAny));
      }
    }
    expect(narrowedSome).toBeGreaterThan(100);
  });

  it('a value only one side lists is looked up once and counts on that side only', () => {
    const { list } = both([{ allow: ['x'] }, { block: ['x'] }, { block: ['y'] }, {}]);
    const b = everyone(1, 4);
    narrowed(b, (p) => list.plan(p, 'y')); // nobody allows y: only the unconstrained stay, less y's blocker
    expect(bitList(b)).toEqual([1, 3]);
    const c = everyone(1, 4);
    narrowed(c, (p) => list.plan(p, 'x'));
    expect(bitList(c)).toEqual([0, 2, 3]);
  });
});
