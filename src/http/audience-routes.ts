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
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash, randomUUID } from 'node:crypto';
import type { AudienceService } from '../audiences/audience-service.js';
import type { AudienceMetrics } from '../metrics/audience-metrics.js';
import type { Caller } from '../api/auth.js';
import { AudienceUpload, type UploadFormat, type UploadProgress } from '../audiences/upload.js';
import { DEFAULT_SEGMENT_TTL_SECONDS, type SegmentMeta } from '../audiences/segment-store.js';
import { uploadKey } from '../audiences/identity.js';
import { eventKey, forgetUser as forgetRuleUser, forgottenEventUserKeys } from '../audiences/rule-audiences.js';
import { forgetEventUser } from '../audiences/rule-rebuild.js';
import type { EventStore } from '../events/event-store.js';
import type { UserKeyer } from '../events/user-key.js';
import { validateSegmentInput } from '../audiences/segment-input.js';
import { readJsonBody } from './json-body.js';
import { documentedAs } from '../api/direct-routes.js';
import { ApiError } from '../api/errors.js';
import { fingerprintOf, parseIdempotencyKey, storageKey, type IdempotencySettings, type IdempotencyStore, type StoredReply } from '../api/idempotency.js';
import { PROBLEM_JSON, problem } from '../api/problem.js';
import { header, pathOf, queryOf, sendJsonReply, sendProblem, type AdminServer } from '../api/admin-server.js';

const SEGMENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const KEEP_UPLOADS = 100;

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
  readonly events?: EventStore;
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

function sendRefusal(reply: FastifyReply, r: AccessRefusal): FastifyReply {
  reply.code(Number.parseInt(r.refused.status, 10)).header('content-type', PROBLEM_JSON);
  for (const [k, v] of Object.entries(r.refused.headers)) reply.header(k, v);
  return reply.send(Buffer.from(r.refused.body));
}

const accessHeaders = (access: AudienceAccess, request: FastifyRequest) => ({
  ...access.callerOf(request),
  requestId: header(request, 'x-request-id') || randomUUID(),
  instance: pathOf(request),
});

const store503 = (reply: FastifyReply, e: unknown) => sendProblem(reply, 503, 'store_unavailable', (e as Error).message);
const send = (reply: FastifyReply, status: number, body: unknown) => sendJsonReply(reply, status, body);
const fail = (reply: FastifyReply, status: number, code: string, message: string, errors?: Parameters<typeof sendProblem>[4]) => sendProblem(reply, status, code, message, errors);

