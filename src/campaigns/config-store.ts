/**
 * The configuration store: the one source of truth for exchanges, advertisers, campaigns,
 * creatives (each its own document), global settings (currencies, default exchange) and API keys,
 * with an append-only audit log and a monotonically increasing config version.
 *
 * Two backends with one contract (tests/api/config-store.contract.ts): in process (the embedded
 * default, seeded from config/) and Redis (production, shared by every bidder instance).
 *
 * Every write is a compare-and-set: each document carries a revision (`version`, the API's ETag)
 * and a commit names the revision it read; the documents, the config version and the audit entries
 * of one commit change together or not at all. Watchers hear about new config versions; bidders
 * rebuild their targeting index from `bundleFromStore` (config-sync.ts) and swap it in whole.
 */
import type { ConfigBundle } from './schema.js';
import {
  AdvertiserSchema,
  AudioCreativeSchema,
  BannerCreativeSchema,
  CampaignSchema,
  ExchangeSchema,
  NativeCreativeSchema,
  VideoCreativeSchema,
} from './schema.js';
import { validateBundleRules, validateBundleShape } from './validate.js';
import { ConfigError, type FieldError } from '../errors.js';
import { processEnvironment, type Environment } from '../settings/environment.js';

/** Kinds whose documents make up the bidding configuration: writing them bumps the config version. */
export const BUNDLE_KINDS = ['settings', 'exchanges', 'advertisers', 'campaigns', 'creatives'] as const;
export type BundleKind = (typeof BUNDLE_KINDS)[number];
/** `keys` (API keys) live in the store too, but do not change what bidders bid on. */
export type StoreKind = BundleKind | 'keys';
export const STORE_KINDS: readonly StoreKind[] = [...BUNDLE_KINDS, 'keys'];
export const isBundleKind = (k: string): k is BundleKind => (BUNDLE_KINDS as readonly string[]).includes(k);

/** The id of the one `settings` document (currency table, default exchange). */
export const SETTINGS_ID = 'global';

/** Any stored document: JSON with an id and a revision (1 on creation, +1 per write). */
export interface StoredDoc {
  readonly id: string;
  readonly version: number;
  readonly [field: string]: unknown;
}

/** Server-kept fields of every API resource. */
export interface DocMeta {
  readonly id: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly createdBy: string;
  readonly updatedBy: string;
  /** Set: soft-deleted (kept with its history, never bid on, its id never reused). */
  readonly deletedAt?: string;
}

export interface StoreWrite {
  readonly kind: StoreKind;
  readonly id: string;
  /** The revision the writer read; 0: the document must not exist yet. */
  readonly expect: number;
  /** The new document (`version` must be `expect + 1`), or null to remove it for good. */
  readonly doc: StoredDoc | null;
}

export interface AuditActor {
  readonly keyId: string;
  readonly role: string;
  readonly name?: string;
}

/** One change, as the writer describes it; the store adds `seq` and `configVersion`. */
export interface AuditDraft {
  readonly at: string;
  readonly actor: AuditActor;
  readonly action: string;
  readonly kind: string;
  readonly id: string;
  /** The advertiser the resource belongs to (scoped keys see only their advertisers' entries). */
  readonly advertiserId?: string;
  readonly requestId?: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface AuditEntry extends AuditDraft {
  /** Position in the log, from 1, gap-free and increasing. */
  readonly seq: number;
  /** The config version after the change. */
  readonly configVersion: number;
}

export interface AuditQuery {
  readonly kind?: string;
  readonly id?: string;
  readonly actor?: string;
  readonly action?: string;
  readonly advertiserId?: string;
  /** Only entries of these advertisers (a scoped key's view). */
  readonly advertiserIds?: readonly string[];
  /** ISO times, inclusive. */
  readonly since?: string;
  readonly until?: string;
  /** Paging cursor: only entries with a smaller seq (newest first). */
  readonly before?: number;
  readonly limit: number;
}

export interface AuditPage {
  readonly items: AuditEntry[];
  /** Pass as `before` for the next (older) page; null when there is none. */
  readonly nextCursor: number | null;
}

/** Every bundle-kind document at one config version, read atomically. */
export interface StoreState {
  readonly version: number;
  readonly docs: { readonly [K in BundleKind]: ReadonlyMap<string, StoredDoc> };
}

export type CommitResult =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly conflict: { readonly kind: string; readonly id: string; readonly expected: number; readonly actual: number } };

