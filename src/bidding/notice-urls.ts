/**
 * Notice URLs for a bid: win (nurl), billing (burl), loss (lurl), the impression pixel and the click
 * redirect. They point at this bidder, carry the bid's signed identity (bid, request, imp, campaign,
 * creative, our price and currency) and end with the exchange's macros, which it substitutes before
 * calling them. The identity is signed once per bid and shared by all five URLs.
 */
import type { ExchangeProfile } from '../campaigns/snapshot.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import { identityQuery, type BidIdentity } from '../events/bid-identity.js';

export interface NoticeUrls {
  readonly nurl: string | undefined;
  readonly burl: string;
  readonly lurl: string;
  readonly impression: string;
  readonly click: string;
}

export function noticeUrls(base: string, ex: ExchangeProfile, id: BidIdentity, signer: NoticeSigner): NoticeUrls {
  const q = identityQuery(id, signer);
  const m = ex.macros;
  const at = (type: string) => `${base}/notice/${type}/${ex.id}?${q}`;
  return {
    nurl: ex.sendNurl ? `${at('win')}&p=${m.price}&m=${m.minToWin}&pc=${m.currency}` : undefined,
    burl: `${at('billing')}&p=${m.price}&pc=${m.currency}`,
    lurl: `${at('loss')}&l=${m.loss}&m=${m.minToWin}&p=${m.price}&pc=${m.currency}`,
    impression: at('impression'),
    click: at('click'),
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
