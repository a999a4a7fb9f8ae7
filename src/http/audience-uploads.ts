/**
 * Segment member uploads on the admin port: `POST /api/v1/audiences/{segmentId}/members` streams a
 * CSV or NDJSON body into an AudienceUpload (audiences/upload.ts), and `GET /api/v1/audience-uploads[/{uploadId}]`
 * shows the progress of running and recent ones. With the config API's guard, uploads go only into
 * segments of the key's advertisers and progress lists only those (see audience-routes.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { AudienceService } from '../audiences/audience-service.js';
import { AudienceUpload, type UploadFormat, type UploadProgress } from '../audiences/upload.js';
import { DEFAULT_SEGMENT_TTL_SECONDS } from '../audiences/segment-store.js';
import type { ApiError } from '../api/errors.js';
import { parseIdempotencyKey } from '../api/idempotency.js';
import { PROBLEM_JSON, problem } from '../api/problem.js';
import { header, pathOf, queryOf } from '../api/admin-server.js';
import type { AccessRefusal, AudienceRights, AudienceRouteDeps } from './audience-routes.js';
import { accessHeaders, fail, refuseWith, rightsOf, send, sendRefusal, SEGMENT_ID, SEGMENT_ID_RULE, store503, type Params } from './audience-replies.js';
import { pump } from './body-pump.js';
import { answer, idempotentUpload, type Outcome } from './idempotent-upload.js';

const KEEP_UPLOADS = 100;

/** One upload request, settled before its body is read. */
export interface UploadRequest {
  readonly request: FastifyRequest;
  /** The key's rights (undefined without the config API's guard): its advertisers bound the segments rows may name. */
  readonly rights: AudienceRights | undefined;
  readonly segmentId: string;
  readonly format: UploadFormat;
  readonly query: URLSearchParams;
}

/** The format a content type names, or undefined (415). */
function formatOf(contentType: string): UploadFormat | undefined {
  return /csv|text\/plain/.test(contentType) ? 'csv' : /ndjson|jsonl|x-json-stream/.test(contentType) ? 'ndjson' : undefined;
}

const refusalOutcome = (r: AccessRefusal): Outcome => ({
  reply: { status: Number.parseInt(r.refused.status, 10), text: r.refused.body, contentType: PROBLEM_JSON, headers: r.refused.headers },
  complete: false,
});
const unavailableOutcome = (e: unknown): Outcome => ({
  reply: { status: 503, text: JSON.stringify(problem(503, 'store_unavailable', (e as Error).message)), contentType: PROBLEM_JSON },
  complete: false,
});

/** The upload routes' handlers, one method each, and the progress of recent uploads. */
export class AudienceUploadHandler {
  /**
   * Keyed by segment and upload id: `?uploadId=` is the caller's choice, and an upload into one
   * segment must not replace the progress of another's upload that happens to use the same name.
   */
  private readonly uploads = new Map<string, UploadProgress>();

  constructor(private readonly d: AudienceRouteDeps) {}

  get limitBytes(): number {
    return this.d.uploadLimitBytes;
  }

  /** `POST /api/v1/audiences/{segmentId}/members`. */
  async members(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const segmentId = (request.params as Params).segmentId;
    const format = formatOf(header(request, 'content-type').toLowerCase());
    const query = new URLSearchParams(queryOf(request));
    const length = header(request, 'content-length');
    if (!SEGMENT_ID.test(segmentId)) return fail(reply, 400, 'invalid_id', SEGMENT_ID_RULE);
    if (!format) return fail(reply, 415, 'unsupported_media_type', 'send text/csv or application/x-ndjson');
    if (length !== '' && Number(length) > this.limitBytes)
      return fail(reply.header('connection', 'close'), 413, 'body_too_large', `uploads are limited to ${this.limitBytes} bytes`);
    return this.stream(request, reply, segmentId, format, query);
  }

  /** `GET /api/v1/audience-uploads`: the latest first. */
  async list(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const r = await rightsOf(this.d.access, request, reply);
    if (!('rights' in r)) return r;
    const all = [...this.uploads.values()].reverse();
    if (!r.rights) return send(reply, 200, { uploads: all });
    try {
      const ok = await Promise.all(all.map((u) => r.rights!.sees(u.segmentId)));
      return send(reply, 200, { uploads: all.filter((_, i) => ok[i]) });
    } catch (e) {
      return store503(reply, e);
    }
  }

