/**
 * Notices through the real HTTP server (in-process bidder, recording EventSink): a bid's
 * nurl/burl/lurl with the exchange's macros substituted, the impression pixel, the click redirect
 * and the conversion postback each record exactly the right event; forged, tampered, stale,
 * future-dated, over-priced and otherwise bad notices are refused with their status and counted;
 * duplicates are recorded once (in one process, across two processes sharing Redis, and across a
 * restart); signing keys rotate; exchanges with their own macros get URLs in their style; secure
 * imps never get http trackers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startBidder, httpRequest, type HttpResult, type TestBidder } from '../helpers/bidder.js';
import { RedisServer } from '../helpers/redis-server.js';
import {
  RecordingSink,
  bannerRequest,
  clickUrl,
  impressionPixel,
  metric,
  paramsOf,
  pathOf,
  sleep,
  substitute,
  until,
  withParams,
} from '../helpers/notice-kit.js';
import { identityQuery, type BidIdentity } from '../../src/events/bid-identity.js';
import { RedisNoticeDedupe } from '../../src/events/notice-dedupe.js';
import { hotPathRedisOptions } from '../../src/storage/redis-client.js';
import type { BidderEvent } from '../../src/events/event-types.js';
import { readNotice, type AcceptedNotice } from '../../src/events/notices.js';
import { NoticeSigner, parseSigningKeys } from '../../src/events/notice-signer.js';
import { Currencies } from '../../src/currency/currencies.js';

const MAX_AGE = 3600;
const KEY_A = 'test:0123456789abcdef0123456789abcdef';

let sink: RecordingSink;
let bidder: TestBidder;
const started: TestBidder[] = [];
const redisClients: Redis[] = [];
let redis: RedisServer | undefined;

async function start(opts: Parameters<typeof startBidder>[0]): Promise<TestBidder> {
  const b = await startBidder(opts);
  started.push(b);
  return b;
}

beforeAll(async () => {
  sink = new RecordingSink();
  bidder = await start({ configDir: 'config', events: sink, env: { NOTICE_MAX_AGE_SECONDS: String(MAX_AGE), NOTICE_SIGNING_KEYS: KEY_A } });
});

afterAll(async () => {
  for (const b of started) b.close();
  for (const c of redisClients) c.disconnect();
  await redis?.stop();
});

interface Bid {
  id: string;
  impid: string;
  price: number;
  crid: string;
  cid: string;
  adm: string;
  nurl?: string;
  burl: string;
  lurl: string;
  dealid?: string;
}

let reqSeq = 0;
/** One bid from `b` (on `exchange`, default: the default exchange). */
async function getBid(b: TestBidder, exchange?: string, over: Record<string, unknown> = {}): Promise<{ bid: Bid; cur: string; requestId: string }> {
  const requestId = `req-${++reqSeq}`;
  const r = await b.post(exchange ? `/bid/${exchange}` : '/bid', bannerRequest(requestId, over));
  expect(r.status, r.text).toBe(200);
  const body = r.json();
  return { bid: body.seatbid[0].bid[0], cur: body.cur, requestId };
}

const get = (b: TestBidder, url: string): Promise<HttpResult> => httpRequest(b.port, 'GET', url.startsWith('http') ? pathOf(url) : url);

const notices = (b: TestBidder, type: string, result: string) => b.metricsText().then((t) => metric(t, 'notices_total', { type, result }));

/** Runs `fn`, then returns how much notices_total{type,result} grew. */
async function counted(b: TestBidder, type: string, result: string, fn: () => Promise<unknown>): Promise<number> {
  const before = await notices(b, type, result);
  await fn();
  let after = before;
  await until(async () => (after = await notices(b, type, result)) > before, 2_000);
  return after - before;
}

/** Events of `type` for bid `bidId` recorded so far. */
const eventsFor = (s: RecordingSink, type: BidderEvent['type'], bidId: string) => s.events.filter((e) => e.type === type && e.bid_id === bidId);

/** Waits until `s` holds `n` events of `type` for `bidId` (and a little longer, to catch extras). */
async function settle(s: RecordingSink | RecordingSink[], type: BidderEvent['type'], bidId: string, n: number): Promise<BidderEvent[]> {
  const sinks = Array.isArray(s) ? s : [s];
  const all = () => sinks.flatMap((x) => eventsFor(x, type, bidId));
  await until(() => all().length >= n, 2_000);
  await sleep(30);
  return all();
}

