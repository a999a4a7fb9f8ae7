/**
 * The steps the audience routes share on every request: the caller's rights (the config API's key,
 * rate limit and tenant rules), and their answers as problem documents (api/problem.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { ApiError } from '../api/errors.js';
import { PROBLEM_JSON } from '../api/problem.js';
import { header, pathOf, sendJsonReply, sendProblem } from '../api/admin-server.js';
import type { AccessRefusal, AudienceAccess, AudienceRights } from './audience-routes.js';

export const SEGMENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;
export const SEGMENT_ID_RULE = 'segment ids are 1-64 of A-Z a-z 0-9 . _ : -';

export type Params = Record<string, string>;

/** Sends a refusal of the config API's guard as it is: its status, headers and problem document. */
export function sendRefusal(reply: FastifyReply, r: AccessRefusal): FastifyReply {
  reply.code(Number.parseInt(r.refused.status, 10)).header('content-type', PROBLEM_JSON);
  for (const [k, v] of Object.entries(r.refused.headers)) reply.header(k, v);
  return reply.send(Buffer.from(r.refused.body));
}

/** What the guard reads of a request: its key and address, its request id (made up when missing), its path. */
export const accessHeaders = (access: AudienceAccess, request: FastifyRequest) => ({
  ...access.callerOf(request),
  requestId: header(request, 'x-request-id') || randomUUID(),
  instance: pathOf(request),
});

export const send = (reply: FastifyReply, status: number, body: unknown) => sendJsonReply(reply, status, body);
export const fail = (reply: FastifyReply, status: number, code: string, message: string, errors?: Parameters<typeof sendProblem>[4]) =>
  sendProblem(reply, status, code, message, errors);
export const store503 = (reply: FastifyReply, e: unknown) => sendProblem(reply, 503, 'store_unavailable', (e as Error).message);
export const refuseWith = (reply: FastifyReply, e: ApiError, instance: string) => sendProblem(reply, e.status, e.code, e.message, e.errors, instance, e.headers);
export const tooLarge = (reply: FastifyReply, limitBytes: number) =>
  fail(reply.header('connection', 'close'), 413, 'body_too_large', `uploads are limited to ${limitBytes} bytes`);

/** The caller's rights (undefined without access), or the reply that refused it. */
export async function rightsOf(
  access: AudienceAccess | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<{ rights: AudienceRights | undefined } | FastifyReply> {
  if (!access) return { rights: undefined };
  try {
    const r = await access.begin(accessHeaders(access, request));
    return 'refused' in r ? sendRefusal(reply, r) : { rights: r };
  } catch (e) {
    return store503(reply, e);
  }
}
