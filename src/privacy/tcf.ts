/**
 * IAB TCF v2 consent strings, decoded with the IAB Tech Lab's own library (`@iabtechlabtcf/core`).
 *
 * We may use user-level data only when the string gives, for our vendor id (`GDPR_VENDOR_ID`):
 * - consent for purpose 1 (store and/or access information on a device),
 * - consent for purposes 3 and 4 (create / use a personalised ads profile): under TCF 2.2 legitimate
 *   interest is not a legal basis for purposes 3 to 6, so a legitimate-interest bit for 3 or 4 counts
 *   for nothing, and
 * - vendor consent for our vendor id,
 * and no publisher restriction for our vendor on purposes 1, 3 or 4 other than "require consent".
 * `purposeOneTreatment` (purpose 1 not disclosed, e.g. Germany) does not waive purpose 1: without
 * its consent bit we use no user data.
 *
 * Decoding never throws out of here: anything the library refuses, and anything that is not a v2
 * string, is `malformed`. Verdicts are cached (consent strings repeat heavily) in an LRU bounded
 * by total key length.
 */
import { LRUCache } from 'lru-cache';
import { RestrictionType, TCString } from '@iabtechlabtcf/core';

export type TcfVerdict = 'consent' | 'no_consent' | 'malformed';

/** The purposes we need consent for. */
export const TCF_REQUIRED_PURPOSES = [1, 3, 4] as const;
/** Longer strings are not decoded (treated as malformed): real ones are a few hundred bytes to a few KB. */
export const MAX_TCF_STRING_LENGTH = 16_384;

const cache = new LRUCache<string, TcfVerdict>({
  max: 20_000,
  maxSize: 8_000_000, // characters of keys, ~16 MB at most
  sizeCalculation: (_v, k) => k.length + 1,
});

/** The verdict of one TC string for one vendor id (undefined: we have none, so nobody consented to us). */
export function tcfVerdict(consent: string, vendorId: number | undefined): TcfVerdict {
  if (consent.length > MAX_TCF_STRING_LENGTH) return 'malformed';
  const key = `${vendorId ?? 0}|${consent}`;
  let v = cache.get(key);
  if (v === undefined) {
    v = decideTcf(consent, vendorId);
    cache.set(key, v);
  }
  return v;
}

function decideTcf(consent: string, vendorId: number | undefined): TcfVerdict {
  let tc;
  try {
    tc = TCString.decode(consent);
  } catch {
    return 'malformed';
  }
  try {
    if (tc.version !== 2) return 'malformed';
    if (vendorId === undefined) return 'no_consent';
    for (const p of TCF_REQUIRED_PURPOSES) if (!tc.purposeConsents.has(p)) return 'no_consent';
    if (!tc.vendorConsents.has(vendorId)) return 'no_consent';
    for (const r of tc.publisherRestrictions.getRestrictions(vendorId)) {
      const needed = (TCF_REQUIRED_PURPOSES as readonly number[]).includes(r.purposeId as number);
      if (needed && r.restrictionType !== RestrictionType.REQUIRE_CONSENT) return 'no_consent';
    }
    return 'consent';
  } catch {
    // A model the library decoded but cannot answer questions about is as good as unreadable.
    return 'malformed';
  }
}

/** For tests: forget cached verdicts. */
export function clearTcfCache(): void {
  cache.clear();
}
