/**
 * The bidding decision: request view + snapshot → the best eligible campaign and creative per imp,
 * or a no-bid reason. Pure and synchronous: no I/O, no clock reads (the caller passes `nowMs`).
 */
import type { BidRequestView, DealView, ImpView } from '../openrtb/request-view.js';
import type { ExchangeProfile, Snapshot } from '../campaigns/snapshot.js';
import type { CompiledCampaign, CompiledCreative } from '../targeting/compiled-campaign.js';
import type { DeviceFacts, TargetingIndex } from '../targeting/targeting-index.js';
import { searchOver, type CandidateSearch } from '../targeting/candidate-search.js';
import { nextBit } from '../targeting/bitset.js';
import { CHUNK_WORDS } from '../targeting/targeting-index.js';
import { parseIp, type IpAddress } from '../targeting/cidr.js';
import type { LocationSet } from '../targeting/locations.js';
import { parseUserAgent } from '../targeting/user-agent.js';
import { readNativeRequest, type NativeRequest } from '../openrtb/native.js';
import { fitCreative } from './creative-fit.js';
import { biddablePrice, campaignPrice, priceIn } from './pricing.js';
import { floorFor, lowestFloor } from './floors.js';
import { furthest, type NoBidReason } from './no-bid-reason.js';
import { audienceAllows } from './audience-rules.js';
import { NO_AUDIENCE, type Audience } from '../audiences/audience-service.js';
import { capsAllow, type MoneyGate, type UserCaps } from './money-gate.js';
import { goalCpm, NO_MODELS, type OutcomeModels } from '../models/outcome-models.js';
import { FeatureVector, hashFeature } from '../models/features.js';

export interface BidDecision {
  readonly imp: ImpView;
  readonly campaign: CompiledCampaign;
  readonly creative: CompiledCreative;
  /** CPM in the response currency. */
  readonly price: number;
  readonly deal: DealView | undefined;
  readonly native: NativeRequest | undefined;
  /** The hashed user key, when frequency caps are in use and user data allowed (it goes into the notice URLs). */
  readonly user: string | undefined;
  /** Campaigns that shade: the price before shading and the floor the bid faced, in the response currency (they go into the notice URLs). */
  readonly unshaded: number | undefined;
  readonly floor: number | undefined;
  /** The bid's model features (models/features.ts), when the outcome models record them for the trainer. */
  features: Uint32Array | undefined;
}

export type Decision =
  | { readonly bids: readonly BidDecision[]; readonly currency: string; readonly noBid?: undefined }
  | { readonly noBid: NoBidReason; readonly bids?: undefined };

/** Reused by every decision on this thread (decide() is synchronous). */
const FEATURES = new FeatureVector();
export const NO_DEVICE: DeviceFacts = { deviceType: undefined, os: undefined, browser: undefined };
const noBid = (reason: NoBidReason): Decision => ({ noBid: reason });

/** Floors are compared in the base currency a hair low, so conversion rounding never cuts off a campaign that could meet one. */
const FLOOR_SLACK = 1 - 1e-9;

/**
 * What decide() reads and the scratch it shares between its steps: bid-context.ts's BidContext, one
 * per request. `search` is the thread's candidate search over `snap.index` (targeting/candidate-search.ts).
 */
export interface DecideContext {
  readonly req: BidRequestView;
  readonly snap: Snapshot;
  readonly ex: ExchangeProfile;
  readonly nowMs: number;
  readonly audience: Audience;
  readonly money: MoneyGate | undefined;
  readonly caps: UserCaps | undefined;
  readonly models: OutcomeModels;
  readonly search: CandidateSearch;
  /** Set by decide(): the response currency, the device facts, the furthest no-bid reason so far. */
  currency: string;
  device: DeviceFacts;
  reason: NoBidReason;
  /** Model features: -2 none built yet; -1 the request's; k the request's and imp k's. */
  featuresAt: number;
  /** The request's exploration draw for goals, -1 until drawn. */
  exploreDraw: number;
}

