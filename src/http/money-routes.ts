/**
 * The kill switch on the admin port (shared by every bidder through the budget store; each bid
 * thread reads it on its next budget renewal, BUDGET_RENEW_MS):
 * - `GET /admin/kill-switch` → `{ all, campaigns }`
 * - `PUT /admin/kill-switch` with `{ "on": true }` (everything) or `{ "on": true, "campaign": "id" }` → the new state
 * With the config API, only admin keys may use it.
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { BudgetStore } from '../money/budget-store.js';
import type { ConfigApi } from '../api/index.js';
import { readJson, sendError, sendJson } from './json-body.js';

export interface MoneyRouteDeps {
  readonly store: BudgetStore;
  readonly configApi?: ConfigApi;
}

export function registerMoneyRoutes(app: TemplatedApp, deps: MoneyRouteDeps): void {
  const admitted = async (authorization: string): Promise<boolean> => {
    if (!deps.configApi) return true;
    const r = await deps.configApi.auth.authenticate(authorization);
    return r.ok && r.principal.role === 'admin';
  };
  const fail = (res: HttpResponse, aborted: () => boolean) => (e: Error) => {
    if (!aborted()) sendError(res, '503 Service Unavailable', 'store_unavailable', e.message);
  };

  app.get('/admin/kill-switch', (res, req) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const auth = req.getHeader('authorization');
    void admitted(auth).then((ok) => {
      if (aborted) return;
      if (!ok) return sendError(res, '403 Forbidden', 'forbidden', 'the kill switch needs an admin key');
      // A renewal of no accounts reads the switch and changes nothing.
      deps.store.renew('_admin', [], 1).then(
        (r) => !aborted && sendJson(res, '200 OK', r.kill),
        fail(res, () => aborted),
      );
    });
  });

  app.put('/admin/kill-switch', (res, req) => {
    const auth = req.getHeader('authorization');
    readJson(res, req.getHeader('content-length'), 4096, (body, aborted) => {
      const b = body as { on?: unknown; campaign?: unknown } | undefined;
      if (!b || typeof b.on !== 'boolean' || (b.campaign !== undefined && (typeof b.campaign !== 'string' || b.campaign === '')))
        return sendError(res, '400 Bad Request', 'validation_failed', 'body must be {"on": boolean, "campaign"?: string}');
      void admitted(auth).then((ok) => {
        if (aborted()) return;
        if (!ok) return sendError(res, '403 Forbidden', 'forbidden', 'the kill switch needs an admin key');
        deps.store.setKill(b.on as boolean, b.campaign as string | undefined).then(
          (state) => !aborted() && sendJson(res, '200 OK', state),
          fail(res, aborted),
        );
      });
    });
  });
}