export interface CommitOptions {
  /** Commit only while the config version is still this one (a write that validated against a whole state). */
  readonly ifVersion?: number;
  /** Bump the config version and tell watchers even though no bundle kind changed (e.g. audience metadata). */
  readonly notify?: boolean;
}

export interface ConfigStore {
  readonly kind: 'memory' | 'redis';
  /** The config version: 0 for an empty store, then +1 per commit that changed a bundle kind. */
  version(): Promise<number>;
  get(kind: StoreKind, id: string): Promise<StoredDoc | undefined>;
  list(kind: StoreKind): Promise<StoredDoc[]>;
  readAll(): Promise<StoreState>;
  /** Writes documents and audit entries atomically, if every revision (and `ifVersion`) still holds. */
  commit(writes: readonly StoreWrite[], audit?: readonly AuditDraft[], options?: CommitOptions): Promise<CommitResult>;
  put(kind: StoreKind, doc: StoredDoc, expect: number, audit?: AuditDraft): Promise<CommitResult>;
  delete(kind: StoreKind, id: string, expect: number, audit?: AuditDraft): Promise<CommitResult>;
  queryAudit(query: AuditQuery): Promise<AuditPage>;
  /**
   * Calls `onChange(version)` when the config version differs from `since` (the version the caller
   * knows; default: unknown) and from what it last reported: normally higher, lower only when the
   * store was reset (a Redis without persistence restarted). Versions in between may be skipped: it
   * is a hint to re-read the store, which always ends on the latest. Returns the unsubscribe.
   */
  watch(onChange: (version: number) => void, since?: number): () => void;
  close(): Promise<void>;
}

/** Checks the writes of a commit are well formed (a programming error otherwise). */
export function checkWrites(writes: readonly StoreWrite[]): void {
  const seen = new Set<string>();
  for (const w of writes) {
    const key = `${w.kind}/${w.id}`;
    if (seen.has(key)) throw new Error(`commit writes ${key} twice`);
    seen.add(key);
    if (!STORE_KINDS.includes(w.kind)) throw new Error(`unknown kind ${w.kind}`);
    if (w.doc && (w.doc.id !== w.id || w.doc.version !== w.expect + 1))
      throw new Error(`${key}: a written document needs id ${w.id} and version ${w.expect + 1}`);
  }
}

export function auditMatches(e: AuditEntry, q: AuditQuery): boolean {
  if (q.before !== undefined && e.seq >= q.before) return false;
  if (q.kind !== undefined && e.kind !== q.kind) return false;
  if (q.id !== undefined && e.id !== q.id) return false;
  if (q.actor !== undefined && e.actor.keyId !== q.actor) return false;
  if (q.action !== undefined && e.action !== q.action) return false;
  if (q.advertiserId !== undefined && e.advertiserId !== q.advertiserId) return false;
  if (q.advertiserIds !== undefined && (e.advertiserId === undefined || !q.advertiserIds.includes(e.advertiserId))) return false;
  if (q.since !== undefined && Date.parse(e.at) < Date.parse(q.since)) return false;
  if (q.until !== undefined && Date.parse(e.at) > Date.parse(q.until)) return false;
  return true;
}