/** decide() for tests and tools: a context of its own (the server's comes from bid-request.ts). */
export function decideFor(
  req: BidRequestView,
  snap: Snapshot,
  ex: ExchangeProfile,
  nowMs: number,
  audience: Audience = NO_AUDIENCE,
  money?: MoneyGate,
  caps?: UserCaps,
  models: OutcomeModels = NO_MODELS,
): Decision {
  return decide({ req, snap, ex, nowMs, audience, money, caps, models, search: searchOver(snap.index), currency: '', device: NO_DEVICE, reason: 'no_campaign', featuresAt: -2, exploreDraw: -1 });
}

/** The best eligible campaign and creative per imp, or why none: request checks, then each imp's scan. */
export function decide(ctx: DecideContext): Decision {
  const { req, snap, ex, money } = ctx;
  if (money !== undefined && money.stopAll) return noBid('kill_switch');
  if (req.wseat && req.wseat.length > 0 && req.wseat.indexOf(ex.seat) < 0) return noBid('seat_blocked');
  if (req.bseat.indexOf(ex.seat) >= 0) return noBid('seat_blocked');
  const currency = responseCurrency(req, ex, snap);
  if (currency === undefined) return noBid('unsupported_currency');
  ctx.currency = currency;

  const index = snap.index;
  const device = (ctx.device = deviceFacts(req, index));
  // Only campaigns whose max bid reaches the lowest floor can bid: ranks are in descending max
  // bid, so with many campaigns the scan stops at the last word of those (at 10,000 campaigns about
  // a third of the words on average, in the benchmark's mix); a no-bid then looks past it only to
  // name its reason. The request's rules are resolved once into a plan, evaluated a chunk at a time.
  const floors = impFloors(req, snap);
  const words = index.words >= FLOOR_CUTOFF_MIN_WORDS ? index.wordsReaching(minOf(floors)) : index.words;
  const audience = ctx.audience;
  ctx.search.planRequest(req, device, ctx.nowMs, audience.complete && index.usesSegments ? audience.segments : undefined, ex.id);
  const where = new RequestPlace(req);
  ctx.featuresAt = -2;
  ctx.exploreDraw = -1;
  ctx.reason = 'no_campaign';

  let bids: BidDecision[] | undefined;
  for (let k = 0; k < req.imps.length; k++) {
    const best = bestForImp(ctx, k, floors[k], words, where, bids);
    if (best) (bids ??= []).push(best);
  }
  if (bids) return { bids, currency };
  // No bid. The campaigns left out above cannot meet any floor; if one of them matches the request
  // in every other way, the honest reason is the floor, as a scan of every campaign would have said.
  let reason: NoBidReason = ctx.reason;
  if (furthest(reason, 'below_floor') !== reason && words < index.words && matchesBelowFloors(ctx, where, words)) reason = 'below_floor';
  return noBid(reason);
}

/**
 * Imp k's best bid: its candidates a chunk of campaigns at a time, in rank order (chunks past the
 * best bid so far are never evaluated). `floorBase`: the lowest floor a bid on this imp can face, in
 * the base currency (impFloors): no campaign whose max bid is under it can bid here; each bid's own
 * floor is checked by biddablePrice. `bids`: the request's bids on earlier imps.
 */
