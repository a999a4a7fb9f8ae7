/**
 * The segment store: which audience segments each user key belongs to, until when, and the
 * segments' metadata. One interface, two backends (in-process and Redis), one contract test suite.
 */

/** A user's membership of one segment, until `expiresAt` (unix seconds). */
export interface Membership {
  readonly segment: string;
  readonly expiresAt: number;
}

export type UserSegments = readonly Membership[];

export interface SegmentMeta {
  readonly id: string;
  readonly name: string;
  /** The advertiser that owns this first-party segment (undefined: shared / third-party). */
  readonly advertiserId?: string;
  /** Membership lifetime for uploaded rows without a TTL of their own. */
  readonly ttlSeconds: number;
  /** A rule audience: members are added by the owner's events as they arrive (rule-audiences.ts). */
  readonly rule?: AudienceRule;
  /** A lookalike audience: members are rebuilt on a schedule from users like the seed's (lookalikes.ts). */
  readonly lookalike?: LookalikeSpec;
  readonly createdAt: string;
  /** Approximate number of distinct users uploaded into it (filled in by getSegment/listSegments). */
  readonly approximateSize?: number;
  /**
   * Kept by the config API (src/api/audiences.ts): `paused` and `deleted` segments are not live
   * (bidding ignores them); a deleted one stays as a tombstone with its history. Unset: active.
   */
  readonly status?: 'active' | 'paused';
  /** The API's revision of this metadata (its ETag); unset counts as 1. */
  readonly version?: number;
  readonly updatedAt?: string;
  readonly createdBy?: string;
  readonly updatedBy?: string;
  readonly deletedAt?: string;
}

export interface AudienceRule {
  readonly source: 'pixel' | 'notices';
  readonly events: readonly string[];
  readonly lookbackDays: number;
  readonly excludeEvents?: readonly string[];
  readonly campaignIds?: readonly string[];
}

export interface LookalikeSpec {
  /** A segment of the same advertiser (uploaded or rule-built) whose members are the examples. */
  readonly seed: string;
  /** How many users the lookalike keeps (the best scored outside the seed). */
  readonly size: number;
  /** How often it is rebuilt. */
  readonly refreshHours: number;
}

/** Whether bidding uses a segment (API-paused and deleted ones are not used). */
export function isLiveSegment(meta: SegmentMeta): boolean {
  return meta.deletedAt === undefined && (meta.status === undefined || meta.status === 'active');
}

/** Adds `key` to each of `segments` until `expiresAt` (an existing later expiry is kept). */
export interface MembershipRow {
  readonly key: string;
  readonly segments: readonly string[];
  readonly expiresAt: number;
}

export interface SegmentStore {
  readonly kind: 'memory' | 'redis';
  /** Memberships per key, aligned with `keys` (undefined: the key is unknown). Expired ones may be included. */
  lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]>;
  /** In-process stores answer synchronously, so a cache miss costs no promise or timer. */
  lookupNow?(keys: readonly string[]): (UserSegments | undefined)[];
  addMemberships(rows: readonly MembershipRow[]): Promise<void>;
  /**
   * Forgets every segment of one user key, and every key matched to it (putMatch): forgetting a
   * user by any of its ids forgets the linked ids too.
   */
  removeUser(key: string): Promise<boolean>;
  /** Takes one user key out of one segment (true when it was in it). */
  removeMembership(key: string, segment: string): Promise<boolean>;
  /**
   * The match table: an exchange's user id (`xid:<exchange>:<id>`) is our user `uid:<id>` until
   * `expiresAt` (unix seconds). Both keys carry the link (a reserved membership, see MATCH_PREFIX),
   * so a lookup of the exchange's key answers the match in the same round trip, and removeUser of
   * either key finds the other. A newer match of the same exchange key replaces the older one.
   */
  putMatch(exchangeKey: string, userKey: string, expiresAt: number): Promise<void>;
  putSegment(meta: SegmentMeta): Promise<void>;
  getSegment(id: string): Promise<SegmentMeta | undefined>;
  listSegments(): Promise<SegmentMeta[]>;
  /** Removes the segment's metadata at once (so bidding stops using it) and its memberships. */
  dropSegment(id: string): Promise<boolean>;
  /** A number that changes whenever segment metadata changes, for cheap polling by other instances. */
  metaVersion(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A link to another key rides in a user's memberships as the segment `=<other key>` (segment ids
 * cannot start with '=': the API's pattern refuses it), so every layer that carries memberships
 * (caches, worker calls, Redis hashes) carries matches unchanged. Bidding ignores them: no live
 * segment has such an id.
 */
export const MATCH_PREFIX = '=';
const MATCHED_USER = `${MATCH_PREFIX}uid:`;

/** The `uid:` key an exchange's user key is matched to (latest unexpired match), if any. */
export function matchedUser(memberships: UserSegments, nowSec: number): string | undefined {
  let best: Membership | undefined;
  for (let i = 0; i < memberships.length; i++) {
    const m = memberships[i];
    if (m.segment.startsWith(MATCHED_USER) && m.expiresAt > nowSec && (best === undefined || m.expiresAt > best.expiresAt)) best = m;
  }
  return best?.segment.slice(MATCH_PREFIX.length);
}

/** Default lifetime of a membership when neither the row nor the segment says: 30 days. */
export const DEFAULT_SEGMENT_TTL_SECONDS = 30 * 24 * 3600;
