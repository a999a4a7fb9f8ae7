/**
 * Bid request parsing: bytes → BidRequestView, or an InvalidRequest with a bounded reason.
 * Never throws. Fields that constrain what we may bid (bcat, badv, floors, sizes...) must be
 * well-typed or the request is refused; fields that only inform targeting are read when
 * well-typed and otherwise treated as absent (which can only make targeted campaigns ineligible).
 */
import { exceedsJsonDepth } from './json-depth.js';
import {
  NO_DEALS,
  NO_NUMBERS,
  NO_STRINGS,
  type AudioView,
  type BannerView,
  type BidRequestView,
  type Channel,
  type DealView,
  type DurationFloorRange,
  type DurationFloors,
  type ImpView,
  type NativeView,
  type SizeLimits,
  type VideoView,
} from './request-view.js';
import { cityKey, hasPosition, normalizeCountry, regionKey } from './geo.js';
import { withParentCategories } from './categories.js';

export const INVALID_REASONS = ['empty_body', 'bad_json', 'too_deep', 'not_object', 'bad_id', 'bad_imp', 'bad_field'] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

export interface InvalidRequest {
  readonly invalid: InvalidReason;
  readonly message: string;
}

class Refusal {
  constructor(readonly reason: InvalidReason, readonly message: string) {}
}

/**
 * Field paths for error messages (`imp[0].banner.format[1].w`) are built only while explaining a
 * refusal: a request is read once without them (the hot path builds no strings it will not send),
 * and only if that pass refuses is it read again with them, for the message.
 */
let explaining = false;
const sub = (path: string, field: string): string => (explaining ? path + field : '');
const item = (path: string, field: string, i: number): string => (explaining ? `${path}${field}[${i}]` : '');

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj | undefined => (isObj(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const hasItems = (v: unknown): boolean => Array.isArray(v) && v.length > 0;
/**
 * Whether a `cattax` (OpenRTB 2.6, AdCOM's category taxonomies) names the one campaigns are written
 * in: IAB content categories 1.0, which absent means. Anything else (2 = content taxonomy 2.0, ...,
 * vendor taxonomies, or not a number) cannot be compared with them.
 */
const taxonomyKnown = (v: unknown): boolean => v === undefined || v === null || v === 1;
/** An array of integers, or undefined (informational fields only: a malformed one reads as absent). */
const ints = (v: unknown): readonly number[] | undefined =>
  Array.isArray(v) && v.length <= 64 && v.every((x) => Number.isInteger(x)) ? (v as number[]) : undefined;

function strictNumber(v: unknown, path: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Refusal('bad_field', `${path} must be a non-negative number`);
  return v;
}

function strictStrings(v: unknown, path: string): readonly string[] {
  if (v === undefined || v === null) return NO_STRINGS;
  if (!Array.isArray(v)) throw new Refusal('bad_field', `${path} must be an array of strings`);
  for (let i = 0; i < v.length; i++)
    if (typeof v[i] !== 'string') throw new Refusal('bad_field', `${path}[${i}] must be a string`);
  return v as string[];
}

function strictInts(v: unknown, path: string): readonly number[] {
  if (v === undefined || v === null) return NO_NUMBERS;
  if (!Array.isArray(v)) throw new Refusal('bad_field', `${path} must be an array of integers`);
  for (let i = 0; i < v.length; i++)
    if (!Number.isInteger(v[i])) throw new Refusal('bad_field', `${path}[${i}] must be an integer`);
  return v as number[];
}

function strictDim(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v) || (v as number) < 0) throw new Refusal('bad_field', `${path} must be a non-negative integer`);
  return v as number;
}

/** Parses a request body (UTF-8 bytes or text). */
export function parseBidRequest(body: Buffer | string, maxDepth = 64): BidRequestView | InvalidRequest {
  if (body.length === 0) return { invalid: 'empty_body', message: 'empty body' };
  if (exceedsJsonDepth(body, maxDepth)) return { invalid: 'too_deep', message: `JSON nested deeper than ${maxDepth}` };
  let doc: unknown;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return { invalid: 'bad_json', message: 'body is not valid JSON' };
  }
  return viewFromDocument(doc);
}

