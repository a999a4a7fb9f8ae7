/**
 * Who may do what. Operators (admin) do everything. Advertiser keys manage their own advertisers'
 * campaigns, creatives and audiences, read and edit their advertiser record, and read their part
 * of the audit log and their own reports; they cannot approve creatives, set spend counters or change owners. Read-only
 * keys read (only their advertisers' resources when the key names some).
 *
 * The outcome models (`models`) are trained on every advertiser's traffic at once, so their
 * figures belong to no one advertiser: operators and unscoped read-only keys read them; advertiser
 * keys and scoped read-only keys get 403.
 *
 * Another advertiser's resource is invisible: it answers 404 exactly as a missing one does, and
 * never shows up in lists, filters or the audit log. 403 is only for what a role can never do.
 */
import type { Principal } from './auth.js';
import { ownerOf } from '../campaigns/config-store.js';

export type ApiKind = 'advertisers' | 'campaigns' | 'creatives' | 'exchanges' | 'audiences' | 'keys' | 'audit' | 'config' | 'reports' | 'models';
export type Action = 'read' | 'create' | 'update' | 'delete' | 'pause' | 'approve' | 'import' | 'export';

// Reports are a tenant kind: a scoped key's reports are filtered to its advertisers (report-routes.ts).
const TENANT_KINDS: ReadonlySet<ApiKind> = new Set(['advertisers', 'campaigns', 'creatives', 'audiences', 'audit', 'reports']);
const ADVERTISER_ACTIONS: Partial<Record<ApiKind, ReadonlySet<Action>>> = {
  advertisers: new Set(['read', 'update']),
  campaigns: new Set(['read', 'create', 'update', 'delete', 'pause']),
  creatives: new Set(['read', 'create', 'update', 'delete', 'pause']),
  audiences: new Set(['read', 'create', 'update', 'delete', 'pause']),
  audit: new Set(['read']),
  reports: new Set(['read']),
};

export function permits(p: Principal, kind: ApiKind, action: Action): boolean {
  if (p.role === 'admin') return true;
  const scoped = p.advertiserIds !== undefined;
  if (scoped && !TENANT_KINDS.has(kind)) return false;
  if (p.role === 'read-only') return kind !== 'keys' && (action === 'read' || (action === 'export' && !scoped));
  return ADVERTISER_ACTIONS[kind]?.has(action) ?? false;
}

/** Whether the principal may see this resource at all (a scoped key: only its advertisers'). */
export function sees(p: Principal, kind: string, doc: Readonly<Record<string, unknown>>): boolean {
  if (p.advertiserIds === undefined) return true;
  const owner = ownerOf(kind, doc);
  return owner !== undefined && p.advertiserIds.has(owner);
}

/** Fields only operators may set (refused with 403 `forbidden_field` from anyone else, unless unchanged). */
export const OPERATOR_FIELDS: Readonly<Record<string, readonly string[]>> = {
  advertisers: ['status'],
  campaigns: ['spend'],
  creatives: ['status', 'reason'],
  audiences: [],
  exchanges: [],
};

/** Fields the server keeps (besides the common version/createdAt/...): refused with 400 `read_only` when changed. */
export const SERVER_FIELDS: Readonly<Record<string, readonly string[]>> = {
  advertisers: [],
  campaigns: [],
  creatives: ['advertiserId', 'reviewedBy', 'reviewedAt'],
  audiences: ['approximateSize'],
  exchanges: [],
};

/** Fields fixed at creation (400 `immutable`). */
export const IMMUTABLE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  advertisers: ['id'],
  campaigns: ['id', 'advertiserId'],
  creatives: ['id', 'campaignId'],
  audiences: ['id', 'advertiserId'],
  exchanges: ['id'],
};

/** The owner field a scoped key may only set to one of its advertisers. */
export const OWNER_FIELD: Readonly<Record<string, string | undefined>> = {
  campaigns: 'advertiserId',
  audiences: 'advertiserId',
};
