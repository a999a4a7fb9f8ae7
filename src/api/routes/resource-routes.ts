/**
 * The CRUD, pause/resume and history routes of one resource (advertisers, campaigns, creatives,
 * exchanges, audiences): one method per route, over the resource's service.
 */
import type { TSchema } from '@sinclair/typebox';
import type { StoredDoc } from '../../campaigns/config-store.js';
import type { Principal } from '../auth.js';
import { GET_QUERY, HISTORY_QUERY, type ConfigResources, type Page, type ResourceKind, type WriteContext, type WriteResult } from '../resources.js';
import type { ApiContext, ApiReply, RouteSpec } from '../router.js';
import { listOf } from '../schemas.js';
import { API_PREFIX, AuditPageSchema, cursorPage, E, ok, READ_ERRORS, WRITE_ERRORS, written } from './common.js';

/** What the routes of one resource call. */
export interface ResourceService {
  list(p: Principal, q: URLSearchParams): Promise<Page<StoredDoc>>;
  get(id: string, p: Principal, q?: URLSearchParams): Promise<StoredDoc>;
  create(body: unknown, ctx: WriteContext): Promise<WriteResult>;
  replace(id: string, body: unknown, ctx: WriteContext): Promise<WriteResult>;
  update(id: string, body: unknown, ctx: WriteContext): Promise<WriteResult>;
  setPaused(id: string, paused: boolean, ctx: WriteContext): Promise<WriteResult>;
  remove(id: string, ctx: WriteContext): Promise<WriteResult>;
  history(id: string, p: Principal, q: URLSearchParams): Promise<{ items: unknown[]; nextCursor: number | null }>;
}

/** One resource as its routes describe it. */
export interface Resource {
  /** The path segment and OpenAPI tag: `campaigns`. */
  readonly kind: string;
  /** The schema name: `Campaign`. */
  readonly name: string;
  readonly input: TSchema;
  readonly output: TSchema;
  readonly listQuery: TSchema;
  readonly service: ResourceService;
}

/** The ResourceService of one kind of the configuration's documents. */
export class ConfigKindService implements ResourceService {
  constructor(
    private readonly resources: ConfigResources,
    private readonly kind: ResourceKind,
  ) {}

  list(p: Principal, q: URLSearchParams) {
    return this.resources.list(this.kind, p, q);
  }
  get(id: string, p: Principal, q?: URLSearchParams) {
    return this.resources.get(this.kind, id, p, q);
  }
  create(body: unknown, ctx: WriteContext) {
    return this.resources.create(this.kind, body, ctx);
  }
  replace(id: string, body: unknown, ctx: WriteContext) {
    return this.resources.replace(this.kind, id, body, ctx);
  }
  update(id: string, body: unknown, ctx: WriteContext) {
    return this.resources.update(this.kind, id, body, ctx);
  }
  setPaused(id: string, paused: boolean, ctx: WriteContext) {
    return this.resources.setPaused(this.kind, id, paused, ctx);
  }
  remove(id: string, ctx: WriteContext) {
    return this.resources.remove(this.kind, id, ctx);
  }
  history(id: string, p: Principal, q: URLSearchParams) {
    return this.resources.history(this.kind, id, p, q);
  }
}

/** Whether an If-None-Match header matches this revision (or is `*`). */
export function noneMatchHits(ifNoneMatch: string | undefined, version: number): boolean {
  return !!ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${version}"` || t.trim() === '*');
}

export class ResourceRoutes {
  private readonly base: string;
  private readonly one: string;
  private readonly service: ResourceService;

  constructor(private readonly r: Resource) {
    this.base = `${API_PREFIX}/${r.kind}`;
    this.one = `${this.base}/{id}`;
    this.service = r.service;
  }

  /** In the order the OpenAPI document lists them. */
  all(): RouteSpec[] {
    return [this.list(), this.create(), this.read(), this.replace(), this.update(), this.remove(), this.pause(), this.resume(), this.history()];
  }

  private etagged(description: string, status = 200) {
    return { [status]: { description, schema: this.r.output, etag: true } };
  }

  private get jsonBody() {
    return { body: 'json' as const, requestSchema: this.r.input };
  }