/** Shared by the backends: `put` and `delete` are one-write commits. */
export abstract class BaseConfigStore implements ConfigStore {
  abstract readonly kind: 'memory' | 'redis';
  abstract version(): Promise<number>;
  abstract get(kind: StoreKind, id: string): Promise<StoredDoc | undefined>;
  abstract list(kind: StoreKind): Promise<StoredDoc[]>;
  abstract readAll(): Promise<StoreState>;
  abstract commit(writes: readonly StoreWrite[], audit?: readonly AuditDraft[], options?: CommitOptions): Promise<CommitResult>;
  abstract queryAudit(query: AuditQuery): Promise<AuditPage>;
  abstract watch(onChange: (version: number) => void, since?: number): () => void;
  abstract close(): Promise<void>;

  put(kind: StoreKind, doc: StoredDoc, expect: number, audit?: AuditDraft): Promise<CommitResult> {
    return this.commit([{ kind, id: doc.id, expect, doc }], audit ? [audit] : []);
  }

  delete(kind: StoreKind, id: string, expect: number, audit?: AuditDraft): Promise<CommitResult> {
    return this.commit([{ kind, id, expect, doc: null }], audit ? [audit] : []);
  }
}

/** The in-process backend. Documents are kept as JSON text, so no caller can change one in place. */
export class MemoryConfigStore extends BaseConfigStore {
  readonly kind = 'memory' as const;
  private readonly docs = new Map<StoreKind, Map<string, string>>(STORE_KINDS.map((k) => [k, new Map()]));
  private readonly revs = new Map<StoreKind, Map<string, number>>(STORE_KINDS.map((k) => [k, new Map()]));
  private configVersion = 0;
  private readonly audit: AuditEntry[] = [];
  private readonly listeners = new Set<(version: number) => void>();

  async version(): Promise<number> {
    return this.configVersion;
  }