const rate = { EUR: 0.92, GBP: 0.79, JPY: 151.2 } as const;

describe('accepted notices', () => {
  it('win, billing and loss with the macros substituted record the right events', async () => {
    const { bid, cur, requestId } = await getBid(bidder);
    expect(cur).toBe('USD');
    expect(bid.nurl).toContain('${AUCTION_PRICE}');
    expect(bid.nurl).toContain('${AUCTION_MIN_TO_WIN}');
    expect(bid.burl).toContain('${AUCTION_PRICE}');
    expect(bid.lurl).toContain('${AUCTION_LOSS}');
    const p = paramsOf(bid.burl);
    const clear = +(bid.price * 0.8).toFixed(4);

    const win = await get(bidder, substitute(bid.nurl!, { price: String(clear), minToWin: String(clear - 0.01), currency: 'USD' }));
    expect(win.status).toBe(204);
    const billing = await get(bidder, substitute(bid.burl, { price: String(clear), currency: 'USD' }));
    expect(billing.status).toBe(204);

    const identity = {
      exchange: 'default',
      advertiser_id: 'adv-acme',
      campaign_id: bid.cid,
      creative_id: bid.crid,
      bid_id: bid.id,
      request_id: requestId,
      imp_id: '1',
      deal_id: '',
    };
    expect(p.get('b')).toBe(bid.id);
    const [w] = await settle(sink, 'win', bid.id, 1);
    expect(eventsFor(sink, 'win', bid.id)).toHaveLength(1);
    expect(w).toMatchObject({ ...identity, type: 'win', event_id: `win:${bid.id}`, bid_cpm_base: bid.price, clear_cpm_base: clear, currency: 'USD' });
    expect(Math.abs(w.event_time - Date.now() / 1000)).toBeLessThan(5);
    const [bl] = await settle(sink, 'billing', bid.id, 1);
    expect(bl).toMatchObject({ ...identity, type: 'billing', event_id: `billing:${bid.id}`, bid_cpm_base: bid.price, clear_cpm_base: clear, currency: 'USD' });

    // A second bid loses: reason and min-to-win (in EUR, converted to USD).
    const lost = (await getBid(bidder)).bid;
    const loss = await get(bidder, substitute(lost.lurl, { loss: '102', minToWin: '2.3', price: '', currency: 'EUR' }));
    expect(loss.status).toBe(204);
    const [l] = await settle(sink, 'loss', lost.id, 1);
    expect(l).toMatchObject({ type: 'loss', event_id: `loss:${lost.id}`, bid_id: lost.id, bid_cpm_base: lost.price, loss_reason: 102 });
    expect((l as { min_to_win_base: number }).min_to_win_base).toBeCloseTo(2.3 / rate.EUR, 9);
  });

  it('prices in the exchange currency (EUR) and in another `pc` currency are converted to the base currency', async () => {
    const { bid, cur } = await getBid(bidder, 'openx-like');
    expect(cur).toBe('EUR');
    expect(paramsOf(bid.burl).get('bc')).toBe('EUR');
    const clearEur = +(bid.price * 0.5).toFixed(4);
    expect((await get(bidder, substitute(bid.nurl!, { price: String(clearEur), minToWin: '', currency: 'EUR' }))).status).toBe(204);
    const [w] = await settle(sink, 'win', bid.id, 1);
    expect(w).toMatchObject({ exchange: 'openx-like', currency: 'EUR' });
    expect((w as { bid_cpm_base: number }).bid_cpm_base).toBeCloseTo(bid.price / rate.EUR, 9);
    expect((w as { clear_cpm_base: number }).clear_cpm_base).toBeCloseTo(clearEur / rate.EUR, 9);

    // Billing priced in JPY (the exchange settles in yen): converted from JPY, not from EUR.
    const clearJpy = Math.floor((bid.price / rate.EUR) * rate.JPY * 0.9);
    expect((await get(bidder, substitute(bid.burl, { price: String(clearJpy), currency: 'JPY' }))).status).toBe(204);
    const [b] = await settle(sink, 'billing', bid.id, 1);
    expect((b as { clear_cpm_base: number }).clear_cpm_base).toBeCloseTo(clearJpy / rate.JPY, 9);
    // The currency macro left as it was: the bid's currency.
    const other = (await getBid(bidder, 'openx-like')).bid;
    expect((await get(bidder, substitute(other.burl, { price: String(+(other.price * 0.5).toFixed(4)) }))).status).toBe(204);
    const [b2] = await settle(sink, 'billing', other.id, 1);
    expect((b2 as { clear_cpm_base: number }).clear_cpm_base).toBeCloseTo(+(other.price * 0.5).toFixed(4) / rate.EUR, 9);
  });

  it('a price macro the exchange did not fill in counts the bid price, as price_missing', async () => {
    const { bid } = await getBid(bidder);
    const n = await counted(bidder, 'billing', 'price_missing', async () => {
      expect((await get(bidder, bid.burl)).status).toBe(204);
    });
    expect(n).toBe(1);
    const [b] = await settle(sink, 'billing', bid.id, 1);
    expect(b).toMatchObject({ clear_cpm_base: bid.price, bid_cpm_base: bid.price });
  });

  it('the impression pixel answers a GIF and records an impression; the click redirects to the landing page with dsp_click; the conversion postback records the converted order value', async () => {
    const { bid, requestId } = await getBid(bidder);
    const pixel = impressionPixel(bid.adm);
    const click = clickUrl(bid.adm);
    expect(pixel).toBeDefined();
    expect(click).toBeDefined();

    const imp = await get(bidder, pixel!);
    expect(imp.status).toBe(200);
    expect(imp.headers['content-type']).toBe('image/gif');
    expect(imp.body.subarray(0, 6).toString('latin1')).toMatch(/^GIF8[79]a$/);
    const [i] = await settle(sink, 'impression', bid.id, 1);
    expect(i).toMatchObject({ type: 'impression', event_id: `impression:${bid.id}`, campaign_id: bid.cid, creative_id: bid.crid, request_id: requestId });

    const landing = bidder.snapshots.current.index.creative(bid.crid)!.landingUrl!;
    expect(landing).toMatch(/^https:\/\/acmeshoes\.example/);
    const r = await get(bidder, click!);
    expect(r.status).toBe(302);
    const location = String(r.headers.location);
    expect(location.startsWith(landing + (landing.includes('?') ? '&' : '?') + 'dsp_click=')).toBe(true);
    const token = new URL(location).searchParams.get('dsp_click')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.test\.[A-Za-z0-9_-]+$/);
    const [c] = await settle(sink, 'click', bid.id, 1);
    expect(c).toMatchObject({ type: 'click', event_id: `click:${bid.id}`, campaign_id: bid.cid, creative_id: bid.crid });

    const conv = await get(bidder, `/notice/conversion?click=${encodeURIComponent(token)}&order=order-77&value=46&currency=EUR`);
    expect(conv.status).toBe(204);
    const [cv] = await settle(sink, 'conversion', bid.id, 1);
    expect(cv).toMatchObject({
      type: 'conversion',
      event_id: 'conversion:adv-acme:order-77',
      exchange: 'default',
      advertiser_id: 'adv-acme',
      campaign_id: bid.cid,
      creative_id: bid.crid,
      order_id: 'order-77',
      currency: 'EUR',
    });
    expect((cv as { value_base: number }).value_base).toBeCloseTo(46 / rate.EUR, 9);
    // The same order posted again is one conversion.
    const dup = await counted(bidder, 'conversion', 'duplicate', () =>
      get(bidder, `/notice/conversion?click=${encodeURIComponent(token)}&order=order-77&value=46&currency=EUR`),
    );
    expect(dup).toBe(1);
    expect(await settle(sink, 'conversion', bid.id, 1)).toHaveLength(1);

    // A forged or missing click token is refused.
    const forged = token.replace(/^[A-Za-z0-9_-]{4}/, 'AAAA');
    expect(await counted(bidder, 'conversion', 'bad_signature', async () => {
      expect((await get(bidder, `/notice/conversion?click=${forged}&order=o2&value=1`)).status).toBe(403);
    })).toBe(1);
    expect(await counted(bidder, 'conversion', 'missing_field', async () => {
      expect((await get(bidder, `/notice/conversion?order=o3&value=1`)).status).toBe(400);
    })).toBe(1);
    expect(await counted(bidder, 'conversion', 'bad_price', async () => {
      expect((await get(bidder, `/notice/conversion?click=${encodeURIComponent(token)}&order=o4&value=-3`)).status).toBe(400);
    })).toBe(1);
  });
});

