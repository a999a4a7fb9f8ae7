/**
 * A small log-linear latency histogram (HDR-style: 16 sub-buckets per power of two, so any value
 * is within ~6 % of its bucket), in microseconds. Mergeable, cheap to record into, and enough for
 * percentiles and a plotted distribution.
 */

const SUB_BITS = 4;
const SUB = 1 << SUB_BITS;
/** Values up to 2^31 µs (~36 min) fit. */
const BUCKETS = SUB + (31 - SUB_BITS) * SUB;

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sumUs = 0;
  maxUs = 0;
  minUs = Infinity;

  recordMs(ms: number): void {
    this.recordUs(Math.round(ms * 1000));
  }

  recordUs(us: number): void {
    const v = us < 0 ? 0 : us;
    this.counts[bucketOf(v)]++;
    this.count++;
    this.sumUs += v;
    if (v > this.maxUs) this.maxUs = v;
    if (v < this.minUs) this.minUs = v;
  }

  merge(other: LatencyHistogram): this {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.maxUs = Math.max(this.maxUs, other.maxUs);
    this.minUs = Math.min(this.minUs, other.minUs);
    return this;
  }

  /** The value at percentile `p` (0-100), in ms; the exact max at 100. */
  percentileMs(p: number): number {
    if (this.count === 0) return 0;
    if (p >= 100) return this.maxUs / 1000;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.maxUs, bucketMid(i)) / 1000;
    }
    return this.maxUs / 1000;
  }

  meanMs(): number {
    return this.count ? this.sumUs / this.count / 1000 : 0;
  }

  /** Non-empty buckets as [lowMs, highMs, count]. */
  buckets(): [number, number, number][] {
    const out: [number, number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) out.push([bucketLow(i) / 1000, bucketLow(i + 1) / 1000, this.counts[i]]);
    return out;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      mean_ms: round3(this.meanMs()),
      p50_ms: round3(this.percentileMs(50)),
      p90_ms: round3(this.percentileMs(90)),
      p99_ms: round3(this.percentileMs(99)),
      p999_ms: round3(this.percentileMs(99.9)),
      max_ms: round3(this.maxUs / 1000),
    };
  }
}

export interface LatencySummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

function bucketOf(v: number): number {
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v); // floor(log2 v) >= SUB_BITS
  const sub = (v >>> (e - SUB_BITS)) & (SUB - 1);
  return Math.min(BUCKETS - 1, SUB + (e - SUB_BITS) * SUB + sub);
}

function bucketLow(i: number): number {
  if (i < SUB) return i;
  const e = Math.floor((i - SUB) / SUB) + SUB_BITS;
  const sub = (i - SUB) % SUB;
  return (SUB + sub) * 2 ** (e - SUB_BITS);
}

function bucketMid(i: number): number {
  return (bucketLow(i) + bucketLow(i + 1)) / 2;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
