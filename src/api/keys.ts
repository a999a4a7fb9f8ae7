/**
 * `/api/v1/keys`: operators create API keys (the secret is shown once, only its salted hash is
 * kept), list and read them, rename them, change their rate limit, pause/resume and revoke them
 * (a soft delete: the record and its history stay). Every change is in the audit log.
 */
import { Type } from '@sinclair/typebox';
import type { ConfigStore, StoredDoc } from '../campaigns/config-store.js';
import type { FieldError } from '../errors.js';
import { newKeySecret, type KeyDoc, type Principal } from './auth.js';
import { ApiError, forbidden, invalid, notFound, aKey } from './errors.js';
import { permits } from './policy.js';
import { ApiKeyInputSchema, ApiKeyPatchSchema } from './schemas.js';
import { check, deepEqual, isObject, mergePatch } from './validation.js';
import { checkPreconditions } from './write-rules.js';
import { actorOf, page, parseQuery, type Page, type WriteContext } from './resources.js';
import { StringEnum } from '../campaigns/schema.js';

export const KEY_LIST_QUERY = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    role: Type.Optional(StringEnum(['admin', 'advertiser', 'read-only'])),
    advertiserId: Type.Optional(Type.String({ minLength: 1 })),
    includeRevoked: Type.Optional(StringEnum(['true', 'false'])),
  },
  { additionalProperties: false },
);

/** A key record as the API shows it: never the salt or hash. */
export function publicKey(doc: StoredDoc): Record<string, unknown> {
  const { salt: _s, hash: _h, ...rest } = doc as KeyDoc;
  return rest;
}

export class KeyService {
  constructor(private readonly store: ConfigStore) {}

  private require(p: Principal): void {
    if (!permits(p, 'keys', 'create')) throw forbidden(`${aKey(p.role)} may not manage keys`);
  }

  async list(p: Principal, query: URLSearchParams): Promise<Page<Record<string, unknown> & { id: string }>> {
    this.require(p);
    const q = parseQuery(KEY_LIST_QUERY, query);
    const docs = ((await this.store.list('keys')) as KeyDoc[]).filter(
      (d) =>
        (q.includeRevoked === 'true' || d.revokedAt === undefined) &&
        (q.role === undefined || d.role === q.role) &&
        (q.advertiserId === undefined || (d.advertiserIds ?? []).includes(q.advertiserId as string)),
    );
    const r = page(docs, q);
    return { ...r, items: r.items.map((d) => publicKey(d) as Record<string, unknown> & { id: string }) };
  }

  async get(id: string, p: Principal): Promise<StoredDoc> {
    this.require(p);
    const doc = await this.store.get('keys', id);
    if (!doc) throw notFound('keys', id);
    return doc;
  }

  async create(body: unknown, ctx: WriteContext): Promise<{ doc: StoredDoc; key: string }> {
    this.require(ctx.principal);
    if (!isObject(body)) throw invalid([{ path: '/', code: 'type', message: 'must be a JSON object' }]);
    const errors: FieldError[] = check(ApiKeyInputSchema, body);
    if (errors.length) throw invalid(errors);
    const ids = [...new Set([...(body.advertiserIds as string[] | undefined ?? []), ...(typeof body.advertiserId === 'string' ? [body.advertiserId] : [])])];
    const role = body.role as string;
    if (role === 'advertiser' && ids.length === 0)
      errors.push({ path: '/advertiserIds', code: 'required', message: 'an advertiser key needs the advertisers it acts for' });
    if (role === 'admin' && ids.length) errors.push({ path: '/advertiserIds', code: 'not_allowed', message: 'an admin key is not scoped to advertisers' });
    for (const id of ids) {
      const adv = await this.store.get('advertisers', id);
      if (!adv || adv.deletedAt !== undefined)
        errors.push({ path: body.advertiserIds ? `/advertiserIds/${(body.advertiserIds as string[]).indexOf(id)}` : '/advertiserId', code: 'unknown_reference', message: `no advertiser "${id}"` });
    }
    if (errors.length) throw invalid(errors);
    const secret = newKeySecret();
    const at = new Date().toISOString();
    const doc: KeyDoc = {
      id: secret.id,
      name: body.name as string,
      role: role as KeyDoc['role'],
      ...(ids.length ? { advertiserIds: ids } : {}),
      ...(body.rateLimit ? { rateLimit: body.rateLimit as KeyDoc['rateLimit'] } : {}),
      status: (body.status as KeyDoc['status'] | undefined) ?? 'active',
      prefix: secret.prefix,
      salt: secret.salt,
      hash: secret.hash,
      version: 1,
      createdAt: at,
      updatedAt: at,
      createdBy: ctx.principal.keyId,
      updatedBy: ctx.principal.keyId,
    };
    await this.commit(doc, 0, 'create', null, ctx);
    return { doc, key: secret.token };
  }

  /** PATCH: name and rate limit (null: back to the default). */
  update(id: string, body: unknown, ctx: WriteContext): Promise<StoredDoc> {
    return this.change(id, ctx, 'update', (doc) => {
      if (!isObject(body)) throw invalid([{ path: '/', code: 'type', message: 'must be a JSON object' }]);
      const errors = check(ApiKeyPatchSchema, body);
      if (errors.length) throw invalid(errors);
      return mergePatch(doc, body) as KeyDoc;
    });
  }

  setPaused(id: string, paused: boolean, ctx: WriteContext): Promise<StoredDoc> {
    return this.change(id, ctx, paused ? 'pause' : 'resume', (doc) => ({ ...doc, status: paused ? 'paused' : 'active' }));
  }

  /** Revoking is for good; the record stays for the audit trail. */
  revoke(id: string, ctx: WriteContext): Promise<StoredDoc> {
    return this.change(id, ctx, 'revoke', (doc) => ({ ...doc, revokedAt: new Date().toISOString() }));
  }

  private async change(id: string, ctx: WriteContext, action: string, next: (doc: KeyDoc) => KeyDoc): Promise<StoredDoc> {
    this.require(ctx.principal);
    for (let attempt = 0; attempt < 5; attempt++) {
      const doc = (await this.store.get('keys', id)) as KeyDoc | undefined;
      if (!doc || doc.revokedAt !== undefined) throw notFound('keys', id);
      checkPreconditions(doc, ctx.ifMatch, ctx.ifNoneMatch);
      const changed = next(doc);
      if (deepEqual(changed, doc)) return doc;
      const at = new Date().toISOString();
      const out: KeyDoc = { ...changed, version: doc.version + 1, updatedAt: at, updatedBy: ctx.principal.keyId };
      if (await this.commit(out, doc.version, action, doc, ctx)) return out;
    }
    throw new ApiError(409, 'concurrent_update', 'the key kept changing while this change was made; try again');
  }

  private async commit(doc: KeyDoc, expect: number, action: string, before: KeyDoc | null, ctx: WriteContext): Promise<boolean> {
    const r = await this.store.commit(
      [{ kind: 'keys', id: doc.id, expect, doc }],
      [{ at: doc.updatedAt as string, actor: actorOf(ctx.principal), action, kind: 'keys', id: doc.id, requestId: ctx.requestId, before: before && publicKey(before), after: publicKey(doc) }],
    );
    return r.ok;
  }
}
