/**
 * Counters and histograms for the bid hot path, registered in a prom-client Registry like its own
 * metrics and exported in the same shape (text, JSON, worker aggregation).
 *
 * prom-client's label children hash their label values on every `inc()` and `observe()` (a sort
 * and a string join, ~0.2-0.3 µs); a bid request makes half a dozen such calls. Here a child is
 * bound once and an increment is an addition; the label work happens when the registry is read.
 * A series appears once its child has been touched (inc(0) included), as with prom-client.
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string | number>;

interface Series<C> {
  readonly labels: Labels;
  readonly child: C;
}

export class LiteCount {
  value = 0;
  touched = false;
  inc(n = 1): void {
    this.value += n;
    this.touched = true;
  }
}

export class LiteObservations {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  touched = false;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    if (i < b.length) this.counts[i]++;
    this.sum += v;
    this.count++;
    this.touched = true;
  }
}

abstract class LiteMetric<C> {
  readonly aggregator = 'sum' as const;
  protected readonly series = new Map<string, Series<C>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // The registry reads a metric through name, help, type, aggregator, get() and reset().
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract make(): C;

  /** The child for these label values (in labelNames order), made on first use and kept. */
  labels(...values: (string | number)[]): C {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      s = { labels, child: this.make() };
      this.series.set(key, s);
    }
    return s.child;
  }

  reset(): void {
    for (const s of this.series.values()) this.clear(s.child);
  }

  protected abstract clear(child: C): void;
}

export class LiteCounter extends LiteMetric<LiteCount> {
  readonly type = 'counter' as const;

  protected make(): LiteCount {
    return new LiteCount();
  }

  protected clear(c: LiteCount): void {
    c.value = 0;
    c.touched = false;
  }

  async get(): Promise<{ name: string; help: string; type: 'counter'; aggregator: 'sum'; values: { labels: Labels; value: number }[] }> {
    const values: { labels: Labels; value: number }[] = [];
    for (const s of this.series.values()) if (s.child.touched) values.push({ labels: { ...s.labels }, value: s.child.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class LiteHistogram extends LiteMetric<LiteObservations> {
  readonly type = 'histogram' as const;
  readonly upperBounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry);
    this.upperBounds = [...buckets].sort((a, b) => a - b);
  }

  protected make(): LiteObservations {
    return new LiteObservations(this.upperBounds);
  }

  protected clear(o: LiteObservations): void {
    o.counts.fill(0);
    o.sum = 0;
    o.count = 0;
    o.touched = false;
  }

  /** Cumulative `_bucket` series (with `le`), then `+Inf`, `_sum` and `_count`, per touched child. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: { labels: Labels; value: number; metricName: string }[];
  }> {
    const values: { labels: Labels; value: number; metricName: string }[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      const o = s.child;
      if (!o.touched) continue;
      let acc = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        acc += o.counts[i];
        values.push({ labels: { le: this.upperBounds[i], ...s.labels }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: o.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: o.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: o.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
