/**
 * The kill switch on the admin port (shared by every bidder through the budget store; each bid
 * thread reads it on its next budget renewal, BUDGET_RENEW_MS):
 * - `GET /admin/kill-switch` → `{ all, campaigns }`
 * - `PUT /admin/kill-switch` with `{ "on": true }` (everything) or `{ "on": true, "campaign": "id" }` → the new state
 * With the config API, only admin keys may use it (another key, or none, gets 403; failures count
 * against the source address like every key check, and an address over its limit gets 429).
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { BudgetStore } from '../money/budget-store.js';
import type { ConfigApi } from '../api/index.js';
import { readJson, sendError, sendJson } from './json-body.js';
import type { Caller } from '../api/auth.js';
import { ApiError, STATUS_TEXT, notAdmitted } from '../api/errors.js';
import { problemOf } from '../api/router.js';
import { PROBLEM_JSON } from '../api/problem.js';

export interface MoneyRouteDeps {
  readonly store: BudgetStore;
  readonly configApi?: ConfigApi;
}

export function registerMoneyRoutes(app: TemplatedApp, deps: MoneyRouteDeps): void {
  /** True for an admin key; a refusal (429) for an address over its failure limit (api/auth-failures.ts). */
  const admitted = async (caller: Caller | undefined): Promise<boolean | ApiError> => {
    if (!deps.configApi || !caller) return true;
    const r = await deps.configApi.auth.admit(caller, 'kill_switch');
    if (!r.ok && 'retryAfterSeconds' in r) return notAdmitted(r);
    return r.ok && r.principal.role === 'admin';
  };
  const refuse = (res: HttpResponse, e: ApiError) =>
    res.cork(() => {
      res.writeStatus(STATUS_TEXT[e.status] ?? `${e.status} Error`).writeHeader('content-type', PROBLEM_JSON);
      for (const [k, v] of Object.entries(e.headers ?? {})) res.writeHeader(k, v);
      res.end(JSON.stringify(problemOf(e)));
    });
  const fail = (res: HttpResponse, aborted: () => boolean) => (e: Error) => {
    if (!aborted()) sendError(res, '503 Service Unavailable', 'store_unavailable', e.message);
  };

  app.get('/admin/kill-switch', (res, req) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const caller = deps.configApi?.callerOf(res, req);
    void admitted(caller).then((ok) => {
      if (aborted) return;
      if (ok instanceof ApiError) return refuse(res, ok);
      if (!ok) return sendError(res, '403 Forbidden', 'forbidden', 'the kill switch needs an admin key');
      // A renewal of no accounts reads the switch and changes nothing.
      deps.store.renew('_admin', [], 1).then(
        (r) => !aborted && sendJson(res, '200 OK', r.kill),
        fail(res, () => aborted),
      );
    });
  });

  app.put('/admin/kill-switch', (res, req) => {
    const caller = deps.configApi?.callerOf(res, req);
    readJson(res, req.getHeader('content-length'), 4096, (body, aborted) => {
      const b = body as { on?: unknown; campaign?: unknown } | undefined;
      if (!b || typeof b.on !== 'boolean' || (b.campaign !== undefined && (typeof b.campaign !== 'string' || b.campaign === '')))
        return sendError(res, '400 Bad Request', 'validation_failed', 'body must be {"on": boolean, "campaign"?: string}');
      void admitted(caller).then((ok) => {
        if (aborted()) return;
        if (ok instanceof ApiError) return refuse(res, ok);
        if (!ok) return sendError(res, '403 Forbidden', 'forbidden', 'the kill switch needs an admin key');
        deps.store.setKill(b.on as boolean, b.campaign as string | undefined).then(
          (state) => !aborted() && sendJson(res, '200 OK', state),
          fail(res, aborted),
        );
      });
    });
  });
}
