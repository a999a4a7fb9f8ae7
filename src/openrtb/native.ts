/**
 * OpenRTB Native 1.x: reading the asset request an imp carries, checking that a creative can
 * fill every required asset, and writing the Native 1.2 response markup for `adm`.
 */
import { LRUCache } from 'lru-cache';
import type { NativeAssets } from '../targeting/compiled-campaign.js';

export interface NativeAssetRequest {
  readonly id: number;
  readonly required: boolean;
  readonly kind: 'title' | 'img' | 'data' | 'video' | 'unknown';
  /** img: 1 icon, 3 main; data: 1 sponsored, 2 desc, 3 rating, 12 ctatext; others unsupported. */
  readonly type: number;
  readonly len: number;
  readonly w: number;
  readonly h: number;
  readonly wmin: number;
  readonly hmin: number;
}

export interface NativeRequest {
  readonly ver: string;
  /** The request came wrapped in a top-level "native" object (Native 1.0 style); answer alike. */
  readonly wrapped: boolean;
  readonly assets: readonly NativeAssetRequest[];
}

const cache = new LRUCache<string, NativeRequest | false>({ max: 2_000 });
/** Native requests are a few hundred bytes; only those up to this size are cached (bounds the cache's memory). */
const MAX_CACHED_REQUEST = 8_192;

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Parses a Native request (string or object). Malformed requests give undefined: no native bid. */
export function readNativeRequest(raw: unknown): NativeRequest | undefined {
  if (typeof raw === 'string') {
    if (raw.length > MAX_CACHED_REQUEST) return fromDocument(parseOrUndefined(raw)); // too big to keep
    let hit = cache.get(raw);
    if (hit === undefined) {
      hit = fromDocument(parseOrUndefined(raw)) ?? false;
      cache.set(raw, hit);
    }
    return hit || undefined;
  }
  return fromDocument(raw);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function fromDocument(doc: unknown): NativeRequest | undefined {
  if (!isObj(doc)) return undefined;
  const wrapped = isObj(doc.native);
  const body = wrapped ? (doc.native as Obj) : doc;
  if (!Array.isArray(body.assets) || body.assets.length === 0) return undefined;
  const assets: NativeAssetRequest[] = [];
  for (const a of body.assets) {
    if (!isObj(a) || typeof a.id !== 'number') return undefined;
    const title = isObj(a.title) ? a.title : undefined;
    const img = isObj(a.img) ? a.img : undefined;
    const data = isObj(a.data) ? a.data : undefined;
    const kind = title ? 'title' : img ? 'img' : data ? 'data' : isObj(a.video) ? 'video' : 'unknown';
    const spec = title ?? img ?? data ?? {};
    assets.push({
      id: a.id,
      required: a.required === 1,
      kind,
      type: kind === 'img' ? num(spec.type) || 3 : num(spec.type),
      len: num(spec.len),
      w: num(spec.w),
      h: num(spec.h),
      wmin: num(spec.wmin),
      hmin: num(spec.hmin),
    });
  }
  return { ver: typeof body.ver === 'string' ? body.ver : '1.2', wrapped, assets };
}

type Filled = { id: number; title?: { text: string }; img?: { url: string; w: number; h: number }; data?: { value: string } };

/** The asset this creative would put in answer to `a`, or undefined when it has none that fits. */
function fill(a: NativeAssetRequest, c: NativeAssets): Filled | undefined {
  switch (a.kind) {
    case 'title':
      return c.title && (a.len === 0 || c.title.length <= a.len) ? { id: a.id, title: { text: c.title } } : undefined;
    case 'img': {
      const img = a.type === 1 ? c.icon : a.type === 3 ? c.image : undefined;
      if (!img) return undefined;
      const fits = a.w && a.h ? img.w === a.w && img.h === a.h : img.w >= a.wmin && img.h >= a.hmin;
      return fits ? { id: a.id, img: { url: img.url, w: img.w, h: img.h } } : undefined;
    }
    case 'data': {
      const value =
        a.type === 1 ? c.sponsored : a.type === 2 ? c.description : a.type === 3 ? c.rating?.toString() : a.type === 12 ? c.cta : undefined;
      return value !== undefined && (a.len === 0 || value.length <= a.len) ? { id: a.id, data: { value } } : undefined;
    }
    default:
      return undefined;
  }
}

/** True when the creative can fill every required asset, and at least one asset (an ad with none is no ad). */
export function nativeFits(req: NativeRequest, c: NativeAssets): boolean {
  let filled = false;
  for (const a of req.assets) {
    const fits = fill(a, c) !== undefined;
    if (a.required && !fits) return false;
    filled ||= fits;
  }
  return filled;
}

/**
 * Native 1.2 response markup (JSON text) with every asset the creative can fill. The link goes
 * through the bidder's click redirect when one is given; our impression tracker joins the creative's.
 */
export function nativeMarkup(req: NativeRequest, c: NativeAssets, impressionUrl?: string, clickUrl?: string): string {
  const assets: Filled[] = [];
  for (const a of req.assets) {
    const f = fill(a, c);
    if (f) assets.push(f);
  }
  const imptrackers = impressionUrl ? [...c.impressionTrackers, impressionUrl] : c.impressionTrackers;
  const body = { ver: '1.2', assets, link: { url: clickUrl ?? c.clickUrl }, imptrackers };
  return JSON.stringify(req.wrapped ? { native: body } : body);
}
