/**
 * Notice URLs for a bid: win (nurl), billing (burl), loss (lurl), the impression pixel and the click
 * redirect. They point at this bidder, carry the bid's signed identity (bid, request, imp, campaign,
 * creative, our price and currency) and end with the exchange's macros, which it substitutes before
 * calling them. The identity is signed once per bid and shared by all five URLs.
 */
import type { ExchangeProfile } from '../campaigns/snapshot.js';
import type { NoticeSigner } from './notice-signer.js';
import { identityQuery, type BidIdentity } from './bid-identity.js';

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

/**
 * Bid ids `<thread>-<n>`: unique per bid thread (threadName: instance, thread and start time). With
 * budgets the name is the thread's lease holder's, so whichever instance gets a notice knows which
 * holder made the bid (`holderOf`) and can have its reservation ended there.
 */
export class BidIds {
  private n = 0;
  private readonly prefix: string;
  /** `thread`: a name without `-` (threadName). */
  constructor(thread: string) {
    this.prefix = `${thread}-`;
  }
  next(): string {
    return this.prefix + (this.n++).toString(36);
  }
}

/** The name of the bid thread that made a bid: its id up to the last `-` (undefined for ids not made by BidIds). */
export function holderOf(bidId: string): string | undefined {
  const i = bidId.lastIndexOf('-');
  return i > 0 ? bidId.slice(0, i) : undefined;
}

/**
 * A bid thread's name, unique per instance, thread and start: the budget lease holder it is, and
 * the prefix of its bid ids. `thread`: 0 for the main thread, the worker's slot for a worker.
 */
export function threadName(instanceId: string, thread: number, startMs = Date.now()): string {
  return `${instanceId}${startMs.toString(36)}${thread === 0 ? '' : `w${thread}`}`;
}