/** Builds the view from an already-decoded document (JSON today, protobuf later). */
export function viewFromDocument(doc: unknown): BidRequestView | InvalidRequest {
  try {
    return buildView(doc);
  } catch (e) {
    if (!(e instanceof Refusal)) return { invalid: 'bad_field', message: 'request could not be read' };
    return explainRefusal(doc, e);
  }
}

/** Reads a refused document again, with field paths, for a message that names the field. */
function explainRefusal(doc: unknown, first: Refusal): InvalidRequest {
  explaining = true;
  try {
    buildView(doc);
    return { invalid: first.reason, message: first.message }; // cannot happen: the same document, the same checks
  } catch (e) {
    return e instanceof Refusal ? { invalid: e.reason, message: e.message } : { invalid: first.reason, message: first.message };
  } finally {
    explaining = false;
  }
}

export function isInvalid(v: BidRequestView | InvalidRequest): v is InvalidRequest {
  return (v as InvalidRequest).invalid !== undefined;
}

function buildView(doc: unknown): BidRequestView {
  if (!isObj(doc)) throw new Refusal('not_object', 'request must be a JSON object');
  const id = doc.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) throw new Refusal('bad_id', 'id must be a non-empty string');
  const imps = doc.imp;
  if (!Array.isArray(imps) || imps.length === 0) throw new Refusal('bad_imp', 'imp must be a non-empty array');
  if (imps.length > 100) throw new Refusal('bad_imp', 'more than 100 imp objects');
  const impViews: ImpView[] = new Array(imps.length);
  for (let i = 0; i < imps.length; i++) {
    impViews[i] = buildImp(imps[i], i);
    for (let j = 0; j < i; j++) if (impViews[j].id === impViews[i].id) throw new Refusal('bad_imp', `imp[${i}].id is not unique`);
  }
  const tmax = doc.tmax;
  if (tmax !== undefined && tmax !== null && (!Number.isInteger(tmax) || (tmax as number) < 0))
    throw new Refusal('bad_field', 'tmax must be a non-negative integer');

  const site = obj(doc.site);
  const app = site ? undefined : obj(doc.app);
  const dooh = site || app ? undefined : obj(doc.dooh);
  const inventory = site ?? app ?? dooh;
  const channel: Channel = site ? 'site' : app ? 'app' : dooh ? 'dooh' : undefined;
  const publisher = obj(inventory?.publisher);
  const content = obj(inventory?.content);
  // OpenRTB 2.6 `cattax`: the taxonomy of the site/app's cat, pagecat and sectioncat, and of content.cat.
  const inventoryTaxonomyKnown = taxonomyKnown(inventory?.cattax);
  const contentTaxonomyKnown = taxonomyKnown(content?.cattax);

  const device = obj(doc.device);
  const user = obj(doc.user);
  const userExt = obj(user?.ext);
  // Field by field: a device.geo with only lat/lon must not hide user.geo's country.
  const dgeo = obj(device?.geo);
  const ugeo = obj(user?.geo);
  const country = normalizeCountry(str(dgeo?.country) ?? str(ugeo?.country));
  const pgeo = hasPosition(dgeo) ? dgeo : hasPosition(ugeo) ? ugeo : undefined;
  const regs = obj(doc.regs);
  const regsExt = obj(regs?.ext);

  return {
    id,
    tmax: tmax as number | undefined,
    test: doc.test === 1,
    at: int(doc.at) ?? 2,
    cur: doc.cur === undefined ? undefined : strictStrings(doc.cur, 'cur'),
    imps: impViews,
    channel,
    domain: normalizeDomain(str(site?.domain) ?? domainOfPage(str(site?.page))),
    bundle: app ? str(app.bundle)?.toLowerCase() : undefined,
    publisherId: str(publisher?.id),
    categories: withParentCategories(
      inventoryTaxonomyKnown ? inventory?.cat : undefined,
      inventoryTaxonomyKnown ? inventory?.pagecat : undefined,
      inventoryTaxonomyKnown ? inventory?.sectioncat : undefined,
      contentTaxonomyKnown ? content?.cat : undefined,
    ),
    categoriesKnown:
      (inventoryTaxonomyKnown || !(hasItems(inventory?.cat) || hasItems(inventory?.pagecat) || hasItems(inventory?.sectioncat))) &&
      (contentTaxonomyKnown || !hasItems(content?.cat)),
    country,
    region: regionKey(country, str(dgeo?.region) ?? str(ugeo?.region)),
    city: cityKey(str(dgeo?.city) ?? str(ugeo?.city)),
    postalCode: str(dgeo?.zip) ?? str(ugeo?.zip),
    language: str(device?.langb) ?? str(device?.language),
    lat: pgeo?.lat as number | undefined,
    lon: pgeo?.lon as number | undefined,
    geoType: int(pgeo?.type),
    deviceType: int(device?.devicetype),
    os: str(device?.os)?.toLowerCase(),
    make: str(device?.make),
    model: str(device?.model),
    carrier: str(device?.carrier),
    connectionType: int(device?.connectiontype),
    ua: str(device?.ua),
    ip: str(device?.ip),
    ipv6: str(device?.ipv6),
    bcat: strictStrings(doc.bcat, 'bcat'),
    bcatKnown: taxonomyKnown(doc.cattax),
    badv: strictStrings(doc.badv, 'badv'),
    bapp: strictStrings(doc.bapp, 'bapp'),
    wseat: doc.wseat === undefined ? undefined : strictStrings(doc.wseat, 'wseat'),
    bseat: strictStrings(doc.bseat, 'bseat'),
    gdpr: int(regs?.gdpr) ?? int(regsExt?.gdpr),
    consent: str(user?.consent) ?? str(userExt?.consent),
    usPrivacy: str(regs?.us_privacy) ?? str(regsExt?.us_privacy),
    gpp: str(regs?.gpp) ?? str(regsExt?.gpp),
    gppSid: ints(regs?.gpp_sid) ?? ints(regsExt?.gpp_sid),
    coppa: regs?.coppa === 1,
    lmt: device?.lmt === 1,
    buyerUid: str(user?.buyeruid),
    userId: str(user?.id),
    ifa: str(device?.ifa),
    eids: user?.eids ?? userExt?.eids,
  };
}

