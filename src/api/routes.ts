/**
 * The config API's routes, as data: the router registers them on uWS and openapi.ts describes
 * them, from the same specs and schemas.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { EventStore } from '../events/event-store.js';
import { blockPlacements, BlockPlacementsResultSchema, BlockPlacementsSchema } from './block-placements.js';
import type { StoredDoc } from '../campaigns/config-store.js';
import type { ConfigStore } from '../campaigns/config-store.js';
import { ApiError, forbidden, aKey, invalid } from './errors.js';
import { check } from './validation.js';
import { permits } from './policy.js';
import { actorOf, GET_QUERY, HISTORY_QUERY, LIST_QUERY, parseQuery, type ConfigResources, type ResourceKind, type WriteResult } from './resources.js';
import type { AudienceResources } from './audiences.js';
import { AUDIENCE_LIST_QUERY } from './audiences.js';
import { KEY_LIST_QUERY, publicKey, type KeyService } from './keys.js';
import { EXPORT_QUERY, IMPORT_QUERY, ImportResultSchema, exportConfig, importConfig, parseImportBody } from './transfer.js';
import type { ApiReply, ResponseSpec, RouteSpec } from './router.js';
import {
  AdvertiserInputSchema,
  AdvertiserOutSchema,
  ApiKeyCreatedSchema,
  ApiKeyInputSchema,
  ApiKeyOutSchema,
  ApiKeyPatchSchema,
  AudienceInputSchema,
  AudienceOutSchema,
  AuditEntrySchema,
  CampaignInputSchema,
  CampaignOutSchema,
  ConfigDocumentSchema,
  CreativeInputSchema,
  CreativeOutSchema,
  ExchangeInputSchema,
  ExchangeOutSchema,
  listOf,
  Role,
} from './schemas.js';
import { StringEnum } from '../campaigns/schema.js';
import { pixelSnippet } from '../events/pixel-snippet.js';
import { KillStateSchema, KillSwitchInputSchema, type KillSwitchAccess, type KillSwitchInput } from './kill-switch.js';

export const API_PREFIX = '/api/v1';

export const AuditPageSchema = Type.Object(
  { items: Type.Array(AuditEntrySchema), nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as cursor for older entries' }) },
  { title: 'AuditPage' },
);
export const AUDIT_QUERY = Type.Object(
  {
    kind: Type.Optional(StringEnum(['settings', 'exchanges', 'advertisers', 'campaigns', 'creatives', 'audiences', 'keys', 'kill-switch'])),
    id: Type.Optional(Type.String({ minLength: 1 })),
    actor: Type.Optional(Type.String({ minLength: 1, description: 'API key id' })),
    action: Type.Optional(Type.String({ minLength: 1 })),
    advertiserId: Type.Optional(Type.String({ minLength: 1 })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
  },
  { additionalProperties: false },
);
export const PrincipalSchema = Type.Object(
  { keyId: Type.String(), name: Type.Optional(Type.String()), role: Role, advertiserIds: Type.Optional(Type.Array(Type.String())) },
  { title: 'Principal' },
);
const PixelSchema = Type.Object(
  {
    advertiserId: Type.String(),
    url: Type.String({ description: 'GET it with {event} filled in; optional value, currency, item (and uid= from a server)' }),
    snippet: Type.String({ description: 'HTML to paste into every page: fires `visit`, and defines dspPixel(event, {value, currency, item})' }),
  },
  { title: 'Pixel' },
);
const DecileSchema = Type.Object({ count: Type.Integer(), predicted: Type.Number(), observed: Type.Number() });
const Figure = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
export const ModelsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'OUTCOME_MODELS is on' }),
    models: Type.Array(
      Type.Object({
        model: StringEnum(['click', 'conversion']),
        ready: Type.Boolean({ description: 'prices goals (else they bid their CPM fallback)' }),
        fallback: Type.Union([StringEnum(['cold_start', 'calibration', 'auc']), Type.Null()], {
          description: 'why goals bid their CPM fallback: not trained enough yet (cold_start), calibration outside OUTCOME_CALIBRATION_MIN..MAX (calibration), or AUC under OUTCOME_MIN_AUC (auc); null when the model prices goals',
        }),
        version: Type.Integer({ description: 'publication number' }),
        publishedAt: Type.String({ format: 'date-time' }),
        trained: Type.Integer({ description: 'examples trained on since the process started' }),
        positives: Type.Integer(),
        campaigns: Type.Integer({ description: 'campaigns with a table of their own' }),
        holdoutExamples: Type.Integer({ description: 'the recent examples the figures are over, each scored before the model trained on it' }),
        holdoutPositives: Type.Integer({ description: 'positives among them (calibration is judged from OUTCOME_CALIBRATION_MIN_POSITIVES)' }),
        auc: Figure('null without both a positive and a negative'),
        logLoss: Figure('null without examples'),
        calibration: Figure('mean prediction over observed rate (1: calibrated); null without a positive'),
        deciles: Type.Array(DecileSchema, { description: 'calibration per decile of prediction' }),
      }),
      { description: 'as of the last publication (empty before the first)' },
    ),
  },
  { title: 'Models' },
);
/** What `GET /api/v1/models` shows: the main thread's trainer (models/publisher.ts). */
export type ModelsView = () => Static<typeof ModelsSchema>;
const RebuildSchema = Type.Object(
  {
    id: Type.String(),
    kind: StringEnum(['lookalike', 'rule']),
    members: Type.Integer({ minimum: 0, description: 'members after the rebuild' }),
    removed: Type.Integer({ minimum: 0, description: 'members the rebuild took out' }),
    positives: Type.Optional(Type.Integer({ minimum: 0, description: "a lookalike: the seed's members among the users seen (its examples)" })),
    seconds: Type.Number(),
    builtAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, title: 'AudienceRebuild' },
);

