/**
 * Hashed features of a bid opportunity, for the click and conversion models: only what the bidder
 * sees at bid time (exchange, site domain or app bundle, publisher, placement format and size, geo,
 * device type, OS, browser, hour of week, the user's segments, the creative). Each feature is one
 * 32-bit hash of its field and value; a model reads the weight at `hash & mask` of its table, so one
 * set of hashes serves tables of any size. Hashes are built into a reused Uint32Array: nothing is
 * allocated per request, imp or candidate.
 */
import type { BidRequestView, ImpView } from '../openrtb/request-view.js';
import type { DeviceFacts } from '../targeting/targeting-index.js';

/** Field tags: part of every hash, so the same value in two fields is two features. Never renumber (trained tables would mean something else). */
export const FIELD = {
  bias: 1,
  exchange: 2,
  domain: 3,
  bundle: 4,
  publisher: 5,
  country: 6,
  region: 7,
  deviceType: 8,
  os: 9,
  browser: 10,
  hourOfWeek: 11,
  segment: 12,
  format: 13,
  size: 14,
  creative: 15,
  channel: 16,
} as const;

/** At most this many segments of a user become features (a user in hundreds would drown the rest). */
export const MAX_SEGMENT_FEATURES = 8;
/** Request features (bias and 10 fields, plus segments), imp features (2) and the creative. */
export const MAX_FEATURES = 11 + MAX_SEGMENT_FEATURES + 2 + 1;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the field tag and the string's UTF-16 code units, then a final mix so low bits spread (tables use the low bits). */
export function hashFeature(field: number, value: string): number {
  let h = Math.imul(FNV_OFFSET ^ field, FNV_PRIME);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME);
    if (c > 0xff) h = Math.imul(h ^ (c >>> 8), FNV_PRIME);
  }
  return mix(h);
}

/** A number-valued feature (device type, hour of week, sizes packed into one number). */
export function hashNumber(field: number, value: number): number {
  let h = Math.imul(FNV_OFFSET ^ field, FNV_PRIME);
  h = Math.imul(h ^ (value & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((value >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((value >>> 16) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ (value >>> 24), FNV_PRIME);
  return mix(h);
}

/** murmur3's finaliser: FNV alone leaves the low bits of short keys poorly mixed. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const BIAS = hashNumber(FIELD.bias, 0);
const FORMAT = [hashNumber(FIELD.format, 1), hashNumber(FIELD.format, 2), hashNumber(FIELD.format, 3), hashNumber(FIELD.format, 4)];
const HOUR_MS = 3_600_000;

/** What segments the features read: the audience's set (insertion order). */
export type Segments = ReadonlySet<string> | undefined;

/**
 * One bid opportunity's features: request features first, then the imp's, then the candidate's
 * creative. `setRequest` once per request, `setImp` once per imp, `setCreative` per candidate; each
 * leaves the earlier part in place. `hashes[0..length)` are valid.
 */
export class FeatureVector {
  readonly hashes = new Uint32Array(MAX_FEATURES);
  length = 0;
  private requestEnd = 0;
  private impEnd = 0;

  setRequest(req: BidRequestView, device: DeviceFacts, exchange: string, nowMs: number, segments: Segments): void {
    const h = this.hashes;
    let n = 0;
    h[n++] = BIAS;
    h[n++] = hashFeature(FIELD.exchange, exchange);
    h[n++] = hashFeature(FIELD.channel, req.channel ?? '');
    // Site and app inventory are told apart by field: the same name as a domain and as a bundle is two features.
    if (req.bundle !== undefined) h[n++] = hashFeature(FIELD.bundle, req.bundle);
    else if (req.domain !== undefined) h[n++] = hashFeature(FIELD.domain, req.domain);
    if (req.publisherId !== undefined) h[n++] = hashFeature(FIELD.publisher, req.publisherId);
    if (req.country !== undefined) h[n++] = hashFeature(FIELD.country, req.country);
    if (req.region !== undefined) h[n++] = hashFeature(FIELD.region, req.region);
    if (device.deviceType !== undefined) h[n++] = hashNumber(FIELD.deviceType, device.deviceType);
    if (device.os !== undefined) h[n++] = hashFeature(FIELD.os, device.os);
    if (device.browser !== undefined) h[n++] = hashFeature(FIELD.browser, device.browser);
    // Hours since the epoch, mod a week: UTC hour of week (the request carries no time zone of its own).
    h[n++] = hashNumber(FIELD.hourOfWeek, Math.floor(nowMs / HOUR_MS) % 168);
    if (segments !== undefined && segments.size > 0) {
      let k = 0;
      for (const s of segments) {
        if (k++ === MAX_SEGMENT_FEATURES) break;
        h[n++] = hashFeature(FIELD.segment, s);
      }
    }
    this.requestEnd = this.impEnd = this.length = n;
  }

  setImp(imp: ImpView): void {
    const h = this.hashes;
    let n = this.requestEnd;
    const format = imp.banner ? 0 : imp.video ? 1 : imp.audio ? 2 : 3;
    h[n++] = FORMAT[format];
    // The banner's first size (a `WxH` key, hashed as it is), else the video player's.
    const b = imp.banner;
    const v = imp.video;
    if (b !== undefined && b.sizes.length > 0) h[n++] = hashFeature(FIELD.size, b.sizes[0]);
    else if (v !== undefined && v.w !== undefined && v.h !== undefined) h[n++] = hashNumber(FIELD.size, (v.w & 0xffff) * 65536 + (v.h & 0xffff));
    this.impEnd = this.length = n;
  }

  /** `creativeHash`: the compiled creative's `featureHash` (creativeHash() of its id). */
  setCreative(creativeHash: number): void {
    this.hashes[this.impEnd] = creativeHash;
    this.length = this.impEnd + 1;
  }

  /** A copy of the current features (for the trainer). */
  copy(): Uint32Array {
    return this.hashes.slice(0, this.length);
  }
}

export const creativeHash = (creativeId: string): number => hashFeature(FIELD.creative, creativeId);
