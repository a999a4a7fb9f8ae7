/**
 * Audiences (segment metadata) as a config API resource, over the segment store that bidding
 * already reads (memory or Redis): the same list/read/create/replace/update/pause/resume/delete,
 * ETags, roles, tenant rules and audit log as the other resources. Members are uploaded to
 * `/api/v1/audiences/{id}/members` (http/audience-routes.ts), behind the same keys.
 *
 * - Only active segments are live for bidding (AudienceService ignores paused and deleted ones).
 * - Delete is soft for the metadata (a tombstone keeps the id, `deletedAt` and the history) and
 *   hard for the data: every membership is swept.
 * - Writes to one segment are serialised in this process; the segment store has no
 *   compare-and-set, so two API instances writing the same segment at the same moment can
 *   race (If-Match still guards each request against what it read).
 * - Every change also bumps the config version (an empty, notifying commit), so every bidder
 *   hears of it through the config change feed instead of waiting for its registry poll.
 */
import type { ConfigStore, StoredDoc } from '../campaigns/config-store.js';
import { DEFAULT_SEGMENT_TTL_SECONDS, type AudienceRule, type LookalikeSpec, type SegmentMeta } from '../audiences/segment-store.js';
import { checkRule, ruleTtl } from './rule-checks.js';
import type { AudienceService } from '../audiences/audience-service.js';
import type { AudienceRebuilder, RebuildOutcome } from '../audiences/rebuilds.js';
import type { Principal } from './auth.js';
import { ApiError, forbidden, invalid, notFound, aKey } from './errors.js';
import { permits, sees, type Action } from './policy.js';
import { AudienceInputSchema } from './schemas.js';
import { deepEqual } from './validation.js';
import { checkPreconditions, prepare, writableOf, type BodyAction } from './write-rules.js';
import { actorOf, GET_QUERY, page, parseQuery, type ConfigResources, type Page, type WriteContext, type WriteResult } from './resources.js';
import { Type } from '@sinclair/typebox';
import { StringEnum } from '../campaigns/schema.js';

export const AUDIENCE_LIST_QUERY = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    includeDeleted: Type.Optional(StringEnum(['true', 'false'])),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    status: Type.Optional(StringEnum(['active', 'paused'])),
    advertiserId: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

/** A segment's metadata as the API shows it (segments made before the API get its defaults). */
export function audienceDoc(m: SegmentMeta): StoredDoc {
  const doc: Record<string, unknown> = {
    id: m.id,
    name: m.name,
    ...(m.advertiserId !== undefined ? { advertiserId: m.advertiserId } : {}),
    ttlSeconds: m.ttlSeconds,
    ...(m.rule !== undefined ? { rule: m.rule } : {}),
    ...(m.lookalike !== undefined ? { lookalike: m.lookalike } : {}),
    status: m.status ?? 'active',
    approximateSize: m.approximateSize ?? 0,
    version: m.version ?? 1,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt ?? m.createdAt,
    createdBy: m.createdBy ?? 'unknown',
    updatedBy: m.updatedBy ?? m.createdBy ?? 'unknown',
  };
  if (m.deletedAt !== undefined) doc.deletedAt = m.deletedAt;
  return doc as StoredDoc;
}