describe('placement', () => {
  it("every row of a bid carries its request's placement, publisher, country and device type: win, billing, loss, impression, click and the conversion", async () => {
    const app = { app: { bundle: 'Com.Example.Game', publisher: { id: 'pub-7' } }, site: undefined, device: { ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 4, geo: { country: 'DE' } } };
    const { bid } = await getBid(bidder, undefined, app);
    const placement = { placement: 'com.example.game', placement_type: 'app', publisher_id: 'pub-7', country: 'DEU', device_type: 4 };
    expect(paramsOf(bid.burl).get('pl')).toBe('com.example.game');
    expect((await get(bidder, substitute(bid.nurl!, { price: '0.1', minToWin: '0.1', currency: 'USD' }))).status).toBe(204);
    expect((await get(bidder, substitute(bid.burl, { price: '0.1', currency: 'USD' }))).status).toBe(204);
    expect((await get(bidder, impressionPixel(bid.adm)!)).status).toBe(200);
    const click = await get(bidder, clickUrl(bid.adm)!);
    const token = new URL(String(click.headers.location)).searchParams.get('dsp_click')!;
    expect((await get(bidder, `/notice/conversion?click=${encodeURIComponent(token)}&order=order-placement&value=1`)).status).toBe(204);
    for (const type of ['win', 'billing', 'impression', 'click', 'conversion'] as const) {
      const [row] = await settle(sink, type, bid.id, 1);
      expect(row, type).toMatchObject(placement);
    }

    const site = (await getBid(bidder, undefined, { site: { domain: 'www.News.example', publisher: { id: 'p1' } } })).bid;
    expect((await get(bidder, substitute(site.lurl, { loss: '102', minToWin: '', price: '', currency: 'USD' }))).status).toBe(204);
    const [loss] = await settle(sink, 'loss', site.id, 1);
    expect(loss).toMatchObject({ placement: 'news.example', placement_type: 'site', publisher_id: 'p1', country: '', device_type: 2 });
  });

  it('is signed: a changed placement breaks the signature', async () => {
    const { bid } = await getBid(bidder);
    const url = substitute(bid.burl, { price: '0.1', currency: 'USD' });
    expect(url).toContain('&pl=news.example&pt=s&');
    const r = await get(bidder, url.replace('&pl=news.example', '&pl=other.example'));
    expect(r.status).toBe(403);
    expect(r.text).toBe('bad_signature');
  });
});

