/**
 * Puts API keys in front of routes registered by code that knows nothing of them (the reports
 * routes): `keyGuard(api, kind)` is a Fastify `onRequest` hook that authenticates the request (the
 * failure limit of its source address included), applies the key's rate limit and checks that its
 * role may read `kind`, before the route's handler runs. `principalOf(request)` tells the handler who
 * is calling, so that it can scope what it answers (an advertiser key's reports cover its advertisers only).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConfigApi } from './index.js';
import { ApiError, aKey, notAdmitted } from './errors.js';
import { permits, type ApiKind } from './policy.js';
import type { AuthSurface } from '../metrics/auth-metrics.js';
import type { Principal } from './auth.js';
import { pathOf, sendProblem } from './admin-server.js';

const principals = new WeakMap<FastifyRequest, Principal>();

/** Who sent a request a guarded route is handling; undefined on routes without a guard. */
export function principalOf(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

/** Answers an ApiError as a problem document. */
export const refuse = (request: FastifyRequest, reply: FastifyReply, e: ApiError) => sendProblem(reply, e.status, e.code, e.message, e.errors, pathOf(request), e.headers);

/** A route's `onRequest` hook: answers the refusal itself, or lets the request through. */
export type KeyGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export function keyGuard(api: ConfigApi, kind: ApiKind): KeyGuard {
  const surface: AuthSurface = kind === 'reports' ? 'reports' : 'config_api';
  return async function guard(request: FastifyRequest, reply: FastifyReply) {
    try {
      const r = await api.auth.admit(api.callerOf(request), surface);
      if (!r.ok) return refuse(request, reply, notAdmitted(r));
      const limit = r.principal.rateLimit ?? api.limiter.defaults;
      const take = await api.limiter.take(r.principal.keyId, limit);
      if (!take.ok)
        return refuse(request, reply, new ApiError(429, 'rate_limited', `this key is limited to ${limit.perSecond} requests per second`, undefined, { 'retry-after': String(take.retryAfterSeconds) }));
      if (!permits(r.principal, kind, 'read')) return refuse(request, reply, new ApiError(403, 'forbidden', `${aKey(r.principal.role)} may not read ${kind}`));
      principals.set(request, r.principal);
    } catch (e) {
      return refuse(request, reply, new ApiError(503, 'store_unavailable', (e as Error).message));
    }
  };
}
