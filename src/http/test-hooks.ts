/**
 * Test-only admin routes, registered only with BIDDER_TEST_HOOKS=1 (never in production):
 * - `POST /debug/workers/{n}/crash`  worker n throws an uncaught exception (the real crash path)
 * - `POST /debug/lag?busy=30&every=35&for=3000`  every bid thread busy-waits `busy` ms out of
 *   every `every` ms, for `for` ms: an artificially lagged event loop, to see load shedding.
 */
import type { AdminServer } from '../api/admin-server.js';
import { queryOf } from '../api/admin-server.js';

export interface TestHooks {
  crash(worker: number): boolean;
  lag(busyMs: number, everyMs: number, forMs: number): void;
}

export function registerTestHooks(app: AdminServer, hooks: TestHooks): void {
  app.post('/debug/workers/:n/crash', async (request, reply) => {
    const ok = hooks.crash(Number((request.params as { n: string }).n));
    return reply.code(ok ? 202 : 404).send(ok ? 'crashing' : 'no such worker');
  });
  app.post('/debug/lag', async (request, reply) => {
    const q = new URLSearchParams(queryOf(request));
    const num = (k: string, d: number) => {
      const n = Number(q.get(k) ?? d);
      return Number.isFinite(n) && n >= 0 ? Math.min(n, 60_000) : d;
    };
    hooks.lag(num('busy', 30), Math.max(1, num('every', 35)), num('for', 3_000));
    return reply.code(202).send('lagging');
  });
}
