/**
 * Campaigns and creatives as the hot path uses them: prices in numbers, sets as Maps,
 * markup prebuilt, CIDRs parsed, all computed once when the index is compiled.
 */
import type { Advertiser, Campaign, Creative, Dayparting, SegmentRules } from '../campaigns/schema.js';
import type { Currencies } from '../currency/currencies.js';
import { CidrSet } from './cidr.js';
import { LocationSet } from './locations.js';
import { normalizeCountry } from '../openrtb/geo.js';
import { creativeHash } from '../models/features.js';

export type MediaType = 'banner' | 'video' | 'audio' | 'native';
export const MTYPE: Record<MediaType, number> = { banner: 1, video: 2, audio: 3, native: 4 };

export interface CompiledCreative {
  readonly id: string;
  readonly campaignId: string;
  readonly type: MediaType;
  readonly mtype: number;
  readonly w: number | undefined;
  readonly h: number | undefined;
  readonly attrs: readonly number[];
  readonly secure: boolean;
  /** Banner HTML, or VAST/DAAST XML; undefined for native (built per request from its assets). */
  readonly markup: string | undefined;
  /** Banner HTML split at each `${DSP_CLICK_URL}`, so the click URL is joined in per bid. */
  readonly markupParts: readonly string[] | undefined;
  /** VAST/DAAST: where our <Impression> tracker goes (just inside <InLine> or <Wrapper>); -1: nowhere. */
  readonly vastInsertAt: number;
  /** Where the click redirect sends the browser (never taken from the URL: no open redirect). */
  readonly landingUrl: string | undefined;
  readonly duration: number;
  readonly mimes: readonly string[];
  readonly protocols: readonly number[];
  readonly native: NativeAssets | undefined;
  /** The creative as a model feature (models/features.ts), hashed once here. */
  readonly featureHash: number;
}

export interface NativeAssets {
  readonly title?: string;
  readonly image?: { url: string; w: number; h: number };
  readonly icon?: { url: string; w: number; h: number };
  readonly sponsored?: string;
  readonly description?: string;
  readonly cta?: string;
  readonly rating?: number;
  readonly clickUrl: string;
  readonly impressionTrackers: readonly string[];
}

export interface CompiledSegmentRules {
  readonly anyOf: readonly string[] | undefined;
  readonly allOf: readonly string[] | undefined;
  readonly exclude: readonly string[] | undefined;
  /** Policy when the user's segments are not fully known: skip the campaign, or bid anyway. */
  readonly skipWhenUnavailable: boolean;
}

export interface Multipliers {
  readonly deviceType: ReadonlyMap<number, number> | undefined;
  readonly os: ReadonlyMap<string, number> | undefined;
  readonly country: ReadonlyMap<string, number> | undefined;
  readonly domain: ReadonlyMap<string, number> | undefined;
  readonly bundle: ReadonlyMap<string, number> | undefined;
  readonly segment: ReadonlyMap<string, number> | undefined;
}

export interface CompiledCampaign {
  /** Position in the index: campaigns are ranked by max bid (in the base currency), highest first. */
  rank: number;
  readonly id: string;
  readonly advertiserId: string;
  readonly currency: string;
  readonly baseBid: number;
  readonly maxBid: number;
  /** maxBid in the base currency; the order of the index. */
  readonly maxBidBase: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly adomain: readonly string[];
  readonly categories: readonly string[];
  readonly bundle: string | undefined;
  /** Deal id → price multiplier. */
  readonly deals: ReadonlyMap<string, number> | undefined;
  readonly openMarket: boolean;
  readonly multipliers: Multipliers | undefined;
  readonly ipAllow: CidrSet | undefined;
  readonly ipBlock: CidrSet | undefined;
  /** Location circles the request's position must lie in; undefined: no location rule. */
  readonly locations: LocationSet | undefined;
  readonly segments: CompiledSegmentRules | undefined;
  readonly bannersBySize: ReadonlyMap<string, readonly CompiledCreative[]>;
  readonly banners: readonly CompiledCreative[];
  readonly videos: readonly CompiledCreative[];
  readonly audios: readonly CompiledCreative[];
  readonly natives: readonly CompiledCreative[];
  /** Stops the campaign's bids (config `killSwitch`). */
  readonly killSwitch: boolean;
  /** Its budgets and its advertiser's; undefined: no budget applies. */
  readonly budget: CompiledBudget | undefined;
  /** Its frequency caps; undefined: none. */
  readonly frequency: CompiledFrequency | undefined;
  /** Win-rate bid shading; undefined: off (the default). */
  readonly shading: { readonly targetWinRate: number; readonly minFactor: number } | undefined;
  /** A cpc, cpa or roas goal (priced from the outcome models); undefined: cpm, bid.base as always. */
  readonly goal: CompiledGoal | undefined;
}

