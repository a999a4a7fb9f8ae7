/**
 * The bidder's own view of a phase's latency: `bidder_request_duration_seconds`, from the moment its
 * bid handler starts on a request to its answer. Set beside the sender's latency, it tells how much
 * of a phase's p99 is the work on a request and how much is waiting: in the sender, in the kernel's
 * socket buffers, and in the bidder's event loop behind other requests (none of which the handler
 * sees). Quantiles come from the histogram's buckets, interpolated within a bucket as Prometheus'
 * `histogram_quantile` does, so they are as fine as the buckets (0.1 ms to 250 ms).
 */
import { metricSamples } from './processes.js';

/** Cumulative count per upper bound (seconds; `Infinity` for +Inf), summed over exchanges. */
export type DurationBuckets = ReadonlyMap<number, number>;

/** The duration histogram in a Prometheus text scrape, summed over its exchanges. */
export function durationBuckets(metricsText: string): DurationBuckets {
  const out = new Map<number, number>();
  for (const { labels, value } of metricSamples(metricsText, 'bidder_request_duration_seconds_bucket')) {
    const bound = labels.le === '+Inf' ? Infinity : Number(labels.le);
    if (labels.le === undefined || Number.isNaN(bound)) continue;
    out.set(bound, (out.get(bound) ?? 0) + value);
  }
  return out;
}

/**
 * Quantiles (ms, 3 decimals) of the durations observed between two scrapes; undefined when none
 * was. A quantile in the +Inf bucket is given as the highest finite bound.
 */
export function quantilesBetween(before: DurationBuckets, after: DurationBuckets, qs: readonly number[]): number[] | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cum = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = cum.length ? cum[cum.length - 1] : 0;
  if (!(total > 0)) return undefined;
  return qs.map((q) => {
    const rank = q * total;
    let i = 0;
    while (i < cum.length - 1 && cum[i] < rank) i++;
    const lower = i === 0 ? 0 : bounds[i - 1];
    const upper = bounds[i];
    if (upper === Infinity) return round(lower * 1000);
    const below = i === 0 ? 0 : cum[i - 1];
    const inBucket = cum[i] - below;
    const s = inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
    return round(s * 1000);
  });
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
