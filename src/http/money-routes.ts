/**
 * The kill switch on the admin port (shared by every bidder through the budget store; each bid
 * thread reads it on its next budget renewal, BUDGET_RENEW_MS):
 * - `GET /admin/kill-switch` → `{ all, campaigns }`
 * - `PUT /admin/kill-switch` with `{ "on": true }` (everything) or `{ "on": true, "campaign": "id" }` → the new state
 * With the config API, only admin keys may use it (another key, or none, gets 403; failures count
 * against the source address like every key check, and an address over its limit gets 429).
 */
import type { FastifyRequest } from 'fastify';
import type { BudgetStore } from '../money/budget-store.js';
import type { ConfigApi } from '../api/index.js';
import type { Caller } from '../api/auth.js';
import { ApiError, notAdmitted } from '../api/errors.js';
import { refuse } from '../api/guard.js';
import { documentedAs } from '../api/direct-routes.js';
import { readJsonBody } from './json-body.js';
import { sendJsonReply, sendProblem, type AdminServer } from '../api/admin-server.js';

export interface MoneyRouteDeps {
  readonly store: BudgetStore;
  readonly configApi?: ConfigApi;
}

export function registerMoneyRoutes(app: AdminServer, deps: MoneyRouteDeps): void {
  /** True for an admin key; a refusal (429) for an address over its failure limit (api/auth-failures.ts). */
  const admitted = async (caller: Caller | undefined): Promise<boolean | ApiError> => {
    if (!deps.configApi || !caller) return true;
    const r = await deps.configApi.auth.admit(caller, 'kill_switch');
    if (!r.ok && 'retryAfterSeconds' in r) return notAdmitted(r);
    return r.ok && r.principal.role === 'admin';
  };
  const callerOf = (request: FastifyRequest) => deps.configApi?.callerOf(request);

  app.get('/admin/kill-switch', documentedAs(app, 'get', '/admin/kill-switch'), async (request, reply) => {
    const ok = await admitted(callerOf(request));
    if (ok instanceof ApiError) return refuse(request, reply, ok);
    if (!ok) return sendProblem(reply, 403, 'forbidden', 'the kill switch needs an admin key');
    try {
      // A renewal of no accounts reads the switch and changes nothing.
      return sendJsonReply(reply, 200, (await deps.store.renew('_admin', [], 1)).kill);
    } catch (e) {
      return sendProblem(reply, 503, 'store_unavailable', (e as Error).message);
    }
  });

  app.put('/admin/kill-switch', documentedAs(app, 'put', '/admin/kill-switch'), async (request, reply) => {
    const caller = callerOf(request);
    const body = await readJsonBody(request, reply, 4096);
    if (body === undefined) return reply;
    const b = body.value as { on?: unknown; campaign?: unknown } | undefined;
    if (!b || typeof b.on !== 'boolean' || (b.campaign !== undefined && (typeof b.campaign !== 'string' || b.campaign === '')))
      return sendProblem(reply, 400, 'validation_failed', 'body must be {"on": boolean, "campaign"?: string}');
    const ok = await admitted(caller);
    if (ok instanceof ApiError) return refuse(request, reply, ok);
    if (!ok) return sendProblem(reply, 403, 'forbidden', 'the kill switch needs an admin key');
    try {
      return sendJsonReply(reply, 200, await deps.store.setKill(b.on as boolean, b.campaign as string | undefined));
    } catch (e) {
      return sendProblem(reply, 503, 'store_unavailable', (e as Error).message);
    }
  });
}