function buildImp(raw: unknown, i: number): ImpView {
  if (!isObj(raw)) throw new Refusal('bad_imp', `imp[${i}] must be an object`);
  const id = raw.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) throw new Refusal('bad_imp', `imp[${i}].id must be a non-empty string`);
  const path = explaining ? `imp[${i}]` : '';
  const pmp = raw.pmp === undefined || raw.pmp === null ? undefined : obj(raw.pmp);
  if (raw.pmp !== undefined && raw.pmp !== null && !pmp) throw new Refusal('bad_field', `${path}.pmp must be an object`);
  const bidFloorCur = raw.bidfloorcur === undefined || raw.bidfloorcur === null ? 'USD' : raw.bidfloorcur;
  if (!isCurrencyCode(bidFloorCur))
    throw new Refusal('bad_field', `${path}.bidfloorcur must be an ISO-4217 code`);
  return {
    id,
    banner: buildBanner(raw.banner, sub(path, '.banner')),
    video: buildVideo(raw.video, sub(path, '.video')),
    audio: buildAudio(raw.audio, sub(path, '.audio')),
    native: buildNative(raw.native, sub(path, '.native')),
    bidFloor: strictNumber(raw.bidfloor, sub(path, '.bidfloor'), 0),
    bidFloorCur,
    secure: raw.secure === 1,
    privateAuction: pmp?.private_auction === 1,
    deals: pmp ? buildDeals(pmp.deals, sub(path, '.pmp.deals')) : NO_DEALS,
  };
}

function present(v: unknown, path: string): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new Refusal('bad_field', `${path} must be an object`);
  return v;
}

