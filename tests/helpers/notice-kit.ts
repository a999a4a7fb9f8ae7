/**
 * Helpers for notice tests: a recording EventSink, bid requests the demo config bids on, macro
 * substitution the way an exchange does it, tracker extraction from adm, Prometheus lookups and
 * a bounded poll.
 */
import type { BidderEvent, EventSink } from '../../src/events/event-types.js';

/**
 * Keeps every event written, in order. A durable write is kept (and resolves) after
 * `durableDelayMs`, or fails then without being kept while `failDurable` is set.
 */
export class RecordingSink implements EventSink {
  readonly events: BidderEvent[] = [];
  /** Durable writes, in the order they were asked for (kept or not). */
  readonly durableAsked: BidderEvent[] = [];
  failDurable = false;
  durableDelayMs = 0;
  write(event: BidderEvent): void {
    this.events.push(event);
  }
  async writeDurable(event: BidderEvent): Promise<void> {
    this.durableAsked.push(event);
    if (this.durableDelayMs > 0) await new Promise((r) => setTimeout(r, this.durableDelayMs));
    if (this.failDurable) throw new Error('recording sink: durable write failed');
    this.events.push(event);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  of(type: BidderEvent['type']): BidderEvent[] {
    return this.events.filter((e) => e.type === type);
  }
}

/** A request the demo config bids on (Acme run of network, 300x250). */
export function bannerRequest(id: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
    site: { domain: 'news.example', page: 'https://news.example/a' },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 2 },
    ...over,
  };
}

export interface Substitution {
  price?: string;
  minToWin?: string;
  currency?: string;
  loss?: string;
}

/** Replaces the standard OpenRTB macros (and `%%WINNING_PRICE%%`) as an exchange would. */
export function substitute(url: string, s: Substitution): string {
  let out = url;
  if (s.price !== undefined) out = out.split('${AUCTION_PRICE}').join(s.price).split('%%WINNING_PRICE%%').join(s.price);
  if (s.minToWin !== undefined) out = out.split('${AUCTION_MIN_TO_WIN}').join(s.minToWin);
  if (s.currency !== undefined) out = out.split('${AUCTION_CURRENCY}').join(s.currency);
  if (s.loss !== undefined) out = out.split('${AUCTION_LOSS}').join(s.loss);
  return out;
}

/** Path and query of an absolute URL, exactly as written (no re-encoding). */
export function pathOf(url: string): string {
  const m = /^https?:\/\/[^/]+(\/.*)$/.exec(url);
  if (!m) throw new Error(`not an absolute URL: ${url}`);
  return m[1];
}

/** Query parameters of a notice URL (decoded). */
export function paramsOf(url: string): URLSearchParams {
  return new URLSearchParams(url.slice(url.indexOf('?') + 1));
}

/** Rebuilds a notice URL with some query parameters changed (undefined: removed). */
export function withParams(url: string, changes: Record<string, string | undefined>): string {
  const q = url.indexOf('?');
  const p = new URLSearchParams(url.slice(q + 1));
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) p.delete(k);
    else p.set(k, v);
  }
  return `${url.slice(0, q)}?${p.toString()}`;
}

const unescapeAttr = (s: string) => s.replace(/&quot;/g, '"').replace(/&amp;/g, '&');

/** The impression pixel of a banner adm (`<img src=".../notice/impression/...">`), if any. */
export function impressionPixel(adm: string): string | undefined {
  const m = /<img src="([^"]*\/notice\/impression\/[^"]*)"/.exec(adm);
  return m ? unescapeAttr(m[1]) : undefined;
}

/** The click redirect in a banner adm (`href=".../notice/click/..."`), if any. */
export function clickUrl(adm: string): string | undefined {
  const m = /href="([^"]*\/notice\/click\/[^"]*)"/.exec(adm);
  return m ? unescapeAttr(m[1]) : undefined;
}

/** One sample value from the Prometheus text, 0 when the series does not exist. */
export function metric(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf('}');
    const have = line.slice(name.length + 1, close).split(',');
    if (want.every((w) => have.includes(w))) return Number(line.slice(close + 1).trim());
  }
  return 0;
}

/** Polls `pred` every 10 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
