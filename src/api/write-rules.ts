/**
 * The shared first step of every API write: from a request body and the current resource to a
 * candidate resource, refusing what the caller may not do. Order and outcomes:
 *   1. the body is not an object                          → 400 validation_failed
 *   2. operator-only fields changed by a non-admin key,
 *      or an owner outside the key's advertisers          → 403 forbidden_field (every such field)
 *   3. server fields changed (version, createdAt, ...),
 *      fields fixed at creation changed, schema errors     → 400 validation_failed (all at once)
 * A field may always be repeated with the value it already has (a GET → edit → PUT round trip).
 */
import type { TSchema } from '@sinclair/typebox';
import type { FieldError } from '../errors.js';
import type { StoredDoc } from '../campaigns/config-store.js';
import type { Principal } from './auth.js';
import { ApiError, invalid } from './errors.js';
import { IMMUTABLE_FIELDS, OPERATOR_FIELDS, OWNER_FIELD, SERVER_FIELDS } from './policy.js';
import { SYSTEM_FIELDS } from './schemas.js';
import { check, deepEqual, isObject, mergePatch } from './validation.js';

export type BodyAction = 'create' | 'replace' | 'update';

export interface PrepareOptions {
  readonly kind: string;
  readonly action: BodyAction;
  readonly body: unknown;
  /** The resource now (undefined: it is being created). */
  readonly current: StoredDoc | undefined;
  readonly principal: Principal;
  /** The id the resource will have (from the URL, the body, or generated). */
  readonly id: string;
  readonly inputSchema: TSchema;
  /** Values a new resource starts with (status and the like). */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Fields a PUT that leaves them out keeps (status fields), on top of those the caller may not set. */
  readonly keepOnReplace: readonly string[];
}

export interface Prepared {
  /** The writable fields (no server fields), with `id` set. */
  readonly candidate: Record<string, unknown>;
  /** 400-class problems found so far (the caller adds its own and throws them all together). */
  readonly errors: FieldError[];
}

const serverFields = (kind: string) => [...SYSTEM_FIELDS, ...(SERVER_FIELDS[kind] ?? [])];

/** The fields of a stored resource a client writes. */
export function writableOf(kind: string, doc: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = { ...doc };
  for (const f of serverFields(kind)) delete out[f];
  return out;
}

export function prepare(o: PrepareOptions): Prepared {
  if (!isObject(o.body)) throw invalid([{ path: '/', code: 'type', message: 'must be a JSON object' }]);
  const body = o.body;
  const admin = o.principal.role === 'admin';
  const base: Record<string, unknown> = o.current ? writableOf(o.kind, o.current) : { ...o.defaults };
  let candidate: Record<string, unknown>;
  if (o.action === 'update') candidate = mergePatch(base, body) as Record<string, unknown>;
  else if (o.action === 'create') candidate = { ...o.defaults, ...body };
  else {
    candidate = { ...body };
    const keep = [...o.keepOnReplace, ...(admin ? [] : (OPERATOR_FIELDS[o.kind] ?? []))];
    for (const f of keep) if (!(f in body) && base[f] !== undefined) candidate[f] = base[f];
  }
  if (candidate.id === undefined) candidate = { id: o.id, ...candidate };

  const errors: FieldError[] = [];
  for (const f of serverFields(o.kind)) {
    if (f in body && !deepEqual(body[f], o.current?.[f])) errors.push({ path: `/${f}`, code: 'read_only', message: 'is kept by the server' });
    delete candidate[f];
  }

  const refused: FieldError[] = [];
  if (!admin)
    for (const f of OPERATOR_FIELDS[o.kind] ?? [])
      if (f in body && !deepEqual(candidate[f], base[f]))
        refused.push({ path: `/${f}`, code: 'forbidden_field', message: 'only operators may set this field' });
  const owner = OWNER_FIELD[o.kind];
  const scope = o.principal.advertiserIds;
  if (owner && scope) {
    if (candidate[owner] === undefined && !o.current && scope.size === 1) candidate[owner] = [...scope][0];
    const value = candidate[owner];
    if (value === undefined && !o.current) errors.push({ path: `/${owner}`, code: 'required', message: 'is required (the key acts for several advertisers)' });
    else if (typeof value === 'string' && !scope.has(value) && !deepEqual(value, o.current?.[owner]))
      refused.push({ path: `/${owner}`, code: 'forbidden_field', message: 'must be one of the advertisers this key acts for' });
  }
  if (refused.length) throw new ApiError(403, 'forbidden_field', `this key may not set ${refused.map((e) => e.path).join(', ')}`, refused);

  if (o.current)
    for (const f of IMMUTABLE_FIELDS[o.kind] ?? [])
      if (!deepEqual(candidate[f], o.current[f])) errors.push({ path: `/${f}`, code: 'immutable', message: 'cannot change after creation' });
  if (!o.current && o.action !== 'create' && candidate.id !== o.id) errors.push({ path: '/id', code: 'id_mismatch', message: `must be "${o.id}" (the id in the URL)` });
  errors.push(...check(o.inputSchema, candidate));
  return { candidate, errors };
}

/** `If-Match` / `If-None-Match` against the current revision (ETag `"<version>"`): 412 when they fail. */
export function checkPreconditions(current: StoredDoc | undefined, ifMatch: string | undefined, ifNoneMatch: string | undefined): void {
  if (ifMatch !== undefined && ifMatch !== '') {
    if (!current || !etagMatches(ifMatch, current.version))
      throw new ApiError(412, 'precondition_failed', current ? `the resource is at ${etag(current.version)}` : 'the resource does not exist');
  }
  if (ifNoneMatch !== undefined && ifNoneMatch !== '' && current) {
    if (ifNoneMatch.trim() === '*' || etagMatches(ifNoneMatch, current.version))
      throw new ApiError(412, 'precondition_failed', 'the resource exists');
  }
}

export const etag = (version: number) => `"${version}"`;

export function etagMatches(header: string, version: number): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag(version));
}
