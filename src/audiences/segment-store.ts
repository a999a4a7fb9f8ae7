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
  /** Forgets every segment of one user key. */
  removeUser(key: string): Promise<boolean>;
  putSegment(meta: SegmentMeta): Promise<void>;
  getSegment(id: string): Promise<SegmentMeta | undefined>;
  listSegments(): Promise<SegmentMeta[]>;
  /** Removes the segment's metadata at once (so bidding stops using it) and its memberships. */
  dropSegment(id: string): Promise<boolean>;
  /** A number that changes whenever segment metadata changes, for cheap polling by other instances. */
  metaVersion(): Promise<number>;
  close(): Promise<void>;
}

/** Default lifetime of a membership when neither the row nor the segment says: 30 days. */
export const DEFAULT_SEGMENT_TTL_SECONDS = 30 * 24 * 3600;
