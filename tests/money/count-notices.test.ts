/**
 * Budgets in units through the served notice routes: the billing notice counts one impression (with
 * its money), the click redirect one click, the conversion postback one conversion per order, each
 * once however often the exchange or the browser retries; once a count is used up, the campaign's
 * bids stop with its no-bid reason after the next renewal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, httpRequest, type TestBidder } from '../helpers/bidder.js';
import { RecordingSink, bannerRequest, clickUrl, pathOf, substitute } from '../helpers/notice-kit.js';
import { BudgetLedger } from '../../src/money/budget-ledger.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { dayOf } from '../../src/money/accounts.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';

const BUNDLE: ConfigBundle = {
  advertisers: [{ id: 'adv-u', name: 'Units', domains: ['units.example'] }],
  campaigns: [
    {
      id: 'cmp-u',
      advertiserId: 'adv-u',
      bid: { base: 1, max: 2 },
      budget: { daily: 100, pacing: 'asap', impressions: { total: 1000 }, clicks: { total: 5 }, conversions: { daily: 2 } },
      creatives: [{ id: 'cr-u', type: 'banner', w: 300, h: 250, imageUrl: 'https://cdn.units.example/a.png', landingUrl: 'https://units.example/' }],
    },
  ],
};

let bidder: TestBidder;
let ledger: BudgetLedger;
const store = new MemoryBudgetStore();
beforeAll(async () => {
  bidder = await startBidder({
    bundle: BUNDLE,
    events: new RecordingSink(),
    env: { DEBUG_NOBID: '1' },
    money: (snapshots) =>
      (ledger = new BudgetLedger({ holder: 'test_0_x', store, snapshots, sliceFraction: 0.5, renewMs: 60_000, holdMs: 60_000, leaseTtlMs: 120_000, staleMs: 600_000, eventTtlSec: 3600 })),
  });
  await ledger.renew();
});
afterAll(() => bidder?.close());

const get = (url: string) => httpRequest(bidder.port, 'GET', url.startsWith('http') ? pathOf(url) : url);
/** Impressions, clicks, today's conversions, and today's money (micros). */
const counts = () => store.spent(['c:cmp-u:i:t', 'c:cmp-u:k:t', `c:cmp-u:v:d:${dayOf(Date.now())}`, `c:cmp-u:d:${dayOf(Date.now())}`]);
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('budgets in units on the notice routes', () => {
  it('counts each billed impression, click and conversion once; a used-up count stops the bids at the next renewal', async () => {
    const r = await bidder.post('/bid', bannerRequest('req-u1'));
    expect(r.status, r.text).toBe(200);
    const bid = r.json().seatbid[0].bid[0] as { burl: string; adm: string };
    const billing = pathOf(substitute(bid.burl, { price: '0.8', currency: 'USD' }));
    const b1 = await get(billing);
    expect([b1.status, b1.text, billing]).toEqual([204, '', billing]);
    expect((await get(billing)).status).toBe(204); // a retried billing notice
    const click = await get(clickUrl(bid.adm)!);
    expect(click.status).toBe(302);
    const token = encodeURIComponent(new URL(String(click.headers.location)).searchParams.get('dsp_click')!);
    for (const order of ['o1', 'o1', 'o2']) expect((await get(`/notice/conversion?click=${token}&order=${order}&value=10`)).status).toBe(204);
    await settle();
    expect(await counts()).toEqual([1, 1, 2, 800]); // 0.80 CPM: 800 micros for the impression

    // Two conversions today: the daily cap is reached; the next renewal reads it.
    expect((await bidder.post('/bid', bannerRequest('req-u2'))).status).toBe(200);
    await ledger.renew();
    const stopped = await bidder.post('/bid', bannerRequest('req-u3'));
    expect(stopped.status).toBe(204);
    expect(stopped.headers['x-nobid-reason']).toBe('conversions_exhausted');
  });
});
