/**
 * Who the user is: the ids a bid request carries, normalised into segment-store keys.
 *
 * Key scheme (`<type>:<id>`, lower-cased type; ids kept as sent except where noted):
 * - `uid:<user.buyeruid>`         our own id, synced with the exchange (cookie sync / match table)
 * - `xid:<exchange>:<user.id>`    the exchange's own user id, only meaningful per exchange
 * - `ifa:<device.ifa>`            mobile advertising id, lower-cased; not when device.lmt = 1 or all zeros
 * - `eid:<source>:<uid>`          an extended id (`user.eids`, or 2.5 `user.ext.eids`), source lower-cased
 * Upload rows use the same types, so a CRM file keyed on hashed e-mail via an id provider
 * (for example `eid:uidapi.com:...`) meets the same key in bid requests.
 */
import type { BidRequestView } from '../openrtb/request-view.js';

export const ID_TYPES = ['uid', 'xid', 'ifa', 'eid'] as const;
export type IdType = (typeof ID_TYPES)[number];

/** At most this many ids are looked up per request (the rest are ignored). */
export const MAX_IDS_PER_REQUEST = 8;
const MAX_ID_LENGTH = 200;
/** A key is `<type>:` (4 characters for every type) and the id as uploadKey() bounds it, so both sides agree. */
const MAX_KEY_LENGTH = 4 + MAX_ID_LENGTH;

const ZERO_IFA = /^[0-]+$/;

export function userKeys(req: BidRequestView, exchangeId: string): string[] {
  const keys: string[] = [];
  if (req.buyerUid) push(keys, `uid:${req.buyerUid}`);
  if (req.userId) push(keys, `xid:${exchangeId}:${req.userId}`);
  if (req.ifa && !req.lmt && !ZERO_IFA.test(req.ifa)) push(keys, `ifa:${req.ifa.toLowerCase()}`);
  const eids = req.eids;
  if (Array.isArray(eids)) {
    for (let i = 0; i < eids.length && keys.length < MAX_IDS_PER_REQUEST; i++) {
      const e = eids[i] as { source?: unknown; uids?: unknown };
      if (!e || typeof e.source !== 'string' || !Array.isArray(e.uids)) continue;
      const source = e.source.toLowerCase();
      for (const u of e.uids as { id?: unknown }[]) if (u && typeof u.id === 'string' && u.id) push(keys, `eid:${source}:${u.id}`);
    }
  }
  return keys;
}

function push(keys: string[], key: string): void {
  if (keys.length < MAX_IDS_PER_REQUEST && key.length <= MAX_KEY_LENGTH && keys.indexOf(key) < 0) keys.push(key);
}

/**
 * The key for an uploaded row: `type` is one of ID_TYPES; for `xid` the id is `<exchange>:<user.id>`,
 * for `eid` it is `<source>:<uid>`. Returns an error message instead when the row cannot be keyed.
 */
export function uploadKey(type: string, id: string): string | { error: string } {
  const t = type.trim().toLowerCase();
  const v = id.trim();
  if (!v) return { error: 'user id is empty' };
  if (v.length > MAX_ID_LENGTH) return { error: `user id longer than ${MAX_ID_LENGTH}` };
  switch (t) {
    case 'uid':
      return `uid:${v}`;
    case 'ifa':
      return ZERO_IFA.test(v) ? { error: 'an all-zero ifa identifies nobody' } : `ifa:${v.toLowerCase()}`;
    case 'xid':
    case 'eid': {
      const colon = v.indexOf(':');
      if (colon <= 0 || colon === v.length - 1) return { error: `${t} ids are written <${t === 'xid' ? 'exchange' : 'source'}>:<id>` };
      return t === 'eid' ? `eid:${v.slice(0, colon).toLowerCase()}${v.slice(colon)}` : `xid:${v}`;
    }
    default:
      return { error: `unknown id type "${type}" (uid, xid, ifa, eid)` };
  }
}
