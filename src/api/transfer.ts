/**
 * Export and import of the whole configuration as one file, so a team can keep it in git.
 *
 * `GET /api/v1/export` writes a config document (`format: rtb-bidder-config/1`): the settings and
 * every live exchange, advertiser, campaign and creative with its status, approval and pause
 * state, without server fields (revisions, timestamps), sorted by id, as JSON or YAML. With
 * `shape=bundle` it writes instead exactly what bids right now, in the config/ file format.
 *
 * `POST /api/v1/import` (admin keys) reads a config document or a config/ file (JSON or YAML),
 * validates all of it at once (schema, references, the rules of campaigns/validate.ts over the
 * whole resulting configuration), and applies it in one commit (one config version, so bidders
 * swap from the old configuration to the new one whole). Modes:
 * - `merge` (default): resources in the file are created or replaced; the others stay.
 * - `replace`: the configuration becomes the file: live resources not in it are soft-deleted
 *   (history kept), and the settings are the file's.
 * Resources in the file that were soft-deleted come back. Creatives from a config/ file count as
 * approved; in a config document they keep the status they carry (pending when none).
 * `dryRun=true` validates and reports what would change, without changing anything.
 */
import { Type } from '@sinclair/typebox';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  BUNDLE_KINDS,
  SETTINGS_ID,
  assembleBundle,
  docsFromBundle,
  ownerOf,
  ruleErrorsByDoc,
  type AuditDraft,
  type BundleKind,
  type ConfigStore,
  type StoreState,
  type StoreWrite,
  type StoredDoc,
} from '../campaigns/config-store.js';
import { validateBundleShape } from '../campaigns/validate.js';
import type { ConfigBundle } from '../campaigns/schema.js';
import type { FieldError } from '../errors.js';
import type { Principal } from './auth.js';
import { ApiError, forbidden, invalid, aKey } from './errors.js';
import { permits } from './policy.js';
import { ConfigDocumentSchema, EXPORT_FORMAT, SYSTEM_FIELDS } from './schemas.js';
import { check, deepEqual, isObject } from './validation.js';
import { actorOf, parseQuery, type WriteContext } from './resources.js';
import { writableOf } from './write-rules.js';
import { StringEnum } from '../campaigns/schema.js';

export const EXPORT_QUERY = Type.Object(
  { format: Type.Optional(StringEnum(['json', 'yaml'])), shape: Type.Optional(StringEnum(['document', 'bundle'])) },
  { additionalProperties: false },
);
export const IMPORT_QUERY = Type.Object(
  { mode: Type.Optional(StringEnum(['merge', 'replace'])), dryRun: Type.Optional(StringEnum(['true', 'false'])) },
  { additionalProperties: false },
);
export const ImportResultSchema = Type.Object(
  {
    mode: StringEnum(['merge', 'replace']),
    dryRun: Type.Boolean(),
    configVersion: Type.Integer({ description: 'the config version after the import (the current one for a dry run or no change)' }),
    created: Type.Integer(),
    updated: Type.Integer(),
    deleted: Type.Integer(),
    unchanged: Type.Integer(),
    changes: Type.Array(Type.Object({ kind: Type.String(), id: Type.String(), action: StringEnum(['create', 'update', 'delete']) })),
  },
  { title: 'ImportResult' },
);

const RESOURCE_KINDS = ['exchanges', 'advertisers', 'campaigns', 'creatives'] as const;
type ResourceKind = (typeof RESOURCE_KINDS)[number];
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const live = (d: StoredDoc) => d.deletedAt === undefined;

/** The portable fields of a stored resource (no server fields). */
function portable(kind: ResourceKind, doc: StoredDoc): Record<string, unknown> {
  const out = writableOf(kind, doc);
  if (kind === 'creatives' && out.paused === false) delete out.paused;
  return out;
}

export function exportDocument(state: StoreState): Record<string, unknown> {
  const settings = state.docs.settings.get(SETTINGS_ID);
  const doc: Record<string, unknown> = { format: EXPORT_FORMAT, exportedAt: new Date().toISOString(), configVersion: state.version };
  if (settings?.defaultExchange !== undefined) doc.defaultExchange = settings.defaultExchange;
  if (settings?.currencies !== undefined) doc.currencies = settings.currencies;
  for (const kind of RESOURCE_KINDS) doc[kind] = [...state.docs[kind].values()].filter(live).sort(byId).map((d) => portable(kind, d));
  return doc;
}