describe('min-to-win for bid shading', () => {
  it('win and loss notices carry ${AUCTION_MIN_TO_WIN} in the base currency; billing and unsubstituted ones do not', () => {
    const signer = new NoticeSigner(parseSigningKeys(KEY_A));
    const currencies = new Currencies({ base: 'USD', rates: { EUR: 0.8 } });
    const nowSec = 1_800_000_000;
    const id: BidIdentity = { bidId: 'b1', requestId: 'r1', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'c', creativeId: 'cr', dealId: '', price: 2, currency: 'EUR', issuedAt: nowSec };
    const read = (type: 'win' | 'billing' | 'loss', extra: string) =>
      readNotice(type, 'main', new URLSearchParams(`${identityQuery(id, signer)}&${extra}`), { signer, currencies, nowSec, maxAgeSec: MAX_AGE }) as AcceptedNotice;
    expect(read('win', 'p=1.2&m=1.6&pc=EUR').minToWinBase).toBeCloseTo(2, 9); // 1.6 EUR
    expect(read('loss', 'l=102&m=2.4&pc=EUR').minToWinBase).toBeCloseTo(3, 9);
    expect(read('billing', 'p=1.2&pc=EUR').minToWinBase).toBeUndefined();
    expect(read('win', 'p=1.2&m=${AUCTION_MIN_TO_WIN}&pc=EUR').minToWinBase).toBeUndefined();
    expect(read('win', 'p=1.2&m=1.6&pc=EUR').unshadedBase).toBeUndefined(); // a bid that did not shade
  });

  it("a shading campaign's price before shading and its floor are signed into its notice URLs and read back in the base currency", () => {
    const signer = new NoticeSigner(parseSigningKeys(KEY_A));
    const currencies = new Currencies({ base: 'USD', rates: { EUR: 0.8 } });
    const nowSec = 1_800_000_000;
    const id: BidIdentity = { bidId: 'b1', requestId: 'r1', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'c', creativeId: 'cr', dealId: '', price: 1.5, currency: 'EUR', issuedAt: nowSec, unshaded: 2.4, floor: 1.2 };
    const query = identityQuery(id, signer);
    const ctx = { signer, currencies, nowSec, maxAgeSec: MAX_AGE };
    const loss = readNotice('loss', 'main', new URLSearchParams(`${query}&l=102&m=2&pc=EUR`), ctx) as AcceptedNotice;
    expect(loss.unshadedBase).toBeCloseTo(3, 9); // 2.4 EUR
    expect(loss.floorBase).toBeCloseTo(1.5, 9); // 1.2 EUR
    expect(loss.identity).toMatchObject({ unshaded: 2.4, floor: 1.2 });
    // Signed: a different price before shading (or none) breaks the signature.
    expect(readNotice('loss', 'main', new URLSearchParams(`${query.replace('&w=2.4', '&w=9')}&l=102`), ctx)).toBe('bad_signature');
    expect(readNotice('loss', 'main', new URLSearchParams(`${query.replace('&w=2.4', '')}&l=102`), ctx)).toBe('bad_signature');
    expect(readNotice('loss', 'main', new URLSearchParams(`${query.replace('&fl=1.2', '&fl=0.1')}&l=102`), ctx)).toBe('bad_signature');
    expect(readNotice('loss', 'main', new URLSearchParams(`${query.replace('&w=2.4', '&w=-1')}&l=102`), ctx)).toBe('missing_field');
    expect(readNotice('loss', 'main', new URLSearchParams(`${query.replace('&fl=1.2', '')}&l=102`), ctx)).toBe('missing_field');
  });
});