function buildBanner(v: unknown, path: string): BannerView | undefined {
  const b = present(v, path);
  if (!b) return undefined;
  const sizes: string[] = [];
  if (b.format !== undefined && b.format !== null) {
    if (!Array.isArray(b.format)) throw new Refusal('bad_field', `${path}.format must be an array`);
    for (let i = 0; i < b.format.length; i++) {
      const f = present(b.format[i], item(path, '.format', i));
      const w = strictDim(f?.w, sub(item(path, '.format', i), '.w'));
      const h = strictDim(f?.h, sub(item(path, '.format', i), '.h'));
      if (w && h) sizes.push(sizeKey(w, h));
    }
  }
  const w = strictDim(b.w, sub(path, '.w'));
  const h = strictDim(b.h, sub(path, '.h'));
  if (w && h) {
    const key = sizeKey(w, h);
    if (sizes.indexOf(key) < 0) sizes.push(key);
  }
  return { sizes, limits: sizes.length ? undefined : sizeLimits(b, w, h, path), battr: strictInts(b.battr, sub(path, '.battr')) };
}

/** With no complete size listed, what still bounds the size: a lone `w` or `h`, and the 2.x min/max fields. */
function sizeLimits(b: Obj, w: number | undefined, h: number | undefined, path: string): SizeLimits | undefined {
  const wmin = w || strictDim(b.wmin, sub(path, '.wmin')) || 0;
  const wmax = w || strictDim(b.wmax, sub(path, '.wmax')) || Infinity;
  const hmin = h || strictDim(b.hmin, sub(path, '.hmin')) || 0;
  const hmax = h || strictDim(b.hmax, sub(path, '.hmax')) || Infinity;
  return wmin || hmin || wmax < Infinity || hmax < Infinity ? { wmin, wmax, hmin, hmax } : undefined;
}

function buildVideo(v: unknown, path: string): VideoView | undefined {
  const o = present(v, path);
  if (!o) return undefined;
  return {
    mimes: strictStrings(o.mimes, sub(path, '.mimes')),
    minDuration: strictDim(o.minduration, sub(path, '.minduration')) ?? 0,
    maxDuration: strictDim(o.maxduration, sub(path, '.maxduration')) ?? 0,
    requiredDurations: o.rqddurs === undefined ? undefined : strictInts(o.rqddurs, sub(path, '.rqddurs')),
    protocols: mergeProtocols(o, path),
    battr: strictInts(o.battr, sub(path, '.battr')),
    w: strictDim(o.w, sub(path, '.w')),
    h: strictDim(o.h, sub(path, '.h')),
    durationFloors: durationFloors(o, path),
    placement: int(o.plcmt),
  };
}

function buildAudio(v: unknown, path: string): AudioView | undefined {
  const o = present(v, path);
  if (!o) return undefined;
  return {
    mimes: strictStrings(o.mimes, sub(path, '.mimes')),
    minDuration: strictDim(o.minduration, sub(path, '.minduration')) ?? 0,
    maxDuration: strictDim(o.maxduration, sub(path, '.maxduration')) ?? 0,
    requiredDurations: o.rqddurs === undefined ? undefined : strictInts(o.rqddurs, sub(path, '.rqddurs')),
    protocols: mergeProtocols(o, path),
    battr: strictInts(o.battr, sub(path, '.battr')),
    durationFloors: durationFloors(o, path),
  };
}

/**
 * 2.6 `mincpmpersec` and `durfloors` (Video, Audio, Deal). They set floors, so a malformed one
 * refuses the request, as a malformed `bidfloor` does.
 */
function durationFloors(o: Obj, path: string): DurationFloors | undefined {
  const perSecond = strictNumber(o.mincpmpersec, sub(path, '.mincpmpersec'), 0);
  const raw = o.durfloors;
  if (perSecond === 0 && (raw === undefined || raw === null)) return undefined;
  if (raw === undefined || raw === null) return { perSecond, ranges: NO_RANGES };
  if (!Array.isArray(raw)) throw new Refusal('bad_field', `${path}.durfloors must be an array`);
  const ranges: DurationFloorRange[] = [];
  for (let i = 0; i < raw.length; i++) {
    const at = item(path, '.durfloors', i);
    const r = present(raw[i], at);
    if (!r) throw new Refusal('bad_field', `${at} must be an object`);
    ranges.push({
      min: strictDim(r.mindur, sub(at, '.mindur')) ?? 0,
      max: strictDim(r.maxdur, sub(at, '.maxdur')) ?? Infinity,
      floor: strictNumber(r.bidfloor, sub(at, '.bidfloor'), 0),
    });
  }
  return perSecond === 0 && ranges.length === 0 ? undefined : { perSecond, ranges };
}

