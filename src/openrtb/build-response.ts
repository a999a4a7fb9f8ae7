/**
 * OpenRTB BidResponse JSON from the bidder's decisions: one seat (the exchange's), one bid per imp.
 * Fields new in 2.6 (`mtype`, `dur`) are sent only to exchanges that speak 2.6.
 */
import type { ExchangeProfile } from '../campaigns/snapshot.js';
import type { BidDecision } from '../bidding/bidder.js';
import { BidIds, noticeUrls } from '../bidding/notice-urls.js';
import { nativeMarkup } from './native.js';

export interface ResponseContext {
  readonly noticeBaseUrl: string;
  readonly bidIds: BidIds;
}

export function buildBidResponse(
  requestId: string,
  bids: readonly BidDecision[],
  currency: string,
  ex: ExchangeProfile,
  ctx: ResponseContext,
): string {
  const is26 = ex.responseVersion === '2.6';
  const out = new Array(bids.length);
  for (let i = 0; i < bids.length; i++) {
    const d = bids[i];
    const cr = d.creative;
    const c = d.campaign;
    const id = ctx.bidIds.next();
    const urls = noticeUrls(ctx.noticeBaseUrl, ex, requestId, id, d, currency);
    const video = d.imp.video;
    out[i] = {
      id,
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
      adm: cr.markup ?? nativeMarkup(d.native!, cr.native!),
      nurl: urls.nurl,
      burl: urls.burl,
      lurl: urls.lurl,
    };
  }
  return JSON.stringify({ id: requestId, cur: currency, seatbid: [{ seat: ex.seat, bid: out }] });
}
