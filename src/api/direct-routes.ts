/**
 * The admin-port routes served outside the config API's router, by src/http code that needs the
 * raw response (streamed uploads with backpressure, CSV reports, the kill switch), described for the
 * OpenAPI document so generated clients can call them too. Same keys, roles, tenancy and problem
 * documents as the rest of the API (api/index.ts `audienceAccess`, api/guard.ts, http/money-routes.ts).
 * Each is registered with `documentedAs(method, path)`, so the document is generated from the routes
 * registered on the admin server; tests/api/openapi.test.ts walks them (Fastify's onRoute hook) and
 * fails if one is not documented.
 */
import { Type } from '@sinclair/typebox';
import type { DocumentedRoute, ResponseSpec } from './router.js';
import { operationSchema } from './openapi.js';
import type { AdminServer } from './admin-server.js';
import { API_PREFIX } from './routes.js';

const E = (description: string): ResponseSpec => ({ description });
const KEYED = { 401: E('no or invalid API key'), 429: E('rate limited (Retry-After)') };

const UploadProgressSchema = Type.Object(
  {
    uploadId: Type.String(),
    segmentId: Type.String(),
    format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')]),
    state: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('aborted')]),
    bytes: Type.Integer(),
    lines: Type.Integer(),
    accepted: Type.Integer(),
    rejected: Type.Integer(),
    errors: Type.Array(Type.Object({ line: Type.Integer(), message: Type.String() }), { description: 'the first 20 rejected lines' }),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    failure: Type.Optional(Type.String()),
  },
  { title: 'AudienceUpload', additionalProperties: true },
);
const KillStateSchema = Type.Object(
  { all: Type.Boolean(), campaigns: Type.Array(Type.String()) },
  { title: 'AdminKillState', additionalProperties: true },
);

export const DIRECT_ROUTES: readonly DocumentedRoute[] = [
  {
    method: 'post',
    path: `${API_PREFIX}/audiences/{id}/members`,
    tag: 'audiences',
    summary: 'Upload members (streamed CSV or NDJSON)',
    description:
      'CSV `user_id,id_type[,segments[,ttl]]` (RFC 4180) or NDJSON `{user_id,id_type,segments?,ttl?}`, streamed. Creates the segment if needed (`name`, `advertiserId`, `ttl`); rows may name only segments of the key\'s advertisers.',
    body: 'raw',
    requestSchema: Type.String({ description: 'the rows' }),
    requestContentTypes: ['text/csv', 'application/x-ndjson'],
    query: Type.Object({
      name: Type.Optional(Type.String()),
      advertiserId: Type.Optional(Type.String()),
      ttl: Type.Optional(Type.Integer({ minimum: 1 })),
      uploadId: Type.Optional(Type.String({ description: 'names the upload for progress' })),
    }),
    responses: {
      200: { description: 'the upload\'s counts and first errors', schema: UploadProgressSchema },
      ...KEYED,
      400: E('invalid segment id'),
      403: E('the key\'s role may not upload'),
      404: E('another advertiser\'s segment'),
      413: E('over the upload limit'),
      415: E('neither text/csv nor application/x-ndjson'),
    },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/audience-uploads`,
    tag: 'audiences',
    summary: 'Running and recent uploads',
    responses: { 200: { description: 'uploads the key sees', schema: Type.Object({ uploads: Type.Array(UploadProgressSchema) }, { title: 'AudienceUploadList' }) }, ...KEYED, 403: E('the key\'s role may not') },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/audience-uploads/{uploadId}`,
    tag: 'audiences',
    summary: 'One upload\'s progress',
    responses: { 200: { description: 'the upload', schema: UploadProgressSchema }, ...KEYED, 404: E('no such upload (or another advertiser\'s)') },
  },
  {
    method: 'del',
    path: `${API_PREFIX}/users/{idType}/{userId}/segments`,
    tag: 'audiences',
    summary: 'Forget a user\'s segments (every advertiser\'s: admin keys only)',
    responses: { 200: { description: 'forgotten', schema: Type.Object({ key: Type.String(), removed: Type.Literal(true) }) }, ...KEYED, 400: E('invalid user id'), 403: E('not an admin key'), 404: E('no segments for the user') },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/reports`,
    tag: 'reports',
    summary: 'Delivery report, grouped (JSON, or CSV with Accept: text/csv or format=csv)',
    query: Type.Object({
      groupBy: Type.String({ description: 'comma-separated: advertiser, campaign, creative, exchange, plus hour or day' }),
      from: Type.String({ description: 'ISO 8601 date or date-time (inclusive)' }),
      to: Type.String({ description: 'ISO 8601 date or date-time (exclusive; a date includes that day)' }),
      format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
    }),
    responses: {
      200: { description: '`{ rows, groupBy, from, to }`, or CSV', schema: Type.Object({ rows: Type.Array(Type.Record(Type.String(), Type.Unknown())) }, { additionalProperties: true }), contentTypes: ['application/json', 'text/csv'] },
      ...KEYED,
      400: E('invalid parameters (field errors name them)'),
      403: E('the key\'s role may not read reports'),
      422: E('report_too_large'),
      503: E('the event store is unavailable'),
    },
  },
  {
    method: 'get',
    path: '/admin/kill-switch',
    tag: 'kill-switch',
    summary: 'The kill switch (admin keys; the same state as /api/v1/kill-switch)',
    responses: { 200: { description: 'the state', schema: KillStateSchema }, 403: E('not an admin key'), 429: E('too many failed authentications from the address') },
  },
  {
    method: 'put',
    path: '/admin/kill-switch',
    tag: 'kill-switch',
    summary: 'Stop all bidding, or one campaign\'s (admin keys)',
    body: 'json',
    requestSchema: Type.Object({ on: Type.Boolean(), campaign: Type.Optional(Type.String()) }, { additionalProperties: false }),
    responses: { 200: { description: 'the new state', schema: KillStateSchema }, 400: E('validation_failed'), 403: E('not an admin key'), 429: E('too many failed authentications from the address') },
  },
];

/** The documented route of `method path` (OpenAPI-style path), for a route's Fastify `config.documented`. */
export function directRoute(method: DocumentedRoute['method'], path: string): DocumentedRoute {
  const r = DIRECT_ROUTES.find((d) => d.method === method && d.path === path);
  if (!r) throw new Error(`no documented route ${method} ${path} in api/direct-routes.ts`);
  return r;
}

/** Fastify route options that document a route: its schema (summary, tags, parameters) and the spec openapi.ts reads. */
export function documentedAs(app: AdminServer, method: DocumentedRoute['method'], path: string): { schema: Record<string, unknown>; config: { documented: DocumentedRoute } } {
  const r = directRoute(method, path);
  return { schema: operationSchema(app, r), config: { documented: r } };
}