const NO_RANGES: readonly DurationFloorRange[] = [];

/** `protocols` (2.3+) and the single deprecated `protocol`. */
function mergeProtocols(o: Obj, path: string): readonly number[] {
  const list = strictInts(o.protocols, sub(path, '.protocols'));
  const single = int(o.protocol);
  return single !== undefined && list.indexOf(single) < 0 ? [...list, single] : list;
}

function buildNative(v: unknown, path: string): NativeView | undefined {
  const o = present(v, path);
  if (!o) return undefined;
  if (typeof o.request !== 'string' && !isObj(o.request)) throw new Refusal('bad_field', `${path}.request must be a string`);
  return { request: o.request, battr: strictInts(o.battr, sub(path, '.battr')) };
}

/** Deal floors default to USD (OpenRTB 2.x `deal.bidfloorcur`), not to the imp's currency. */
function buildDeals(v: unknown, path: string): readonly DealView[] {
  if (v === undefined || v === null) return NO_DEALS;
  if (!Array.isArray(v)) throw new Refusal('bad_field', `${path} must be an array`);
  const deals: DealView[] = [];
  for (let i = 0; i < v.length; i++) {
    const d = present(v[i], item(path, '', i));
    const id = d?.id;
    if (typeof id !== 'string' || id === '') throw new Refusal('bad_field', `${path}[${i}].id must be a non-empty string`);
    const cur = d!.bidfloorcur === undefined || d!.bidfloorcur === null ? 'USD' : d!.bidfloorcur;
    if (!isCurrencyCode(cur)) throw new Refusal('bad_field', `${path}[${i}].bidfloorcur must be an ISO-4217 code`);
    deals.push({
      id,
      bidFloor: strictNumber(d!.bidfloor, sub(item(path, '', i), '.bidfloor'), 0),
      bidFloorCur: cur,
      durationFloors: durationFloors(d!, item(path, '', i)),
      wseat: d!.wseat === undefined ? undefined : strictStrings(d!.wseat, sub(item(path, '', i), '.wseat')),
      wadomain: d!.wadomain === undefined ? undefined : strictStrings(d!.wadomain, sub(item(path, '', i), '.wadomain')),
    });
  }
  return deals;
}

/** Three upper-case letters (ISO 4217 shape). */
function isCurrencyCode(v: unknown): v is string {
  if (typeof v !== 'string' || v.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = v.charCodeAt(i);
    if (c < 65 || c > 90) return false;
  }
  return true;
}

/** `300x250`: the few sizes exchanges use are made once, not per request (bounded, so odd sizes cannot grow it). */
const sizeKeys = new Map<number, string>();
function sizeKey(w: number, h: number): string {
  if (w > 0xffff || h > 0xffff) return `${w}x${h}`;
  const n = w * 0x10000 + h;
  let key = sizeKeys.get(n);
  if (key === undefined) {
    key = `${w}x${h}`;
    if (sizeKeys.size < 4096) sizeKeys.set(n, key);
  }
  return key;
}

function normalizeDomain(d: string | undefined): string | undefined {
  if (!d) return undefined;
  const lower = d.toLowerCase();
  return lower.startsWith('www.') ? lower.slice(4) : lower;
}

function domainOfPage(page: string | undefined): string | undefined {
  if (!page) return undefined;
  const start = page.indexOf('://');
  if (start < 0) return undefined;
  let end = start + 3;
  while (end < page.length && page[end] !== '/' && page[end] !== ':' && page[end] !== '?' && page[end] !== '#') end++;
  return page.slice(start + 3, end) || undefined;
}
