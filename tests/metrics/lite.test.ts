import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { LiteCounter, LiteHistogram } from '../../src/metrics/lite.js';

const BUCKETS = [0.001, 0.005, 0.01, 0.1, 1];
type Op = { kind: 'inc' | 'observe' | 'touch'; labels: [string, string]; value: number };

/** The same operations on prom-client's metrics and on the lite ones, each in its own registry. */
function both(ops: Op[]) {
  const prom = new Registry();
  const lite = new Registry();
  const pc = new Counter({ name: 'x_total', help: 'h', labelNames: ['exchange', 'outcome'], registers: [prom] });
  const ph = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['exchange', 'outcome'], buckets: BUCKETS, registers: [prom] });
  const lc = new LiteCounter('x_total', 'h', ['exchange', 'outcome'], lite);
  const lh = new LiteHistogram('x_seconds', 'h', ['exchange', 'outcome'], BUCKETS, lite);
  for (const op of ops) {
    if (op.kind === 'inc') {
      pc.labels(...op.labels).inc(op.value);
      lc.labels(...op.labels).inc(op.value);
    } else if (op.kind === 'touch') {
      pc.labels(...op.labels).inc(0);
      lc.labels(...op.labels).inc(0);
      lc.labels('never', 'used'); // bound but untouched: no series, as with prom-client
    } else {
      ph.labels(...op.labels).observe(op.value);
      lh.labels(...op.labels).observe(op.value);
    }
  }
  return { prom, lite };
}

const ops = fc.array(
  fc.record({
    kind: fc.constantFrom('inc' as const, 'observe' as const, 'touch' as const),
    labels: fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('bid', 'no_bid', 'x"y\\z')),
    value: fc.oneof(fc.constantFrom(0, 0.001, 0.005, 1, 2), fc.double({ min: 0, max: 3, noNaN: true })),
  }),
  { maxLength: 60 },
);

describe('lite metrics', () => {
  it('export exactly what prom-client exports for the same increments and observations', async () => {
    await fc.assert(
      fc.asyncProperty(ops, async (list) => {
        const { prom, lite } = both(list);
        expect(await lite.metrics()).toBe(await prom.metrics());
      }),
      { numRuns: 150 },
    );
  });

  it('aggregate across workers like prom-client', async () => {
    await fc.assert(
      fc.asyncProperty(ops, ops, async (a, b) => {
        const pa = both(a);
        const pb = both(b);
        const viaProm = AggregatorRegistry.aggregate([await pa.prom.getMetricsAsJSON(), await pb.prom.getMetricsAsJSON()]);
        const viaLite = AggregatorRegistry.aggregate([await pa.lite.getMetricsAsJSON(), await pb.lite.getMetricsAsJSON()]);
        expect(await viaLite.metrics()).toBe(await viaProm.metrics());
      }),
      { numRuns: 60 },
    );
  });

  it('reset with the registry, and refuse the wrong number of label values', async () => {
    const r = new Registry();
    const c = new LiteCounter('y_total', 'h', ['a'], r);
    c.labels('1').inc(3);
    expect(await r.metrics()).toContain('y_total{a="1"} 3');
    r.resetMetrics();
    expect(await r.metrics()).not.toContain('y_total{');
    expect(() => c.labels('1', '2')).toThrow(/expected 1 label/);
  });
});