describe('refused notices', () => {
  /** A fresh bid and its billing URL with a price well under the bid. */
  async function billingUrl(b: TestBidder = bidder): Promise<{ bid: Bid; url: string }> {
    const { bid } = await getBid(b);
    return { bid, url: substitute(bid.burl, { price: String(+(bid.price / 2).toFixed(4)), currency: 'USD' }) };
  }

  /** Expects `url` refused with `status` and counted as `result` under `type`, and no event recorded. */
  async function refused(type: string, url: string, status: number, result: string, bidId?: string): Promise<void> {
    let r!: HttpResult;
    const n = await counted(bidder, type, result, async () => (r = await get(bidder, url)));
    expect(r.status, `${url} -> ${r.text}`).toBe(status);
    if (status !== 200) expect(r.text).toBe(result === 'unknown_type' ? 'unknown notice type' : result);
    expect(n, `notices_total{type="${type}",result="${result}"}`).toBe(1);
    if (bidId) {
      await sleep(20);
      expect(sink.events.filter((e) => e.bid_id === bidId && e.type !== 'bid')).toEqual([]);
    }
  }

  it('forged signatures: an unknown key, a garbage MAC, a MAC of the wrong length, none at all', async () => {
    const { bid, url } = await billingUrl();
    const s = paramsOf(url).get('s')!;
    const mac = s.slice(s.indexOf('.') + 1);
    await refused('billing', withParams(url, { s: `other.${mac}` }), 403, 'bad_signature', bid.id);
    await refused('billing', withParams(url, { s: `test.${'A'.repeat(22)}` }), 403, 'bad_signature', bid.id);
    await refused('billing', withParams(url, { s: 'test.garbage' }), 403, 'bad_signature', bid.id);
    await refused('billing', withParams(url, { s: mac }), 403, 'bad_signature', bid.id);
    await refused('billing', withParams(url, { s: '' }), 400, 'missing_field', bid.id);
    await refused('billing', withParams(url, { s: undefined }), 400, 'missing_field', bid.id);
    // The untouched URL still goes through.
    expect((await get(bidder, url)).status).toBe(204);
  });

  it('tampering with any identity field breaks the signature', async () => {
    const { bid, url } = await billingUrl();
    const p = paramsOf(url);
    const tampered: Record<string, string> = {
      b: bid.id + 'x',
      r: 'another-request',
      i: '2',
      a: 'adv-northwind',
      c: 'cmp-acme-display-na',
      cr: 'cr-acme-ron-728x90',
      d: 'deal-northwind-premium',
      bp: String(+p.get('bp')! * 10),
      bc: 'EUR',
      t: String(+p.get('t')! - 1),
    };
    for (const [k, v] of Object.entries(tampered)) await refused('billing', withParams(url, { [k]: v }), 403, 'bad_signature', bid.id);
    // Moved to another exchange's path.
    await refused('billing', url.replace('/notice/billing/default', '/notice/billing/openx-like'), 403, 'bad_signature', bid.id);
    // Another notice type keeps the identity (same signature for all five URLs of a bid): accepted.
    expect((await get(bidder, url.replace('/notice/billing/', '/notice/win/'))).status).toBe(204);
  });

  it('replayed beyond NOTICE_MAX_AGE_SECONDS, or dated more than 5 minutes ahead: expired', async () => {
    const { bid } = await getBid(bidder);
    const id = identityOf(bid.burl);
    const now = Math.floor(Date.now() / 1000);
    const at = (issuedAt: number, type = 'billing') =>
      `/notice/${type}/default?${identityQuery({ ...id, issuedAt }, bidder.signer)}&p=${(id.price / 2).toFixed(4)}&pc=USD`;
    await refused('billing', at(now - MAX_AGE - 5), 400, 'expired', bid.id);
    await refused('billing', at(now + 330), 400, 'expired', bid.id);
    await refused('impression', at(now - MAX_AGE - 5, 'impression'), 200, 'expired', bid.id);
    // Inside the window (and a little clock skew ahead) is fine.
    expect((await get(bidder, at(now - MAX_AGE + 30))).status).toBe(204);
    expect((await get(bidder, at(now + 200, 'win'))).status).toBe(204);
  });

  it('a clearing price above our bid is refused, also when it is above only once converted from another `pc` currency', async () => {
    const { bid } = await getBid(bidder);
    const over = (price: string, currency: string) => substitute(bid.burl, { price, currency });
    await refused('billing', over((bid.price * 1.01).toFixed(6), 'USD'), 400, 'over_bid', bid.id);
    // The same number in GBP is worth more dollars than we bid.
    await refused('billing', over(String(bid.price), 'GBP'), 400, 'over_bid', bid.id);
    await refused('win', substitute(bid.nurl!, { price: String(bid.price), minToWin: '', currency: 'GBP' }), 400, 'over_bid', bid.id);
    await refused('billing', over('abc', 'USD'), 400, 'bad_price', bid.id);
    await refused('billing', over('-1', 'USD'), 400, 'bad_price', bid.id);
    await refused('billing', over('Infinity', 'USD'), 400, 'bad_price', bid.id);
    // Exactly our bid, and the bid's worth in JPY, are fine.
    expect((await get(bidder, over(String(bid.price), 'USD'))).status).toBe(204);
    const other = (await getBid(bidder)).bid;
    expect((await get(bidder, substitute(other.burl, { price: String(Math.floor(other.price * rate.JPY)), currency: 'JPY' }))).status).toBe(204);
  });

  it('an unknown currency (in `pc`, or signed in `bc`), an unknown exchange, an unknown notice type', async () => {
    const { bid } = await getBid(bidder);
    await refused('billing', substitute(bid.burl, { price: '0.1', currency: 'XYZ' }), 400, 'unknown_currency', bid.id);
    const id = identityOf(bid.burl);
    await refused('billing', `/notice/billing/default?${identityQuery({ ...id, currency: 'XYZ' }, bidder.signer)}&p=0.1`, 400, 'unknown_currency', bid.id);
    await refused('billing', pathOf(substitute(bid.burl, { price: '0.1', currency: 'USD' })).replace('/default?', '/nope?'), 404, 'unknown_exchange', bid.id);
    await refused('unknown', pathOf(substitute(bid.burl, { price: '0.1', currency: 'USD' })).replace('/billing/', '/bogus/'), 404, 'unknown_type', bid.id);
    await refused('unknown', '/notice/conversions/default', 404, 'unknown_type');
  });
});