const ReviewSchema = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) }, { additionalProperties: false, title: 'Review' });

const E = (description: string): ResponseSpec => ({ description, schema: undefined });
/** Errors every authenticated route can answer (the Error schema). */
const COMMON_ERRORS = { 401: E('no or invalid API key'), 429: E('rate limited (Retry-After)') };
const READ_ERRORS = { ...COMMON_ERRORS, 400: E('bad query (bad_query)'), 403: E('the key\'s role may not do this'), 404: E('no such resource (or another advertiser\'s)') };
const WRITE_ERRORS = {
  ...READ_ERRORS,
  400: E('validation_failed: every field error at once'),
  403: E('forbidden (role) or forbidden_field (fields only operators may set)'),
  409: E('conflict (id taken), in_use, concurrent_update'),
  412: E('If-Match does not match the current ETag'),
};

interface Singular {
  readonly kind: string;
  readonly name: string;
  readonly input: TSchema;
  readonly output: TSchema;
  readonly listQuery: TSchema;
  readonly service: {
    list(p: ApiReplyCtx['principal'], q: URLSearchParams): Promise<{ items: StoredDoc[]; total: number; nextCursor: string | null }>;
    get(id: string, p: ApiReplyCtx['principal'], q?: URLSearchParams): Promise<StoredDoc>;
    create(body: unknown, ctx: ApiReplyCtx['write']): Promise<WriteResult>;
    replace(id: string, body: unknown, ctx: ApiReplyCtx['write']): Promise<WriteResult>;
    update(id: string, body: unknown, ctx: ApiReplyCtx['write']): Promise<WriteResult>;
    setPaused(id: string, paused: boolean, ctx: ApiReplyCtx['write']): Promise<WriteResult>;
    remove(id: string, ctx: ApiReplyCtx['write']): Promise<WriteResult>;
    history(id: string, p: ApiReplyCtx['principal'], q: URLSearchParams): Promise<{ items: unknown[]; nextCursor: number | null }>;
  };
}
type ApiReplyCtx = Parameters<RouteSpec['handler']>[0];