export interface CompiledGoal {
  readonly type: 'cpc' | 'cpa' | 'roas';
  /** In the campaign's currency per click or conversion; for roas, the value wanted per unit spent. */
  readonly target: number;
  /** The share of requests on which it bids the CPM fallback (bid.base) whatever the model says. */
  readonly explore: number;
}

/** The share of requests a goal explores on when its config names none. */
export const DEFAULT_EXPLORE = 0.02;

export interface CompiledCap {
  readonly scope: 'campaign' | 'creative' | 'advertiser';
  readonly window: 'hour' | 'day' | 'week' | 'lifetime';
  readonly max: number;
}

export interface CompiledFrequency {
  readonly caps: readonly CompiledCap[];
  readonly countOn: 'impression' | 'win';
  /** Bid when the user's counters are unknown (store down or slow, no user id); else skip. */
  readonly failOpen: boolean;
}

/** Budget limits in micros (millionths) of the owner's currency; undefined: no such limit. */
export interface CompiledBudget {
  readonly daily: number | undefined;
  readonly total: number | undefined;
  readonly pacing: 'even' | 'asap';
  readonly advertiserDaily: number | undefined;
  readonly advertiserTotal: number | undefined;
  /** The advertiser's currency (its budgets are kept in it). */
  readonly advertiserCurrency: string;
  /** The campaign's day-parting: even pacing spreads a day's budget over its hours, not the whole day. */
  readonly dayparting: Dayparting | undefined;
  /** How the total is spent over the flight (the campaign's start to end): `even` needs both. */
  readonly flightPacing: 'even' | 'asap';
  /** Budgets in units (whole impressions, clicks, conversions); undefined: no such limit. */
  readonly impressions: CountLimits | undefined;
  readonly clicks: CountLimits | undefined;
  readonly conversions: CountLimits | undefined;
}

export interface CountLimits {
  readonly daily: number | undefined;
  readonly total: number | undefined;
}

const micros = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 1e6));

const counts = (x: { daily?: number; total?: number } | undefined): CountLimits | undefined =>
  x === undefined ? undefined : { daily: x.daily, total: x.total };

function compileBudget(c: Campaign, adv: Advertiser | undefined, base: string): CompiledBudget | undefined {
  const b = c.budget;
  const a = adv?.budget;
  if (!b && !a) return undefined;
  return {
    daily: micros(b?.daily),
    total: micros(b?.total),
    pacing: b?.pacing ?? 'even',
    advertiserDaily: micros(a?.daily),
    advertiserTotal: micros(a?.total),
    advertiserCurrency: adv?.currency ?? base,
    dayparting: c.targeting?.dayparting,
    flightPacing: b?.flightPacing ?? 'asap',
    impressions: counts(b?.impressions),
    clicks: counts(b?.clicks),
    conversions: counts(b?.conversions),
  };
}

export function compileCampaign(c: Campaign, adv: Advertiser | undefined, currencies: Currencies): CompiledCampaign {
  const currency = c.currency ?? adv?.currency ?? currencies.base;
  const creatives = c.creatives.map((cr) => compileCreative(cr, c.id));
  const bannersBySize = new Map<string, CompiledCreative[]>();
  for (const cr of creatives) {
    if (cr.type !== 'banner') continue;
    const key = `${cr.w}x${cr.h}`;
    const list = bannersBySize.get(key);
    if (list) list.push(cr);
    else bannersBySize.set(key, [cr]);
  }
  const ip = c.targeting?.ipRanges;
  return {
    rank: -1,
    id: c.id,
    advertiserId: c.advertiserId,
    currency,
    baseBid: c.bid.base,
    maxBid: c.bid.max,
    maxBidBase: currencies.convert(c.bid.max, currency, currencies.base),
    startMs: c.start ? Date.parse(c.start) : -Infinity,
    endMs: c.end ? Date.parse(c.end) : Infinity,
    adomain: c.adomain ?? adv?.domains ?? [],
    categories: c.categories ?? [],
    bundle: c.bundle?.toLowerCase(),
    deals: c.deals?.length ? new Map(c.deals.map((d) => [d.id, d.multiplier ?? 1])) : undefined,
    openMarket: c.openMarket ?? !c.deals?.length,
    multipliers: compileMultipliers(c.multipliers),
    ipAllow: ip?.allow?.length ? new CidrSet(ip.allow) : undefined,
    ipBlock: ip?.block?.length ? new CidrSet(ip.block) : undefined,
    locations: c.targeting?.locations ? new LocationSet(c.targeting.locations.circles, c.targeting.locations.sources) : undefined,
    segments: compileSegmentRules(c.targeting?.segments),
    bannersBySize,
    banners: creatives.filter((cr) => cr.type === 'banner'),
    videos: creatives.filter((cr) => cr.type === 'video'),
    audios: creatives.filter((cr) => cr.type === 'audio'),
    natives: creatives.filter((cr) => cr.type === 'native'),
    killSwitch: c.killSwitch === true,
    budget: compileBudget(c, adv, currencies.base),
    frequency: c.frequencyCaps
      ? { caps: c.frequencyCaps.caps, countOn: c.frequencyCaps.countOn ?? 'impression', failOpen: c.frequencyCaps.whenUnavailable === 'bid' }
      : undefined,
    shading: c.shading ? { targetWinRate: c.shading.targetWinRate, minFactor: c.shading.minFactor ?? 0.5 } : undefined,
    goal: c.goal && c.goal.type !== 'cpm' ? { type: c.goal.type, target: c.goal.target!, explore: c.goal.explore ?? DEFAULT_EXPLORE } : undefined,
  };
}

