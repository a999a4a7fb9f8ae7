/**
 * Budgets in impressions, clicks and conversions, and even pacing over the flight, in a bid
 * thread's ledger: the same scenarios on the in-process budget store and on a real redis-server.
 * Impressions are leased and reserved per bid like money and counted from the spend notice; clicks
 * and conversions are counted once per event id and stop the campaign once the count reaches the
 * limit (read at each renewal); daily ones start afresh at 00:00 UTC, totals do not. Even flight
 * pacing holds a campaign ahead of the line from its start to its end back until the line passes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnapshotRef, type Snapshot } from '../../src/campaigns/snapshot.js';
import { decideFor } from '../../src/bidding/bidder.js';
import { BudgetLedger } from '../../src/money/budget-ledger.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { RedisBudgetStore } from '../../src/money/redis-budget-store.js';
import type { BudgetStore } from '../../src/money/budget-store.js';
import type { BidIdentity } from '../../src/events/bid-identity.js';
import type { Campaign } from '../../src/campaigns/schema.js';
import { campaign, snapshotOf, view } from '../bidding/support.js';
import { RedisServer } from '../helpers/redis-server.js';
import { createRedis } from '../../src/storage/redis-client.js';
import { whenReady } from '../helpers/redis-ready.js';
import { Registry } from 'prom-client';
import { CampaignLabels, MoneyMetrics } from '../../src/metrics/money-metrics.js';

const NOW = Date.parse('2026-01-12T12:00:00Z');
const HOUR = 3_600_000;

let server: RedisServer | undefined;
const redisStores: RedisBudgetStore[] = [];
beforeAll(async () => {
  server = await RedisServer.start();
}, 30_000);
afterAll(async () => {
  for (const s of redisStores) await s.close();
  await server?.stop();
});

let n = 0;
const BACKENDS: [string, (clock: () => number) => Promise<BudgetStore>][] = [
  ['memory', async (clock) => new MemoryBudgetStore(clock)],
  [
    'redis',
    async () => {
      const s = new RedisBudgetStore(await whenReady(createRedis(server!.url)), `{cnt${++n}}:`, true);
      redisStores.push(s);
      return s;
    },
  ],
];

async function setup(makeStore: (clock: () => number) => Promise<BudgetStore>, budget: Campaign['budget'], extra: Partial<Campaign> = {}, metrics?: MoneyMetrics) {
  let now = NOW;
  const clock = () => now;
  const snap: Snapshot = snapshotOf([campaign('b', { bid: { base: 2, max: 2 }, budget, ...extra })]);
  const store = await makeStore(clock);
  const ledger = new BudgetLedger({
    holder: 'h1', store, snapshots: new SnapshotRef(snap), sliceFraction: 1, renewMs: 100, holdMs: 60_000, leaseTtlMs: 3000, staleMs: 10 * 86_400_000, eventTtlSec: 3600, clock, random: () => 0.5, metrics,
  });
  let k = 0;
  /** One request: the bid id, or the no-bid reason. */
  const bid = (): string => {
    const d = decideFor(view({}), snap, snap.defaultExchange, now, undefined, ledger);
    if (d.noBid !== undefined) return d.noBid;
    const ids: BidIdentity[] = d.bids.map((b) => ({
      bidId: `bid${++k}`, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: b.campaign.id,
      creativeId: b.creative.id, dealId: '', price: b.price, currency: d.currency, issuedAt: Math.floor(now / 1000),
    }));
    ledger.reserve(ids, snap.currencies, now);
    return ids[0].bidId;
  };
  const billed = (bidId: string) => ledger.spend(`billing:${bidId}`, bidId, 'b', 1.5, snap.currencies, now);
  return { ledger, store, snap, bid, billed, advance: (ms: number) => (now += ms), now: () => now };
}

