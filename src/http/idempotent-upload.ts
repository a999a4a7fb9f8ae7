/**
 * `Idempotency-Key` on an upload (api/idempotency.ts, for a body known only once streamed): the key
 * is claimed for this path and query; the first request uploads and keeps its answer with the
 * fingerprint of the bytes it read. A repeat within the TTL reads its body without uploading it:
 * the same bytes get the first answer again (`Idempotent-Replayed: true`), others `422`. A request
 * while the first still runs gets `409`. An upload that is refused, failed or cut off keeps nothing
 * (a retry runs again).
 */
import type { FastifyReply } from 'fastify';
import { createHash, type Hash } from 'node:crypto';
import { ApiError } from '../api/errors.js';
import { fingerprintOf, storageKey, type StoredReply } from '../api/idempotency.js';
import { PROBLEM_JSON } from '../api/problem.js';
import { pathOf, queryOf } from '../api/admin-server.js';
import type { UploadRequest } from './audience-uploads.js';
import { refuseWith, send, tooLarge } from './audience-replies.js';
import { pump } from './body-pump.js';

/** An upload's outcome: the answer, and whether the body was read to its end. */
export interface Outcome {
  readonly reply: StoredReply;
  /** Every byte of the body went through (an upload that ran, or a replay's check). */
  readonly complete: boolean;
}

/** What runs the upload itself (AudienceUploadHandler). */
export interface Uploader {
  readonly limitBytes: number;
  upload(u: UploadRequest, hash: Hash): Promise<Outcome>;
}

/** Sends an outcome: nothing for a client gone mid-upload (499), the connection closed after a 413. */
export function answer(reply: FastifyReply, o: Outcome): FastifyReply {
  if (o.reply.status === 499) {
    reply.hijack(); // the client went away mid-upload: nothing to answer
    return reply;
  }
  if (o.reply.status === 413) reply.header('connection', 'close'); // the rest of the body is not read
  for (const [k, v] of Object.entries(o.reply.headers ?? {})) reply.header(k, v);
  if (o.reply.text !== undefined) return reply.code(o.reply.status).header('content-type', o.reply.contentType ?? PROBLEM_JSON).send(Buffer.from(o.reply.text));
  return send(reply, o.reply.status, o.reply.body);
}

const reused = () => new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with another request (method, path or body) in the last 24 hours');

/** Claims the key, then uploads once, replays the first answer, or refuses (409, 422, 503). */
export async function idempotentUpload(reply: FastifyReply, u: UploadRequest, idemKey: string, uploader: Uploader): Promise<FastifyReply> {
  const idem = u.rights!.idempotency!;
  const instance = pathOf(u.request);
  const key = storageKey(idem.scope, idemKey);
  const fingerprint = fingerprintOf('POST', `${instance}?${queryOf(u.request)}`, undefined);
  let claim;
  try {
    claim = await idem.store.claim(key, fingerprint, idem.settings.leaseMs);
  } catch (e) {
    return refuseWith(reply.header('connection', 'close'), new ApiError(503, 'idempotency_store_unavailable', `the Idempotency-Key store is unavailable (${(e as Error)?.message ?? e}); retry later`), instance);
  }
  switch (claim.kind) {
    case 'running':
      return refuseWith(reply.header('connection', 'close'), new ApiError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still running; retry later', undefined, { 'retry-after': '1' }), instance);
    case 'mismatch':
      return refuseWith(reply.header('connection', 'close'), reused(), instance);
    case 'done':
      return replay(reply, u, claim.reply, uploader.limitBytes);
  }
  const hash = createHash('sha256');
  let o: Outcome;
  try {
    o = await uploader.upload(u, hash);
  } catch (e) {
    await idem.store.release(key, claim.token).catch(() => {});
    throw e;
  }
  if (o.complete && o.reply.status === 200) await idem.store.complete(key, claim.token, { ...o.reply, bodyFingerprint: hash.digest('base64url') }, idem.settings.ttlMs).catch(() => {});
  else await idem.store.release(key, claim.token).catch(() => {});
  return answer(reply, o);
}

/** A repeat of a finished upload: reads the body without uploading it; the same bytes get the first answer again. */
async function replay(reply: FastifyReply, u: UploadRequest, first: StoredReply, limitBytes: number): Promise<FastifyReply> {
  const hash = createHash('sha256');
  const read = await pump(u.request, limitBytes, (chunk) => void hash.update(chunk));
  if (read === 'aborted') return answer(reply, { reply: { status: 499 }, complete: false });
  if (read === 'too_large') return tooLarge(reply, limitBytes);
  if (hash.digest('base64url') !== first.bodyFingerprint) return refuseWith(reply, reused(), pathOf(u.request));
  const { bodyFingerprint: _, ...kept } = first;
  return answer(reply, { reply: { ...kept, headers: { ...kept.headers, 'idempotent-replayed': 'true' } }, complete: true });
}
