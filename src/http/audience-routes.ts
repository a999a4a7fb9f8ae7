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
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { randomUUID } from 'node:crypto';
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
import { readJson, sendError, sendJson } from './json-body.js';
import { PROBLEM_JSON } from '../api/problem.js';

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
  /** The request's key and source address (read synchronously, in the handler). */
  callerOf(res: HttpResponse, req: HttpRequest): Caller;
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
}

function sendRefusal(res: HttpResponse, r: AccessRefusal): void {
  res.cork(() => {
    res.writeStatus(r.refused.status).writeHeader('content-type', PROBLEM_JSON);
    for (const [k, v] of Object.entries(r.refused.headers)) res.writeHeader(k, v);
    res.end(r.refused.body);
  });
}

const accessHeaders = (access: AudienceAccess, res: HttpResponse, req: HttpRequest) => ({ ...access.callerOf(res, req), requestId: req.getHeader('x-request-id') || randomUUID(), instance: req.getUrl() });

export function registerAudienceRoutes(app: TemplatedApp, deps: AudienceRouteDeps): void {
  const { audiences } = deps;
  const d = deps;
  const store = audiences.store;
  // Keyed by segment and upload id: `?uploadId=` is the caller's choice, and an upload into one
  // segment must not replace the progress of another's upload that happens to use the same name.
  const uploads = new Map<string, UploadProgress>();
  const guard = (res: HttpResponse, work: Promise<void>) =>
    work.catch((e: Error) => sendError(res, '503 Service Unavailable', 'store_unavailable', e.message));
  const access = deps.access;

  // With access, the config API serves segment metadata (GET list/one, PUT, DELETE) itself.
  if (!access) registerMetadataRoutes();
  function registerMetadataRoutes(): void {
    app.get('/api/v1/audiences', (res) => {
      res.onAborted(() => {});
      guard(res, store.listSegments().then((segments) => sendJson(res, '200 OK', { segments })));
    });

    app.get('/api/v1/audiences/:segmentId', (res, req) => {
      const id = req.getParameter(0);
      res.onAborted(() => {});
      guard(
        res,
        store.getSegment(id).then((m) => (m ? sendJson(res, '200 OK', m) : sendError(res, '404 Not Found', 'not_found', `no segment "${id}"`))),
      );
    });

    app.put('/api/v1/audiences/:segmentId', (res, req) => {
      const id = req.getParameter(0);
      readJson(res, req.getHeader('content-length'), 64 * 1024, (body, aborted) => {
        if (!SEGMENT_ID.test(id)) return sendError(res, '400 Bad Request', 'invalid_id', 'segment ids are 1-64 of A-Z a-z 0-9 . _ : -');
        const errors = validateSegmentInput(body);
        if (errors.length) return sendError(res, '400 Bad Request', 'validation_failed', 'the segment is invalid', errors);
        const input = (body ?? {}) as { name?: string; advertiserId?: string; ttlSeconds?: number }; // no body: defaults
        guard(
          res,
          store.getSegment(id).then(async (existing) => {
            const meta: SegmentMeta = {
              id,
              name: input.name ?? existing?.name ?? id,
              advertiserId: input.advertiserId ?? existing?.advertiserId,
              ttlSeconds: input.ttlSeconds ?? existing?.ttlSeconds ?? DEFAULT_SEGMENT_TTL_SECONDS,
              createdAt: existing?.createdAt ?? new Date().toISOString(),
            };
            await store.putSegment(meta);
            await audiences.refreshRegistry(true);
            if (!aborted()) sendJson(res, existing ? '200 OK' : '201 Created', await store.getSegment(id));
          }),
        );
      });
    });

    app.del('/api/v1/audiences/:segmentId', (res, req) => {
      const id = req.getParameter(0);
      res.onAborted(() => {});
      guard(
        res,
        store.dropSegment(id).then(async (dropped) => {
          await audiences.refreshRegistry(true);
          if (dropped) sendJson(res, '200 OK', { id, dropped: true });
          else sendError(res, '404 Not Found', 'not_found', `no segment "${id}"`);
        }),
      );
    });
  }

  app.post('/api/v1/audiences/:segmentId/members', (res, req) => {
    const id = req.getParameter(0);
    const type = req.getHeader('content-type').toLowerCase();
    const query = new URLSearchParams(req.getQuery() ?? '');
    const length = req.getHeader('content-length');
    const format: UploadFormat | undefined = /csv|text\/plain/.test(type) ? 'csv' : /ndjson|jsonl|x-json-stream/.test(type) ? 'ndjson' : undefined;
    if (!SEGMENT_ID.test(id)) return sendError(res, '400 Bad Request', 'invalid_id', 'segment ids are 1-64 of A-Z a-z 0-9 . _ : -');
    if (!format) return sendError(res, '415 Unsupported Media Type', 'unsupported_media_type', 'send text/csv or application/x-ndjson');
    if (length !== '' && Number(length) > deps.uploadLimitBytes)
      return sendError(res, '413 Payload Too Large', 'body_too_large', `uploads are limited to ${deps.uploadLimitBytes} bytes`);
    streamUpload(res, req, deps, id, format, query);
  });

  /** Runs `then` with the caller's rights (undefined without access); nothing when access answered already. */
  const withRights = (res: HttpResponse, req: HttpRequest, then: (rights: AudienceRights | undefined, aborted: () => boolean) => void) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    if (!access) return then(undefined, () => aborted);
    access.begin(accessHeaders(access, res, req)).then(
      (r) => {
        if (aborted) return;
        if ('refused' in r) sendRefusal(res, r);
        else then(r, () => aborted);
      },
      (e: Error) => !aborted && sendError(res, '503 Service Unavailable', 'store_unavailable', e.message),
    );
  };

  app.get('/api/v1/audience-uploads', (res, req) =>
    withRights(res, req, (rights, aborted) => {
      const all = [...uploads.values()].reverse();
      if (!rights) return sendJson(res, '200 OK', { uploads: all });
      guard(
        res,
        Promise.all(all.map((u) => rights.sees(u.segmentId))).then((ok) => {
          if (!aborted()) sendJson(res, '200 OK', { uploads: all.filter((_, i) => ok[i]) });
        }),
      );
    }),
  );
  app.get('/api/v1/audience-uploads/:uploadId', (res, req) => {
    const id = req.getParameter(0);
    const named = [...uploads.values()].filter((u) => u.uploadId === id).reverse(); // the latest first
    withRights(res, req, (rights, aborted) => {
      const missing = () => sendError(res, '404 Not Found', 'not_found', 'no such upload');
      if (named.length === 0) return missing();
      if (!rights) return sendJson(res, '200 OK', named[0]);
      guard(
        res,
        Promise.all(named.map((u) => rights.sees(u.segmentId))).then((ok) => {
          const u = named.find((_, i) => ok[i]);
          if (!aborted()) (u ? sendJson(res, '200 OK', u) : missing());
        }),
      );
    });
  });

  app.del('/api/v1/users/:idType/:userId/segments', (res, req) => {
    const idType = req.getParameter(0);
    const rawUser = req.getParameter(1);
    withRights(res, req, (rights) => {
      if (rights && !rights.mayForgetUsers) return sendError(res, '403 Forbidden', 'forbidden', 'forgetting a user is for operators (admin keys)');
      forgetUser(res, idType, rawUser);
    });
  });

  function forgetUser(res: HttpResponse, idType: string, rawUser: string): void {
    let userId: string;
    try {
      userId = decodeURIComponent(rawUser);
    } catch {
      return sendError(res, '400 Bad Request', 'invalid_user', 'the user id is not valid percent-encoding'); // a throw here would take the process down
    }
    const key = uploadKey(idType, userId);
    if (typeof key !== 'string') return sendError(res, '400 Bad Request', 'invalid_user', key.error);
    // What events taught goes too: the rule memberships (event keys), and the event rows' user keys,
    // so that no rebuild brings the user back (rule-rebuild.ts).
    const events = d.events && d.userKeys ? forgetEventUser(d.events, forgottenEventUserKeys(key, d.userKeys)) : Promise.resolve();
    guard(
      res,
      Promise.all([forgetRuleUser(store, key, d.userKeys), events]).then(([removed]) => {
        audiences.invalidate(d.userKeys ? [key, ...forgottenEventUserKeys(key, d.userKeys).map(eventKey)] : [key]);
        const forgot = d.forget?.(key) ?? false;
        if (removed || forgot) sendJson(res, '200 OK', { key, removed: true });
        else sendError(res, '404 Not Found', 'not_found', `no segments for ${key}`);
      }),
    );
  }

  function remember(p: UploadProgress): void {
    const key = `${p.segmentId}/${p.uploadId}`;
    uploads.delete(key); // a new upload under the same name is the latest
    uploads.set(key, p);
    if (uploads.size > KEEP_UPLOADS) uploads.delete(uploads.keys().next().value!);
  }

  /** Streams the body into an AudienceUpload, pausing the socket while batches are written. */
  function streamUpload(res: HttpResponse, req: HttpRequest, d: AudienceRouteDeps, segmentId: string, format: UploadFormat, query: URLSearchParams) {
    let aborted = false;
    let upload: AudienceUpload | undefined;
    let received = 0;
    let finished = false;
    const early: Buffer[] = [];
    let endedEarly = false;
    res.onAborted(() => {
      aborted = true;
      upload?.abort();
    });
    res.pause(); // until the segment exists
    let writing = false; // a batch write is in flight: the socket stays paused until it settles
    const feed = (chunk: Uint8Array) => {
      const wait = upload!.push(chunk);
      if (wait && !writing) {
        writing = true;
        res.pause();
        // Read on once everything fed so far is parsed and written (not after the answer is sent).
        void upload!.drained().then(() => {
          writing = false;
          if (!aborted && !finished) res.resume();
        });
      }
    };
    const finish = () => {
      finished = true;
      void upload!.end().then((p) => {
        d.metrics.uploadRows.labels('accepted').inc(p.accepted);
        d.metrics.uploadRows.labels('rejected').inc(p.rejected);
        if (aborted) return;
        // The body has ended, but the socket may still be paused from the last batch: a keep-alive
        // connection must read its next request.
        res.resume();
        sendJson(res, p.state === 'failed' ? '503 Service Unavailable' : '200 OK', p);
      });
    };
    res.onData((ab, isLast) => {
      if (aborted || finished) return;
      received += ab.byteLength;
      if (received > d.uploadLimitBytes) {
        finished = true;
        upload?.abort();
        return sendError(res, '413 Payload Too Large', 'body_too_large', `uploads are limited to ${d.uploadLimitBytes} bytes`);
      }
      if (!upload) {
        early.push(Buffer.from(new Uint8Array(ab)));
        endedEarly ||= isLast;
        return;
      }
      feed(new Uint8Array(ab));
      if (isLast) finish();
    });
    // With access: the key, then its right to this segment, then as before.
    const headers = d.access && accessHeaders(d.access, res, req);
    let rights: AudienceRights | undefined;
    const refusal: Promise<AccessRefusal | undefined> = d.access
      ? d.access.begin(headers!).then((r) => {
          if ('refused' in r) return r;
          rights = r; // its advertisers bound the segments rows may name
          return r.prepareUpload(segmentId, query);
        })
      : Promise.resolve(undefined);
    refusal.then(async (refused): Promise<boolean> => {
      if (refused) {
        if (aborted || finished) return false;
        finished = true; // the rest of the body is ignored
        res.resume(); // paused above: a keep-alive connection must go on to its next request
        sendRefusal(res, refused);
        return false;
      }
      await ensureSegment(d.audiences, segmentId, query);
      return true;
    }).then(
      (ok) => {
        if (!ok || aborted || finished) return;
        upload = new AudienceUpload(
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
        remember(upload.progress);
        for (const chunk of early) feed(chunk);
        early.length = 0;
        if (endedEarly) finish();
        else if (!writing) res.resume();
      },
      (e: Error) => !aborted && sendError(res, '503 Service Unavailable', 'store_unavailable', e.message),
    );
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
