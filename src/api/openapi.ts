/**
 * The OpenAPI 3.1 document of the config API, generated from the route specs and the very
 * TypeBox schemas that validate requests (components.schemas are those schemas, serialised), so
 * the document cannot drift from what the API accepts.
 */
import type { TSchema } from '@sinclair/typebox';
import type { DocumentedRoute, ResponseSpec, RouteSpec } from './router.js';
import { AuditEntrySchema, ErrorSchema, FieldErrorSchema } from './schemas.js';
import { PROBLEM_JSON } from './problem.js';


/** A plain JSON copy (TypeBox's symbol keys dropped). */
const plain = (s: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(s)) as Record<string, unknown>;

export function openApiDocument(routes: readonly DocumentedRoute[], info: { version: string }): Record<string, unknown> {
  const components: Record<string, unknown> = { Error: plain(ErrorSchema), FieldError: plain(FieldErrorSchema), AuditEntry: plain(AuditEntrySchema) };
  const ref = (s: TSchema | undefined): unknown => {
    if (!s) return undefined;
    const title = (s as { title?: string }).title;
    if (!title) return plain(s);
    components[title] ??= plain(s);
    return { $ref: `#/components/schemas/${title}` };
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params: unknown[] = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const q = r.query as { properties?: Record<string, TSchema> } | undefined;
    for (const [name, schema] of Object.entries(q?.properties ?? {})) params.push({ name, in: 'query', required: false, schema: plain(schema) });
    if (r.preconditions)
      params.push(
        { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'the ETag you read: the change is refused with 412 if the resource moved since' },
        { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' }, description: '"*" on PUT: create only; an ETag on GET: 304 when unchanged' },
      );
    // Every authenticated POST honours Idempotency-Key (router.ts → idempotency.ts).
    const idempotent = r.method === 'post' && r.auth !== false;
    if (idempotent)
      params.push({
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        schema: { type: 'string', minLength: 1, maxLength: 257 },
        description:
          'a unique key per request (1-255 visible ASCII characters, optionally quoted): the same key from the same API key with the same request within 24 h gets the first answer again (status, ETag, Location, body; `Idempotent-Replayed: true`) and creates nothing more; with another request, 422 `idempotency_key_reused`; while the first still runs, 409 `idempotency_key_in_use`',
      });
    const idempotencyResponses: Record<number, ResponseSpec> = idempotent
      ? { 409: { description: '`idempotency_key_in_use`: a request with this Idempotency-Key is still running (retry after Retry-After)' }, 422: { description: '`idempotency_key_reused`: this Idempotency-Key was used with another request' } }
      : {};
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries({ ...idempotencyResponses, ...r.responses })) {
      const n = Number(status);
      const schema = n >= 400 ? { $ref: '#/components/schemas/Error' } : ref(spec.schema);
      const types = n >= 400 ? [PROBLEM_JSON] : (spec.contentTypes ?? ['application/json']);
      const content = schema ? Object.fromEntries(types.map((t) => [t, { schema }])) : undefined;
      responses[status] = {
        description: spec.description,
        ...(content ? { content } : {}),
        ...(spec.etag ? { headers: { ETag: { description: 'the revision, `"<version>"`', schema: { type: 'string' } } } } : {}),
      };
    }
    const op: Record<string, unknown> = {
      operationId: `${r.method === 'del' ? 'delete' : r.method}${r.path.replace(/^\/api\/v1/, '').replace(/\{(\w+)\}/g, 'By-$1').replace(/[/.-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      tags: [r.tag],
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.requestSchema
        ? {
            requestBody: {
              required: r.method !== 'post' || !/\/(approve|reject)$/.test(r.path),
              content: Object.fromEntries((r.requestContentTypes ?? ['application/json']).map((t) => [t, { schema: ref(r.requestSchema) }])),
            },
          }
        : {}),
      responses,
      ...(r.auth === false ? { security: [] } : {}),
    };
    (paths[r.path] ??= {})[r.method === 'del' ? 'delete' : r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rtb-bidder config API',
      version: info.version,
      description:
        'Advertisers, campaigns, creatives, audiences and exchanges of the bidder. `Authorization: Bearer <api key>`. ' +
        'Errors are RFC 9457 problem details (`application/problem+json`): `{ type, title, status, detail, instance, code, errors: [{ pointer, path, code, message }] }` with stable codes in `code`. ' +
        'Responses carry an ETag; writes with a stale If-Match get 412.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key (the first admin key is DSP_ADMIN_KEY)' } },
    },
  };
}