describe('duplicates', () => {
  it('the same notice twice is recorded once; other types of the same bid are their own events', async () => {
    const { bid } = await getBid(bidder);
    const url = substitute(bid.burl, { price: '0.2', currency: 'USD' });
    const dupsBefore = await notices(bidder, 'billing', 'duplicate');
    const rs = await Promise.all([get(bidder, url), get(bidder, url), get(bidder, url)]);
    expect(rs.map((r) => r.status)).toEqual([204, 204, 204]);
    expect(await until(async () => (await notices(bidder, 'billing', 'duplicate')) === dupsBefore + 2, 2_000)).toBe(true);
    expect(await settle(sink, 'billing', bid.id, 1)).toHaveLength(1);
    // A second price for the same bid and type (a retried notice with another value) is the same event.
    expect((await get(bidder, substitute(bid.burl, { price: '0.1', currency: 'USD' }))).status).toBe(204);
    expect(await settle(sink, 'billing', bid.id, 1)).toHaveLength(1);
    expect((await get(bidder, impressionPixel(bid.adm)!)).status).toBe(200);
    expect((await get(bidder, impressionPixel(bid.adm)!)).status).toBe(200);
    expect(await settle(sink, 'impression', bid.id, 1)).toHaveLength(1);
  });

  it('two bidder instances sharing Redis record a notice once, and so does a restarted one', async () => {
    redis = await RedisServer.start();
    const client = () => {
      const c = new Redis({ port: redis!.port, host: '127.0.0.1', ...hotPathRedisOptions() });
      redisClients.push(c);
      return c;
    };
    const c1 = client();
    const c2 = client();
    await until(() => c1.status === 'ready' && c2.status === 'ready', 5_000);
    const s1 = new RecordingSink();
    const s2 = new RecordingSink();
    const env = { NOTICE_SIGNING_KEYS: KEY_A };
    const b1 = await start({ configDir: 'config', events: s1, dedupe: new RedisNoticeDedupe(c1, 3600), env });
    const b2 = await start({ configDir: 'config', events: s2, dedupe: new RedisNoticeDedupe(c2, 3600), env });

    const bids = await Promise.all(Array.from({ length: 10 }, () => getBid(b1).then((x) => x.bid)));
    // Every bid's win and billing go to both instances at once (an exchange retrying elsewhere).
    await Promise.all(
      bids.flatMap((bid) => {
        const win = substitute(bid.nurl!, { price: '0.1', minToWin: '', currency: 'USD' });
        const bill = substitute(bid.burl, { price: '0.1', currency: 'USD' });
        return [get(b1, win), get(b2, win), get(b1, bill), get(b2, bill), get(b2, bill)];
      }),
    );
    for (const bid of bids) {
      expect(await settle([s1, s2], 'win', bid.id, 1), `win ${bid.id}`).toHaveLength(1);
      expect(await settle([s1, s2], 'billing', bid.id, 1), `billing ${bid.id}`).toHaveLength(1);
    }
    const dupTotal = async (type: string) => (await notices(b1, type, 'duplicate')) + (await notices(b2, type, 'duplicate'));
    expect(await dupTotal('win')).toBe(10);
    expect(await dupTotal('billing')).toBe(20);

    // "Restart": b1 goes away; a new instance with a new connection to the same Redis.
    b1.close();
    const c3 = client();
    await until(() => c3.status === 'ready', 5_000);
    const s3 = new RecordingSink();
    const b3 = await start({ configDir: 'config', events: s3, dedupe: new RedisNoticeDedupe(c3, 3600), env });
    const dups = await counted(b3, 'billing', 'duplicate', () => get(b3, substitute(bids[0].burl, { price: '0.1', currency: 'USD' })));
    expect(dups).toBe(1);
    // ... while a notice it has not seen is recorded there.
    expect((await get(b3, impressionPixel(bids[0].adm)!)).status).toBe(200);
    expect(await settle([s1, s2, s3], 'impression', bids[0].id, 1)).toHaveLength(1);
    expect(await settle([s1, s2, s3], 'billing', bids[0].id, 1)).toHaveLength(1);
    expect(s3.events.filter((e) => e.type === 'billing')).toEqual([]);
  });
});

