/** The kill switch (admin keys only): read it, stop or release all bidding or one campaign; each change goes in the audit log. */
import type { ConfigStore } from '../../campaigns/config-store.js';
import { ApiError, forbidden, invalid } from '../errors.js';
import { KillStateSchema, KillSwitchInputSchema, type KillSwitchAccess, type KillSwitchInput } from '../kill-switch.js';
import { actorOf } from '../resources.js';
import type { ApiContext, ApiReply, RouteSpec } from '../router.js';
import { check } from '../validation.js';
import { API_PREFIX, E, READ_ERRORS, WRITE_ERRORS } from './common.js';

/** Refuses a key that is not an admin's. */
function requireAdmin(c: ApiContext): void {
  if (c.principal.role !== 'admin') throw forbidden('the kill switch needs an admin key');
}

export class KillSwitchRoutes {
  constructor(
    private readonly store: ConfigStore,
    /** The budget store's kill switch (undefined in a process without one). */
    private readonly killSwitch: () => KillSwitchAccess | undefined,
  ) {}

  /** The switch, or 503 in a process without a budget store. */
  private access(): KillSwitchAccess {
    const k = this.killSwitch();
    if (!k) throw new ApiError(503, 'store_unavailable', 'this bidder has no budget store, so no kill switch');
    return k;
  }

  read(): RouteSpec {
    return {
      method: 'get',
      path: `${API_PREFIX}/kill-switch`,
      tag: 'kill-switch',
      summary: 'The kill switch: whether all bidding is stopped, and the campaigns stopped one by one (admin keys only)',
      responses: { 200: { description: 'the switch', schema: KillStateSchema }, 503: E('store_unavailable'), ...READ_ERRORS },
      handler: async (c) => {
        requireAdmin(c);
        return { status: 200, body: await this.access().read() };
      },
    };
  }

  set(): RouteSpec {
    return {
      method: 'put',
      path: `${API_PREFIX}/kill-switch`,
      tag: 'kill-switch',
      summary: 'Stop or release all bidding, or one campaign (admin keys only); every bidder follows on its next budget renewal',
      body: 'json',
      requestSchema: KillSwitchInputSchema,
      responses: { 200: { description: 'the switch now', schema: KillStateSchema }, 503: E('store_unavailable'), ...WRITE_ERRORS },
      handler: (c) => this.flip(c),
    };
  }

  private async flip(c: ApiContext): Promise<ApiReply> {
    requireAdmin(c);
    const errors = check(KillSwitchInputSchema, c.body);
    if (errors.length) throw invalid(errors);
    const b = c.body as KillSwitchInput;
    const k = this.access();
    const before = await k.read();
    const after = await k.set(b.on, b.campaign);
    // Who stopped or released bidding, and when, goes in the audit log like any other change
    // (an entry with no document: the switch lives in the budget store).
    await this.store.commit([], [
      { at: new Date().toISOString(), actor: actorOf(c.principal), action: b.on ? 'stop' : 'release', kind: 'kill-switch', id: b.campaign ?? 'all', requestId: c.requestId, before, after },
    ]);
    return { status: 200, body: after };
  }
}
