/** API keys (admin keys only): list, create (the key itself answered once), read, update, revoke, pause and resume. */
import type { StoredDoc } from '../../campaigns/config-store.js';
import { KEY_LIST_QUERY, publicKey, type KeyService } from '../keys.js';
import type { ApiContext, ApiReply, RouteSpec } from '../router.js';
import { ApiKeyCreatedSchema, ApiKeyInputSchema, ApiKeyOutSchema, ApiKeyPatchSchema, listOf } from '../schemas.js';
import { API_PREFIX, READ_ERRORS, WRITE_ERRORS } from './common.js';

const KEYS = `${API_PREFIX}/keys`;

/** A key as it may be shown (never its hash), with its ETag. */
const shown = (doc: StoredDoc): ApiReply => ({ status: 200, body: publicKey(doc), version: doc.version });

export class KeyRoutes {
  constructor(private readonly keys: KeyService) {}

  /** In the order the OpenAPI document lists them. */
  all(): RouteSpec[] {
    return [this.list(), this.create(), this.read(), this.update(), this.revoke(), this.setPaused('pause'), this.setPaused('resume')];
  }

  list(): RouteSpec {
    return {
      method: 'get',
      path: KEYS,
      tag: 'keys',
      summary: 'List API keys (admin keys only; never the secrets)',
      query: KEY_LIST_QUERY,
      responses: { 200: { description: 'a page', schema: listOf(ApiKeyOutSchema, 'ApiKeyList') }, ...READ_ERRORS },
      handler: async (c) => ({ status: 200, body: await this.keys.list(c.principal, c.query) }),
    };
  }

  create(): RouteSpec {
    return {
      method: 'post',
      path: KEYS,
      tag: 'keys',
      summary: 'Create an API key; the answer carries the key itself, once (only its salted hash is stored)',
      body: 'json',
      requestSchema: ApiKeyInputSchema,
      responses: { 201: { description: 'created', schema: ApiKeyCreatedSchema, etag: true }, ...WRITE_ERRORS },
      handler: (c) => this.createKey(c),
    };
  }

  private async createKey(c: ApiContext): Promise<ApiReply> {
    const { doc, key } = await this.keys.create(c.body, c.write);
    return { status: 201, body: { ...publicKey(doc), key }, version: doc.version, headers: { location: `${KEYS}/${doc.id}` } };
  }

  read(): RouteSpec {
    return {
      method: 'get',
      path: `${KEYS}/{id}`,
      tag: 'keys',
      summary: 'Read one key',
      responses: { 200: { description: 'the key', schema: ApiKeyOutSchema, etag: true }, ...READ_ERRORS },
      handler: async (c) => shown(await this.keys.get(c.params.id, c.principal)),
    };
  }

  update(): RouteSpec {
    return {
      method: 'patch',
      path: `${KEYS}/{id}`,
      tag: 'keys',
      summary: 'Rename, or change its rate limit (null: the default)',
      body: 'json',
      requestSchema: ApiKeyPatchSchema,
      preconditions: true,
      responses: { 200: { description: 'updated', schema: ApiKeyOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => shown(await this.keys.update(c.params.id, c.body, c.write)),
    };
  }

  revoke(): RouteSpec {
    return {
      method: 'del',
      path: `${KEYS}/{id}`,
      tag: 'keys',
      summary: 'Revoke for good (the record stays for the audit trail)',
      preconditions: true,
      responses: { 200: { description: 'revoked', schema: ApiKeyOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => shown(await this.keys.revoke(c.params.id, c.write)),
    };
  }

  setPaused(action: 'pause' | 'resume'): RouteSpec {
    return {
      method: 'post',
      path: `${KEYS}/{id}/${action}`,
      tag: 'keys',
      summary: action === 'pause' ? 'Disable for now' : 'Enable again',
      preconditions: true,
      responses: { 200: { description: `${action}d`, schema: ApiKeyOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => shown(await this.keys.setPaused(c.params.id, action === 'pause', c.write)),
    };
  }
}
