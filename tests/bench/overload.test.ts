/** The overload profile's analysis (bench/overload.ts): what counts as normal latency, and when the bidder got back to it. */
import { describe, expect, it } from 'vitest';
import { firstNormal, normalP99, recoveredAfter } from '../../bench/overload.js';
import type { PhaseJson } from '../../bench/report.js';

const step = (rate: number, p99: number, ok: boolean) => ({ name: `ramp`, target_rate: rate, qps: rate, ok, latency: { p99_ms: p99 } }) as unknown as PhaseJson;

describe('normalP99', () => {
  it('takes the passing ramp step nearest 80 % of capacity, with a 1.5× (at least +2 ms) margin', () => {
    const ramp = [step(1000, 1, true), step(4000, 4, true), step(6000, 8, true), step(9000, 60, false)];
    expect(normalP99(ramp, 5000, 50)).toBe(6); // 80 % = 4000: p99 4 → max(6, 6)
    expect(normalP99(ramp, 7500, 50)).toBe(12); // 80 % = 6000: p99 8 → 12
    expect(normalP99(ramp, 1200, 50)).toBe(3); // 80 % = 960: p99 1 → max(1.5, 3)
  });
  it('ignores failed steps, and falls back to the objective without a passing one', () => {
    expect(normalP99([step(8000, 2, false), step(1000, 1, true)], 10_000, 50)).toBe(3);
    expect(normalP99([step(8000, 2, false)], 10_000, 50)).toBe(50);
    expect(normalP99([], 10_000, 25)).toBe(25);
  });
});

describe('recoveredAfter', () => {
  it('is the end of the last second over the limit', () => {
    expect(recoveredAfter([[1, 100, 30], [2, 100, 12], [3, 100, 4], [4, 100, 5], [5, 100, 3]], 6)).toBe(2);
  });
  it('is 0 when no second was over, null when the last one still is', () => {
    expect(recoveredAfter([[1, 100, 2], [2, 100, 3]], 6)).toBe(0);
    expect(recoveredAfter([[1, 100, 2], [2, 100, 30]], 6)).toBeNull();
    expect(recoveredAfter([], 6)).toBeNull();
  });
  it('counts a second without answers as not normal, and a relapse moves the point', () => {
    expect(recoveredAfter([[1, 0, 0], [2, 100, 3], [3, 100, 3]], 6)).toBe(1);
    expect(recoveredAfter([[1, 100, 3], [2, 100, 9], [3, 100, 3], [4, 100, 3]], 6)).toBe(2);
  });
});

describe('firstNormal', () => {
  it('is the first second with answers under the limit', () => {
    expect(firstNormal([[1, 0, 0], [2, 100, 9], [3, 100, 4], [4, 100, 30]], 6)).toBe(3);
    expect(firstNormal([[1, 100, 9]], 6)).toBeNull();
  });
});
