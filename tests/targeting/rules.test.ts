import { describe, expect, it } from 'vitest';
import { AllowRule, BlockRule } from '../../src/targeting/rules.js';
import { fill, newBits } from '../../src/targeting/bitset.js';
import { bitList } from '../bidding/support.js';

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
    rule.apply(b, 'US');
    expect(bitList(b)).toEqual([0, 1, 2, 4]);
    const c = all();
    rule.apply(c, 'CA');
    expect(bitList(c)).toEqual([1, 2, 4]);
  });

  it('a value nobody lists, or no value at all, keeps only the unconstrained', () => {
    for (const v of ['FR', undefined]) {
      const b = all();
      rule.apply(b, v);
      expect(bitList(b), String(v)).toEqual([2, 4]);
    }
  });

  it('applyAny keeps campaigns accepting any of the values', () => {
    const b = all();
    rule.applyAny(b, ['CA', 'DE'], newBits(1));
    expect(bitList(b)).toEqual([1, 2, 3, 4]);
    const none = all();
    rule.applyAny(none, [], newBits(1));
    expect(bitList(none)).toEqual([2, 4]);
  });

  it('applies only to the current candidates', () => {
    const b = newBits(1);
    b[0] = 0b00011; // campaigns 0 and 1
    rule.apply(b, 'CA');
    expect(bitList(b)).toEqual([1]);
  });

  it('a rule no campaign constrains is skipped', () => {
    const r = allowRule([undefined, []]);
    expect(r.constrained).toBe(false);
    const b = all();
    r.apply(b, undefined);
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
    r.apply(b, 'bad.example');
    expect(bitList(b)).toEqual([2, 3, 4]);
    const c = all();
    r.apply(c, 'worse.example');
    expect(bitList(c)).toEqual([0, 2, 3, 4]);
  });

  it('a missing or unlisted value removes nobody', () => {
    for (const v of ['good.example', undefined]) {
      const b = all();
      r.apply(b, v);
      expect(bitList(b), String(v)).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('applyAll removes the campaigns blocking any of the values', () => {
    const b = all();
    r.applyAll(b, ['good.example', 'worse.example']);
    expect(bitList(b)).toEqual([0, 2, 3, 4]);
  });
});