export interface ExportResult {
  readonly contentType: string;
  readonly text: string;
  readonly filename: string;
}

export async function exportConfig(store: ConfigStore, p: Principal, query: URLSearchParams, accept: string): Promise<ExportResult> {
  if (!permits(p, 'config', 'export')) throw forbidden(`${aKey(p.role)} may not export the configuration`);
  const q = parseQuery(EXPORT_QUERY, query);
  const state = await store.readAll();
  const value = q.shape === 'bundle' ? assembleBundle(state) : exportDocument(state);
  const yaml = q.format === 'yaml' || (q.format === undefined && /\byaml\b/i.test(accept));
  return yaml
    ? { contentType: 'application/yaml', text: stringifyYaml(value), filename: 'config.yaml' }
    : { contentType: 'application/json', text: JSON.stringify(value, null, 2) + '\n', filename: 'config.json' };
}

/** Parses an import body: JSON, or YAML when the content type says so (or JSON fails and it parses as YAML). */
export function parseImportBody(raw: Buffer, contentType: string): unknown {
  const text = raw.toString('utf8');
  if (!text.trim()) throw invalid([{ path: '/', code: 'required', message: 'the body is empty' }]);
  const yaml = /yaml/i.test(contentType);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, yaml ? 'bad_yaml' : 'bad_json', `the body is not valid ${yaml ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}`);
  }
}

interface Incoming {
  readonly kind: BundleKind;
  readonly fields: Record<string, unknown>;
  /** Where it is in the file, for error paths. */
  readonly path: string;
}

/** The file's resources, or every problem with its shape. */
function incoming(body: unknown): { items: Incoming[]; fromFiles: boolean } {
  if (!isObject(body)) throw invalid([{ path: '/', code: 'type', message: 'must be a config document or a config file (an object)' }]);
  const items: Incoming[] = [];
  if (body.format !== undefined) {
    const errors = check(ConfigDocumentSchema, body);
    if (errors.length) throw invalid(errors, 'the config document is invalid');
    const settings: Record<string, unknown> = { id: SETTINGS_ID };
    if (body.defaultExchange !== undefined) settings.defaultExchange = body.defaultExchange;
    if (body.currencies !== undefined) settings.currencies = body.currencies;
    items.push({ kind: 'settings', fields: settings, path: '' });
    for (const kind of RESOURCE_KINDS)
      for (const [i, r] of ((body[kind] as Record<string, unknown>[] | undefined) ?? []).entries()) {
        const fields: Record<string, unknown> = { status: kind === 'creatives' ? 'pending' : 'active', ...(kind === 'creatives' ? { paused: false } : {}), ...r };
        items.push({ kind, fields, path: `/${kind}/${i}` });
      }
    return { items, fromFiles: false };
  }
  const errors = validateBundleShape(body);
  if (errors.length) throw invalid(errors, 'the config file is invalid');
  const bundle = body as ConfigBundle;
  const campaignIndex = new Map((bundle.campaigns ?? []).map((c, i) => [c.id, i]));
  const stamp = { at: '', by: '' };
  const settings: Record<string, unknown> = { id: SETTINGS_ID };
  if (bundle.defaultExchange !== undefined) settings.defaultExchange = bundle.defaultExchange;
  if (bundle.currencies !== undefined) settings.currencies = bundle.currencies;
  items.push({ kind: 'settings', fields: settings, path: '' });
  const counters: Record<string, number> = {};
  for (const { kind, doc } of docsFromBundle({ ...bundle, defaultExchange: undefined, currencies: undefined }, stamp)) {
    const fields = { ...doc } as Record<string, unknown>;
    for (const f of SYSTEM_FIELDS) delete fields[f];
    delete fields.advertiserId;
    if (kind === 'campaigns') fields.advertiserId = doc.advertiserId;
    let path: string;
    if (kind === 'creatives') {
      const ci = campaignIndex.get(doc.campaignId as string)!;
      const j = bundle.campaigns![ci].creatives.findIndex((cr) => cr.id === doc.id);
      path = `/campaigns/${ci}/creatives/${j}`;
    } else path = `/${kind}/${(counters[kind] = (counters[kind] ?? -1) + 1)}`;
    items.push({ kind, fields, path });
  }
  return { items, fromFiles: true };
}

export interface ImportResult {
  mode: 'merge' | 'replace';
  dryRun: boolean;
  configVersion: number;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  changes: { kind: string; id: string; action: 'create' | 'update' | 'delete' }[];
}

