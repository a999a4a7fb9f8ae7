import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearOfUtcMidnight } from './utc-day.js';

describe('clearOfUtcMidnight', () => {
  afterEach(() => void vi.useRealTimers());

  it('waits for the new UTC day when the current one is nearly over, and not otherwise', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 10, 23, 23, 59, 45)); // 15 s before midnight
    let done = false;
    const waiting = clearOfUtcMidnight(40_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(14_000);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2_100);
    await waiting;
    expect(new Date().toISOString().slice(0, 10)).toBe('2026-11-24');

    vi.setSystemTime(Date.UTC(2026, 10, 23, 12, 0, 0));
    let early = false;
    void clearOfUtcMidnight(40_000).then(() => (early = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(early).toBe(true);
  });
});
