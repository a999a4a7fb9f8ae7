/**
 * Per bid thread metrics (label `thread`: `main` with WORKERS=1, `w1`, `w2`, ... with workers; a
 * replaced worker reuses its slot's label, so the label set stays bounded), and the worker pool's
 * own metrics on the main thread.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { LoopLag, RequestGate } from '../http/request-gate.js';
import { LiteCounter } from './lite.js';

export class ThreadMetrics {
  readonly requests: { inc(n?: number): void };

  constructor(registry: Registry, thread: string, probe: () => { lag?: LoopLag; gate?: RequestGate }) {
    const registers = [registry];
    // Counted on every request: a lite counter (lite.ts).
    const requests = new LiteCounter(
      'bidder_thread_bid_requests_total',
      'Bid requests seen by each bid thread (admitted or shed): how evenly the kernel spreads connections over workers.',
      ['thread'],
      registry,
    );
    this.requests = requests.labels(thread);
    this.requests.inc(0);
    new Gauge({
      name: 'bidder_event_loop_lag_seconds',
      help: 'Largest event-loop lag of each bid thread since the previous scrape (what load shedding looks at).',
      labelNames: ['thread'],
      registers,
      collect() {
        const lag = probe().lag;
        this.labels(thread).set(lag ? lag.takeMax() / 1000 : 0);
      },
    });
    new Gauge({
      name: 'bidder_in_flight_requests',
      help: 'Bid requests admitted and not yet answered, per bid thread.',
      labelNames: ['thread'],
      registers,
      collect() {
        this.labels(thread).set(probe().gate?.inFlight ?? 0);
      },
    });
  }
}

export class PoolMetrics {
  readonly workers: Gauge;
  readonly restarts: Counter;
  constructor(registry: Registry) {
    this.workers = new Gauge({
      name: 'bidder_workers',
      help: 'Bid worker threads listening on the bid port.',
      registers: [registry],
    });
    this.restarts = new Counter({
      name: 'bidder_worker_restarts_total',
      help: 'Bid worker threads replaced after they died.',
      registers: [registry],
    });
  }
}