export async function importConfig(store: ConfigStore, body: unknown, query: URLSearchParams, ctx: WriteContext): Promise<ImportResult> {
  if (!permits(ctx.principal, 'config', 'import')) throw forbidden(`${aKey(ctx.principal.role)} may not import a configuration`);
  const q = parseQuery(IMPORT_QUERY, query);
  const mode = (q.mode as 'merge' | 'replace' | undefined) ?? 'merge';
  const dryRun = q.dryRun === 'true';
  const { items } = incoming(body);
  for (let attempt = 0; attempt < 5; attempt++) {
    const state = await store.readAll();
    const plan = planImport(state, items, mode, ctx.principal);
    const result: ImportResult = {
      mode,
      dryRun,
      configVersion: state.version,
      created: plan.changes.filter((c) => c.action === 'create').length,
      updated: plan.changes.filter((c) => c.action === 'update').length,
      deleted: plan.changes.filter((c) => c.action === 'delete').length,
      unchanged: plan.unchanged,
      changes: plan.changes,
    };
    if (dryRun || plan.writes.length === 0) return result;
    const audit: AuditDraft[] = plan.writes.map((w) => ({
      at: plan.at,
      actor: actorOf(ctx.principal),
      action: 'import',
      kind: w.kind,
      id: w.id,
      advertiserId: ownerOf(w.kind, w.doc ?? state.docs[w.kind as BundleKind].get(w.id)),
      requestId: ctx.requestId,
      before: state.docs[w.kind as BundleKind].get(w.id) ?? null,
      after: w.doc,
    }));
    const r = await store.commit(plan.writes, audit, { ifVersion: state.version });
    if (r.ok) return { ...result, configVersion: r.version };
  }
  throw new ApiError(409, 'concurrent_update', 'the configuration kept changing during the import; try again');
}

interface Plan {
  readonly at: string;
  readonly writes: StoreWrite[];
  readonly changes: ImportResult['changes'];
  readonly unchanged: number;
}

function planImport(state: StoreState, items: readonly Incoming[], mode: 'merge' | 'replace', p: Principal): Plan {
  return new ImportPlanner(state, items, mode, p).plan();
}

/** One import's plan as it is worked out: the resulting documents, the writes and changes, the errors so far. */
class ImportPlanner {
  private readonly at = new Date().toISOString();
  private readonly errors: FieldError[] = [];
  /** The resulting configuration's documents, by kind. */
  private readonly docs: Record<BundleKind, Map<string, StoredDoc>>;
  /** Where each `kind/id` of the file is in it, for error paths. */
  private readonly pathOf = new Map<string, string>();
  private readonly writes: StoreWrite[] = [];
  private readonly changes: ImportResult['changes'] = [];
  private unchanged = 0;

  constructor(
    private readonly state: StoreState,
    private readonly items: readonly Incoming[],
    private readonly mode: 'merge' | 'replace',
    private readonly p: Principal,
  ) {
    this.docs = Object.fromEntries(BUNDLE_KINDS.map((k) => [k, new Map(state.docs[k])])) as Record<BundleKind, Map<string, StoredDoc>>;
  }

  plan(): Plan {
    const named = this.name();
    for (const item of this.items) this.apply(item);
    if (this.mode === 'replace') this.removeAllBut(named);
    if (this.errors.length) throw invalid(this.errors, 'the import is invalid');
    this.checkRules();
    if (this.errors.length) throw invalid(this.errors, 'the import is invalid');
    return { at: this.at, writes: this.writes, changes: this.changes, unchanged: this.unchanged };
  }

  /** The `kind/id` of every item in the file, each one's path noted; an id used twice is an error. */
  private name(): Set<string> {
    const named = new Set<string>();
    for (const item of this.items) {
      const id = item.fields.id as string;
      const k = `${item.kind}/${id}`;
      if (named.has(k)) this.errors.push({ path: `${item.path}/id`, code: 'duplicate_id', message: `${item.kind.replace(/s$/, '')} id "${id}" is used twice` });
      named.add(k);
      this.pathOf.set(k, item.path);
    }
    return named;
  }

  /** Creates or updates the item's document, unless it is the same as the live one. */
  private apply(item: Incoming): void {
    const id = item.fields.id as string;
    const current = this.state.docs[item.kind].get(id);
    // Merging a file without settings (or with only some) keeps the rest of the current settings.
    const fields = item.kind === 'settings' && this.mode === 'merge' && current ? { ...stripSystem(current), ...item.fields } : { ...item.fields };
    if (item.kind === 'creatives') this.ownAndReview(item, fields, current);
    if (current && live(current) && deepEqual(withServer(item.kind, fields), withServer(item.kind, stripSystem(current)))) {
      this.unchanged++;
      return;
    }
    this.put(item.kind, this.stamp(fields, current), current, current && live(current) ? 'update' : 'create');
  }