for (const [backend, makeStore] of BACKENDS) {
  describe(`budgets in units and over the flight: ${backend} store`, () => {
    it('impressions: each bid holds one, each billed impression counts one (with its money), a day\'s cap and the total\'s', async () => {
      const t = await setup(makeStore, { daily: 100, impressions: { daily: 3, total: 4 }, pacing: 'asap' });
      await t.ledger.renew();
      const bids = [t.bid(), t.bid(), t.bid()];
      expect(bids.every((b) => b.startsWith('bid'))).toBe(true);
      expect(t.bid()).toBe('impressions_exhausted'); // three held, none billed yet
      expect(await t.billed(bids[0])).toBe(true);
      expect(await t.billed(bids[0])).toBe(false); // a retried notice counts once
      expect(await t.billed(bids[1])).toBe(true);
      t.ledger.release(bids[2]); // lost: costs nothing
      expect(await t.store.spent(['c:b:i:d:20260112', 'c:b:i:t', 'c:b:d:20260112'])).toEqual([2, 2, 3000]);
      expect(t.bid()).toBe('impressions_exhausted'); // room comes back at the next renewal
      await t.ledger.renew();
      expect(t.bid()).toMatch(/^bid/);
      expect(t.bid()).toBe('impressions_exhausted'); // the day's third
      t.advance(24 * HOUR); // a new day: the daily cap starts afresh, the total (4) has 1 left after today's 3
      expect(await t.billed('bid4')).toBe(true); // the third, billed today
      await t.ledger.renew();
      const last = t.bid();
      expect(last).toMatch(/^bid/);
      expect(t.bid()).toBe('impressions_exhausted');
      await t.billed(last);
      await t.ledger.renew();
      expect(t.ledger.state()[0].accounts.filter((a) => a.unit === 'impressions').map((a) => [a.account, a.spent])).toEqual([
        ['c:b:i:d:20260113', 2],
        ['c:b:i:t', 4],
      ]);
      expect(t.bid()).toBe('impressions_exhausted');
    });

    it('clicks: counted once per event id; the campaign stops at the renewal that reads the total', async () => {
      const t = await setup(makeStore, { clicks: { total: 2 } });
      await t.ledger.renew();
      expect(t.bid()).toMatch(/^bid/);
      expect(await t.ledger.countOutcome('clicks', 'click:e1', 'b', t.now())).toBe(true);
      expect(await t.ledger.countOutcome('clicks', 'click:e1', 'b', t.now())).toBe(false);
      await t.ledger.renew();
      expect(t.bid()).toMatch(/^bid/); // 1 of 2
      // A click notice as the notice route hands it over.
      const identity = { bidId: 'bid1', requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'b', creativeId: 'cr', dealId: '', price: 2, currency: 'USD', issuedAt: 0 };
      t.ledger.notice('click', 'billing', { eventId: 'click:e2', exchange: 'main', identity }, t.snap.currencies, t.now());
      await new Promise((r) => setTimeout(r, 50));
      expect(await t.store.spent(['c:b:k:t'])).toEqual([2]);
      expect(t.bid()).toMatch(/^bid/); // not read yet
      await t.ledger.renew();
      expect(t.bid()).toBe('clicks_exhausted');
      t.advance(24 * HOUR); // a total: still spent tomorrow
      await t.ledger.renew();
      expect(t.bid()).toBe('clicks_exhausted');
    });

    it('what is counted shows on bidder_budget_counted_total, and flight pacing on its gauges', async () => {
      const registry = new Registry();
      const metrics = new MoneyMetrics(registry, new CampaignLabels(10));
      const t = await setup(makeStore, { total: 100, impressions: { total: 10 }, clicks: { total: 5 }, flightPacing: 'even' }, { start: '2026-01-10T00:00:00Z', end: '2026-01-20T00:00:00Z' }, metrics);
      await t.ledger.renew();
      const b = t.bid();
      await t.ledger.countOutcome('clicks', 'click:m1', 'b', t.now());
      await t.ledger.countOutcome('clicks', 'click:m1', 'b', t.now());
      const identity = { bidId: b, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'b', creativeId: 'cr', dealId: '', price: 2, currency: 'USD', issuedAt: 0 };
      t.ledger.notice('billing', 'billing', { eventId: `billing:${b}`, exchange: 'main', identity, clearCpmBase: 1.5 }, t.snap.currencies, t.now());
      await new Promise((r) => setTimeout(r, 50));
      t.advance(10_000);
      await t.ledger.renew();
      t.advance(1000);
      await t.ledger.renew();
      const counted = (await registry.getSingleMetric('bidder_budget_counted_total')!.get()).values;
      expect(counted.map((v) => [v.labels.unit, v.value]).sort()).toEqual([['clicks', 1], ['impressions', 1]]);
      const ratio = (await registry.getSingleMetric('bidder_flight_pacing_ratio')!.get()).values;
      expect(ratio[0].labels.campaign).toBe('b');
      expect(ratio[0].value).toBeGreaterThan(0); // 0.0015 spent against a 25.00 line: far behind
      expect(ratio[0].value).toBeLessThan(0.001);
    });

    it('conversions: a daily cap stops the campaign for the rest of the UTC day only', async () => {
      const t = await setup(makeStore, { conversions: { daily: 1 } });
      await t.ledger.renew();
      expect(await t.ledger.countOutcome('conversions', 'adv:order-1', 'b', t.now())).toBe(true);
      expect(await t.ledger.countOutcome('clicks', 'click:x', 'b', t.now())).toBe(false); // no click budget: nothing counted
      await t.ledger.renew();
      expect(t.bid()).toBe('conversions_exhausted');
      t.advance(12 * HOUR); // 00:00 UTC
      await t.ledger.renew();
      expect(t.bid()).toMatch(/^bid/);
    });

    it('even flight pacing: ahead of the line from start to end it is held back until the line passes its spend; asap never is', async () => {
      // A ten-day flight, 2026-01-10 to 2026-01-20: at 2026-01-12T12:00 a quarter has gone, the line is at 25.00 of 100.
      const flight = { start: '2026-01-10T00:00:00Z', end: '2026-01-20T00:00:00Z' };
      const t = await setup(makeStore, { total: 100, flightPacing: 'even' }, flight);
      await t.store.recordSpend('billing:past', [{ account: 'c:b:t', amount: 40_000_000, ttlSec: 3600 }], 3600); // 40.00 spent
      await t.ledger.renew();
      t.advance(10_000);
      await t.ledger.renew();
      expect(t.ledger.state()[0].flightPacing).toBe(0);
      expect(t.bid()).toBe('paced');
      t.advance(3 * 24 * HOUR); // 2026-01-15T12:00: the line is at 55.00
      await t.ledger.renew();
      t.advance(10_000);
      await t.ledger.renew();
      expect(t.ledger.state()[0].flightPacing).toBeGreaterThan(0.5);
      expect(t.bid()).toMatch(/^bid/);

      const asap = await setup(makeStore, { total: 100 }, flight);
      await asap.store.recordSpend('billing:past', [{ account: 'c:b:t', amount: 90_000_000, ttlSec: 3600 }], 3600);
      await asap.ledger.renew();
      asap.advance(10_000);
      await asap.ledger.renew();
      expect(asap.ledger.state()[0].flightPacing).toBeUndefined();
      expect(asap.bid()).toMatch(/^bid/);
    });

    it('even flight pacing on an impressions total', async () => {
      const t = await setup(makeStore, { impressions: { total: 1000 }, flightPacing: 'even' }, { start: '2026-01-12T00:00:00Z', end: '2026-01-14T00:00:00Z' });
      const held = [...Array(600)].map((_, i) => ({ account: 'c:b:i:t', amount: 1, ttlSec: 3600, i }));
      await t.store.recordSpend('billing:batch', held.map(({ account, amount, ttlSec }) => ({ account, amount, ttlSec })), 3600); // 600 of 1,000 at a quarter of the flight
      await t.ledger.renew();
      t.advance(10_000);
      await t.ledger.renew();
      expect(t.bid()).toBe('paced');
      t.advance(24 * HOUR); // three quarters: the line is at 750
      await t.ledger.renew();
      t.advance(10_000);
      await t.ledger.renew();
      expect(t.bid()).toMatch(/^bid/);
    });
  });
}
