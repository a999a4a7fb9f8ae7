/**
 * Advertisers, campaigns, creatives and exchanges over the config store: list with paging and
 * filters, read, create, replace (PUT), update (JSON Merge Patch), pause/resume, soft delete,
 * creative review, history. Every write:
 *   - reads the whole configuration at one version,
 *   - builds the candidate (write-rules.ts), checks references, then the cross-field rules of
 *     campaigns/validate.ts over the whole prospective configuration (the resource's own errors,
 *     plus any it would cause in others, as `breaks_dependent`),
 *   - commits the document, its cascades and audit entries in one compare-and-set on that
 *     version (retried when someone else wrote in between; 412 when If-Match no longer holds).
 */
import { randomBytes } from 'node:crypto';
import { Type, type TSchema } from '@sinclair/typebox';
import {
  ownerOf,
  ruleErrorsByDoc,
  type AuditDraft,
  type BundleKind,
  type ConfigStore,
  type StoreState,
  type StoreWrite,
  type StoredDoc,
} from '../campaigns/config-store.js';
import type { FieldError } from '../errors.js';
import type { Principal } from './auth.js';
import { ApiError, forbidden, invalid, notFound, singular, aKey } from './errors.js';
import { permits, sees, type Action } from './policy.js';
import {
  AdvertiserInputSchema,
  CampaignInputSchema,
  CreativeInputSchema,
  ExchangeInputSchema,
  SYSTEM_FIELDS,
} from './schemas.js';
import { check, checkQuery, deepEqual } from './validation.js';
import { checkPreconditions, prepare, writableOf, type BodyAction } from './write-rules.js';
import { StringEnum } from '../campaigns/schema.js';
import { processEnvironment, type Environment } from '../settings/environment.js';

export type ResourceKind = 'advertisers' | 'campaigns' | 'creatives' | 'exchanges';
export const RESOURCE_KINDS: readonly ResourceKind[] = ['advertisers', 'campaigns', 'creatives', 'exchanges'];

export interface WriteContext {
  readonly principal: Principal;
  readonly requestId?: string;
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
}

export interface WriteResult {
  readonly doc: StoredDoc;
  /** 201 rather than 200. */
  readonly created: boolean;
}

export interface Page<T> {
  readonly items: T[];
  readonly total: number;
  readonly nextCursor: string | null;
}

/** Segment metadata, for checking which audiences a campaign may target. */
export interface SegmentLookup {
  getSegment(id: string): Promise<{ advertiserId?: string; status?: string; deletedAt?: string } | undefined>;
}

const INPUT: Record<ResourceKind, TSchema> = {
  advertisers: AdvertiserInputSchema,
  campaigns: CampaignInputSchema,
  creatives: CreativeInputSchema,
  exchanges: ExchangeInputSchema,
};
const DEFAULTS: Record<ResourceKind, Record<string, unknown>> = {
  advertisers: { status: 'active' },
  campaigns: { status: 'active' },
  creatives: { status: 'pending', paused: false },
  exchanges: { status: 'active' },
};
const KEEP_ON_REPLACE: Record<ResourceKind, string[]> = {
  advertisers: ['status'],
  campaigns: ['status', 'spend'],
  creatives: ['status', 'reason', 'paused'],
  exchanges: ['status'],
};
const ID_PREFIX: Record<ResourceKind, string> = { advertisers: 'adv', campaigns: 'cmp', creatives: 'cr', exchanges: 'ex' };
/** Creative fields an advertiser may change without the creative going back to review. */
const CREATIVE_META = new Set(['name', 'paused', 'status', 'reason']);

