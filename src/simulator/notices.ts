/**
 * What an exchange and a browser do with a winning or losing bid: substitute the auction macros
 * in nurl / burl / lurl (and adm), and find the impression pixel and the click URL in the markup
 * (banner HTML, VAST <Impression>, Native 1.x `imptrackers` / `eventtrackers` and `link.url`).
 */

export interface AuctionMacros {
  /** `${AUCTION_ID}`: the bid request id. */
  readonly auctionId: string;
  /** `${AUCTION_BID_ID}`: BidResponse.bidid (or the bid's id when absent). */
  readonly bidId: string;
  /** `${AUCTION_IMP_ID}` */
  readonly impId: string;
  /** `${AUCTION_SEAT_ID}` */
  readonly seatId?: string;
  /** `${AUCTION_AD_ID}` */
  readonly adId?: string;
  /** `${AUCTION_PRICE}`: the clearing price (wins, billing); '' for losses where the exchange does not disclose it. */
  readonly price?: number;
  /** `${AUCTION_CURRENCY}` */
  readonly currency: string;
  /** `${AUCTION_MIN_TO_WIN}` */
  readonly minToWin?: number;
  /** `${AUCTION_LOSS}`: 0 for a win. */
  readonly loss?: number;
}

/** A price as exchanges write it: plain decimal, at most 6 places, no exponent. */
export function formatPrice(p: number): string {
  return (Math.round(p * 1e6) / 1e6).toFixed(6).replace(/\.?0+$/, '');
}

/**
 * Replaces the OpenRTB 2.5/2.6 auction macros (and the common `%%WINNING_PRICE%%`) in a URL or
 * markup. Macros with no value become empty strings, as exchanges do.
 */
export function substituteMacros(text: string, m: AuctionMacros): string {
  if (!text.includes('${') && !text.includes('%%')) return text;
  const price = m.price === undefined ? '' : formatPrice(m.price);
  const values: Record<string, string> = {
    '${AUCTION_ID}': m.auctionId,
    '${AUCTION_BID_ID}': m.bidId,
    '${AUCTION_IMP_ID}': m.impId,
    '${AUCTION_SEAT_ID}': m.seatId ?? '',
    '${AUCTION_AD_ID}': m.adId ?? '',
    '${AUCTION_PRICE}': price,
    '${AUCTION_CURRENCY}': m.currency,
    '${AUCTION_MBR}': '',
    '${AUCTION_LOSS}': m.loss === undefined ? '' : String(m.loss),
    '${AUCTION_MIN_TO_WIN}': m.minToWin === undefined ? '' : formatPrice(m.minToWin),
    '%%WINNING_PRICE%%': price,
  };
  return text.replace(/\$\{AUCTION_[A-Z_]+\}|%%WINNING_PRICE%%/g, (k) => (k in values ? encodeURIComponent(values[k]) : k));
}

export interface Trackers {
  readonly impressions: string[];
  readonly clicks: string[];
}

const unescapeHtml = (s: string) =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Impression pixels and click URLs in a bid's markup, by its media type (`mtype`, or guessed). */
export function findTrackers(adm: string | undefined): Trackers {
  if (!adm) return { impressions: [], clicks: [] };
  const text = adm.trim();
  if (text.startsWith('{')) return nativeTrackers(text);
  if (/^<\?xml|^<VAST/i.test(text)) {
    const impressions = [...text.matchAll(/<Impression[^>]*>\s*(?:<!\[CDATA\[)?\s*([^<\]]+?)\s*(?:\]\]>)?\s*<\/Impression>/gi)].map((m) => m[1]);
    const clicks = [...text.matchAll(/<ClickThrough[^>]*>\s*(?:<!\[CDATA\[)?\s*([^<\]]+?)\s*(?:\]\]>)?\s*<\/ClickThrough>/gi)].map((m) => m[1]);
    return { impressions, clicks };
  }
  // Banner HTML: 1x1 images are pixels; links are clicks.
  const impressions: string[] = [];
  for (const m of text.matchAll(/<img\b[^>]*>/gi)) {
    const tag = m[0];
    const src = /\bsrc="([^"]*)"/i.exec(tag)?.[1] ?? /\bsrc='([^']*)'/i.exec(tag)?.[1];
    if (src && /\bwidth="?1"?\b/i.test(tag) && /\bheight="?1"?\b/i.test(tag)) impressions.push(unescapeHtml(src));
  }
  const clicks = [...text.matchAll(/<a\b[^>]*\bhref=(?:"([^"]*)"|'([^']*)')/gi)].map((m) => unescapeHtml(m[1] ?? m[2]));
  return { impressions, clicks };
}

function nativeTrackers(text: string): Trackers {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { impressions: [], clicks: [] };
  }
  const root = (doc as { native?: unknown })?.native ?? doc; // Native 1.0 wraps the response in "native"
  const n = root as { imptrackers?: unknown; eventtrackers?: unknown; link?: { url?: unknown } };
  const impressions: string[] = [];
  if (Array.isArray(n.imptrackers)) for (const u of n.imptrackers) if (typeof u === 'string') impressions.push(u);
  if (Array.isArray(n.eventtrackers))
    for (const t of n.eventtrackers as { event?: number; method?: number; url?: unknown }[])
      if (t && t.event === 1 && t.method === 1 && typeof t.url === 'string' && !impressions.includes(t.url)) impressions.push(t.url);
  const clicks = typeof n.link?.url === 'string' ? [n.link.url] : [];
  return { impressions, clicks };
}

/** Whether a URL points at this machine (the simulator only ever calls those). */
export function isLocalUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}
