/** The configuration as a whole: its audit log, and export and import as one file. */
import { Type } from '@sinclair/typebox';
import type { ConfigStore } from '../../campaigns/config-store.js';
import { StringEnum } from '../../campaigns/schema.js';
import { ApiError, forbidden, aKey } from '../errors.js';
import { permits } from '../policy.js';
import { parseQuery } from '../resources.js';
import type { ApiContext, ApiReply, RouteSpec } from '../router.js';
import { ConfigDocumentSchema } from '../schemas.js';
import { EXPORT_QUERY, IMPORT_QUERY, ImportResultSchema, exportConfig, importConfig, parseImportBody } from '../transfer.js';
import { API_PREFIX, AuditPageSchema, cursorPage, READ_ERRORS, WRITE_ERRORS } from './common.js';

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

export class ConfigRoutes {
  constructor(
    private readonly store: ConfigStore,
    /** The largest import body, in bytes. */
    private readonly importLimit: number,
  ) {}

  audit(): RouteSpec {
    return {
      method: 'get',
      path: `${API_PREFIX}/audit`,
      tag: 'audit',
      summary: 'The audit log: every change (who, what, when, before and after), newest first; advertiser keys see their advertisers\' entries only',
      query: AUDIT_QUERY,
      responses: { 200: { description: 'a page', schema: AuditPageSchema }, ...READ_ERRORS },
      handler: (c) => this.readAudit(c),
    };
  }

  private async readAudit(c: ApiContext): Promise<ApiReply> {
    if (!permits(c.principal, 'audit', 'read')) throw forbidden(`${aKey(c.principal.role)} may not read the audit log`);
    const q = parseQuery(AUDIT_QUERY, c.query);
    const scope = c.principal.advertiserIds;
    const page = await this.store.queryAudit({
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
  }

  export(): RouteSpec {
    return {
      method: 'get',
      path: `${API_PREFIX}/export`,
      tag: 'config',
      summary: 'The whole configuration as one file (JSON, or YAML with format=yaml or Accept: application/yaml); shape=bundle: what bids now, in the config/ file format',
      query: EXPORT_QUERY,
      responses: { 200: { description: 'the configuration', schema: ConfigDocumentSchema, contentTypes: ['application/json', 'application/yaml'] }, ...READ_ERRORS },
      handler: async (c) => {
        const r = await exportConfig(this.store, c.principal, c.query, c.accept);
        return { status: 200, text: r.text, contentType: r.contentType, headers: { 'content-disposition': `attachment; filename="${r.filename}"` } };
      },
    };
  }

  import(): RouteSpec {
    return {
      method: 'post',
      path: `${API_PREFIX}/import`,
      tag: 'config',
      summary: 'Import a config document or a config/ file (JSON or YAML; admin keys only), validated all at once, applied in one commit. mode=merge (default) or replace; dryRun=true',
      body: 'raw',
      bodyLimit: this.importLimit,
      requestSchema: ConfigDocumentSchema,
      requestContentTypes: ['application/json', 'application/yaml'],
      query: IMPORT_QUERY,
      responses: { 200: { description: 'what changed', schema: ImportResultSchema }, ...WRITE_ERRORS },
      handler: (c) => this.importFile(c),
    };
  }

  private async importFile(c: ApiContext): Promise<ApiReply> {
    if (!permits(c.principal, 'config', 'import')) throw forbidden(`${aKey(c.principal.role)} may not import a configuration`);
    parseQuery(IMPORT_QUERY, c.query);
    if (!c.raw) throw new ApiError(400, 'validation_failed', 'the body is empty');
    return { status: 200, body: await importConfig(this.store, parseImportBody(c.raw, c.contentType), c.query, c.write) };
  }
}
