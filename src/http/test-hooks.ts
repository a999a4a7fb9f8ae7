/**
 * Test-only admin routes, registered only with BIDDER_TEST_HOOKS=1 (never in production):
 * - `POST /debug/workers/{n}/crash`  worker n throws an uncaught exception (the real crash path)
 * - `POST /debug/lag?busy=30&every=35&for=3000`  every bid thread busy-waits `busy` ms out of
 *   every `every` ms, for `for` ms: an artificially lagged event loop, to see load shedding.
 */
import type { TemplatedApp } from 'uWebSockets.js';

export interface TestHooks {
  crash(worker: number): boolean;
  lag(busyMs: number, everyMs: number, forMs: number): void;
}

export function registerTestHooks(app: TemplatedApp, hooks: TestHooks): void {
  app.post('/debug/workers/:n/crash', (res, req) => {
    const ok = hooks.crash(Number(req.getParameter(0)));
    res.writeStatus(ok ? '202 Accepted' : '404 Not Found').end(ok ? 'crashing' : 'no such worker');
  });
  app.post('/debug/lag', (res, req) => {
    const q = new URLSearchParams(req.getQuery() ?? '');
    const num = (k: string, d: number) => {
      const n = Number(q.get(k) ?? d);
      return Number.isFinite(n) && n >= 0 ? Math.min(n, 60_000) : d;
    };
    hooks.lag(num('busy', 30), Math.max(1, num('every', 35)), num('for', 3_000));
    res.writeStatus('202 Accepted').end('lagging');
  });
}
