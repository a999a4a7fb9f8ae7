/**
 * `DELETE /api/v1/users/{idType}/{userId}/segments`: forgets one user everywhere the bidder
 * remembers them by key: uploaded and rule memberships, the event rows' user keys (so no rule
 * rebuild brings them back), and whatever else `forget` reaches (the lookalike profiles).
 * With the config API's guard: operators only (it touches every advertiser's segments).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { uploadKey } from '../audiences/identity.js';
import { eventKey, forgetUser as forgetRuleUser, forgottenEventUserKeys } from '../audiences/rule-audiences.js';
import { forgetEventUser } from '../audiences/rule-rebuild.js';
import type { AudienceRouteDeps } from './audience-routes.js';
import { fail, rightsOf, send, store503, type Params } from './audience-replies.js';

export class ForgetUserHandler {
  constructor(private readonly d: AudienceRouteDeps) {}

  async forget(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { idType, userId } = request.params as Params;
    const r = await rightsOf(this.d.access, request, reply);
    if (!('rights' in r)) return r;
    if (r.rights && !r.rights.mayForgetUsers) return fail(reply, 403, 'forbidden', 'forgetting a user is for operators (admin keys)');
    return this.forgetKey(reply, idType, userId);
  }

  private async forgetKey(reply: FastifyReply, idType: string, userId: string): Promise<FastifyReply> {
    const key = uploadKey(idType, userId);
    if (typeof key !== 'string') return fail(reply, 400, 'invalid_user', key.error);
    const { audiences, events, userKeys } = this.d;
    // What events taught goes too: the rule memberships (event keys), and the event rows' user keys,
    // so that no rebuild brings the user back (rule-rebuild.ts).
    try {
      const forgetEvents = events && userKeys ? forgetEventUser(events, forgottenEventUserKeys(key, userKeys)) : Promise.resolve();
      const [removed] = await Promise.all([forgetRuleUser(audiences.store, key, userKeys), forgetEvents]);
      audiences.invalidate(userKeys ? [key, ...forgottenEventUserKeys(key, userKeys).map(eventKey)] : [key]);
      const forgot = this.d.forget?.(key) ?? false;
      return removed || forgot ? send(reply, 200, { key, removed: true }) : fail(reply, 404, 'not_found', `no segments for ${key}`);
    } catch (e) {
      return store503(reply, e);
    }
  }
}
