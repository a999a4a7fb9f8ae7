/**
 * Delayed labels: an example is a negative only once its window has passed without its outcome,
 * or when the bounded map must make room (oldest first, counted).
 */
import { describe, expect, it } from 'vitest';
import { PendingLabels } from '../../src/models/pending.js';

describe('PendingLabels', () => {
  it('does not count a recent example as a negative before its window passes', () => {
    const p = new PendingLabels<string>(600, 100);
    const negatives: string[] = [];
    const neg = (v: string) => negatives.push(v);
    p.add('b1', 1000, 'x1', neg);
    p.add('b2', 1300, 'x2', neg);
    expect(p.expire(1599, neg)).toBe(0);
    expect(negatives).toEqual([]);
    expect(p.expire(1600, neg)).toBe(1);
    expect(negatives).toEqual(['x1']);
    // The outcome arrives within the window: a positive, never a negative later.
    expect(p.take('b2')).toBe('x2');
    expect(p.take('b2')).toBeUndefined();
    p.expire(10_000, neg);
    expect(negatives).toEqual(['x1']);
    expect(p.size).toBe(0);
  });

  it('a repeated notice does not add the example twice', () => {
    const p = new PendingLabels<number>(60, 10);
    p.add('b', 0, 1, () => {});
    p.add('b', 5, 2, () => {});
    expect(p.size).toBe(1);
    expect(p.take('b')).toBe(1);
  });

  it('stays within its capacity: the oldest are settled early, as negatives, and counted', () => {
    const p = new PendingLabels<number>(3600, 3);
    const negatives: number[] = [];
    for (let i = 0; i < 5; i++) p.add(`b${i}`, i, i, (v) => negatives.push(v));
    expect(p.size).toBe(3);
    expect(negatives).toEqual([0, 1]);
    expect(p.early).toBe(2);
  });
});
