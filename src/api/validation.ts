/**
 * ajv for the config API: bodies are validated against the TypeBox schemas of schemas.ts (every
 * error at once, JSON-pointer paths, stable codes via campaigns/validate.ts), query strings
 * against their own schemas with string-to-number/boolean coercion.
 */
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { fromAjvErrors } from '../campaigns/validate.js';
import type { FieldError } from '../errors.js';

const Ajv = AjvModule.default ?? AjvModule;
const addFormats = addFormatsModule.default ?? addFormatsModule;

export function newAjv(coerce = false) {
  const ajv = new Ajv({ allErrors: true, discriminator: true, strict: false, useDefaults: false, coerceTypes: coerce, verbose: true });
  addFormats(ajv);
  return ajv;
}

const bodies = newAjv();
const queries = newAjv(true);
const cache = new WeakMap<TSchema, ValidateFunction>();
const queryCache = new WeakMap<TSchema, ValidateFunction>();

/** Field errors of `value` against `schema` (paths prefixed with `prefix`). */
export function check(schema: TSchema, value: unknown, prefix = ''): FieldError[] {
  let v = cache.get(schema);
  if (!v) cache.set(schema, (v = bodies.compile(schema)));
  return v(value) ? [] : fromAjvErrors(v.errors?.map(discriminatorAtTag), prefix);
}

/** ajv reports an unknown discriminator value against the object; the API reports it against the tag field. */
function discriminatorAtTag(e: ErrorObject): ErrorObject {
  if (e.keyword !== 'discriminator') return e;
  const tag = (e.params as { tag?: string }).tag ?? 'type';
  const allowed = ((e.parentSchema as { oneOf?: { properties?: Record<string, { const?: unknown }> }[] } | undefined)?.oneOf ?? [])
    .map((b) => b.properties?.[tag]?.const)
    .filter((x) => x !== undefined);
  return { ...e, instancePath: `${e.instancePath}/${tag}`, message: allowed.length ? `must be one of: ${allowed.join(', ')}` : `has no known value` };
}

/** Validates (and coerces, in place) a query object; errors name the parameter (`?limit`). */
export function checkQuery(schema: TSchema, value: Record<string, unknown>): FieldError[] {
  let v = queryCache.get(schema);
  if (!v) queryCache.set(schema, (v = queries.compile(schema)));
  if (v(value)) return [];
  return fromAjvErrors(v.errors).map((e) => ({ ...e, path: `?${e.path.replace(/^\//, '')}` }));
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}

/** JSON Merge Patch (RFC 7396): `null` removes a field, objects merge, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const key of Object.keys(patch)) {
    if (patch[key] === null) delete out[key];
    // defineProperty: a "__proto__" key stays an own (unknown, refused) field, never a prototype.
    else Object.defineProperty(out, key, { value: mergePatch(out[key], patch[key]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