  list(): RouteSpec {
    return {
      method: 'get',
      path: this.base,
      tag: this.r.kind,
      summary: `List ${this.r.kind} (paged, filtered; only the key's own for advertiser keys)`,
      query: this.r.listQuery,
      responses: { 200: { description: 'a page', schema: listOf(this.r.output, `${this.r.name}List`) }, ...READ_ERRORS },
      handler: async (c) => ({ status: 200, body: await this.service.list(c.principal, c.query) }),
    };
  }

  create(): RouteSpec {
    return {
      method: 'post',
      path: this.base,
      tag: this.r.kind,
      summary: `Create ${/^[aeiou]/.test(this.r.name) ? 'an' : 'a'} ${this.r.name.toLowerCase()}`,
      ...this.jsonBody,
      responses: { ...this.etagged('created', 201), ...WRITE_ERRORS },
      handler: async (c) => written(await this.service.create(c.body, c.write), this.base),
    };
  }

  read(): RouteSpec {
    return {
      method: 'get',
      path: this.one,
      tag: this.r.kind,
      summary: `Read one (includeDeleted=true shows a soft-deleted one)`,
      query: GET_QUERY,
      responses: { ...this.etagged('the resource'), 304: E('If-None-Match matches'), ...READ_ERRORS },
      preconditions: true,
      handler: (c) => this.answerRead(c),
    };
  }

  private async answerRead(c: ApiContext): Promise<ApiReply> {
    const doc = await this.service.get(c.params.id, c.principal, c.query);
    if (noneMatchHits(c.write.ifNoneMatch, doc.version)) return { status: 304, version: doc.version };
    return ok(doc);
  }

  replace(): RouteSpec {
    return {
      method: 'put',
      path: this.one,
      tag: this.r.kind,
      summary: 'Replace (or create under this id). Status fields and fields the key may not set keep their values when left out',
      ...this.jsonBody,
      preconditions: true,
      responses: { ...this.etagged('replaced'), ...this.etagged('created', 201), ...WRITE_ERRORS },
      handler: async (c) => written(await this.service.replace(c.params.id, c.body, c.write), this.base),
    };
  }

  update(): RouteSpec {
    return {
      method: 'patch',
      path: this.one,
      tag: this.r.kind,
      summary: 'Update part of it: JSON Merge Patch (RFC 7396), null removes a field',
      ...this.jsonBody,
      requestContentTypes: ['application/merge-patch+json', 'application/json'],
      preconditions: true,
      responses: { ...this.etagged('updated'), ...WRITE_ERRORS },
      handler: async (c) => ok((await this.service.update(c.params.id, c.body, c.write)).doc),
    };
  }

  remove(): RouteSpec {
    return {
      method: 'del',
      path: this.one,
      tag: this.r.kind,
      summary: 'Soft delete: gone from lists, reads and bids; kept with its history; its id is not reused',
      preconditions: true,
      responses: { ...this.etagged('deleted (the tombstone, with deletedAt)'), ...WRITE_ERRORS },
      handler: async (c) => ok((await this.service.remove(c.params.id, c.write)).doc),
    };
  }

  pause(): RouteSpec {
    return {
      method: 'post',
      path: `${this.one}/pause`,
      tag: this.r.kind,
      summary: 'Pause (stops bidding at once on every bidder)',
      preconditions: true,
      responses: { ...this.etagged('paused'), ...WRITE_ERRORS },
      handler: async (c) => ok((await this.service.setPaused(c.params.id, true, c.write)).doc),
    };
  }

  resume(): RouteSpec {
    return {
      method: 'post',
      path: `${this.one}/resume`,
      tag: this.r.kind,
      summary: 'Resume',
      preconditions: true,
      responses: { ...this.etagged('resumed'), ...WRITE_ERRORS },
      handler: async (c) => ok((await this.service.setPaused(c.params.id, false, c.write)).doc),
    };
  }

  history(): RouteSpec {
    return {
      method: 'get',
      path: `${this.one}/history`,
      tag: this.r.kind,
      summary: 'Its audit entries (every change, before and after), newest first; deleted ones too',
      query: HISTORY_QUERY,
      responses: { 200: { description: 'a page of audit entries', schema: AuditPageSchema }, ...READ_ERRORS },
      handler: async (c) => ({ status: 200, body: cursorPage(await this.service.history(c.params.id, c.principal, c.query)) }),
    };
  }
}