const Bool = StringEnum(['true', 'false']);
const paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
  includeDeleted: Type.Optional(Bool),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'substring of id or name' })),
};
const ActivePausedQ = StringEnum(['active', 'paused']);
export const LIST_QUERY: Record<ResourceKind, TSchema> = {
  advertisers: Type.Object({ ...paging, status: Type.Optional(ActivePausedQ) }, { additionalProperties: false }),
  campaigns: Type.Object(
    { ...paging, status: Type.Optional(ActivePausedQ), advertiserId: Type.Optional(Type.String({ minLength: 1 })) },
    { additionalProperties: false },
  ),
  creatives: Type.Object(
    {
      ...paging,
      status: Type.Optional(StringEnum(['pending', 'approved', 'rejected'])),
      campaignId: Type.Optional(Type.String({ minLength: 1 })),
      advertiserId: Type.Optional(Type.String({ minLength: 1 })),
      type: Type.Optional(StringEnum(['banner', 'video', 'audio', 'native'])),
      paused: Type.Optional(Bool),
    },
    { additionalProperties: false },
  ),
  exchanges: Type.Object({ ...paging, status: Type.Optional(ActivePausedQ) }, { additionalProperties: false }),
};
export const GET_QUERY = Type.Object({ includeDeleted: Type.Optional(Bool) }, { additionalProperties: false });
export const HISTORY_QUERY = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), cursor: Type.Optional(Type.String({ pattern: '^[0-9]+$' })) },
  { additionalProperties: false },
);

/** Parses and validates a query string against its schema (400 `bad_query` listing every problem). */
export function parseQuery(schema: TSchema, query: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of query) out[k] = v;
  const errors = checkQuery(schema, out);
  if (errors.length) throw new ApiError(400, 'bad_query', `the query is invalid: ${errors.length} error(s)`, errors);
  return out;
}

/** Applies text, paging (ordered by id; the cursor is the last id seen) to a filtered list. */
export function page<T extends { id: string; name?: unknown }>(items: T[], q: Record<string, unknown>): Page<T> {
  const text = typeof q.q === 'string' ? q.q.toLowerCase() : undefined;
  const matching = (text ? items.filter((d) => d.id.toLowerCase().includes(text) || String(d.name ?? '').toLowerCase().includes(text)) : items).sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  const limit = (q.limit as number | undefined) ?? 50;
  let after: string | undefined;
  if (typeof q.cursor === 'string') {
    after = Buffer.from(q.cursor, 'base64url').toString('utf8');
    if (!after) throw new ApiError(400, 'bad_query', 'the query is invalid: 1 error(s)', [{ path: '?cursor', code: 'invalid', message: 'is not a cursor' }]);
  }
  const start = after === undefined ? 0 : matching.findIndex((d) => d.id > after!);
  const rest = start < 0 ? [] : matching.slice(start);
  const items2 = rest.slice(0, limit);
  const more = rest.length > limit;
  return { items: items2, total: matching.length, nextCursor: more ? Buffer.from(items2[items2.length - 1].id).toString('base64url') : null };
}

const now = () => new Date().toISOString();
const key = (kind: string, id: string) => `${kind}/${id}`;

interface Plan {
  /** The resource after the change; undefined: nothing changes (answer the current one). */
  readonly doc?: StoredDoc;
  /** Other documents changed with it (soft-deleting a campaign's creatives). */
  readonly cascade?: readonly { kind: BundleKind; doc: StoredDoc; expect: number; action: string }[];
  /** 'own': report every rule error of the resource; 'new': only errors this change causes (pause, delete, review). */
  readonly rules: 'own' | 'new';
}

export class ConfigResources {
  private rulesCache: { version: number; errors: Map<string, FieldError[]> } | undefined;

  constructor(
    readonly store: ConfigStore,
    private readonly segments?: SegmentLookup,
    private readonly env: Environment = processEnvironment(),
  ) {}

  // ----- reads

  async list(kind: ResourceKind, p: Principal, query: URLSearchParams): Promise<Page<StoredDoc>> {
    this.require(p, kind, 'read');
    const q = parseQuery(LIST_QUERY[kind], query);
    const docs = (await this.store.list(kind)).filter(
      (d) =>
        sees(p, kind, d) &&
        (q.includeDeleted === 'true' || d.deletedAt === undefined) &&
        (q.status === undefined || d.status === q.status) &&
        (q.advertiserId === undefined || d.advertiserId === q.advertiserId) &&
        (q.campaignId === undefined || d.campaignId === q.campaignId) &&
        (q.type === undefined || d.type === q.type) &&
        (q.paused === undefined || String(d.paused === true) === q.paused),
    );
    return page(docs, q);
  }

  async get(kind: ResourceKind, id: string, p: Principal, query?: URLSearchParams): Promise<StoredDoc> {
    this.require(p, kind, 'read');
    const q = query ? parseQuery(GET_QUERY, query) : {};
    const doc = await this.store.get(kind, id);
    if (!doc || !sees(p, kind, doc) || (doc.deletedAt !== undefined && q.includeDeleted !== 'true')) throw notFound(kind, id);
    return doc;
  }