export function registerAudienceRoutes(app: AdminServer, deps: AudienceRouteDeps): void {
  const { audiences } = deps;
  const d = deps;
  const store = audiences.store;
  // Keyed by segment and upload id: `?uploadId=` is the caller's choice, and an upload into one
  // segment must not replace the progress of another's upload that happens to use the same name.
  const uploads = new Map<string, UploadProgress>();
  const access = deps.access;
  type Params = Record<string, string>;

  // With access, the config API serves segment metadata (GET list/one, PUT, DELETE) itself.
  if (!access) registerMetadataRoutes();
  function registerMetadataRoutes(): void {
    app.get('/api/v1/audiences', async (_request, reply) => {
      try {
        return send(reply, 200, { segments: await store.listSegments() });
      } catch (e) {
        return store503(reply, e);
      }
    });

    app.get('/api/v1/audiences/:segmentId', async (request, reply) => {
      const id = (request.params as Params).segmentId;
      try {
        const m = await store.getSegment(id);
        return m ? send(reply, 200, m) : fail(reply, 404, 'not_found', `no segment "${id}"`);
      } catch (e) {
        return store503(reply, e);
      }
    });

    app.put('/api/v1/audiences/:segmentId', async (request, reply) => {
      const id = (request.params as Params).segmentId;
      const read = await readJsonBody(request, reply, 64 * 1024);
      if (!read) return reply;
      const body = read.value;
      if (!SEGMENT_ID.test(id)) return fail(reply, 400, 'invalid_id', 'segment ids are 1-64 of A-Z a-z 0-9 . _ : -');
      const errors = validateSegmentInput(body);
      if (errors.length) return fail(reply, 400, 'validation_failed', 'the segment is invalid', errors);
      const input = (body ?? {}) as { name?: string; advertiserId?: string; ttlSeconds?: number }; // no body: defaults
      try {
        const existing = await store.getSegment(id);
        const meta: SegmentMeta = {
          id,
          name: input.name ?? existing?.name ?? id,
          advertiserId: input.advertiserId ?? existing?.advertiserId,
          ttlSeconds: input.ttlSeconds ?? existing?.ttlSeconds ?? DEFAULT_SEGMENT_TTL_SECONDS,
          createdAt: existing?.createdAt ?? new Date().toISOString(),
        };
        await store.putSegment(meta);
        await audiences.refreshRegistry(true);
        return send(reply, existing ? 200 : 201, await store.getSegment(id));
      } catch (e) {
        return store503(reply, e);
      }
    });

    app.delete('/api/v1/audiences/:segmentId', async (request, reply) => {
      const id = (request.params as Params).segmentId;
      try {
        const dropped = await store.dropSegment(id);
        await audiences.refreshRegistry(true);
        return dropped ? send(reply, 200, { id, dropped: true }) : fail(reply, 404, 'not_found', `no segment "${id}"`);
      } catch (e) {
        return store503(reply, e);
      }
    });
  }

  app.post('/api/v1/audiences/:segmentId/members', documentedAs(app, 'post', '/api/v1/audiences/{id}/members'), async (request, reply) => {
    const id = (request.params as Params).segmentId;
    const type = header(request, 'content-type').toLowerCase();
    const query = new URLSearchParams(queryOf(request));
    const length = header(request, 'content-length');
    const format: UploadFormat | undefined = /csv|text\/plain/.test(type) ? 'csv' : /ndjson|jsonl|x-json-stream/.test(type) ? 'ndjson' : undefined;
    if (!SEGMENT_ID.test(id)) return fail(reply, 400, 'invalid_id', 'segment ids are 1-64 of A-Z a-z 0-9 . _ : -');
    if (!format) return fail(reply, 415, 'unsupported_media_type', 'send text/csv or application/x-ndjson');
    if (length !== '' && Number(length) > deps.uploadLimitBytes)
      return fail(reply.header('connection', 'close'), 413, 'body_too_large', `uploads are limited to ${deps.uploadLimitBytes} bytes`);
    return streamUpload(request, reply, deps, id, format, query);
  });

  /** The caller's rights (undefined without access), or the reply that refused it. */
  const rightsOf = async (request: FastifyRequest, reply: FastifyReply): Promise<{ rights: AudienceRights | undefined } | FastifyReply> => {
    if (!access) return { rights: undefined };
    try {
      const r = await access.begin(accessHeaders(access, request));
      return 'refused' in r ? sendRefusal(reply, r) : { rights: r };
    } catch (e) {
      return store503(reply, e);
    }
  };

  app.get('/api/v1/audience-uploads', documentedAs(app, 'get', '/api/v1/audience-uploads'), async (request, reply) => {
    const r = await rightsOf(request, reply);
    if (!('rights' in r)) return r;
    const all = [...uploads.values()].reverse();
    if (!r.rights) return send(reply, 200, { uploads: all });
    try {
      const ok = await Promise.all(all.map((u) => r.rights!.sees(u.segmentId)));
      return send(reply, 200, { uploads: all.filter((_, i) => ok[i]) });
    } catch (e) {
      return store503(reply, e);
    }
  });
  app.get('/api/v1/audience-uploads/:uploadId', documentedAs(app, 'get', '/api/v1/audience-uploads/{uploadId}'), async (request, reply) => {
    const id = (request.params as Params).uploadId;
    const named = [...uploads.values()].filter((u) => u.uploadId === id).reverse(); // the latest first
    const r = await rightsOf(request, reply);
    if (!('rights' in r)) return r;
    const missing = () => fail(reply, 404, 'not_found', 'no such upload');
    if (named.length === 0) return missing();
    if (!r.rights) return send(reply, 200, named[0]);
    try {
      const ok = await Promise.all(named.map((u) => r.rights!.sees(u.segmentId)));
      const u = named.find((_, i) => ok[i]);
      return u ? send(reply, 200, u) : missing();
    } catch (e) {
      return store503(reply, e);
    }
  });

  app.delete('/api/v1/users/:idType/:userId/segments', documentedAs(app, 'del', '/api/v1/users/{idType}/{userId}/segments'), async (request, reply) => {
    const { idType, userId } = request.params as Params;
    const r = await rightsOf(request, reply);
    if (!('rights' in r)) return r;
    if (r.rights && !r.rights.mayForgetUsers) return fail(reply, 403, 'forbidden', 'forgetting a user is for operators (admin keys)');
    return forgetUser(reply, idType, userId);
  });

  async function forgetUser(reply: FastifyReply, idType: string, userId: string): Promise<FastifyReply> {
    const key = uploadKey(idType, userId);
    if (typeof key !== 'string') return fail(reply, 400, 'invalid_user', key.error);
    // What events taught goes too: the rule memberships (event keys), and the event rows' user keys,
    // so that no rebuild brings the user back (rule-rebuild.ts).
    try {
      const events = d.events && d.userKeys ? forgetEventUser(d.events, forgottenEventUserKeys(key, d.userKeys)) : Promise.resolve();
      const [removed] = await Promise.all([forgetRuleUser(store, key, d.userKeys), events]);
      audiences.invalidate(d.userKeys ? [key, ...forgottenEventUserKeys(key, d.userKeys).map(eventKey)] : [key]);
      const forgot = d.forget?.(key) ?? false;
      return removed || forgot ? send(reply, 200, { key, removed: true }) : fail(reply, 404, 'not_found', `no segments for ${key}`);
    } catch (e) {
      return store503(reply, e);
    }
  }

  function remember(p: UploadProgress): void {
    const key = `${p.segmentId}/${p.uploadId}`;
    uploads.delete(key); // a new upload under the same name is the latest
    uploads.set(key, p);
    if (uploads.size > KEEP_UPLOADS) uploads.delete(uploads.keys().next().value!);
  }

  /**
   * Streams the body into an AudienceUpload. The body is not read until the key and the segment are
   * settled; then the socket is paused while a batch is written (the upload's loop share bounds how
   * much of the event loop it takes), and resumed once everything fed so far is parsed and written.
   */
  async function streamUpload(request: FastifyRequest, reply: FastifyReply, d: AudienceRouteDeps, segmentId: string, format: UploadFormat, query: URLSearchParams): Promise<FastifyReply> {
    let rights: AudienceRights | undefined;
    if (d.access) {
      // With access: the key (and its rate limit) first, as for every API route.
      try {
        const r = await d.access.begin(accessHeaders(d.access, request));
        if ('refused' in r) return sendRefusal(reply, r); // the rest of the body is not read (node:http discards it)
        rights = r; // its advertisers bound the segments rows may name
      } catch (e) {
        return store503(reply, e);
      }
      let key: string | undefined;
      try {
        key = rights.idempotency && parseIdempotencyKey(header(request, 'idempotency-key'));
      } catch (e) {
        return refuseWith(reply.header('connection', 'close'), e as ApiError, pathOf(request));
      }
      if (key !== undefined) return idempotentUpload(request, reply, d, rights, key, segmentId, format, query);
    }
    const r = await upload(request, d, rights, segmentId, format, query, undefined);
    return answer(reply, r);
  }

  /** An upload's outcome: the answer, and whether the body was read to its end. */
  interface Outcome {
    readonly reply: StoredReply;
    /** Every byte of the body went through (an upload that ran, or a replay's check). */
    readonly complete: boolean;
  }

  function answer(reply: FastifyReply, o: Outcome): FastifyReply {
    if (o.reply.status === 499) {
      reply.hijack(); // the client went away mid-upload: nothing to answer
      return reply;
    }
    if (o.reply.status === 413) reply.header('connection', 'close'); // the rest of the body is not read
    for (const [k, v] of Object.entries(o.reply.headers ?? {})) reply.header(k, v);
    if (o.reply.text !== undefined) return reply.code(o.reply.status).header('content-type', o.reply.contentType ?? PROBLEM_JSON).send(Buffer.from(o.reply.text));
    return send(reply, o.reply.status, o.reply.body);
  }

  /**
   * `Idempotency-Key` on an upload (api/idempotency.ts, for a body known only once streamed): the key
   * is claimed for this path and query; the first request uploads and keeps its answer with the
   * fingerprint of the bytes it read. A repeat within the TTL reads its body without uploading it:
   * the same bytes get the first answer again (`Idempotent-Replayed: true`), others `422`. A request
   * while the first still runs gets `409`. An upload that is refused, failed or cut off keeps nothing
   * (a retry runs again).
   */
  async function idempotentUpload(
    request: FastifyRequest,
    reply: FastifyReply,
    d: AudienceRouteDeps,
    rights: AudienceRights,
    idemKey: string,
    segmentId: string,
    format: UploadFormat,
    query: URLSearchParams,
  ): Promise<FastifyReply> {
    const idem = rights.idempotency!;
    const instance = pathOf(request);
    const key = storageKey(idem.scope, idemKey);
    const fingerprint = fingerprintOf('POST', `${instance}?${queryOf(request)}`, undefined);
    let claim;
    try {
      claim = await idem.store.claim(key, fingerprint, idem.settings.leaseMs);
    } catch (e) {
      return refuseWith(reply.header('connection', 'close'), new ApiError(503, 'idempotency_store_unavailable', `the Idempotency-Key store is unavailable (${(e as Error)?.message ?? e}); retry later`), instance);
    }
    const reused = () => new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with another request (method, path or body) in the last 24 hours');
    switch (claim.kind) {
      case 'running':
        return refuseWith(reply.header('connection', 'close'), new ApiError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still running; retry later', undefined, { 'retry-after': '1' }), instance);
      case 'mismatch':
        return refuseWith(reply.header('connection', 'close'), reused(), instance);
      case 'done': {
        const hash = createHash('sha256');
        const read = await pump(request, d.uploadLimitBytes, (chunk) => void hash.update(chunk));
        if (read === 'aborted') return answer(reply, { reply: { status: 499 }, complete: false });
        if (read === 'too_large') return tooLarge(reply, d);
        if (hash.digest('base64url') !== claim.reply.bodyFingerprint) return refuseWith(reply, reused(), instance);
        const { bodyFingerprint: _, ...first } = claim.reply;
        return answer(reply, { reply: { ...first, headers: { ...first.headers, 'idempotent-replayed': 'true' } }, complete: true });
      }
    }
    const hash = createHash('sha256');
    let o: Outcome;
    try {
      o = await upload(request, d, rights, segmentId, format, query, hash);
    } catch (e) {
      await idem.store.release(key, claim.token).catch(() => {});
      throw e;
    }
    if (o.complete && o.reply.status === 200) await idem.store.complete(key, claim.token, { ...o.reply, bodyFingerprint: hash.digest('base64url') }, idem.settings.ttlMs).catch(() => {});
    else await idem.store.release(key, claim.token).catch(() => {});
    return answer(reply, o);
  }

  /** Checks the segment, then streams the body into an AudienceUpload (each chunk also into `hash`). */
  async function upload(
    request: FastifyRequest,
    d: AudienceRouteDeps,
    rights: AudienceRights | undefined,
    segmentId: string,
    format: UploadFormat,
    query: URLSearchParams,
    hash: ReturnType<typeof createHash> | undefined,
  ): Promise<Outcome> {
    const refusal = (r: AccessRefusal): Outcome => ({
      reply: { status: Number.parseInt(r.refused.status, 10), text: r.refused.body, contentType: PROBLEM_JSON, headers: r.refused.headers },
      complete: false,
    });
    const unavailable = (e: unknown): Outcome => ({ reply: { status: 503, text: JSON.stringify(problem(503, 'store_unavailable', (e as Error).message)), contentType: PROBLEM_JSON }, complete: false });
    try {
      const refused = rights && (await rights.prepareUpload(segmentId, query));
      if (refused) return refusal(refused);
      await ensureSegment(d.audiences, segmentId, query);
    } catch (e) {
      return unavailable(e);
    }
    const u = new AudienceUpload(
      d.audiences.store,
      {
        uploadId: query.get('uploadId') || randomUUID(),
        segmentId,
        format,
        defaultTtlSeconds: Number(query.get('ttl')) || d.audiences.segmentTtl(segmentId),
        knownSegments: d.audiences.liveSegments(rights?.advertiserIds),
        nowSeconds: Math.floor(Date.now() / 1000),
        loopShare: d.uploadLoopShare ?? 0.25,
      },
      (keys) => d.audiences.invalidate(keys),
    );
    remember(u.progress);
    const ended = await pump(request, d.uploadLimitBytes, (chunk) => {
      hash?.update(chunk);
      // A batch write in flight: the socket stays paused until everything fed so far is parsed and written.
      return u.push(chunk) ? u.drained() : undefined;
    });
    if (ended !== 'end') {
      u.abort();
      return ended === 'aborted'
        ? { reply: { status: 499 }, complete: false }
        : { reply: { status: 413, text: JSON.stringify(problem(413, 'body_too_large', `uploads are limited to ${d.uploadLimitBytes} bytes`)), contentType: PROBLEM_JSON }, complete: false };
    }
    const p = await u.end();
    d.metrics.uploadRows.labels('accepted').inc(p.accepted);
    d.metrics.uploadRows.labels('rejected').inc(p.rejected);
    return { reply: { status: p.state === 'failed' ? 503 : 200, body: p }, complete: true };
  }
}

const tooLarge = (reply: FastifyReply, d: AudienceRouteDeps) =>
  fail(reply.header('connection', 'close'), 413, 'body_too_large', `uploads are limited to ${d.uploadLimitBytes} bytes`);

const refuseWith = (reply: FastifyReply, e: ApiError, instance: string) => sendProblem(reply, e.status, e.code, e.message, e.errors, instance, e.headers);

/**
 * Reads the request body chunk by chunk into `feed`, up to `limit` bytes; while a promise `feed`
 * returned is pending, the socket is paused (backpressure).
 */
function pump(request: FastifyRequest, limit: number, feed: (chunk: Buffer) => Promise<unknown> | undefined): Promise<'end' | 'too_large' | 'aborted'> {
  const raw = request.raw;
  if (raw.destroyed) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    let received = 0;
    let waiting = false;
    let done = false;
    const settle = (how: 'end' | 'too_large' | 'aborted') => {
      if (done) return;
      done = true;
      raw.off('data', onData);
      resolve(how);
    };
    const onData = (chunk: Buffer) => {
      if (done) return;
      received += chunk.length;
      if (received > limit) {
        raw.pause();
        return settle('too_large');
      }
      const wait = feed(chunk);
      if (wait && !waiting) {
        waiting = true;
        raw.pause();
        void wait.then(() => {
          waiting = false;
          if (!done) raw.resume();
        });
      }
    };
    raw.on('data', onData);
    raw.once('end', () => settle('end'));
    raw.once('close', () => settle(raw.complete ? 'end' : 'aborted'));
    raw.once('error', () => settle('aborted'));
  });
}

/** Creates the segment with defaults (name = id) when an upload names one that does not exist yet. */
async function ensureSegment(audiences: AudienceService, id: string, query: URLSearchParams): Promise<void> {
  if (audiences.liveSegments().has(id)) return;
  const existing = await audiences.store.getSegment(id);
  if (!existing) {
    const ttl = Number(query.get('ttl'));
    await audiences.store.putSegment({
      id,
      name: query.get('name') || id,
      advertiserId: query.get('advertiserId') || undefined,
      ttlSeconds: Number.isInteger(ttl) && ttl > 0 ? ttl : DEFAULT_SEGMENT_TTL_SECONDS,
      createdAt: new Date().toISOString(),
    });
  }
  await audiences.refreshRegistry(true);
}
