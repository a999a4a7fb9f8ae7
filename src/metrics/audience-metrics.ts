/** Audience metrics: cache, Redis lookups, breaker, uploads. Registered in the bidder's registry. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BreakerState } from '../audiences/circuit-breaker.js';

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export class AudienceMetrics {
  readonly cache: Counter<'result'>;
  readonly lookups: Counter<'result'>;
  readonly lookupDuration: Histogram;
  readonly breakerState: Gauge;
  readonly breakerTransitions: Counter<'state'>;
  readonly uploadRows: Counter<'result'>;
  readonly cacheHit: { inc(n?: number): void };
  readonly cacheNegativeHit: { inc(n?: number): void };
  readonly cacheMiss: { inc(n?: number): void };

  constructor(registry: Registry) {
    const registers = [registry];
    this.cache = new Counter({
      name: 'audience_cache_lookups_total',
      help: 'User keys looked up in the in-process segment cache, by result (hit, negative_hit, miss).',
      labelNames: ['result'],
      registers,
    });
    this.lookups = new Counter({
      name: 'audience_store_lookups_total',
      help: 'Segment store lookups (one per request with cache misses), by result (ok, timeout, error, breaker_open, no_budget).',
      labelNames: ['result'],
      registers,
    });
    this.lookupDuration = new Histogram({
      name: 'audience_store_lookup_duration_seconds',
      help: 'Segment store lookup latency (completed lookups, including ones that finished after their budget).',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.breakerState = new Gauge({
      name: 'audience_store_breaker_state',
      help: 'Segment store circuit breaker: 0 closed, 1 half-open, 2 open.',
      registers,
      // With bid workers each has its own breaker; /metrics shows the worst of them, not a sum.
      aggregator: 'max',
    });
    this.breakerTransitions = new Counter({
      name: 'audience_store_breaker_transitions_total',
      help: 'Circuit breaker state changes, by new state.',
      labelNames: ['state'],
      registers,
    });
    this.uploadRows = new Counter({
      name: 'audience_upload_rows_total',
      help: 'Uploaded audience rows, by result (accepted, rejected).',
      labelNames: ['result'],
      registers,
    });
    for (const r of ['ok', 'timeout', 'error', 'breaker_open', 'no_budget']) this.lookups.labels(r);
    this.cacheHit = this.cache.labels('hit');
    this.cacheNegativeHit = this.cache.labels('negative_hit');
    this.cacheMiss = this.cache.labels('miss');
    this.breakerState.set(0);
  }

  breakerChanged(s: BreakerState): void {
    this.breakerState.set(BREAKER_VALUE[s]);
    this.breakerTransitions.labels(s).inc();
  }
}