  async get(kind: StoreKind, id: string): Promise<StoredDoc | undefined> {
    const raw = this.docs.get(kind)!.get(id);
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredDoc);
  }

  async list(kind: StoreKind): Promise<StoredDoc[]> {
    return [...this.docs.get(kind)!.values()].map((raw) => JSON.parse(raw) as StoredDoc);
  }

  async readAll(): Promise<StoreState> {
    const docs = {} as Record<BundleKind, Map<string, StoredDoc>>;
    for (const k of BUNDLE_KINDS) docs[k] = new Map([...this.docs.get(k)!].map(([id, raw]) => [id, JSON.parse(raw) as StoredDoc]));
    return { version: this.configVersion, docs };
  }

  async commit(writes: readonly StoreWrite[], audit: readonly AuditDraft[] = [], options: CommitOptions = {}): Promise<CommitResult> {
    checkWrites(writes);
    if (options.ifVersion !== undefined && options.ifVersion !== this.configVersion)
      return { ok: false, conflict: { kind: 'config', id: 'version', expected: options.ifVersion, actual: this.configVersion } };
    for (const w of writes) {
      const actual = this.revs.get(w.kind)!.get(w.id) ?? 0;
      if (actual !== w.expect) return { ok: false, conflict: { kind: w.kind, id: w.id, expected: w.expect, actual } };
    }
    for (const w of writes) {
      if (w.doc) {
        this.docs.get(w.kind)!.set(w.id, JSON.stringify(w.doc));
        this.revs.get(w.kind)!.set(w.id, w.doc.version);
      } else {
        this.docs.get(w.kind)!.delete(w.id);
        this.revs.get(w.kind)!.delete(w.id);
      }
    }
    const bump = options.notify === true || writes.some((w) => isBundleKind(w.kind));
    if (bump) this.configVersion++;
    const version = this.configVersion;
    for (const a of audit) this.audit.push(JSON.parse(JSON.stringify({ seq: this.audit.length + 1, configVersion: version, ...a })) as AuditEntry);
    if (bump) queueMicrotask(() => this.listeners.forEach((l) => l(version)));
    return { ok: true, version };
  }

  async queryAudit(q: AuditQuery): Promise<AuditPage> {
    const items: AuditEntry[] = [];
    for (let i = this.audit.length - 1; i >= 0 && items.length <= q.limit; i--) {
      const e = this.audit[i];
      if (q.since !== undefined && Date.parse(e.at) < Date.parse(q.since)) break;
      if (auditMatches(e, q)) items.push(e);
    }
    const more = items.length > q.limit;
    if (more) items.length = q.limit;
    return { items: JSON.parse(JSON.stringify(items)) as AuditEntry[], nextCursor: more ? items[items.length - 1].seq : null };
  }

  watch(onChange: (version: number) => void, since = this.configVersion): () => void {
    let last = since;
    const listener = (v: number) => {
      if (v !== last) onChange((last = v));
    };
    if (since !== this.configVersion) queueMicrotask(() => listener(this.configVersion));
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// From documents to a ConfigBundle (what the file loader produces and buildSnapshot compiles).

const keysOf = (schema: { properties: object }) => Object.keys(schema.properties);
const ADVERTISER_FIELDS = keysOf(AdvertiserSchema);
const EXCHANGE_FIELDS = keysOf(ExchangeSchema);
const CAMPAIGN_FIELDS = keysOf(CampaignSchema).filter((k) => k !== 'creatives');
const CREATIVE_FIELDS: Record<string, string[]> = {
  banner: keysOf(BannerCreativeSchema),
  video: keysOf(VideoCreativeSchema),
  audio: keysOf(AudioCreativeSchema),
  native: keysOf(NativeCreativeSchema),
};

function pick(doc: Readonly<Record<string, unknown>>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (doc[f] !== undefined) out[f] = doc[f];
  return out;
}

export const toBundleAdvertiser = (doc: StoredDoc) => pick(doc, ADVERTISER_FIELDS);
export const toBundleExchange = (doc: StoredDoc) => pick(doc, EXCHANGE_FIELDS);
export const toBundleCampaign = (doc: StoredDoc) => pick(doc, CAMPAIGN_FIELDS);
export const toBundleCreative = (doc: StoredDoc) => pick(doc, CREATIVE_FIELDS[String(doc.type)] ?? ['id', 'type']);

const live = (d: StoredDoc) => d.deletedAt === undefined;
const active = (d: StoredDoc) => live(d) && (d.status ?? 'active') === 'active';
/** A creative that may bid: approved, not paused, not deleted. */
export const creativeBids = (d: StoredDoc) => live(d) && d.status === 'approved' && d.paused !== true;

/** Creatives grouped by campaign, in id order (so a bundle is deterministic). */
function creativesByCampaign(state: StoreState, keep: (d: StoredDoc) => boolean): Map<string, StoredDoc[]> {
  const out = new Map<string, StoredDoc[]>();
  for (const cr of [...state.docs.creatives.values()].sort(byId)) {
    if (!keep(cr)) continue;
    const cid = String(cr.campaignId);
    let list = out.get(cid);
    if (!list) out.set(cid, (list = []));
    list.push(cr);
  }
  return out;
}

/** Exchanges left out of bundles while paused: campaigns' exchange rules may still name them. */
const pausedExchangeIds = (state: StoreState): ReadonlySet<string> =>
  new Set([...state.docs.exchanges.values()].filter((d) => live(d) && !active(d)).map((d) => d.id));

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * What bidders bid on: active exchanges; advertisers not deleted; campaigns that are active, of an
 * active advertiser, with at least one approved, unpaused creative (only those creatives).
 * Paused and deleted resources are left out.
 */
export function assembleBundle(state: StoreState): ConfigBundle {
  const settings = state.docs.settings.get(SETTINGS_ID);
  const advertisers = [...state.docs.advertisers.values()].filter(live).sort(byId);
  const activeAdvertisers = new Set(advertisers.filter(active).map((a) => a.id));
  const creatives = creativesByCampaign(state, creativeBids);
  const campaigns = [...state.docs.campaigns.values()]
    .filter((c) => active(c) && activeAdvertisers.has(String(c.advertiserId)) && creatives.has(c.id))
    .sort(byId)
    .map((c) => ({ ...toBundleCampaign(c), status: 'active', creatives: creatives.get(c.id)!.map(toBundleCreative) }));
  const bundle: Record<string, unknown> = {
    exchanges: [...state.docs.exchanges.values()].filter(active).sort(byId).map(toBundleExchange),
    advertisers: advertisers.map(toBundleAdvertiser),
    campaigns,
  };
  if (settings?.defaultExchange !== undefined) bundle.defaultExchange = settings.defaultExchange;
  if (settings?.currencies !== undefined) bundle.currencies = settings.currencies;
  return bundle as ConfigBundle;
}

/**
 * The bundle bidders compile, validated exactly as the file loader validates config/, so a store
 * can never produce an index the loader would refuse. Throws ConfigError (paths `kind/id#/pointer`).
 */
export async function bundleFromStore(store: ConfigStore): Promise<{ version: number; bundle: ConfigBundle }> {
  const state = await store.readAll();
  return { version: state.version, bundle: validatedBundle(state) };
}

export function validatedBundle(state: StoreState): ConfigBundle {
  const bundle = assembleBundle(state);
  const shape = validateBundleShape(bundle);
  if (shape.length) throw new ConfigError(shape);
  const origin = new WeakMap<object, string>();
  origin.set(bundle, `settings/${SETTINGS_ID}#`);
  for (const key of ['exchanges', 'advertisers', 'campaigns'] as const)
    for (const item of bundle[key] ?? []) origin.set(item, `${key}/${item.id}#`);
  const errors = validateBundleRules(bundle, (item) => origin.get(item) ?? '', processEnvironment(), pausedExchangeIds(state));
  if (errors.length) throw new ConfigError(errors);
  return bundle;
}

/**
 * The rules of validate.ts over every live (not deleted) document, whatever its status, so a paused
 * campaign or a pending creative cannot hold an error that only shows when it is resumed or approved.
 * Paused exchanges are left out, as bidders leave them out. Errors are grouped by `kind/id`, their
 * paths relative to that document (a creative's errors against the creative, not its campaign).
 */
export function ruleErrorsByDoc(state: StoreState, env: Environment = processEnvironment()): Map<string, FieldError[]> {
  const settings = state.docs.settings.get(SETTINGS_ID);
  const origin = new WeakMap<object, string>();
  const creativeIds = new Map<string, string[]>();
  const creatives = creativesByCampaign(state, live);
  const exchanges = [...state.docs.exchanges.values()].filter(active).sort(byId).map((d) => tag(toBundleExchange(d), `exchanges|${d.id}`));
  const advertisers = [...state.docs.advertisers.values()].filter(live).sort(byId).map((d) => tag(toBundleAdvertiser(d), `advertisers|${d.id}`));
  const campaigns = [...state.docs.campaigns.values()]
    .filter(live)
    .sort(byId)
    .map((c) => {
      const list = creatives.get(c.id) ?? [];
      creativeIds.set(c.id, list.map((cr) => cr.id));
      return tag({ ...toBundleCampaign(c), creatives: list.map(toBundleCreative) }, `campaigns|${c.id}`);
    });
  const bundle = { exchanges, advertisers, campaigns } as Record<string, unknown>;
  if (settings?.defaultExchange !== undefined) bundle.defaultExchange = settings.defaultExchange;
  if (settings?.currencies !== undefined) bundle.currencies = settings.currencies;
  origin.set(bundle, `settings|${SETTINGS_ID}`);
  function tag<T extends object>(item: T, key: string): T {
    origin.set(item, key);
    return item;
  }
  const out = new Map<string, FieldError[]>();
  for (const e of validateBundleRules(bundle as ConfigBundle, (item) => origin.get(item) ?? 'unknown|', env, pausedExchangeIds(state))) {
    const bar = e.path.indexOf('|');
    let kind = e.path.slice(0, bar);
    const rest = e.path.slice(bar + 1);
    const slash = rest.indexOf('/');
    let id = slash < 0 ? rest : rest.slice(0, slash);
    let sub = slash < 0 ? '' : rest.slice(slash);
    const m = kind === 'campaigns' ? /^\/creatives\/(\d+)(.*)$/.exec(sub) : null;
    if (m) {
      const crid = creativeIds.get(id)?.[Number(m[1])];
      if (crid !== undefined) {
        kind = 'creatives';
        id = crid;
        sub = m[2];
      }
    }
    const key = `${kind}/${id}`;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push({ path: sub || '/', code: e.code, message: e.message });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// From a ConfigBundle (config/ files) to documents: seeding the embedded store, file imports.

export interface DocStamp {
  readonly at: string;
  readonly by: string;
}

const stampNew = (s: DocStamp) => ({ version: 1, createdAt: s.at, updatedAt: s.at, createdBy: s.by, updatedBy: s.by });

/**
 * Documents for every resource of a validated bundle (versions 1: callers renumber them against
 * what the store already has). Creatives from files count as approved; their owner is their
 * campaign's advertiser.
 */
export function docsFromBundle(bundle: ConfigBundle, stamp: DocStamp): { kind: BundleKind; doc: StoredDoc }[] {
  const out: { kind: BundleKind; doc: StoredDoc }[] = [];
  const meta = stampNew(stamp);
  if (bundle.defaultExchange !== undefined || bundle.currencies !== undefined) {
    const settings: Record<string, unknown> = { id: SETTINGS_ID, ...meta };
    if (bundle.defaultExchange !== undefined) settings.defaultExchange = bundle.defaultExchange;
    if (bundle.currencies !== undefined) settings.currencies = bundle.currencies;
    out.push({ kind: 'settings', doc: settings as unknown as StoredDoc });
  }
  for (const ex of bundle.exchanges ?? []) out.push({ kind: 'exchanges', doc: { ...ex, status: 'active', ...meta } });
  for (const adv of bundle.advertisers ?? []) out.push({ kind: 'advertisers', doc: { ...adv, status: 'active', ...meta } });
  for (const c of bundle.campaigns ?? []) {
    const { creatives, ...campaign } = c;
    out.push({ kind: 'campaigns', doc: { ...campaign, status: campaign.status ?? 'active', ...meta } });
    for (const cr of creatives)
      out.push({
        kind: 'creatives',
        doc: { ...cr, campaignId: c.id, advertiserId: c.advertiserId, status: 'approved', paused: false, ...meta },
      });
  }
  return out;
}

/**
 * Seeds an empty store from a bundle (config/ files), in one commit. A store that already holds a
 * configuration is left alone (several instances starting at once: the first one seeds).
 * Returns true when this call seeded it.
 */
export async function seedStore(store: ConfigStore, bundle: ConfigBundle, by = 'config-files'): Promise<boolean> {
  if ((await store.version()) > 0) return false;
  const at = new Date().toISOString();
  const docs = docsFromBundle(bundle, { at, by });
  const actor: AuditActor = { keyId: by, role: 'system' };
  const audit: AuditDraft[] = docs.map(({ kind, doc }) => ({
    at,
    actor,
    action: 'seed',
    kind,
    id: doc.id,
    advertiserId: ownerOf(kind, doc),
    before: null,
    after: doc,
  }));
  const r = await store.commit(
    docs.map(({ kind, doc }) => ({ kind, id: doc.id, expect: 0, doc })),
    audit,
    { ifVersion: 0, notify: true },
  );
  return r.ok;
}

/** The advertiser a document belongs to, for tenant scoping (undefined: global, operators only). */
export function ownerOf(kind: string, doc: Readonly<Record<string, unknown>> | null | undefined): string | undefined {
  if (!doc) return undefined;
  if (kind === 'advertisers') return doc.id as string;
  if (kind === 'campaigns' || kind === 'creatives' || kind === 'audiences') return (doc.advertiserId as string | undefined) ?? undefined;
  return undefined;
}
