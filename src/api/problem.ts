/**
 * The admin port's one error shape: RFC 9457 problem details, sent as `application/problem+json`.
 *
 *   { type, title, status, detail, instance?, code, errors?: [{ pointer?, path, code, message }] }
 *
 * `type` names the problem (`urn:rtb-bidder:problem:<code>`), `title` is the status's reason phrase,
 * `detail` says what went wrong with this request, `instance` is the request path. The extension
 * members keep what clients (the console included) already read: `code` is the stable
 * machine-readable code, `errors` the field errors, each with `pointer` (a JSON pointer into the
 * body, RFC 6901) when it names a body field and the original `path` either way (`?cursor` for a
 * query parameter, `campaigns/c1` for another resource).
 */
import type { FieldError } from '../errors.js';

export const PROBLEM_JSON = 'application/problem+json';
export const PROBLEM_TYPE_PREFIX = 'urn:rtb-bidder:problem:';

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ProblemFieldError extends FieldError {
  readonly pointer?: string;
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly code: string;
  readonly errors?: readonly ProblemFieldError[];
}

/** A problem document; `instance` is the request path when the caller knows it. */
export function problem(status: number, code: string, detail: string, errors?: readonly FieldError[], instance?: string): Problem {
  return {
    type: PROBLEM_TYPE_PREFIX + code,
    title: REASON[status] ?? 'Error',
    status,
    detail,
    ...(instance ? { instance } : {}),
    code,
    ...(errors && errors.length ? { errors: errors.map(withPointer) } : {}),
  };
}

const withPointer = (e: FieldError): ProblemFieldError => (e.path.startsWith('/') ? { pointer: e.path, ...e } : e);
