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
  /** The signed identity query the five share (without `?`). */
  readonly query: string;
  /** The exchange's URL pieces these were made from. */
  readonly template: NoticeTemplate;
  /** `query` JSON-escaped (no quotes), made on first use by `jsonQuery`. */
  queryJson: string | undefined;
}

/**
 * What a bid's notice URLs are made of besides its identity query, per exchange (and notice base
 * URL): each URL is `<head>?<query><tail>`. Made once, so a bid only joins three strings a URL, and
 * the markup can escape the query once for both of the URLs that go into it (ad-markup.ts).
 */
export interface NoticeTemplate {
  readonly base: string;
  readonly win: string;
  readonly winTail: string;
  readonly billing: string;
  readonly billingTail: string;
  readonly loss: string;
  readonly lossTail: string;
  readonly impression: string;
  readonly click: string;
  /** The same pieces JSON-escaped (no quotes), for the response text. */
  readonly json: { readonly win: string; readonly winTail: string; readonly billing: string; readonly billingTail: string; readonly loss: string; readonly lossTail: string; readonly impression: string };
}

const templates = new WeakMap<ExchangeProfile, NoticeTemplate>();

export function noticeTemplate(base: string, ex: ExchangeProfile): NoticeTemplate {
  let t = templates.get(ex);
  if (t === undefined || t.base !== base) {
    const m = ex.macros;
    const head = (type: string) => `${base}/notice/${type}/${ex.id}?`;
    const pieces = {
      win: head('win'),
      winTail: `&p=${m.price}&m=${m.minToWin}&pc=${m.currency}`,
      billing: head('billing'),
      billingTail: `&p=${m.price}&pc=${m.currency}`,
      loss: head('loss'),
      lossTail: `&l=${m.loss}&m=${m.minToWin}&p=${m.price}&pc=${m.currency}`,
      impression: head('impression'),
    };
    const json = { ...pieces };
    for (const k of Object.keys(json) as (keyof typeof json)[]) json[k] = jsonInner(json[k]);
    t = { base, ...pieces, click: head('click'), json };
    templates.set(ex, t);
  }
  return t;
}

export function noticeUrls(base: string, ex: ExchangeProfile, id: BidIdentity, signer: NoticeSigner): NoticeUrls {
  const query = identityQuery(id, signer);
  const t = noticeTemplate(base, ex);
  return {
    nurl: ex.sendNurl ? t.win + query + t.winTail : undefined,
    burl: t.billing + query + t.billingTail,
    lurl: t.loss + query + t.lossTail,
    impression: t.impression + query,
    click: t.click + query,
    query,
    template: t,
    queryJson: undefined,
  };
}

/** The bid's query JSON-escaped (without quotes): escaped once per bid, whichever URLs need it. */
export function jsonQuery(urls: NoticeUrls): string {
  return (urls.queryJson ??= jsonInner(urls.query));
}

/**
 * `,"nurl":..,"burl":..,"lurl":..` (nurl only when the exchange wants it): the text of
 * JSON.stringify of each URL, from the template's escaped pieces and the query escaped once,
 * instead of escaping three whole URLs.
 */
export function noticeFieldsJson(urls: NoticeUrls): string {
  const j = urls.template.json;
  const query = jsonQuery(urls);
  return (
    (urls.nurl !== undefined ? `,"nurl":"${j.win}${query}${j.winTail}"` : '') +
    `,"burl":"${j.billing}${query}${j.billingTail}","lurl":"${j.loss}${query}${j.lossTail}"`
  );
}

/** JSON.stringify(s) without its quotes. JSON escapes a character at a time, so pieces can be escaped apart and joined. */
const jsonInner = (s: string) => JSON.stringify(s).slice(1, -1);

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
