/**
 * Audience API on the admin port:
 * - `GET    /api/v1/audiences`                       segments with metadata and approximate size
 * - `GET    /api/v1/audiences/{segmentId}`           one segment
 * - `PUT    /api/v1/audiences/{segmentId}`           create or update metadata {name, advertiserId, ttlSeconds}
 * - `DELETE /api/v1/audiences/{segmentId}`           drop a segment (metadata now, memberships swept)
 * - `POST   /api/v1/audiences/{segmentId}/members`   streamed CSV (text/csv) or NDJSON (application/x-ndjson) upload
 * - `GET    /api/v1/audience-uploads[/{uploadId}]`   progress of running and recent uploads
 * - `DELETE /api/v1/users/{idType}/{userId}/segments` forget one user's segments
 *
 * With `access` (the config API, src/api): every route needs an API key; segment metadata is
 * served by the config API instead of the four metadata routes here (same paths, plus paging,
 * ETags, pause/resume, soft delete and the audit log); uploads go only into segments of the key's
 * advertisers (someone else's answers 404, as a missing one does), and their rows may name only
 * those too (a row naming another advertiser's segment is rejected exactly as one naming a missing
 * segment); progress lists only those, and forgetting a user (every advertiser's segments) is for
 * operators only.
 *
 * The handlers: segment-routes.ts (metadata), audience-uploads.ts and idempotent-upload.ts (uploads),
 * forget-user-route.ts; the steps they share (rights, problem answers) are in audience-replies.ts.
 */
import type { FastifyRequest } from 'fastify';
import type { AudienceService } from '../audiences/audience-service.js';
import type { AudienceMetrics } from '../metrics/audience-metrics.js';
import type { Caller } from '../api/auth.js';
import type { EventDatabase } from '../events/event-database.js';
import type { UserKeyer } from '../events/user-key.js';
import { documentedAs } from '../api/direct-routes.js';
import type { IdempotencySettings, IdempotencyStore } from '../api/idempotency.js';
import type { AdminServer } from '../api/admin-server.js';
import { registerSegmentRoutes } from './segment-routes.js';
import { AudienceUploadHandler } from './audience-uploads.js';
import { ForgetUserHandler } from './forget-user-route.js';

export interface AudienceRouteDeps {
  readonly audiences: AudienceService;
  readonly metrics: AudienceMetrics;
  readonly uploadLimitBytes: number;
  /** The share of the event loop an upload may take (default 0.25; see UploadOptions.loopShare). */
  readonly uploadLoopShare?: number;
  /** Set: API keys and tenant rules on every route (see above). */
  readonly access?: AudienceAccess;
  /** Forgetting a user also forgets what events taught (rule audiences): their event keys, and their rows here. */
  readonly userKeys?: UserKeyer;
  readonly events?: EventDatabase;
  /** Whatever else remembers users by key (the lookalike profiles): forgetting a user forgets it there too. */
  readonly forget?: (key: string) => boolean;
}

/** The config API's guard over these routes. */
export interface AudienceAccess {
  /** The request's key and source address. */
  callerOf(request: FastifyRequest): Caller;
  /** The caller's rights, or the answer that refuses it (401, 403, 429). */
  begin(caller: Caller & { requestId: string; instance?: string }): Promise<AudienceRights | AccessRefusal>;
}

/** An answer to send as is: status line, headers, a problem document (the config API's error shape). */
export interface AccessRefusal {
  readonly refused: { readonly status: string; readonly headers: Readonly<Record<string, string>>; readonly body: string };
}

export interface AudienceRights {
  /** Before an upload: the key may write this segment (created, owned by its advertiser, when missing); else the refusal (404 for someone else's). */
  prepareUpload(segmentId: string, query: URLSearchParams): Promise<AccessRefusal | undefined>;
  /** Whether the key sees this segment (upload progress is filtered with it). */
  sees(segmentId: string): Promise<boolean>;
  /** The advertisers whose segments upload rows may name; undefined: any segment (operators). */
  readonly advertiserIds: ReadonlySet<string> | undefined;
  /** Forgetting a user touches every advertiser's segments: operators only. */
  readonly mayForgetUsers: boolean;
  /** Where `Idempotency-Key` answers of uploads are kept, per API key (`scope`). */
  readonly idempotency?: { readonly store: IdempotencyStore; readonly settings: IdempotencySettings; readonly scope: string };
}

/**
 * Registers the audience routes: segment metadata (without access), member uploads and their
 * progress, forgetting a user. Each family is a handler class with one method per route.
 */
export function registerAudienceRoutes(app: AdminServer, deps: AudienceRouteDeps): void {
  // With access, the config API serves segment metadata (GET list/one, PUT, DELETE) itself.
  if (!deps.access) registerSegmentRoutes(app, deps.audiences);
  const uploads = new AudienceUploadHandler(deps);
  app.post('/api/v1/audiences/:segmentId/members', documentedAs(app, 'post', '/api/v1/audiences/{id}/members'), (request, reply) => uploads.members(request, reply));
  app.get('/api/v1/audience-uploads', documentedAs(app, 'get', '/api/v1/audience-uploads'), (request, reply) => uploads.list(request, reply));
  app.get('/api/v1/audience-uploads/:uploadId', documentedAs(app, 'get', '/api/v1/audience-uploads/{uploadId}'), (request, reply) => uploads.one(request, reply));
  const users = new ForgetUserHandler(deps);
  app.delete('/api/v1/users/:idType/:userId/segments', documentedAs(app, 'del', '/api/v1/users/{idType}/{userId}/segments'), (request, reply) => users.forget(request, reply));
}