function bestForImp(ctx: DecideContext, k: number, floorBase: number, words: number, where: RequestPlace, bids: readonly BidDecision[] | undefined): BidDecision | undefined {
  const { req, snap, ex, nowMs, audience, money, models, search } = ctx;
  const index = snap.index;
  const imp = req.imps[k];
  search.planImp(imp);
  const impBits = search.impBits;
  let native: NativeRequest | undefined | null = null; // read on the first candidate
  let best: BidDecision | undefined;
  let bestBase = 0;
  scan: for (let from = 0; from < words; from += CHUNK_WORDS) {
    if (best && index.maxBidFrom(from * 32) < bestBase) break; // ranked by max bid: nobody further can beat it
    const to = Math.min(words, from + CHUNK_WORDS);
    if (!search.impCandidatesIn(from, to)) continue;
    for (let i = nextBit(impBits, from * 32, to); i >= 0; i = nextBit(impBits, i + 1, to)) {
      const c = index.campaigns[i];
      if (best && c.maxBidBase < bestBase) break scan;
      if (!eligible(c, nowMs, audience, where)) continue;
      if (c.maxBidBase < floorBase) {
        // Ranked by max bid: neither this campaign nor any further one can meet the floor.
        ctx.reason = furthest(ctx.reason, 'below_floor');
        break scan;
      }
      if (c.killSwitch) {
        ctx.reason = furthest(ctx.reason, 'kill_switch');
        continue;
      }
      if (money !== undefined) {
        const refused = money.verdict(c, nowMs, bids === undefined || c.budget === undefined ? 0 : pickedFor(bids, c));
        if (refused !== undefined) {
          ctx.reason = furthest(ctx.reason, refused);
          continue;
        }
      }
      // The routes it may bid through: each offered deal it holds, in the imp's order, then the
      // open market where the imp and the campaign allow it. The first it can afford is taken.
      const dealAt = c.deals === undefined ? -1 : nextDeal(c, imp, ex.seat, 0);
      const openMarket = c.openMarket && !imp.privateAuction;
      if (dealAt < 0 && !openMarket) continue;
      if (native === null) native = imp.native ? readNativeRequest(imp.native.request) : undefined;
      const fit = fitCreative(c, imp, native);
      if (!fit) {
        ctx.reason = furthest(ctx.reason, 'no_creative_fit');
        continue;
      }
      const price = offer(ctx, c, k, fit, native, dealAt, openMarket);
      if (c.frequency !== undefined && !capsAllow(c, OFFER.creative.id, ctx.caps)) {
        ctx.reason = furthest(ctx.reason, 'frequency_capped');
        continue;
      }
      if (price < 0) {
        ctx.reason = furthest(ctx.reason, 'below_floor');
        continue;
      }
      const priceBase = snap.currencies.convert(price, ctx.currency, snap.currencies.base);
      if (!best || priceBase > bestBase) {
        best = bidOf(ctx, c, imp, price, native);
        bestBase = priceBase;
      }
    }
  }
  if (best && models.record) {
    // The trainer learns from every bid, goal or not: what it saw is logged with the bid.
    if (ctx.featuresAt < -1) FEATURES.setRequest(req, ctx.device, ex.id, nowMs, audience.segments);
    FEATURES.setImp(imp);
    ctx.featuresAt = k;
    FEATURES.setCreative(best.creative.featureHash);
    best.features = FEATURES.copy();
  }
  return best;
}

/** What offer() settled on besides the price (reused: valid until the next offer). */
const OFFER = { creative: undefined as unknown as CompiledCreative, deal: undefined as DealView | undefined, unshaded: 0 };

/**
 * The price campaign `c` offers on imp k with creative `fit` (which it can show there), in the
 * response currency, through the first of its routes (deals from `dealAt`, then the open market)
 * whose floor it meets; -1 when none. The creative and deal it settled on are left in OFFER.
 */
function offer(ctx: DecideContext, c: CompiledCampaign, k: number, fit: CompiledCreative, native: NativeRequest | undefined, dealAt: number, openMarket: boolean): number {
  const { req, snap, ex, money, models } = ctx;
  const imp = req.imps[k];
  const currency = ctx.currency;
  let creative = fit;
  let deal: DealView | undefined;
  let price = -1;
  let unshaded = 0;
  // A goal prices the impression from the models (the creative that fits is the candidate's);
  // on the goal's exploration share optimistically (goalCpm); a cold model bids the CPM fallback.
  let base = c.baseBid;
  let byGoal = false;
  if (c.goal !== undefined && models.click.ready) {
    if (ctx.exploreDraw < 0) ctx.exploreDraw = hashFeature(0, req.id) / 4294967296;
    if (ctx.featuresAt < -1) FEATURES.setRequest(req, ctx.device, ex.id, ctx.nowMs, ctx.audience.segments);
    if (ctx.featuresAt !== k) FEATURES.setImp(imp);
    ctx.featuresAt = k;
    FEATURES.setCreative(fit.featureHash);
    const value = c.goal.type === 'roas' ? snap.currencies.convert(models.values.get(c.id) ?? 0, snap.currencies.base, c.currency) : 0;
    const worth = goalCpm(c.goal, c.id, models, FEATURES, value, ctx.exploreDraw < c.goal.explore);
    if (worth >= 0) {
      base = worth;
      byGoal = true;
    }
  }
  for (;;) {
    deal = dealAt >= 0 ? imp.deals[dealAt] : undefined;
    creative = fit;
    let wanted = (unshaded = campaignPrice(c, req, ctx.device, ctx.audience, deal ? c.deals!.get(deal.id)! : 1, base));
    if (c.shading !== undefined && money !== undefined) wanted *= money.shading(c); // ≤ 1: still within max bid
    price = biddablePrice(c, wanted, imp, deal, creative, currency, snap.currencies, !byGoal);
    if (price < 0 && durationPriced(creative, imp, deal)) {
      // Its floor depends on the creative's duration (2.6 mincpmpersec, durfloors): another of the
      // campaign's creatives the imp accepts may face a floor within max bid.
      const affordable = fitCreative(c, imp, native, (cr) => biddablePrice(c, wanted, imp, deal, cr, currency, snap.currencies, !byGoal) >= 0);
      if (affordable !== undefined) {
        creative = affordable;
        price = biddablePrice(c, wanted, imp, deal, creative, currency, snap.currencies, !byGoal);
      }
    }
    if (price >= 0 || deal === undefined) break;
    dealAt = nextDeal(c, imp, ex.seat, dealAt + 1);
    if (dealAt < 0 && !openMarket) break;
  }
  OFFER.creative = creative;
  OFFER.deal = deal;
  OFFER.unshaded = unshaded;
  return price;
}

