/**
 * OpenRTB BidResponse JSON from the bidder's decisions: one seat (the exchange's), one bid per imp.
 * Fields new in 2.6 (`mtype`, `dur`) are sent only to exchanges that speak 2.6.
 */
import type { ExchangeProfile } from '../campaigns/snapshot.js';
import type { BidDecision } from './bidder.js';
import { BidIds, noticeFieldsJson, noticeUrls } from '../events/notice-urls.js';
import { adMarkup, adMarkupJson } from './ad-markup.js';
import type { CompiledCampaign, CompiledCreative } from '../targeting/compiled-campaign.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import type { BidIdentity } from '../events/bid-identity.js';
import type { BidRequestView } from '../openrtb/request-view.js';

/** What a bid's identity takes from its request: the placement fields of the parsed view (read, not copied). */
export type PlacementSource = Pick<BidRequestView, 'channel' | 'domain' | 'bundle' | 'publisherId' | 'country' | 'deviceType'>;

export interface ResponseContext {
  readonly noticeBaseUrl: string;
  readonly bidIds: BidIds;
  readonly signer: NoticeSigner;
}

export interface BuiltResponse {
  readonly json: string;
  /** The identity of each bid, in the order of the decisions (for the bid log). */
  readonly identities: readonly BidIdentity[];
}

/** The BidResponse as an object (what `json` is the text of), for encoders other than JSON. */
export interface BuiltResponseObject {
  readonly response: { readonly id: string; readonly cur: string; readonly seatbid: readonly { seat: string; bid: object[] }[] };
  readonly identities: readonly BidIdentity[];
}

/**
 * The BidResponse as JSON text, written directly: the same text as JSON.stringify of
 * `buildBidResponseObject(...).response` (a test holds the two together), without building the
 * objects or escaping the creative's markup and fixed fields again for every bid (they are escaped
 * once per compiled creative).
 */
export function buildBidResponse(
  requestId: string,
  bids: readonly BidDecision[],
  currency: string,
  ex: ExchangeProfile,
  ctx: ResponseContext,
  nowSec: number,
  req?: PlacementSource,
): BuiltResponse {
  const is26 = ex.responseVersion === '2.6';
  const identities = new Array<BidIdentity>(bids.length);
  let json = `{"id":${q(requestId)},"cur":${q(currency)},"seatbid":[{"seat":${q(ex.seat)},"bid":[`;
  for (let i = 0; i < bids.length; i++) {
    const d = bids[i];
    const cr = d.creative;
    const id = (identities[i] = identityOf(d, requestId, currency, ex, ctx, nowSec, req));
    const urls = noticeUrls(ctx.noticeBaseUrl, ex, id, ctx.signer);
    const f = fixedFields(d.campaign, cr);
    const video = cr.type === 'video' ? d.imp.video : undefined;
    const w = cr.w ?? video?.w;
    const h = cr.h ?? video?.h;
    if (i > 0) json += ',';
    json +=
      `{"id":${q(id.bidId)},"impid":${q(d.imp.id)},"price":${q(d.price)},${f.head}` +
      (w !== undefined ? `,"w":${q(w)}` : '') +
      (h !== undefined ? `,"h":${q(h)}` : '') +
      (d.deal !== undefined ? `,"dealid":${q(d.deal.id)}` : '') +
      (is26 ? f.tail26 : '') +
      `,"adm":${adMarkupJson(cr, urls, d.native, trackersAllowed(d, ctx))}` +
      `${noticeFieldsJson(urls)}}`;
  }
  return { json: json + ']}]}', identities };
}

const q = JSON.stringify;

/** A bid's fields that depend only on its creative (and campaign), as JSON text: made once per compiled creative. */
interface FixedFields {
  /** `"adid":..,"crid":..,"cid":..,"adomain":..,"cat":..,"bundle":..,"attr":..` (absent ones left out). */
  readonly head: string;
  /** `,"mtype":..,"dur":..` for 2.6 exchanges. */
  readonly tail26: string;
}
const fixed = new WeakMap<CompiledCreative, FixedFields>();

