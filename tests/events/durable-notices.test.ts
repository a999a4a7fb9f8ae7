/**
 * What a 2xx to a billing or conversion notice means: the event is durable. The notice routes
 * answer those only once the sink's durable write has resolved, 503 `not_durable` when it failed
 * (the dedupe mark taken back, so the exchange's retry is recorded), and a repeat that arrives
 * while the first is being written gets the first one's outcome. Wins, losses, impressions and
 * clicks are answered at once, as before. (The real writer and a real crash:
 * tests/events/notice-crash.test.ts.)
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startBidder, httpRequest, type HttpResult, type TestBidder } from '../helpers/bidder.js';
import { RecordingSink, bannerRequest, clickUrl, impressionPixel, metric, pathOf, substitute } from '../helpers/notice-kit.js';

const KEY = 'test:0123456789abcdef0123456789abcdef';
const sink = new RecordingSink();
let bidder: TestBidder;

beforeAll(async () => {
  bidder = await startBidder({ configDir: 'config', events: sink, env: { NOTICE_SIGNING_KEYS: KEY } });
});
afterAll(() => bidder?.close());
beforeEach(() => {
  sink.failDurable = false;
  sink.durableDelayMs = 0;
});

interface Bid {
  id: string;
  price: number;
  nurl: string;
  burl: string;
  lurl: string;
  adm: string;
}
let seq = 0;
async function bid(): Promise<Bid> {
  const r = await bidder.post('/bid', bannerRequest(`req-durable-${++seq}`));
  expect(r.status).toBe(200);
  return r.json().seatbid[0].bid[0];
}
const get = (path: string): Promise<HttpResult & { ms: number }> => {
  const t0 = performance.now();
  return httpRequest(bidder.port, 'GET', path.startsWith('http') ? pathOf(path) : path).then((r) => ({ ...r, ms: performance.now() - t0 }));
};
const billingOf = (b: Bid) => substitute(b.burl, { price: '0.2', currency: 'USD' });
const of = (type: string, bidId: string) => sink.events.filter((e) => e.type === type && e.bid_id === bidId);
const count = async (type: string, result: string) => metric(await bidder.metricsText(), 'notices_total', { type, result });

describe('billing and conversion notices are answered once their event is durable', () => {
  it('a billing waits for the durable write; a win and an impression do not', async () => {
    const b = await bid();
    sink.durableDelayMs = 200;
    const [billing, win, imp] = await Promise.all([
      get(billingOf(b)),
      get(substitute(b.nurl, { price: '0.2', minToWin: '', currency: 'USD' })),
      get(impressionPixel(b.adm)!),
    ]);
    expect(billing.status).toBe(204);
    expect(billing.ms).toBeGreaterThanOrEqual(190);
    expect(of('billing', b.id)).toHaveLength(1);
    expect(sink.durableAsked.filter((e) => e.bid_id === b.id).map((e) => e.type)).toEqual(['billing']);
    expect(win.status).toBe(204);
    expect(imp.status).toBe(200);
    expect(win.ms).toBeLessThan(billing.ms);
    expect(imp.ms).toBeLessThan(billing.ms);
  });

  it('a failed durable write answers 503 not_durable and records nothing; the retry is recorded, not refused as a duplicate', async () => {
    const b = await bid();
    sink.failDurable = true;
    const before = await count('billing', 'not_durable');
    const refused = await get(billingOf(b));
    expect([refused.status, refused.headers['retry-after'], refused.text]).toEqual([503, '1', 'not_durable']);
    expect(await count('billing', 'not_durable')).toBe(before + 1);
    expect(of('billing', b.id)).toEqual([]);
    sink.failDurable = false;
    const dupBefore = await count('billing', 'duplicate');
    const retried = await get(billingOf(b));
    expect(retried.status).toBe(204);
    expect(of('billing', b.id)).toHaveLength(1);
    expect(await count('billing', 'duplicate')).toBe(dupBefore);
    // Now it is kept: a third one is the duplicate it is.
    expect((await get(billingOf(b))).status).toBe(204);
    expect(await count('billing', 'duplicate')).toBe(dupBefore + 1);
    expect(of('billing', b.id)).toHaveLength(1);
  });

  it('repeats arriving while the first is written get its outcome: 503 for all if it fails, then one 204 each and one event', async () => {
    const b = await bid();
    sink.durableDelayMs = 100;
    sink.failDurable = true;
    const failed = await Promise.all([get(billingOf(b)), get(billingOf(b)), get(billingOf(b))]);
    expect(failed.map((r) => r.status)).toEqual([503, 503, 503]);
    expect(of('billing', b.id)).toEqual([]);
    sink.failDurable = false;
    const ok = await Promise.all([get(billingOf(b)), get(billingOf(b)), get(billingOf(b))]);
    expect(ok.map((r) => r.status)).toEqual([204, 204, 204]);
    // Every 204 came after the write that keeps the event.
    for (const r of ok) expect(r.ms).toBeGreaterThanOrEqual(90);
    expect(of('billing', b.id)).toHaveLength(1);
  });

  it('a conversion, likewise: 503 while its write fails, recorded once on the retry', async () => {
    const b = await bid();
    const click = await get(clickUrl(b.adm)!);
    const token = new URL(String(click.headers.location)).searchParams.get('dsp_click')!;
    const url = `/notice/conversion?click=${encodeURIComponent(token)}&order=ord-durable&value=10`;
    sink.failDurable = true;
    expect((await get(url)).status).toBe(503);
    expect(of('conversion', b.id)).toEqual([]);
    sink.failDurable = false;
    sink.durableDelayMs = 100;
    const r = await get(url);
    expect(r.status).toBe(204);
    expect(r.ms).toBeGreaterThanOrEqual(90);
    expect(of('conversion', b.id)).toHaveLength(1);
  });

  it('a client that goes away while its billing is written does not break the server', async () => {
    const b = await bid();
    sink.durableDelayMs = 150;
    const { request } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: bidder.port, path: pathOf(billingOf(b)) });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 30);
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(of('billing', b.id)).toHaveLength(1);
    sink.durableDelayMs = 0;
    expect((await get(billingOf(await bid()))).status).toBe(204);
  });
});