const ok = (doc: StoredDoc, status = 200): ApiReply => ({ status, body: doc, version: doc.version });
const written = (r: WriteResult, base: string): ApiReply => ({
  status: r.created ? 201 : 200,
  body: r.doc,
  version: r.doc.version,
  headers: r.created ? { location: `${base}/${encodeURIComponent(r.doc.id)}` } : undefined,
});
const cursorPage = (p: { items: unknown[]; nextCursor: number | null }) => ({ items: p.items, nextCursor: p.nextCursor === null ? null : String(p.nextCursor) });

/** The CRUD + pause/resume + history routes of one resource. */
function resourceRoutes(r: Singular): RouteSpec[] {
  const base = `${API_PREFIX}/${r.kind}`;
  const one = `${base}/{id}`;
  const tag = r.kind;
  const body = { body: 'json' as const, requestSchema: r.input };
  const etagged = (description: string, status = 200) => ({ [status]: { description, schema: r.output, etag: true } });
  return [
    {
      method: 'get',
      path: base,
      tag,
      summary: `List ${r.kind} (paged, filtered; only the key's own for advertiser keys)`,
      query: r.listQuery,
      responses: { 200: { description: 'a page', schema: listOf(r.output, `${r.name}List`) }, ...READ_ERRORS },
      handler: async (c) => ({ status: 200, body: await r.service.list(c.principal, c.query) }),
    },
    {
      method: 'post',
      path: base,
      tag,
      summary: `Create ${/^[aeiou]/.test(r.name) ? 'an' : 'a'} ${r.name.toLowerCase()}`,
      ...body,
      responses: { ...etagged('created', 201), ...WRITE_ERRORS },
      handler: async (c) => written(await r.service.create(c.body, c.write), base),
    },
    {
      method: 'get',
      path: one,
      tag,
      summary: `Read one (includeDeleted=true shows a soft-deleted one)`,
      query: GET_QUERY,
      responses: { ...etagged('the resource'), 304: E('If-None-Match matches'), ...READ_ERRORS },
      preconditions: true,
      handler: async (c) => {
        const doc = await r.service.get(c.params.id, c.principal, c.query);
        const inm = c.write.ifNoneMatch;
        if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${doc.version}"` || t.trim() === '*'))
          return { status: 304, version: doc.version };
        return ok(doc);
      },
    },
    {
      method: 'put',
      path: one,
      tag,
      summary: 'Replace (or create under this id). Status fields and fields the key may not set keep their values when left out',
      ...body,
      preconditions: true,
      responses: { ...etagged('replaced'), ...etagged('created', 201), ...WRITE_ERRORS },
      handler: async (c) => written(await r.service.replace(c.params.id, c.body, c.write), base),
    },
    {
      method: 'patch',
      path: one,
      tag,
      summary: 'Update part of it: JSON Merge Patch (RFC 7396), null removes a field',
      ...body,
      requestContentTypes: ['application/merge-patch+json', 'application/json'],
      preconditions: true,
      responses: { ...etagged('updated'), ...WRITE_ERRORS },
      handler: async (c) => ok((await r.service.update(c.params.id, c.body, c.write)).doc),
    },
    {
      method: 'del',
      path: one,
      tag,
      summary: 'Soft delete: gone from lists, reads and bids; kept with its history; its id is not reused',
      preconditions: true,
      responses: { ...etagged('deleted (the tombstone, with deletedAt)'), ...WRITE_ERRORS },
      handler: async (c) => ok((await r.service.remove(c.params.id, c.write)).doc),
    },
    {
      method: 'post',
      path: `${one}/pause`,
      tag,
      summary: 'Pause (stops bidding at once on every bidder)',
      preconditions: true,
      responses: { ...etagged('paused'), ...WRITE_ERRORS },
      handler: async (c) => ok((await r.service.setPaused(c.params.id, true, c.write)).doc),
    },
    {
      method: 'post',
      path: `${one}/resume`,
      tag,
      summary: 'Resume',
      preconditions: true,
      responses: { ...etagged('resumed'), ...WRITE_ERRORS },
      handler: async (c) => ok((await r.service.setPaused(c.params.id, false, c.write)).doc),
    },
    {
      method: 'get',
      path: `${one}/history`,
      tag,
      summary: 'Its audit entries (every change, before and after), newest first; deleted ones too',
      query: HISTORY_QUERY,
      responses: { 200: { description: 'a page of audit entries', schema: AuditPageSchema }, ...READ_ERRORS },
      handler: async (c) => ({ status: 200, body: cursorPage(await r.service.history(c.params.id, c.principal, c.query)) }),
    },
  ];
}

