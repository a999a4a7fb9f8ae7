/**
 * Win, billing and loss notice URLs for a bid. They point at this bidder, carry what identifies
 * the bid later (bid id, request id, imp id, campaign, creative, our price and currency), and
 * end with the exchange's macros, which it substitutes before calling them.
 */
import type { ExchangeProfile } from '../campaigns/snapshot.js';
import type { BidDecision } from './bidder.js';

export interface NoticeUrls {
  readonly nurl: string | undefined;
  readonly burl: string;
  readonly lurl: string;
}

export function noticeUrls(base: string, ex: ExchangeProfile, requestId: string, bidId: string, d: BidDecision, currency: string): NoticeUrls {
  const query =
    `?b=${bidId}&r=${encodeURIComponent(requestId)}&i=${encodeURIComponent(d.imp.id)}` +
    `&c=${d.campaign.id}&cr=${d.creative.id}&bp=${d.price}&bc=${currency}` +
    (d.deal ? `&d=${encodeURIComponent(d.deal.id)}` : '');
  const m = ex.macros;
  const prefix = `${base}/notice/`;
  const exPath = `/${ex.id}${query}`;
  return {
    nurl: ex.sendNurl ? `${prefix}win${exPath}&p=${m.price}&m=${m.minToWin}&pc=${m.currency}` : undefined,
    burl: `${prefix}billing${exPath}&p=${m.price}&pc=${m.currency}`,
    lurl: `${prefix}loss${exPath}&l=${m.loss}&m=${m.minToWin}`,
  };
}

/** Bid ids: unique per process (instance id prefix) and across restarts (start time). */
export class BidIds {
  private n = 0;
  private readonly prefix: string;
  constructor(instanceId: string, startMs = Date.now()) {
    this.prefix = `${instanceId}${startMs.toString(36)}-`;
  }
  next(): string {
    return this.prefix + (this.n++).toString(36);
  }
}