  /** `GET /api/v1/audience-uploads/{uploadId}`: the latest of that name the key sees. */
  async one(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const id = (request.params as Params).uploadId;
    const named = [...this.uploads.values()].filter((u) => u.uploadId === id).reverse(); // the latest first
    const r = await rightsOf(this.d.access, request, reply);
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
  }

  /**
   * Streams the body into an AudienceUpload. The body is not read until the key and the segment are
   * settled; then the socket is paused while a batch is written (the upload's loop share bounds how
   * much of the event loop it takes), and resumed once everything fed so far is parsed and written.
   */
  private async stream(request: FastifyRequest, reply: FastifyReply, segmentId: string, format: UploadFormat, query: URLSearchParams): Promise<FastifyReply> {
    const access = this.d.access;
    if (!access) return answer(reply, await this.upload({ request, rights: undefined, segmentId, format, query }));
    // With access: the key (and its rate limit) first, as for every API route.
    let rights: AudienceRights;
    try {
      const r = await access.begin(accessHeaders(access, request));
      if ('refused' in r) return sendRefusal(reply, r); // the rest of the body is not read (node:http discards it)
      rights = r;
    } catch (e) {
      return store503(reply, e);
    }
    let key: string | undefined;
    try {
      key = rights.idempotency && parseIdempotencyKey(header(request, 'idempotency-key'));
    } catch (e) {
      return refuseWith(reply.header('connection', 'close'), e as ApiError, pathOf(request));
    }
    const u: UploadRequest = { request, rights, segmentId, format, query };
    if (key !== undefined) return idempotentUpload(reply, u, key, this);
    return answer(reply, await this.upload(u));
  }

  /** Checks the segment, then streams the body into an AudienceUpload (each chunk also into `hash`). */
  async upload(u: UploadRequest, hash?: Hash): Promise<Outcome> {
    try {
      const refused = u.rights && (await u.rights.prepareUpload(u.segmentId, u.query));
      if (refused) return refusalOutcome(refused);
      await ensureSegment(this.d.audiences, u.segmentId, u.query);
    } catch (e) {
      return unavailableOutcome(e);
    }
    const upload = this.start(u);
    const ended = await pump(u.request, this.limitBytes, (chunk) => {
      hash?.update(chunk);
      // A batch write in flight: the socket stays paused until everything fed so far is parsed and written.
      return upload.push(chunk) ? upload.drained() : undefined;
    });
    if (ended !== 'end') {
      upload.abort();
      return ended === 'aborted'
        ? { reply: { status: 499 }, complete: false }
        : { reply: { status: 413, text: JSON.stringify(problem(413, 'body_too_large', `uploads are limited to ${this.limitBytes} bytes`)), contentType: PROBLEM_JSON }, complete: false };
    }
    const p = await upload.end();
    this.d.metrics.uploadRows.labels('accepted').inc(p.accepted);
    this.d.metrics.uploadRows.labels('rejected').inc(p.rejected);
    return { reply: { status: p.state === 'failed' ? 503 : 200, body: p }, complete: true };
  }

  /** A new AudienceUpload into the segment, its progress shown from now on. */
  private start(u: UploadRequest): AudienceUpload {
    const { audiences } = this.d;
    const upload = new AudienceUpload(
      audiences.store,
      {
        uploadId: u.query.get('uploadId') || randomUUID(),
        segmentId: u.segmentId,
        format: u.format,
        defaultTtlSeconds: Number(u.query.get('ttl')) || audiences.segmentTtl(u.segmentId),
        knownSegments: audiences.liveSegments(u.rights?.advertiserIds),
        nowSeconds: Math.floor(Date.now() / 1000),
        loopShare: this.d.uploadLoopShare ?? 0.25,
      },
      (keys) => audiences.invalidate(keys),
    );
    this.remember(upload.progress);
    return upload;
  }

  private remember(p: UploadProgress): void {
    const key = `${p.segmentId}/${p.uploadId}`;
    this.uploads.delete(key); // a new upload under the same name is the latest
    this.uploads.set(key, p);
    if (this.uploads.size > KEEP_UPLOADS) this.uploads.delete(this.uploads.keys().next().value!);
  }
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