  /** The audit entries of one resource (deleted ones too), newest first. */
  async history(kind: string, id: string, p: Principal, query: URLSearchParams, doc?: Record<string, unknown>) {
    const q = parseQuery(HISTORY_QUERY, query);
    if (!doc) {
      this.require(p, kind as ResourceKind, 'read');
      doc = await this.store.get(kind as ResourceKind, id);
    }
    if (!doc || !sees(p, kind, doc)) throw notFound(kind, id);
    return this.store.queryAudit({
      kind,
      id,
      advertiserIds: p.advertiserIds ? [...p.advertiserIds] : undefined,
      limit: (q.limit as number | undefined) ?? 50,
      before: q.cursor === undefined ? undefined : Number(q.cursor),
    });
  }

  // ----- writes

  async create(kind: ResourceKind, body: unknown, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, kind, 'create');
    const given = (body as Record<string, unknown> | null)?.id;
    const id = typeof given === 'string' ? given : `${ID_PREFIX[kind]}-${randomBytes(6).toString('hex')}`;
    return this.write(kind, id, ctx, 'create', async (state, current) => {
      // Taken ids (deleted ones too, and other advertisers' ones) are refused alike.
      if (current) throw new ApiError(409, 'conflict', `${singular(kind)} id "${id}" is taken`);
      return this.fromBody(kind, 'create', body, id, undefined, state, ctx.principal);
    });
  }

  /** PUT: replaces the resource, or creates it under this id. */
  async replace(kind: ResourceKind, id: string, body: unknown, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, kind, 'update');
    return this.write(kind, id, ctx, 'replace', async (state, current) => {
      // A key that may not create this kind: a free id answers as someone else's does (404), so ids cannot be probed.
      if (!current && !permits(ctx.principal, kind, 'create')) throw ctx.principal.advertiserIds ? notFound(kind, id) : forbidden(`${aKey(ctx.principal.role)} may not create ${kind}`);
      if (current?.deletedAt !== undefined) throw notFound(kind, id);
      return this.fromBody(kind, 'replace', body, id, current, state, ctx.principal);
    }, true);
  }

  /** PATCH: JSON Merge Patch (RFC 7396) of the resource. */
  async update(kind: ResourceKind, id: string, body: unknown, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, kind, 'update');
    return this.write(kind, id, ctx, 'update', async (state, current) => this.fromBody(kind, 'update', body, id, this.live(kind, id, current), state, ctx.principal));
  }

  async setPaused(kind: ResourceKind, id: string, paused: boolean, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, kind, 'pause');
    return this.write(kind, id, ctx, paused ? 'pause' : 'resume', async (_state, current) => {
      const doc = this.live(kind, id, current);
      const next = kind === 'creatives' ? { ...doc, paused } : { ...doc, status: paused ? 'paused' : 'active' };
      return { doc: deepEqual(next, doc) ? undefined : this.stamp(next, doc, ctx.principal), rules: 'new' };
    });
  }

  /** Soft delete: the resource stays (with `deletedAt`, its history and its id), but is gone from lists, reads and bids. */
  async remove(kind: ResourceKind, id: string, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, kind, 'delete');
    return this.write(kind, id, ctx, 'delete', async (state, current) => {
      const doc = this.live(kind, id, current);
      const at = now();
      const cascade: { kind: BundleKind; doc: StoredDoc; expect: number; action: string }[] = [];
      if (kind === 'advertisers') {
        const campaigns = [...state.docs.campaigns.values()].filter((c) => c.advertiserId === id && c.deletedAt === undefined);
        if (campaigns.length)
          throw new ApiError(
            409,
            'in_use',
            `advertiser "${id}" still has ${campaigns.length} campaign(s); delete them first`,
            campaigns.map((c) => ({ path: `campaigns/${c.id}`, code: 'in_use', message: 'is not deleted' })),
          );
      }
      if (kind === 'campaigns')
        for (const cr of state.docs.creatives.values())
          if (cr.campaignId === id && cr.deletedAt === undefined)
            cascade.push({ kind: 'creatives', doc: this.stamp({ ...cr, deletedAt: at }, cr, ctx.principal, at), expect: cr.version, action: 'delete' });
      return { doc: this.stamp({ ...doc, deletedAt: at }, doc, ctx.principal, at), cascade, rules: 'new' };
    });
  }

  /** Operators approve or reject creatives; advertisers never can (not even their own). */
  async review(id: string, decision: 'approved' | 'rejected', body: unknown, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, 'creatives', 'approve');
    return this.write('creatives', id, ctx, decision === 'approved' ? 'approve' : 'reject', async (_state, current) => {
      const doc = this.live('creatives', id, current);
      if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))
        throw invalid([{ path: '/', code: 'type', message: 'must be a JSON object' }]);
      const input = (body ?? {}) as Record<string, unknown>;
      const errors: FieldError[] = [];
      for (const k of Object.keys(input)) if (k !== 'reason') errors.push({ path: `/${k}`, code: 'unknown_field', message: 'is not a known field' });
      const reason = input.reason;
      if (decision === 'rejected' && (typeof reason !== 'string' || !reason.trim()))
        errors.push({ path: '/reason', code: 'required', message: 'a rejection needs a reason' });
      else if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1024))
        errors.push({ path: '/reason', code: 'type', message: 'must be a string of up to 1024 characters' });
      if (errors.length) throw invalid(errors);
      const next: Record<string, unknown> = { ...doc, status: decision, reviewedBy: ctx.principal.keyId, reviewedAt: now() };
      if (decision === 'rejected') next.reason = reason;
      else delete next.reason;
      if (doc.status === decision && deepEqual(doc.reason, next.reason)) return { rules: 'new' };
      return { doc: this.stamp(next, doc, ctx.principal), rules: 'new' };
    });
  }

  // ----- internals

  private require(p: Principal, kind: ResourceKind | string, action: Action): void {
    if (!permits(p, kind as ResourceKind, action)) throw forbidden(`${aKey(p.role)} may not ${action} ${kind}`);
  }

  /** The current resource, when it exists and is not deleted (visibility was checked by write()). */
  private live(kind: string, id: string, current: StoredDoc | undefined): StoredDoc {
    if (!current || current.deletedAt !== undefined) throw notFound(kind, id);
    return current;
  }

  private stamp(fields: Record<string, unknown>, current: StoredDoc | undefined, p: Principal, at = now()): StoredDoc {
    const { id, ...rest } = fields;
    for (const f of SYSTEM_FIELDS) delete rest[f];
    const doc: Record<string, unknown> = {
      id,
      ...rest,
      version: (current?.version ?? 0) + 1,
      createdAt: current?.createdAt ?? at,
      updatedAt: at,
      createdBy: current?.createdBy ?? p.keyId,
      updatedBy: p.keyId,
    };
    if (fields.deletedAt !== undefined) doc.deletedAt = fields.deletedAt;
    return doc as StoredDoc;
  }

  private async fromBody(
    kind: ResourceKind,
    action: BodyAction,
    body: unknown,
    id: string,
    current: StoredDoc | undefined,
    state: StoreState,
    p: Principal,
  ): Promise<Plan> {
    const { candidate, errors } = prepare({
      kind,
      action,
      body,
      current,
      principal: p,
      id,
      inputSchema: INPUT[kind],
      defaults: DEFAULTS[kind],
      keepOnReplace: KEEP_ON_REPLACE[kind],
    });
    const fields: Record<string, unknown> = { ...candidate };
    if (kind === 'campaigns') {
      if (candidate.advertiserId === undefined && !errors.some((e) => e.path === '/advertiserId'))
        errors.push({ path: '/advertiserId', code: 'required', message: 'is required' });
      if (p.role !== 'admin') errors.push(...(await this.segmentErrors(candidate, current)));
    }
    if (kind === 'creatives') {
      const campaign = typeof candidate.campaignId === 'string' ? state.docs.campaigns.get(candidate.campaignId) : undefined;
      if (typeof candidate.campaignId === 'string' && (!campaign || campaign.deletedAt !== undefined || !sees(p, 'campaigns', campaign)))
        errors.push({ path: '/campaignId', code: 'unknown_reference', message: `no campaign "${candidate.campaignId}"` });
      if (campaign) fields.advertiserId = campaign.advertiserId;
      this.reviewRules(fields, current, p, errors);
    }
    if (errors.length) {
      // Every error at once: with the fields that failed the schema left out, the cross-field
      // rules can still run on the rest (a typo'd field name does not hide a bid above its max).
      const failed = new Set(errors.map((e) => e.path.split('/')[1]));
      const rest: Record<string, unknown> = { ...fields, id };
      for (const k of failed) {
        if (k === 'id' || k === undefined) continue;
        if (current && current[k] !== undefined) rest[k] = current[k];
        else delete rest[k];
      }
      if (check(INPUT[kind], writableOf(kind, rest)).length === 0) {
        const more = this.ruleErrors(kind, id, state, { doc: this.stamp(rest, current, p), rules: 'own' });
        errors.push(...more.filter((e) => !failed.has(e.path.split('/')[1])));
      }
      throw invalid(errors);
    }
    const unchanged =
      current !== undefined && deepEqual(writableOf(kind, fields), writableOf(kind, current)) && (kind !== 'creatives' || fields.advertiserId === current.advertiserId);
    if (unchanged) return { rules: 'own' };
    return { doc: this.stamp(fields, current, p), rules: 'own' };
  }

  /**
   * Approval bookkeeping: a non-admin change to what a creative shows sends it back to review;
   * an operator's decision records who and when; only a rejection carries a reason.
   */
  private reviewRules(fields: Record<string, unknown>, current: StoredDoc | undefined, p: Principal, errors: FieldError[]): void {
    if (current) {
      if (current.reviewedBy !== undefined) fields.reviewedBy = current.reviewedBy;
      if (current.reviewedAt !== undefined) fields.reviewedAt = current.reviewedAt;
    }
    if (p.role !== 'admin' && current) {
      const content = (d: Record<string, unknown>) => Object.fromEntries(Object.entries(writableOf('creatives', d)).filter(([k]) => !CREATIVE_META.has(k)));
      if (!deepEqual(content(fields), content(current))) {
        fields.status = 'pending';
        delete fields.reviewedBy;
        delete fields.reviewedAt;
      }
    }
    if (p.role === 'admin' && fields.status !== (current?.status ?? 'pending') && fields.status !== 'pending') {
      fields.reviewedBy = p.keyId;
      fields.reviewedAt = now();
    }
    if (fields.status === 'rejected' && fields.reason === undefined) errors.push({ path: '/reason', code: 'required', message: 'a rejected creative needs a reason' });
    if (fields.status !== 'rejected') delete fields.reason;
  }

  /**
   * A campaign written with a non-admin key may target (or price) only segments that exist and
   * belong to its advertiser or are shared; any other segment is reported as unknown, whether it
   * does not exist or belongs to someone else. References it already had are not re-checked.
   */
  private async segmentErrors(candidate: Record<string, unknown>, current: StoredDoc | undefined): Promise<FieldError[]> {
    if (!this.segments) return [];
    const refs = segmentRefs(candidate);
    const old = new Set(current ? segmentRefs(current).map((r) => r.id) : []);
    const errors: FieldError[] = [];
    for (const r of refs) {
      if (old.has(r.id)) continue;
      const meta = await this.segments.getSegment(r.id);
      const ok = meta && meta.deletedAt === undefined && meta.status !== 'deleted' && (meta.advertiserId === undefined || meta.advertiserId === candidate.advertiserId);
      if (!ok) errors.push({ path: r.path, code: 'unknown_segment', message: `no segment "${r.id}" this advertiser may use` });
    }
    return errors;
  }

  private cachedRules(state: StoreState): Map<string, FieldError[]> {
    if (this.rulesCache?.version !== state.version) this.rulesCache = { version: state.version, errors: ruleErrorsByDoc(state, this.env) };
    return this.rulesCache.errors;
  }

  /** The rule errors a plan leaves (see the module comment), thrown as one 400. */
  private checkRules(kind: ResourceKind, id: string, state: StoreState, plan: Plan): void {
    const errors = this.ruleErrors(kind, id, state, plan);
    if (errors.length) throw invalid(errors, plan.rules === 'own' ? 'the resource is invalid' : 'the change would leave the configuration invalid');
  }

  private ruleErrors(kind: ResourceKind, id: string, state: StoreState, plan: Plan): FieldError[] {
    const docs = { ...state.docs } as Record<BundleKind, Map<string, StoredDoc>>;
    const put = (k: BundleKind, doc: StoredDoc) => {
      if (docs[k] === state.docs[k]) docs[k] = new Map(state.docs[k]);
      docs[k].set(doc.id, doc);
    };
    put(kind, plan.doc!);
    for (const c of plan.cascade ?? []) put(c.kind, c.doc);
    const after = ruleErrorsByDoc({ version: state.version + 1, docs }, this.env);
    const before = this.cachedRules(state);
    const isNew = (k: string, e: FieldError) => !(before.get(k) ?? []).some((b) => b.path === e.path && b.code === e.code && b.message === e.message);
    const own = key(kind, id);
    const errors: FieldError[] = (after.get(own) ?? []).filter((e) => plan.rules === 'own' || isNew(own, e));
    for (const [k, list] of after) {
      if (k === own) continue;
      for (const e of list)
        if (isNew(k, e)) errors.push({ path: '/', code: 'breaks_dependent', message: `${k}#${e.path}: ${e.message} [${e.code}]` });
    }
    return errors;
  }

  private async write(
    kind: ResourceKind,
    id: string,
    ctx: WriteContext,
    action: string,
    build: (state: StoreState, current: StoredDoc | undefined) => Promise<Plan>,
    upsert = false,
  ): Promise<WriteResult> {
    const p = ctx.principal;
    for (let attempt = 0; attempt < 8; attempt++) {
      const state = await this.store.readAll();
      const current = state.docs[kind].get(id);
      // Someone else's resource is answered exactly like a missing one (a create sees a taken id).
      if (current && !sees(p, kind, current)) {
        if (action === 'create') throw new ApiError(409, 'conflict', `${singular(kind)} id "${id}" is taken`);
        throw notFound(kind, id);
      }
      if (!current && !upsert && action !== 'create') throw notFound(kind, id);
      checkPreconditions(current, ctx.ifMatch, ctx.ifNoneMatch);
      const plan = await build(state, current);
      if (!plan.doc) return { doc: current!, created: false };
      this.checkRules(kind, id, state, plan);
      const at = plan.doc.updatedAt as string;
      const audit: AuditDraft[] = [
        { at, actor: actorOf(p), action, kind, id, advertiserId: owner(kind, plan.doc), requestId: ctx.requestId, before: current ?? null, after: plan.doc },
        ...(plan.cascade ?? []).map((c) => ({
          at,
          actor: actorOf(p),
          action: c.action,
          kind: c.kind,
          id: c.doc.id,
          advertiserId: owner(c.kind, c.doc),
          requestId: ctx.requestId,
          before: state.docs[c.kind].get(c.doc.id) ?? null,
          after: c.doc,
        })),
      ];
      const writes: StoreWrite[] = [
        { kind, id, expect: current?.version ?? 0, doc: plan.doc },
        ...(plan.cascade ?? []).map((c) => ({ kind: c.kind, id: c.doc.id, expect: c.expect, doc: c.doc })),
      ];
      const r = await this.store.commit(writes, audit, { ifVersion: state.version });
      if (r.ok) return { doc: plan.doc, created: !current };
      await new Promise((resolve) => setTimeout(resolve, attempt * 5 + Math.random() * 10));
    }
    throw new ApiError(409, 'concurrent_update', 'the configuration kept changing while this change was made; try again');
  }
}

export const actorOf = (p: Principal) => ({ keyId: p.keyId, role: p.role, ...(p.name ? { name: p.name } : {}) });

const owner = ownerOf;

/** Every segment id a campaign names, with its JSON pointer. */
export function segmentRefs(c: Record<string, unknown>): { id: string; path: string }[] {
  const out: { id: string; path: string }[] = [];
  const rules = (c.targeting as { segments?: Record<string, unknown> } | undefined)?.segments;
  for (const list of ['anyOf', 'allOf', 'exclude'])
    (Array.isArray(rules?.[list]) ? (rules![list] as unknown[]) : []).forEach((s, i) => {
      if (typeof s === 'string') out.push({ id: s, path: `/targeting/segments/${list}/${i}` });
    });
  const mult = (c.multipliers as { segment?: Record<string, unknown> } | undefined)?.segment;
  if (mult && typeof mult === 'object') for (const s of Object.keys(mult)) out.push({ id: s, path: `/multipliers/segment/${s.replace(/~/g, '~0').replace(/\//g, '~1')}` });
  return out;
}
