/** Small JSON bodies for the admin API: read with a limit, parsed, errors as HTTP answers. */
import type { HttpResponse } from 'uWebSockets.js';
import { readBody } from '../uws/read-body.js';
import type { FieldError } from '../errors.js';
import { PROBLEM_JSON, problem } from '../api/problem.js';

export function sendJson(res: HttpResponse, status: string, body: unknown): void {
  res.cork(() => res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(body)));
}

/** The admin API's one error shape: an RFC 9457 problem document (api/problem.ts). `status` is the status line. */
export function sendError(res: HttpResponse, status: string, code: string, message: string, errors?: readonly FieldError[]): void {
  const body = JSON.stringify(problem(Number.parseInt(status, 10), code, message, errors));
  res.cork(() => res.writeStatus(status).writeHeader('content-type', PROBLEM_JSON).end(body));
}

/**
 * Reads a JSON body (limit in bytes) and calls `onJson` with the parsed value; answers 413/400 itself.
 * Must be called synchronously in the route handler (registers onAborted).
 */
export function readJson(res: HttpResponse, contentLength: string, limit: number, onJson: (value: unknown, aborted: () => boolean) => void): void {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const length = contentLength === '' ? 0 : Number(contentLength);
  if (!(length >= 0) || length > limit) return sendError(res, '413 Payload Too Large', 'body_too_large', `body over ${limit} bytes`);
  readBody(res, length, limit, {
    onTooLarge: () => !aborted && sendError(res, '413 Payload Too Large', 'body_too_large', `body over ${limit} bytes`),
    onBody: (body) => {
      if (aborted) return;
      let value: unknown;
      try {
        value = body.length ? JSON.parse(body.toString('utf8')) : undefined;
      } catch {
        return sendError(res, '400 Bad Request', 'bad_json', 'body is not valid JSON');
      }
      onJson(value, () => aborted);
    },
  });
}
