/**
 * What the config API's route families share: the path prefix, the error answers they document,
 * and the shapes of their replies.
 */
import { Type } from '@sinclair/typebox';
import type { StoredDoc } from '../../campaigns/config-store.js';
import type { WriteResult } from '../resources.js';
import type { ApiReply, ResponseSpec } from '../router.js';
import { AuditEntrySchema } from '../schemas.js';

export const API_PREFIX = '/api/v1';

export const AuditPageSchema = Type.Object(
  { items: Type.Array(AuditEntrySchema), nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as cursor for older entries' }) },
  { title: 'AuditPage' },
);

/** A documented answer without a body schema of its own (errors: the Error schema). */
export const E = (description: string): ResponseSpec => ({ description, schema: undefined });
/** Errors every authenticated route can answer (the Error schema). */
export const COMMON_ERRORS = { 401: E('no or invalid API key'), 429: E('rate limited (Retry-After)') };
export const READ_ERRORS = { ...COMMON_ERRORS, 400: E('bad query (bad_query)'), 403: E('the key\'s role may not do this'), 404: E('no such resource (or another advertiser\'s)') };
export const WRITE_ERRORS = {
  ...READ_ERRORS,
  400: E('validation_failed: every field error at once'),
  403: E('forbidden (role) or forbidden_field (fields only operators may set)'),
  409: E('conflict (id taken), in_use, concurrent_update'),
  412: E('If-Match does not match the current ETag'),
};

/** A document as it is now, with its ETag. */
export const ok = (doc: StoredDoc, status = 200): ApiReply => ({ status, body: doc, version: doc.version });

/** A write's outcome: 201 with Location when it created the document under `base`, else 200. */
export const written = (r: WriteResult, base: string): ApiReply => ({
  status: r.created ? 201 : 200,
  body: r.doc,
  version: r.doc.version,
  headers: r.created ? { location: `${base}/${encodeURIComponent(r.doc.id)}` } : undefined,
});

/** A page of audit entries, its cursor as a string. */
export const cursorPage = (p: { items: unknown[]; nextCursor: number | null }) => ({ items: p.items, nextCursor: p.nextCursor === null ? null : String(p.nextCursor) });
