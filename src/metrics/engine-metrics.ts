/** bidder_http_engine{engine}: 1 for the engine this process serves HTTP with (`uws` or `fallback`). */
import { Gauge, type Registry } from 'prom-client';
import type { HttpEngine } from '../http/http-engine.js';

export function registerHttpEngine(registry: Registry, engine: HttpEngine): void {
  new Gauge({
    name: 'bidder_http_engine',
    help: 'HTTP engine of this process: uws (uWebSockets.js native binary) or fallback (its slower JavaScript implementation, when no binary fits this Node version).',
    labelNames: ['engine'],
    registers: [registry],
  })
    .labels(engine)
    .set(1);
}
