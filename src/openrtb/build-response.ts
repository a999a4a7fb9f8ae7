/**
 * OpenRTB BidResponse JSON from the bidder's decisions: one seat (the exchange's), one bid per imp.
 * Fields new in 2.6 (`mtype`, `dur`) are sent only to exchanges that speak 2.6.
 */
import type { ExchangeProfile } from '../campaigns/snapshot.js';
import type { BidDecision } from '../bidding/bidder.js';
import { BidIds, noticeUrls } from '../bidding/notice-urls.js';
import { adMarkup } from '../bidding/ad-markup.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import type { BidIdentity } from '../events/bid-identity.js';

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

export function buildBidResponse(
  requestId: string,
  bids: readonly BidDecision[],
  currency: string,
  ex: ExchangeProfile,
  ctx: ResponseContext,
  nowSec: number,
): BuiltResponse {
  const built = buildBidResponseObject(requestId, bids, currency, ex, ctx, nowSec);
  return { json: JSON.stringify(built.response), identities: built.identities };
}

export function buildBidResponseObject(
  requestId: string,
  bids: readonly BidDecision[],
  currency: string,
  ex: ExchangeProfile,
  ctx: ResponseContext,
  nowSec: number,
): BuiltResponseObject {
  const is26 = ex.responseVersion === '2.6';
  const out = new Array(bids.length);
  const identities = new Array<BidIdentity>(bids.length);
  for (let i = 0; i < bids.length; i++) {
    const d = bids[i];
    const cr = d.creative;
    const c = d.campaign;
    const id: BidIdentity = {
      bidId: ctx.bidIds.next(),
      requestId,
      impId: d.imp.id,
      exchange: ex.id,
      advertiserId: c.advertiserId,
      campaignId: c.id,
      creativeId: cr.id,
      dealId: d.deal?.id ?? '',
      price: d.price,
      currency,
      issuedAt: nowSec,
      ...(d.user !== undefined ? { userHash: d.user } : {}),
    };
    identities[i] = id;
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
      adm: adMarkup(cr, urls, d.native, !d.imp.secure || ctx.noticeBaseUrl.startsWith('https:')),
      nurl: urls.nurl,
      burl: urls.burl,
      lurl: urls.lurl,
    };
  }
  return { response: { id: requestId, cur: currency, seatbid: [{ seat: ex.seat, bid: out }] }, identities };
}