export class AudienceResources {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    readonly audiences: AudienceService,
    private readonly config: ConfigStore,
    private readonly resources: ConfigResources,
    private readonly rebuilder: () => AudienceRebuilder | undefined = () => undefined,
  ) {}

  private get store() {
    return this.audiences.store;
  }

  private require(p: Principal, action: Action): void {
    if (!permits(p, 'audiences', action)) throw forbidden(`${aKey(p.role)} may not ${action} audiences`);
  }

  async list(p: Principal, query: URLSearchParams): Promise<Page<StoredDoc>> {
    this.require(p, 'read');
    const q = parseQuery(AUDIENCE_LIST_QUERY, query);
    const docs = (await this.store.listSegments())
      .map(audienceDoc)
      .filter(
        (d) =>
          sees(p, 'audiences', d) &&
          (q.includeDeleted === 'true' || d.deletedAt === undefined) &&
          (q.status === undefined || d.status === q.status) &&
          (q.advertiserId === undefined || d.advertiserId === q.advertiserId),
      );
    return page(docs, q);
  }

  async get(id: string, p: Principal, query?: URLSearchParams): Promise<StoredDoc> {
    this.require(p, 'read');
    const q = query ? parseQuery(GET_QUERY, query) : {};
    const meta = await this.store.getSegment(id);
    const doc = meta && audienceDoc(meta);
    if (!doc || !sees(p, 'audiences', doc) || (doc.deletedAt !== undefined && q.includeDeleted !== 'true')) throw notFound('audiences', id);
    return doc;
  }

  async history(id: string, p: Principal, query: URLSearchParams) {
    this.require(p, 'read');
    const meta = await this.store.getSegment(id);
    if (!meta) throw notFound('audiences', id);
    return this.resources.history('audiences', id, p, query, audienceDoc(meta));
  }

  create(body: unknown, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, 'create');
    const given = (body as Record<string, unknown> | null)?.id;
    if (typeof given !== 'string')
      throw invalid([{ path: '/id', code: 'required', message: 'is required (the segment id campaigns target)' }]);
    return this.write(given, ctx, 'create', (current) => {
      if (current) throw new ApiError(409, 'conflict', `audience id "${given}" is taken`);
      return this.fromBody('create', body, given, undefined, ctx.principal);
    });
  }

  replace(id: string, body: unknown, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, 'update');
    return this.write(id, ctx, 'replace', (current) => {
      if (!current) this.require(ctx.principal, 'create');
      else if (current.deletedAt !== undefined) throw notFound('audiences', id);
      return this.fromBody('replace', body, id, current, ctx.principal);
    }, true);
  }

  update(id: string, body: unknown, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, 'update');
    return this.write(id, ctx, 'update', (current) => this.fromBody('update', body, id, live(id, current), ctx.principal));
  }

  setPaused(id: string, paused: boolean, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, 'pause');
    return this.write(id, ctx, paused ? 'pause' : 'resume', (current) => {
      const doc = live(id, current);
      const status = paused ? 'paused' : 'active';
      return doc.status === status ? undefined : { ...writableOf('audiences', doc), status };
    });
  }

  remove(id: string, ctx: WriteContext): Promise<WriteResult> {
    this.require(ctx.principal, 'delete');
    return this.write(id, ctx, 'delete', (current) => ({ ...writableOf('audiences', live(id, current)), deletedAt: new Date().toISOString() }));
  }

  /**
   * For uploads: the segment exists, is not deleted and the key may write it; a missing one is
   * created (owned by the key's advertiser). Someone else's answers like a missing one would for reads: 404.
   */
  async prepareUpload(p: Principal, id: string, query: URLSearchParams, requestId?: string): Promise<void> {
    this.require(p, 'update');
    const meta = await this.store.getSegment(id);
    if (meta) {
      const doc = audienceDoc(meta);
      if (!sees(p, 'audiences', doc) || doc.deletedAt !== undefined) throw notFound('audiences', id);
      return;
    }
    const body: Record<string, unknown> = { id };
    const name = query.get('name');
    const ttl = query.get('ttl');
    const advertiserId = query.get('advertiserId');
    if (name) body.name = name;
    if (ttl && /^\d+$/.test(ttl)) body.ttlSeconds = Number(ttl);
    if (advertiserId) body.advertiserId = advertiserId;
    await this.create(body, { principal: p, requestId });
  }

  /**
   * `POST /api/v1/audiences/{id}/rebuild`: a lookalike or rule audience rebuilt now, answered when
   * done. Who may update the audience may rebuild it (operators, and the owning advertiser's keys;
   * read-only keys get 403). Unknown, deleted and other advertisers' audiences answer 404 alike;
   * an audience that is neither a lookalike nor a rule, a paused one, or one being rebuilt
   * already, 409; a kind switched off on this bidder, 503.
   */
  async rebuild(id: string, p: Principal): Promise<RebuildOutcome> {
    this.require(p, 'update');
    const meta = await this.store.getSegment(id);
    if (!meta || meta.deletedAt !== undefined || !sees(p, 'audiences', audienceDoc(meta))) throw notFound('audiences', id);
    if (meta.lookalike === undefined && meta.rule === undefined)
      throw new ApiError(409, 'not_rebuildable', `audience "${id}" is neither a lookalike nor a rule audience: its members are uploaded`);
    if (meta.status === 'paused') throw new ApiError(409, 'paused', `audience "${id}" is paused: resume it to rebuild it`);
    const rebuilder = this.rebuilder();
    const off = rebuilder ? rebuilder.unavailable(meta) : 'audience rebuilds are not available in this process';
    if (off !== undefined || !rebuilder) throw new ApiError(503, 'rebuild_unavailable', off ?? 'unavailable');
    if (rebuilder.isRunning(id)) throw new ApiError(409, 'rebuild_running', `audience "${id}" is being rebuilt; try again when it is done`);
    return rebuilder.rebuild(meta);
  }

  /** Whether the key sees this segment (upload progress is filtered with it). */
  async sees(p: Principal, id: string): Promise<boolean> {
    if (p.advertiserIds === undefined) return true;
    const meta = await this.store.getSegment(id);
    return meta !== undefined && sees(p, 'audiences', audienceDoc(meta));
  }

  /**
   * A lookalike's seed is a live segment of the same advertiser that the key sees, and not a
   * lookalike itself. A foreign, deleted or unknown seed gets the same field error: it does not
   * tell whether the segment exists.
   */
  private async checkSeed(id: string, fields: Record<string, unknown>, p: Principal): Promise<void> {
    const { seed } = fields.lookalike as LookalikeSpec;
    if (fields.advertiserId === undefined)
      throw invalid([{ path: '/advertiserId', code: 'required', message: "a lookalike is built from one advertiser's own segment: name it" }]);
    if (fields.rule !== undefined) throw invalid([{ path: '/lookalike', code: 'invalid', message: 'an audience is a rule audience or a lookalike, not both' }]);
    const meta = seed === id ? undefined : await this.store.getSegment(seed);
    const doc = meta && audienceDoc(meta);
    if (!doc || doc.deletedAt !== undefined || !sees(p, 'audiences', doc) || doc.advertiserId !== fields.advertiserId)
      throw invalid([{ path: '/lookalike/seed', code: 'invalid', message: `no segment "${seed}" of advertiser "${String(fields.advertiserId)}" to build from` }]);
    if (doc.lookalike !== undefined) throw invalid([{ path: '/lookalike/seed', code: 'invalid', message: 'a lookalike cannot seed another' }]);
  }

  private fromBody(action: BodyAction, body: unknown, id: string, current: StoredDoc | undefined, p: Principal): Record<string, unknown> | undefined {
    const { candidate, errors } = prepare({
      kind: 'audiences',
      action,
      body,
      current,
      principal: p,
      id,
      inputSchema: AudienceInputSchema,
      defaults: { status: 'active' },
      keepOnReplace: ['status'],
    });
    if (errors.length) throw invalid(errors);
    checkRule(candidate);
    const fields = { ...candidate, name: candidate.name ?? id, ttlSeconds: ruleTtl(candidate) ?? candidate.ttlSeconds ?? DEFAULT_SEGMENT_TTL_SECONDS };
    if (current && deepEqual(fields, writableOf('audiences', current))) return undefined;
    return fields;
  }

  /** One write at a time per segment in this process (the segment store has no compare-and-set). */
  private write(
    id: string,
    ctx: WriteContext,
    action: string,
    build: (current: StoredDoc | undefined) => Record<string, unknown> | undefined,
    upsert = false,
  ): Promise<WriteResult> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(() => this.writeNow(id, ctx, action, build, upsert));
    this.locks.set(id, run);
    void run.catch(() => {}).then(() => this.locks.get(id) === run && this.locks.delete(id));
    return run;
  }

  private async writeNow(
    id: string,
    ctx: WriteContext,
    action: string,
    build: (current: StoredDoc | undefined) => Record<string, unknown> | undefined,
    upsert: boolean,
  ): Promise<WriteResult> {
    const p = ctx.principal;
    const meta = await this.store.getSegment(id);
    const current = meta && audienceDoc(meta);
    if (current && !sees(p, 'audiences', current)) {
      if (action === 'create') throw new ApiError(409, 'conflict', `audience id "${id}" is taken`);
      throw notFound('audiences', id);
    }
    if (!current && !upsert && action !== 'create') throw notFound('audiences', id);
    checkPreconditions(current, ctx.ifMatch, ctx.ifNoneMatch);
    const fields = build(current);
    if (!fields) return { doc: current!, created: false };
    if (fields.lookalike !== undefined && fields.deletedAt === undefined) await this.checkSeed(id, fields, p);
    const at = new Date().toISOString();
    const next: SegmentMeta = {
      id,
      name: fields.name as string,
      ...(fields.advertiserId !== undefined ? { advertiserId: fields.advertiserId as string } : {}),
      ttlSeconds: fields.ttlSeconds as number,
      ...(fields.rule !== undefined ? { rule: fields.rule as AudienceRule } : {}),
      ...(fields.lookalike !== undefined ? { lookalike: fields.lookalike as LookalikeSpec } : {}),
      status: fields.status as 'active' | 'paused',
      createdAt: current?.createdAt as string ?? at,
      version: (current?.version ?? 0) + 1,
      updatedAt: at,
      createdBy: (current?.createdBy as string | undefined) ?? p.keyId,
      updatedBy: p.keyId,
      ...(fields.deletedAt !== undefined ? { deletedAt: fields.deletedAt as string } : {}),
    };
    if (action === 'delete') await this.store.dropSegment(id); // memberships go for good
    await this.store.putSegment(next);
    await this.audiences.refreshRegistry(true);
    const after = audienceDoc((await this.store.getSegment(id)) ?? next);
    await this.config.commit(
      [],
      [{ at, actor: actorOf(p), action, kind: 'audiences', id, advertiserId: next.advertiserId, requestId: ctx.requestId, before: current ?? null, after }],
      { notify: true },
    );
    return { doc: after, created: !current };
  }
}

function live(id: string, current: StoredDoc | undefined): StoredDoc {
  if (!current || current.deletedAt !== undefined) throw notFound('audiences', id);
  return current;
}
