/** Small JSON bodies for the admin API: read with a limit, parsed, errors as problem documents. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { readBodyLimited, sendProblem } from '../api/admin-server.js';

/**
 * Reads a JSON body (limit in bytes): `{ value }` (undefined for an empty body), or undefined when
 * it answered 413/400 itself.
 */
export async function readJsonBody(request: FastifyRequest, reply: FastifyReply, limit: number): Promise<{ value: unknown } | undefined> {
  const body = await readBodyLimited(request, limit);
  if (body === 'too_large') {
    sendProblem(reply.header('connection', 'close'), 413, 'body_too_large', `body over ${limit} bytes`);
    return undefined;
  }
  try {
    return { value: body.length ? JSON.parse(body.toString('utf8')) : undefined };
  } catch {
    sendProblem(reply, 400, 'bad_json', 'body is not valid JSON');
    return undefined;
  }
}