describe('signing keys', () => {
  it('a URL signed with the old key verifies after rotating to new,old and fails once the old key is gone', async () => {
    const OLD = 'old:old-secret-0123456789abcdef';
    const NEW = 'new:new-secret-0123456789abcdef';
    const before = await start({ configDir: 'config', events: new RecordingSink(), env: { NOTICE_SIGNING_KEYS: OLD } });
    const { bid } = await getBid(before);
    expect(paramsOf(bid.burl).get('s')).toMatch(/^old\./);
    const url = substitute(bid.burl, { price: '0.1', currency: 'USD' });
    before.close();

    const rotatedSink = new RecordingSink();
    const rotated = await start({ configDir: 'config', events: rotatedSink, env: { NOTICE_SIGNING_KEYS: `${NEW},${OLD}` } });
    expect((await get(rotated, url)).status).toBe(204);
    expect(await settle(rotatedSink, 'billing', bid.id, 1)).toHaveLength(1);
    // The rotated bidder signs with the new key.
    expect(paramsOf((await getBid(rotated)).bid.burl).get('s')).toMatch(/^new\./);

    const dropped = await start({ configDir: 'config', events: new RecordingSink(), env: { NOTICE_SIGNING_KEYS: NEW } });
    const r = await get(dropped, url.replace('/billing/', '/win/'));
    expect(r.status).toBe(403);
    expect(await notices(dropped, 'win', 'bad_signature')).toBe(1);
  });
});