export interface RouteDeps {
  readonly store: ConfigStore;
  readonly resources: ConfigResources;
  readonly audiences?: AudienceResources;
  readonly keys: KeyService;
  readonly importLimit: number;
  readonly openapi: () => unknown;
  /** The exchange-facing base URL the pixel snippets call. */
  readonly pixelBaseUrl: string;
  readonly models: ModelsView;
  /** The event store reports read (undefined until it is open, or in a process without one). */
  readonly events: () => EventStore | undefined;
  /** The budget store's kill switch (undefined in a process without one). */
  readonly killSwitch: () => KillSwitchAccess | undefined;
}

export function buildRoutes(d: RouteDeps): RouteSpec[] {
  const store = (kind: ResourceKind, name: string, input: TSchema, output: TSchema): Singular => ({
    kind,
    name,
    input,
    output,
    listQuery: LIST_QUERY[kind],
    service: {
      list: (p, q) => d.resources.list(kind, p, q),
      get: (id, p, q) => d.resources.get(kind, id, p, q),
      create: (b, c) => d.resources.create(kind, b, c),
      replace: (id, b, c) => d.resources.replace(kind, id, b, c),
      update: (id, b, c) => d.resources.update(kind, id, b, c),
      setPaused: (id, paused, c) => d.resources.setPaused(kind, id, paused, c),
      remove: (id, c) => d.resources.remove(kind, id, c),
      history: (id, p, q) => d.resources.history(kind, id, p, q),
    },
  });
  const routes: RouteSpec[] = [
    {
      method: 'get',
      path: `${API_PREFIX}/openapi.json`,
      tag: 'meta',
      summary: 'This document (no key needed)',
      auth: false,
      responses: { 200: { description: 'OpenAPI 3.1' } },
      handler: () => ({ status: 200, body: d.openapi() }),
    },
    {
      method: 'get',
      path: `${API_PREFIX}/me`,
      tag: 'meta',
      summary: 'The calling key: id, role, advertisers',
      responses: { 200: { description: 'the key', schema: PrincipalSchema }, ...COMMON_ERRORS },
      handler: (c) => ({
        status: 200,
        body: { keyId: c.principal.keyId, name: c.principal.name, role: c.principal.role, advertiserIds: c.principal.advertiserIds && [...c.principal.advertiserIds] },
      }),
    },
    ...resourceRoutes(store('advertisers', 'Advertiser', AdvertiserInputSchema, AdvertiserOutSchema)),
    {
      method: 'get',
      path: `${API_PREFIX}/advertisers/{id}/pixel`,
      tag: 'advertisers',
      summary: "The advertiser's pixel: its URL and the snippet to paste into its pages (only the key's own advertisers)",
      responses: { 200: { description: 'the pixel', schema: PixelSchema }, ...READ_ERRORS },
      handler: async (c) => {
        const adv = await d.resources.get('advertisers', c.params.id, c.principal);
        const id = String(adv.id);
        return { status: 200, body: { advertiserId: id, url: `${d.pixelBaseUrl}/px/${encodeURIComponent(id)}/{event}`, snippet: pixelSnippet(d.pixelBaseUrl, id) } };
      },
    },
    ...resourceRoutes(store('campaigns', 'Campaign', CampaignInputSchema, CampaignOutSchema)),
    {
      method: 'post',
      path: `${API_PREFIX}/campaigns/{id}/block-placements`,
      tag: 'campaigns',
      summary: "Add the campaign's worst placements of a report range (by ctr, cvr, ecpa or win_rate) to its domain and bundle block lists",
      description:
        'Placements with at least minImpressions impressions in [from, to) are ranked (lowest ctr, cvr or win_rate; highest ecpa, spend without a conversion worst); ' +
        'the worst N not yet blocked are added to targeting.domains.block (sites) and targeting.bundles.block (apps) as a PATCH of the campaign would: same rules, a new revision, an audit entry.',
      body: 'json',
      requestSchema: BlockPlacementsSchema,
      preconditions: true,
      responses: { 200: { description: 'what was added, and the campaign', schema: BlockPlacementsResultSchema, etag: true }, 422: E('report_too_large'), 503: E('store_unavailable'), ...WRITE_ERRORS },
      handler: async (c) => {
        const r = await blockPlacements(d.resources, d.events(), c.params.id, c.body, c.write);
        return { status: 200, body: r, version: r.campaign.version };
      },
    },
    ...resourceRoutes(store('creatives', 'Creative', CreativeInputSchema, CreativeOutSchema)),
    {
      method: 'post',
      path: `${API_PREFIX}/creatives/{id}/approve`,
      tag: 'creatives',
      summary: 'Approve (admin keys only; advertisers cannot approve, not even their own)',
      body: 'json',
      requestSchema: ReviewSchema,
      preconditions: true,
      responses: { 200: { description: 'approved', schema: CreativeOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => ok((await d.resources.review(c.params.id, 'approved', c.body, c.write)).doc),
    },
    {
      method: 'post',
      path: `${API_PREFIX}/creatives/{id}/reject`,
      tag: 'creatives',
      summary: 'Reject with a reason (admin keys only)',
      body: 'json',
      requestSchema: ReviewSchema,
      preconditions: true,
      responses: { 200: { description: 'rejected', schema: CreativeOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => ok((await d.resources.review(c.params.id, 'rejected', c.body, c.write)).doc),
    },
    ...resourceRoutes(store('exchanges', 'Exchange', ExchangeInputSchema, ExchangeOutSchema)),
  ];
  if (d.audiences) {
    const a = d.audiences;
    routes.push(
      ...resourceRoutes({
        kind: 'audiences',
        name: 'Audience',
        input: AudienceInputSchema,
        output: AudienceOutSchema,
        listQuery: AUDIENCE_LIST_QUERY,
        service: {
          list: (p, q) => a.list(p, q),
          get: (id, p, q) => a.get(id, p, q),
          create: (b, c) => a.create(b, c),
          replace: (id, b, c) => a.replace(id, b, c),
          update: (id, b, c) => a.update(id, b, c),
          setPaused: (id, paused, c) => a.setPaused(id, paused, c),
          remove: (id, c) => a.remove(id, c),
          history: (id, p, q) => a.history(id, p, q),
        },
      }),
      {
        method: 'post',
        path: `${API_PREFIX}/audiences/{id}/rebuild`,
        tag: 'audiences',
        summary: 'Rebuild a lookalike or rule audience now (operators and the owning advertiser); answers when the rebuild is done',
        description:
          'A lookalike is trained again on the profiles of the users seen and its members replaced; a rule audience is recomputed from the event store over its lookback. ' +
          '409 not_rebuildable for an uploaded audience, paused for a paused one, rebuild_running while one runs; 503 rebuild_unavailable when this bidder does not build that kind (LOOKALIKES off).',
        responses: {
          200: { description: 'rebuilt', schema: RebuildSchema },
          ...READ_ERRORS,
          409: E('not_rebuildable, paused, rebuild_running'),
          503: E('rebuild_unavailable'),
        },
        handler: async (c) => ({ status: 200, body: await a.rebuild(c.params.id, c.principal) }),
      },
    );
  }
  const killSwitch = () => {
    const k = d.killSwitch();
    if (!k) throw new ApiError(503, 'store_unavailable', 'this bidder has no budget store, so no kill switch');
    return k;
  };
  const adminOnly = (c: { principal: { role: string } }) => {
    if (c.principal.role !== 'admin') throw forbidden('the kill switch needs an admin key');
  };
  routes.push(
    {
      method: 'get',
      path: `${API_PREFIX}/kill-switch`,
      tag: 'kill-switch',
      summary: 'The kill switch: whether all bidding is stopped, and the campaigns stopped one by one (admin keys only)',
      responses: { 200: { description: 'the switch', schema: KillStateSchema }, 503: E('store_unavailable'), ...READ_ERRORS },
      handler: async (c) => {
        adminOnly(c);
        return { status: 200, body: await killSwitch().read() };
      },
    },
    {
      method: 'put',
      path: `${API_PREFIX}/kill-switch`,
      tag: 'kill-switch',
      summary: 'Stop or release all bidding, or one campaign (admin keys only); every bidder follows on its next budget renewal',
      body: 'json',
      requestSchema: KillSwitchInputSchema,
      responses: { 200: { description: 'the switch now', schema: KillStateSchema }, 503: E('store_unavailable'), ...WRITE_ERRORS },
      handler: async (c) => {
        adminOnly(c);
        const errors = check(KillSwitchInputSchema, c.body);
        if (errors.length) throw invalid(errors);
        const b = c.body as KillSwitchInput;
        const k = killSwitch();
        const before = await k.read();
        const after = await k.set(b.on, b.campaign);
        // Who stopped or released bidding, and when, goes in the audit log like any other change
        // (an entry with no document: the switch lives in the budget store).
        await d.store.commit([], [
          { at: new Date().toISOString(), actor: actorOf(c.principal), action: b.on ? 'stop' : 'release', kind: 'kill-switch', id: b.campaign ?? 'all', requestId: c.requestId, before, after },
        ]);
        return { status: 200, body: after };
      },
    },
  );
  const keys = `${API_PREFIX}/keys`;
  routes.push(
    {
      method: 'get',
      path: keys,
      tag: 'keys',
      summary: 'List API keys (admin keys only; never the secrets)',
      query: KEY_LIST_QUERY,
      responses: { 200: { description: 'a page', schema: listOf(ApiKeyOutSchema, 'ApiKeyList') }, ...READ_ERRORS },
      handler: async (c) => ({ status: 200, body: await d.keys.list(c.principal, c.query) }),
    },
    {
      method: 'post',
      path: keys,
      tag: 'keys',
      summary: 'Create an API key; the answer carries the key itself, once (only its salted hash is stored)',
      body: 'json',
      requestSchema: ApiKeyInputSchema,
      responses: { 201: { description: 'created', schema: ApiKeyCreatedSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => {
        const { doc, key } = await d.keys.create(c.body, c.write);
        return { status: 201, body: { ...publicKey(doc), key }, version: doc.version, headers: { location: `${keys}/${doc.id}` } };
      },
    },
    {
      method: 'get',
      path: `${keys}/{id}`,
      tag: 'keys',
      summary: 'Read one key',
      responses: { 200: { description: 'the key', schema: ApiKeyOutSchema, etag: true }, ...READ_ERRORS },
      handler: async (c) => {
        const doc = await d.keys.get(c.params.id, c.principal);
        return { status: 200, body: publicKey(doc), version: doc.version };
      },
    },
    {
      method: 'patch',
      path: `${keys}/{id}`,
      tag: 'keys',
      summary: 'Rename, or change its rate limit (null: the default)',
      body: 'json',
      requestSchema: ApiKeyPatchSchema,
      preconditions: true,
      responses: { 200: { description: 'updated', schema: ApiKeyOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => {
        const doc = await d.keys.update(c.params.id, c.body, c.write);
        return { status: 200, body: publicKey(doc), version: doc.version };
      },
    },
    {
      method: 'del',
      path: `${keys}/{id}`,
      tag: 'keys',
      summary: 'Revoke for good (the record stays for the audit trail)',
      preconditions: true,
      responses: { 200: { description: 'revoked', schema: ApiKeyOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => {
        const doc = await d.keys.revoke(c.params.id, c.write);
        return { status: 200, body: publicKey(doc), version: doc.version };
      },
    },
    ...(['pause', 'resume'] as const).map(
      (action): RouteSpec => ({
        method: 'post',
        path: `${keys}/{id}/${action}`,
        tag: 'keys',
        summary: action === 'pause' ? 'Disable for now' : 'Enable again',
        preconditions: true,
        responses: { 200: { description: `${action}d`, schema: ApiKeyOutSchema, etag: true }, ...WRITE_ERRORS },
        handler: async (c) => {
          const doc = await d.keys.setPaused(c.params.id, action === 'pause', c.write);
          return { status: 200, body: publicKey(doc), version: doc.version };
        },
      }),
    ),
    {
      method: 'get',
      path: `${API_PREFIX}/audit`,
      tag: 'audit',
      summary: 'The audit log: every change (who, what, when, before and after), newest first; advertiser keys see their advertisers\' entries only',
      query: AUDIT_QUERY,
      responses: { 200: { description: 'a page', schema: AuditPageSchema }, ...READ_ERRORS },
      handler: async (c) => {
        if (!permits(c.principal, 'audit', 'read')) throw forbidden(`${aKey(c.principal.role)} may not read the audit log`);
        const q = parseQuery(AUDIT_QUERY, c.query);
        const scope = c.principal.advertiserIds;
        const page = await d.store.queryAudit({
          kind: q.kind as string | undefined,
          id: q.id as string | undefined,
          actor: q.actor as string | undefined,
          action: q.action as string | undefined,
          advertiserId: q.advertiserId as string | undefined,
          advertiserIds: scope ? [...scope] : undefined,
          since: q.since as string | undefined,
          until: q.until as string | undefined,
          before: q.cursor === undefined ? undefined : Number(q.cursor),
          limit: (q.limit as number | undefined) ?? 50,
        });
        return { status: 200, body: cursorPage(page) };
      },
    },
    {
      method: 'get',
      path: `${API_PREFIX}/models`,
      tag: 'models',
      summary: 'The outcome models (click, conversion): readiness, examples, AUC, log loss and calibration on recent examples, as of their last publication. Operators and unscoped read-only keys only: the models learn from every advertiser\'s traffic',
      responses: { 200: { description: 'each model', schema: ModelsSchema }, ...COMMON_ERRORS, 403: E('advertiser keys and scoped read-only keys') },
      handler: (c) => {
        if (!permits(c.principal, 'models', 'read')) throw forbidden(`${aKey(c.principal.role)} may not read the outcome models`);
        return { status: 200, body: d.models() };
      },
    },
    {
      method: 'get',
      path: `${API_PREFIX}/export`,
      tag: 'config',
      summary: 'The whole configuration as one file (JSON, or YAML with format=yaml or Accept: application/yaml); shape=bundle: what bids now, in the config/ file format',
      query: EXPORT_QUERY,
      responses: { 200: { description: 'the configuration', schema: ConfigDocumentSchema, contentTypes: ['application/json', 'application/yaml'] }, ...READ_ERRORS },
      handler: async (c) => {
        const r = await exportConfig(d.store, c.principal, c.query, c.accept);
        return { status: 200, text: r.text, contentType: r.contentType, headers: { 'content-disposition': `attachment; filename="${r.filename}"` } };
      },
    },
    {
      method: 'post',
      path: `${API_PREFIX}/import`,
      tag: 'config',
      summary: 'Import a config document or a config/ file (JSON or YAML; admin keys only), validated all at once, applied in one commit. mode=merge (default) or replace; dryRun=true',
      body: 'raw',
      bodyLimit: d.importLimit,
      requestSchema: ConfigDocumentSchema,
      requestContentTypes: ['application/json', 'application/yaml'],
      query: IMPORT_QUERY,
      responses: { 200: { description: 'what changed', schema: ImportResultSchema }, ...WRITE_ERRORS },
      handler: async (c) => {
        if (!permits(c.principal, 'config', 'import')) throw forbidden(`${aKey(c.principal.role)} may not import a configuration`);
        parseQuery(IMPORT_QUERY, c.query);
        if (!c.raw) throw new ApiError(400, 'validation_failed', 'the body is empty');
        return { status: 200, body: await importConfig(d.store, parseImportBody(c.raw, c.contentType), c.query, c.write) };
      },
    },
  );
  return routes;
}