  /** A creative's owner is its campaign's advertiser; its review stays with an unchanged status, else it is the importer's. */
  private ownAndReview(item: Incoming, fields: Record<string, unknown>, current: StoredDoc | undefined): void {
    const owner = this.campaignOwner(fields.campaignId as string);
    if (owner === undefined) this.errors.push({ path: `${item.path}/campaignId`, code: 'unknown_reference', message: `no campaign "${fields.campaignId}"` });
    else fields.advertiserId = owner;
    if (current && deepEqual(current.status, fields.status)) {
      if (current.reviewedBy !== undefined) fields.reviewedBy = current.reviewedBy;
      if (current.reviewedAt !== undefined) fields.reviewedAt = current.reviewedAt;
    } else if (fields.status !== 'pending') {
      fields.reviewedBy = this.p.keyId;
      fields.reviewedAt = this.at;
    }
  }

  /** Creatives belong to a campaign of the resulting configuration; their owner is its advertiser. */
  private campaignOwner(cid: string): string | undefined {
    const fromFile = this.items.find((i) => i.kind === 'campaigns' && i.fields.id === cid);
    if (fromFile) return fromFile.fields.advertiserId as string;
    const existing = this.state.docs.campaigns.get(cid);
    return this.mode === 'merge' && existing && live(existing) ? (existing.advertiserId as string) : undefined;
  }

  /** Replace mode: soft-deletes every live resource the file does not name. */
  private removeAllBut(named: ReadonlySet<string>): void {
    for (const kind of ['creatives', 'campaigns', 'advertisers', 'exchanges'] as const)
      for (const d of this.state.docs[kind].values())
        if (live(d) && !named.has(`${kind}/${d.id}`)) this.put(kind, this.stamp({ ...stripSystem(d), deletedAt: this.at }, d), d, 'delete');
  }

  /**
   * The rules of campaigns/validate.ts over the resulting configuration: errors in the file's items
   * point into the file; a document left out of it that the import breaks is a `breaks_dependent`.
   */
  private checkRules(): void {
    const ruleErrors = ruleErrorsByDoc({ version: this.state.version + 1, docs: this.docs });
    const before = ruleErrorsByDoc(this.state);
    for (const [k, list] of ruleErrors) {
      const path = this.pathOf.get(k);
      for (const e of list) {
        if (path !== undefined) this.errors.push({ path: `${path}${e.path === '/' ? '' : e.path}` || '/', code: e.code, message: e.message });
        else if (!(before.get(k) ?? []).some((b) => b.path === e.path && b.code === e.code))
          this.errors.push({ path: '/', code: 'breaks_dependent', message: `${k}#${e.path}: ${e.message} [${e.code}]` });
      }
    }
  }

  /** The next revision of a document, with the server fields. */
  private stamp(fields: Record<string, unknown>, current: StoredDoc | undefined): StoredDoc {
    const { id, ...rest } = fields;
    return {
      id: id as string,
      ...rest,
      version: (current?.version ?? 0) + 1,
      createdAt: (current?.createdAt as string | undefined) ?? this.at,
      updatedAt: this.at,
      createdBy: (current?.createdBy as string | undefined) ?? this.p.keyId,
      updatedBy: this.p.keyId,
    } as StoredDoc;
  }

  private put(kind: BundleKind, doc: StoredDoc, current: StoredDoc | undefined, action: 'create' | 'update' | 'delete'): void {
    this.docs[kind].set(doc.id, doc);
    this.writes.push({ kind, id: doc.id, expect: current?.version ?? 0, doc });
    if (kind !== 'settings') this.changes.push({ kind, id: doc.id, action });
  }
}

function stripSystem(d: StoredDoc): Record<string, unknown> {
  const out = { ...d } as Record<string, unknown>;
  for (const f of SYSTEM_FIELDS) delete out[f];
  return out;
}

/** For comparing: a creative's `paused: false` is the same as no `paused`. */
function withServer(kind: string, d: Record<string, unknown>): Record<string, unknown> {
  if (kind === 'creatives' && d.paused === undefined) return { ...d, paused: false };
  return d;
}