/** The bid decision for the offer just made (OFFER) at `price`. */
function bidOf(ctx: DecideContext, c: CompiledCampaign, imp: ImpView, price: number, native: NativeRequest | undefined): BidDecision {
  const { snap, money, currency } = ctx;
  const shaded = c.shading !== undefined && money !== undefined;
  const { creative, deal, unshaded } = OFFER;
  return {
    imp, campaign: c, creative, price, deal, native, user: ctx.caps?.user,
    unshaded: shaded ? priceIn(c, unshaded, currency, snap.currencies) : undefined,
    floor: shaded ? floorFor(imp, deal, creative, currency, snap.currencies) : undefined,
    features: undefined,
  };
}

/**
 * Each imp's lowest floor in the base currency (floors.ts: over the open market, its deals and the
 * creative durations it accepts), a hair low (FLOOR_SLACK); 0 without one. No campaign whose max bid
 * is under it can bid on the imp. NaN when no floor can be read (a currency without a rate).
 * Reused array: valid until the next call.
 */
const floorScratch: number[] = [];
function impFloors(req: BidRequestView, snap: Snapshot): number[] {
  const out = floorScratch;
  out.length = req.imps.length;
  for (let k = 0; k < req.imps.length; k++) out[k] = lowestFloor(req.imps[k], snap.currencies.base, snap.currencies) * FLOOR_SLACK;
  return out;
}

/** Whether the floor `creative` faces on `imp` can depend on which creative it is (2.6 duration floors). */
function durationPriced(creative: CompiledCreative, imp: ImpView, deal: DealView | undefined): boolean {
  if (creative.type === 'video') return imp.video!.durationFloors !== undefined || deal?.durationFloors !== undefined;
  if (creative.type === 'audio') return imp.audio!.durationFloors !== undefined || deal?.durationFloors !== undefined;
  return false;
}

function minOf(xs: readonly number[]): number {
  let m = Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] < m) m = xs[i];
  return m;
}

/**
 * Whether some campaign past the first `fromWord` words (all below every imp floor) passes the
 * request's targeting, an imp's media and deals, its dates, audience rules and IP rules: what the
 * scan checks before it looks at the floor. Evaluated only for a no-bid that would otherwise name
 * an earlier reason.
 *
 * Any one match settles it, and the broad campaigns that match most requests are few: the words
 * where recent requests found theirs are tried first, a word at a time, before the chunk scan.
 */
function matchesBelowFloors(ctx: DecideContext, where: RequestPlace, fromWord: number): boolean {
  const { req, nowMs, audience, search } = ctx;
  const index = ctx.snap.index;
  const words = index.words;
  const bits = search.impBits;
  const recent = search.recentMatchWords;
  for (let k = 0; k < req.imps.length; k++) {
    search.planImp(req.imps[k]);
    for (let j = 0; j < recent.length; j++) {
      const w = recent[j];
      if (w < fromWord || !search.impCandidatesInWord(w)) continue;
      for (let i = nextBit(bits, w * 32, w + 1); i >= 0; i = nextBit(bits, i + 1, w + 1)) if (eligible(index.campaigns[i], nowMs, audience, where)) return true;
    }
    // A chunk at a time, stopping at the first match.
    for (let from = fromWord - (fromWord % CHUNK_WORDS); from < words; from += CHUNK_WORDS) {
      const to = Math.min(words, from + CHUNK_WORDS);
      if (!search.impCandidatesIn(from, to)) continue;
      for (let i = nextBit(bits, Math.max(from, fromWord) * 32, to); i >= 0; i = nextBit(bits, i + 1, to))
        if (eligible(index.campaigns[i], nowMs, audience, where)) {
          search.rememberMatchWord(i >>> 5);
          return true;
        }
    }
  }
  return false;
}