function compileMultipliers(m: Campaign['multipliers']): Multipliers | undefined {
  if (!m) return undefined;
  const lower = (r: Record<string, number> | undefined) =>
    r ? new Map(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v])) : undefined;
  return {
    deviceType: m.deviceType ? new Map(Object.entries(m.deviceType).map(([k, v]) => [Number(k), v])) : undefined,
    os: lower(m.os),
    country: m.country
      ? new Map(Object.entries(m.country).map(([k, v]) => [normalizeCountry(k) ?? k.toUpperCase(), v]))
      : undefined,
    domain: m.domain // keys as domain rules read them: lower case, no www.
      ? new Map(Object.entries(m.domain).map(([k, v]) => [k.toLowerCase().replace(/^www\./, ''), v]))
      : undefined,
    bundle: lower(m.bundle),
    segment: m.segment ? new Map(Object.entries(m.segment)) : undefined,
  };
}

function compileSegmentRules(r: SegmentRules | undefined): CompiledSegmentRules | undefined {
  if (!r || (!r.anyOf && !r.allOf && !r.exclude)) return undefined;
  return { anyOf: r.anyOf, allOf: r.allOf, exclude: r.exclude, skipWhenUnavailable: (r.whenUnavailable ?? 'skip') === 'skip' };
}

const isSecure = (...texts: (string | undefined)[]) => texts.every((t) => !t || !t.includes('http://'));

function compileCreative(cr: Creative, campaignId: string): CompiledCreative {
  const base = { id: cr.id, campaignId, attrs: cr.attrs ?? [], type: cr.type, mtype: MTYPE[cr.type], featureHash: creativeHash(cr.id) };
  switch (cr.type) {
    case 'banner': {
      const markup =
        cr.html ??
        `<a href="${CLICK_MACRO}" target="_blank" rel="noopener"><img src="${escapeAttr(cr.imageUrl!)}" width="${cr.w}" height="${cr.h}" alt="" style="border:0"></a>`;
      return {
        ...base,
        w: cr.w,
        h: cr.h,
        markup,
        markupParts: markup.split(CLICK_MACRO),
        vastInsertAt: -1,
        landingUrl: cr.landingUrl,
        secure: cr.secure ?? isSecure(markup),
        duration: 0,
        mimes: [],
        protocols: [],
        native: undefined,
      };
    }
    case 'video':
    case 'audio':
      return {
        ...base,
        w: cr.type === 'video' ? cr.w : undefined,
        h: cr.type === 'video' ? cr.h : undefined,
        markup: cr.vast,
        markupParts: undefined,
        vastInsertAt: vastInsertPoint(cr.vast),
        landingUrl: cr.landingUrl,
        secure: cr.secure ?? isSecure(cr.vast),
        duration: cr.duration,
        mimes: cr.mimes,
        protocols: cr.protocols ?? [],
        native: undefined,
      };
    case 'native': {
      const { title, image, icon, sponsored, description, cta, rating, clickUrl } = cr;
      const impressionTrackers = cr.impressionTrackers ?? [];
      return {
        ...base,
        w: undefined,
        h: undefined,
        markup: undefined,
        markupParts: undefined,
        vastInsertAt: -1,
        landingUrl: clickUrl,
        secure: cr.secure ?? isSecure(image?.url, icon?.url, clickUrl, ...impressionTrackers),
        duration: 0,
        mimes: [],
        protocols: [],
        native: { title, image, icon, sponsored, description, cta, rating, clickUrl, impressionTrackers },
      };
    }
  }
}

/** In banner HTML, where the bidder's click-tracking URL goes (it redirects to the creative's landingUrl). */
export const CLICK_MACRO = '${DSP_CLICK_URL}';

function vastInsertPoint(vast: string): number {
  const m = /<(InLine|Wrapper)(\s[^>]*)?>/.exec(vast);
  return m ? m.index + m[0].length : -1;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
