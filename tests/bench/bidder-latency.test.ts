import { describe, expect, it } from 'vitest';
import { BidderMetrics } from '../../src/metrics/bidder-metrics.js';
import { durationBuckets, quantilesBetween } from '../../bench/bidder-latency.js';

/** A real bidder registry's scrape, with these durations (ms) observed on two exchanges. */
async function scrape(metrics: BidderMetrics, msByExchange: Record<string, number[]>): Promise<string> {
  for (const [ex, list] of Object.entries(msByExchange)) for (const v of list) metrics.forExchange(ex).duration.observe(v / 1000);
  return metrics.registry.metrics();
}

describe("the bidder's own latency in the bench", () => {
  it('sums the histogram over exchanges and interpolates within buckets, as histogram_quantile does', async () => {
    const m = new BidderMetrics({ defaultMetrics: false });
    const empty = durationBuckets(await scrape(m, {}));
    // 0.5-0.75 ms bucket: 60 + 39 spread evenly; one slow answer at 40 ms (25-50 ms bucket).
    const even = (n: number, lo: number, hi: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (i + 0.5)) / n);
    const text = await scrape(m, { a: even(60, 0.5, 0.75), b: [...even(39, 0.5, 0.75), 40] });
    const after = durationBuckets(text);
    expect(after.get(Infinity)).toBe(100);
    expect(after.get(0.00075)).toBe(99);
    const [p50, p99, p999] = quantilesBetween(empty, after, [0.5, 0.99, 0.999])!;
    expect(p50).toBeCloseTo(0.5 + (0.25 * 50) / 99, 3);
    expect(p99).toBe(0.75);
    expect(p999).toBeCloseTo(25 + 25 * 0.9, 3); // inside the 25-50 ms bucket
    // Only what happened between the two scrapes counts.
    const later = durationBuckets(await scrape(m, { a: [2, 2, 2, 2] })); // the 1.5-2.5 ms bucket
    expect(quantilesBetween(after, later, [0.5])).toEqual([2]);
    expect(quantilesBetween(later, later, [0.5])).toBeUndefined();
  });

  it('gives a quantile past the last bound as that bound, and ignores other series', () => {
    const text = [
      '# HELP bidder_request_duration_seconds x',
      'bidder_request_duration_seconds_bucket{le="0.001",exchange="x"} 1',
      'bidder_request_duration_seconds_bucket{le="0.25",exchange="x"} 1',
      'bidder_request_duration_seconds_bucket{le="+Inf",exchange="x"} 10',
      'bidder_request_duration_seconds_sum{exchange="x"} 9',
      'bidder_request_duration_seconds_count{exchange="x"} 10',
      'bidder_request_duration_seconds_bucket_other{le="0.001"} 5',
    ].join('\n');
    const b = durationBuckets(text);
    expect([...b.entries()]).toEqual([
      [0.001, 1],
      [0.25, 1],
      [Infinity, 10],
    ]);
    expect(quantilesBetween(new Map(), b, [0.05, 0.99])).toEqual([0.5, 250]);
  });
});