function fixedFields(c: CompiledCampaign, cr: CompiledCreative): FixedFields {
  let f = fixed.get(cr);
  if (f === undefined) {
    const head = q({ adid: cr.id, crid: cr.id, cid: c.id, adomain: c.adomain, cat: c.categories.length ? c.categories : undefined, bundle: c.bundle, attr: cr.attrs.length ? cr.attrs : undefined });
    const tail = q({ mtype: cr.mtype, dur: cr.type === 'video' || cr.type === 'audio' ? cr.duration : undefined });
    f = { head: head.slice(1, -1), tail26: ',' + tail.slice(1, -1) };
    fixed.set(cr, f);
  }
  return f;
}

/** Our pixel and click redirect go into the markup unless the imp is secure and the notice base URL is not. */
function trackersAllowed(d: BidDecision, ctx: ResponseContext): boolean {
  return !d.imp.secure || ctx.noticeBaseUrl.startsWith('https:');
}

function identityOf(
  d: BidDecision,
  requestId: string,
  currency: string,
  ex: ExchangeProfile,
  ctx: ResponseContext,
  nowSec: number,
  req: PlacementSource | undefined,
): BidIdentity {
  const c = d.campaign;
  // The site's domain or the app's bundle, whichever the request is for (dooh and unknown: none).
  const placement = capped(req === undefined ? undefined : req.channel === 'site' ? req.domain : req.channel === 'app' ? req.bundle : undefined);
  return {
    bidId: ctx.bidIds.next(),
    requestId,
    impId: d.imp.id,
    exchange: ex.id,
    advertiserId: c.advertiserId,
    campaignId: c.id,
    creativeId: d.creative.id,
    dealId: d.deal?.id ?? '',
    price: d.price,
    currency,
    issuedAt: nowSec,
    // Always the same shape (absent ones undefined): no spreads per bid.
    userHash: d.user,
    unshaded: d.unshaded,
    floor: d.floor,
    placement,
    placementType: placement === undefined ? undefined : req!.channel,
    publisherId: capped(req?.publisherId),
    country: req?.country,
    deviceType: req?.deviceType,
  };
}

/** Exchange-sent text in notice URLs is kept short; a longer one (never a real domain, bundle or id) is cut. */
const MAX_PLACEMENT_CHARS = 128;
function capped(s: string | undefined): string | undefined {
  return s !== undefined && s.length > MAX_PLACEMENT_CHARS ? s.slice(0, MAX_PLACEMENT_CHARS) : s;
}

export function buildBidResponseObject(
  requestId: string,
  bids: readonly BidDecision[],
  currency: string,
  ex: ExchangeProfile,
  ctx: ResponseContext,
  nowSec: number,
  req?: PlacementSource,
): BuiltResponseObject {
  const is26 = ex.responseVersion === '2.6';
  const out = new Array(bids.length);
  const identities = new Array<BidIdentity>(bids.length);
  for (let i = 0; i < bids.length; i++) {
    const d = bids[i];
    const cr = d.creative;
    const c = d.campaign;
    const id = (identities[i] = identityOf(d, requestId, currency, ex, ctx, nowSec, req));
    const urls = noticeUrls(ctx.noticeBaseUrl, ex, id, ctx.signer);
    const video = d.imp.video;
    out[i] = {
      id: id.bidId,
      impid: d.imp.id,
      price: d.price,
      adid: cr.id,
      crid: cr.id,
      cid: c.id,
      adomain: c.adomain,
      cat: c.categories.length ? c.categories : undefined,
      bundle: c.bundle,
      attr: cr.attrs.length ? cr.attrs : undefined,
      w: cr.w ?? (cr.type === 'video' ? video?.w : undefined),
      h: cr.h ?? (cr.type === 'video' ? video?.h : undefined),
      dealid: d.deal?.id,
      mtype: is26 ? cr.mtype : undefined,
      dur: is26 && (cr.type === 'video' || cr.type === 'audio') ? cr.duration : undefined,
      adm: adMarkup(cr, urls, d.native, trackersAllowed(d, ctx)),
      nurl: urls.nurl,
      burl: urls.burl,
      lurl: urls.lurl,
    };
  }
  return { response: { id: requestId, cur: currency, seatbid: [{ seat: ex.seat, bid: out }] }, identities };
}