/**
 * From 128 words (4,096 campaigns) on, the scan is cut off at the lowest floor. It paid for itself
 * there when every rule was applied to every word (10-13 % less route time at 10,000 campaigns);
 * with chunked plans, cutting off from the first word measured the same at 1,000 and 10,000.
 */
export const FLOOR_CUTOFF_MIN_WORDS = 128;

/** How many bids of the request so far go to `c`. */
function pickedFor(bids: readonly BidDecision[], c: CompiledCampaign): number {
  let n = 0;
  for (let i = 0; i < bids.length; i++) if (bids[i].campaign === c) n++;
  return n;
}

/** The exchange's currency when the request accepts it, else the first accepted one we have a rate for. */
function responseCurrency(req: BidRequestView, ex: ExchangeProfile, snap: Snapshot): string | undefined {
  const cur = req.cur;
  if (!cur || cur.length === 0 || cur.indexOf(ex.currency) >= 0) return ex.currency;
  for (let i = 0; i < cur.length; i++) if (snap.currencies.has(cur[i])) return cur[i];
  return undefined;
}

function deviceFacts(req: BidRequestView, index: TargetingIndex): DeviceFacts {
  if (!index.needsUserAgent) return req.os !== undefined || req.deviceType !== undefined ? { deviceType: req.deviceType, os: req.os, browser: undefined } : NO_DEVICE;
  const ua = req.ua ? parseUserAgent(req.ua) : undefined;
  return { deviceType: req.deviceType ?? ua?.deviceType, os: req.os ?? ua?.os, browser: ua?.browser };
}

/**
 * Where the request comes from: its address, parsed on first need (only a campaign with an IP rule
 * that the scan reaches asks for it), and its position.
 */
class RequestPlace {
  private parsed: IpAddress | undefined | null = null;
  constructor(private readonly req: BidRequestView) {}
  ip(): IpAddress | undefined {
    if (this.parsed === null) this.parsed = parseIp(this.req.ip, this.req.ipv6);
    return this.parsed;
  }
  within(locations: LocationSet): boolean {
    return locations.contains(this.req.lat, this.req.lon, this.req.geoType);
  }
}

/**
 * What the scan checks before price: the campaign is within its flight, the user meets its audience
 * rules, the address its IP rules, the position its location circles.
 */
function eligible(c: CompiledCampaign, nowMs: number, audience: Audience, where: RequestPlace): boolean {
  if (nowMs < c.startMs || nowMs >= c.endMs || !audienceAllows(c.segments, audience)) return false;
  if (c.locations !== undefined && !where.within(c.locations)) return false;
  return (c.ipAllow === undefined && c.ipBlock === undefined) || ipAllowed(c, where.ip());
}

function ipAllowed(c: CompiledCampaign, ip: IpAddress | undefined): boolean {
  if (c.ipAllow && (!ip || !c.ipAllow.contains(ip))) return false;
  if (c.ipBlock && ip && c.ipBlock.contains(ip)) return false;
  return true;
}

/**
 * The index in `imp.deals` of the next offered deal, from `from` on, that this campaign holds and
 * may bid through (the deal's seat and advertiser-domain allow lists admit it); -1 when none.
 */
function nextDeal(c: CompiledCampaign, imp: ImpView, seat: string, from: number): number {
  const held = c.deals!;
  for (let i = from; i < imp.deals.length; i++) {
    const d = imp.deals[i];
    if (!held.has(d.id)) continue;
    if (d.wseat && d.wseat.length > 0 && d.wseat.indexOf(seat) < 0) continue;
    if (d.wadomain && d.wadomain.length > 0 && !c.adomain.some((a) => d.wadomain!.indexOf(a) >= 0)) continue;
    return i;
  }
  return -1;
}