describe('URLs in the exchange style', () => {
  it('an exchange with its own price macro and sendNurl: false gets no nurl and %%WINNING_PRICE%% in burl and lurl', async () => {
    const { bid } = await getBid(bidder, 'custom-macros');
    expect(bid.nurl).toBeUndefined();
    expect(bid.burl).toMatch(/\/notice\/billing\/custom-macros\?/);
    expect(bid.burl).toContain('&p=%%WINNING_PRICE%%');
    expect(bid.burl).not.toContain('${AUCTION_PRICE}');
    expect(bid.lurl).toContain('&l=${AUCTION_LOSS}');
    expect(bid.lurl).toContain('&p=%%WINNING_PRICE%%');
    const clear = +(bid.price * 0.7).toFixed(4);
    expect((await get(bidder, substitute(bid.burl, { price: String(clear), currency: 'USD' }))).status).toBe(204);
    const [b] = await settle(sink, 'billing', bid.id, 1);
    expect(b).toMatchObject({ exchange: 'custom-macros', clear_cpm_base: clear, bid_cpm_base: bid.price });
    // Its trackers are the usual ones.
    expect(impressionPixel(bid.adm)).toMatch(/\/notice\/impression\/custom-macros\?/);
  });

  it('a secure imp with an http NOTICE_BASE_URL gets no http tracker in adm; with an https one it gets them', async () => {
    const plain = await start({ configDir: 'config', events: new RecordingSink(), env: { NOTICE_BASE_URL: 'http://notices.example' } });
    const tls = await start({ configDir: 'config', events: new RecordingSink(), env: { NOTICE_BASE_URL: 'https://notices.example' } });
    const secureImp = { imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1, secure: 1 }] };

    const a = (await getBid(plain, undefined, secureImp)).bid;
    expect(a.adm).not.toContain('http://');
    expect(impressionPixel(a.adm)).toBeUndefined();
    expect(clickUrl(a.adm)).toBeUndefined();
    expect(a.adm).toContain('href="https://acmeshoes.example/');
    // Server-to-server notices are unaffected.
    expect(a.burl.startsWith('http://notices.example/notice/billing/default?')).toBe(true);

    const b = (await getBid(tls, undefined, secureImp)).bid;
    expect(b.adm).not.toContain('http://');
    expect(impressionPixel(b.adm)).toMatch(/^https:\/\/notices\.example\/notice\/impression\/default\?/);
    expect(clickUrl(b.adm)).toMatch(/^https:\/\/notices\.example\/notice\/click\/default\?/);

    // A non-secure imp gets trackers with either base.
    const c = (await getBid(plain)).bid;
    expect(impressionPixel(c.adm)).toMatch(/^http:\/\/notices\.example\/notice\/impression\/default\?/);
  });
});

/** The signed identity in a notice URL, as the bidder issued it. */
function identityOf(url: string): BidIdentity {
  const q = paramsOf(url);
  return {
    bidId: q.get('b')!,
    requestId: q.get('r') ?? '',
    impId: q.get('i') ?? '',
    exchange: url.match(/\/notice\/[a-z]+\/([a-z0-9_-]+)\?/)![1],
    advertiserId: q.get('a') ?? '',
    campaignId: q.get('c')!,
    creativeId: q.get('cr')!,
    dealId: q.get('d') ?? '',
    price: Number(q.get('bp')),
    currency: q.get('bc')!,
    issuedAt: Number(q.get('t')),
  };
}
