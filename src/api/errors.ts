/**
 * The config API's errors: handlers throw ApiError (status, stable code, message, field errors); the
 * router answers it as an RFC 9457 problem document (problem.ts), with stable codes (docs/advertiser-guide.md,
 * "Errors", lists them).
 */
import type { FieldError } from '../errors.js';
import type { Admission } from './auth.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: readonly FieldError[],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (kind: string, id: string) => new ApiError(404, 'not_found', `no ${singular(kind)} "${id}"`);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const invalid = (errors: readonly FieldError[], message = 'the request is invalid') =>
  new ApiError(400, 'validation_failed', `${message}: ${errors.length} error(s)`, errors);

/** A refused key check as the API answers it: 429 `auth_rate_limited` for an address over its failure limit, else 401. */
export function notAdmitted(r: Exclude<Admission, { ok: true }>): ApiError {
  return 'retryAfterSeconds' in r
    ? new ApiError(429, 'auth_rate_limited', r.reason, undefined, { 'retry-after': String(r.retryAfterSeconds) })
    : new ApiError(401, 'unauthorized', r.reason, undefined, { 'www-authenticate': 'Bearer realm="rtb-bidder"' });
}

/** "an admin key", "an advertiser key", "a read-only key". */
export const aKey = (role: string) => `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role} key`;

export function singular(kind: string): string {
  return kind === 'audit' ? 'audit entry' : kind.replace(/ies$/, 'y').replace(/s$/, '');
}

/** HTTP status lines for the statuses the API answers. */
export const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  204: '204 No Content',
  304: '304 Not Modified',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  412: '412 Precondition Failed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};
