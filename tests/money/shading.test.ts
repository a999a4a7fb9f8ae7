/**
 * Win-rate bid shading: the controller in a simulated market holds its target win rate at a lower
 * price, never below its min factor; through the ledger and decide(), a shaded price stays within max
 * bid, campaigns without `shading` are untouched (off by default), and decisions show as metrics.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ShadingController } from '../../src/money/shading.js';
import { SnapshotRef } from '../../src/campaigns/snapshot.js';
import { BudgetLedger } from '../../src/money/budget-ledger.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { CampaignLabels, MoneyMetrics } from '../../src/metrics/money-metrics.js';
import { decide } from '../../src/bidding/bidder.js';
import type { BidIdentity } from '../../src/events/bid-identity.js';
import { campaign, snapshotOf, view } from '../bidding/support.js';
import { rng } from '../helpers/rng.js';

describe('ShadingController in a simulated market', () => {
  /** Win probability rises with the price: 0 at 0.80 CPM, 1 at 2.00 and above. */
  const winProbability = (price: number) => Math.min(1, Math.max(0, (price - 0.8) / 1.2));

  function run(target: number, minFactor: number) {
    const random = rng(11);
    const s = new ShadingController({ targetWinRate: target, minFactor });
    const maxBid = 2;
    let now = 0;
    const rates: number[] = [];
    let lowest = 1;
    for (let step = 0; step < 300; step++) {
      let wins = 0;
      for (let i = 0; i < 200; i++) {
        const price = maxBid * s.factor;
        expect(price).toBeLessThanOrEqual(maxBid);
        s.bid();
        if (random() < winProbability(price)) {
          s.win();
          wins++;
        }
      }
      rates.push(wins / 200);
      now += 10_000;
      s.update(now);
      lowest = Math.min(lowest, s.factor);
    }
    const tail = rates.slice(-100);
    return { factor: s.factor, lowest, winRate: tail.reduce((a, b) => a + b, 0) / tail.length };
  }

  it('holds the target win rate (±0.05) at a lower price: from always winning at 2.00 to about 1.28', () => {
    const r = run(0.4, 0.3);
    console.log(`shading: target 0.40 → win rate ${r.winRate.toFixed(3)}, factor ${r.factor.toFixed(3)} (price ${(2 * r.factor).toFixed(2)} of 2.00)`);
    expect(Math.abs(r.winRate - 0.4)).toBeLessThan(0.05);
    expect(r.factor).toBeGreaterThan(0.55);
    expect(r.factor).toBeLessThan(0.75);
  });

  it('never goes below its min factor, even when the target cannot be reached', () => {
    const r = run(0.05, 0.8); // the target wants ~0.46; the floor holds it at 0.8
    expect(r.lowest).toBeGreaterThanOrEqual(0.8);
    expect(r.factor).toBeCloseTo(0.8, 5);
  });
});

describe('shading through the ledger and decide()', () => {
  const NOW = Date.parse('2026-01-12T12:00:00Z');

  it('lowers the shaded campaign price step by step, leaves others alone, and reports its decisions', async () => {
    let now = NOW;
    const registry = new Registry();
    const snap = snapshotOf([
      campaign('shaded', { bid: { base: 2, max: 2 }, shading: { targetWinRate: 0.2 } }),
      campaign('plain', { bid: { base: 1, max: 1 }, creatives: [{ id: 'cr-plain', type: 'banner', w: 728, h: 90, html: '<b>p</b>' }] }),
    ]);
    const ledger = new BudgetLedger({
      holder: 's', store: new MemoryBudgetStore(() => now), snapshots: new SnapshotRef(snap), sliceFraction: 0.01, renewMs: 100, holdMs: 1000,
      leaseTtlMs: 3000, staleMs: 1000, eventTtlSec: 3600, clock: () => now, metrics: new MoneyMetrics(registry, new CampaignLabels(10)),
    });
    const price = (w: number, h: number) => decide(view({ imp: [{ id: '1', banner: { w, h } }] }), snap, snap.defaultExchange, now, undefined, ledger).bids![0].price;
    expect(price(300, 250)).toBe(2);
    await ledger.renew(); // starts the controller's clock
    const id = (n: number): BidIdentity => ({ bidId: `b${n}`, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'shaded', creativeId: 'cr-shaded', dealId: '', price: 2, currency: 'USD', issuedAt: 0 });
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < 100; n++) {
        ledger.reserve([id(n)], snap.currencies, now);
        ledger.notice('win', 'billing', { eventId: `win:b${round}-${n}`, exchange: 'main', identity: id(n), clearCpmBase: 1, bidCpmBase: 2 }, snap.currencies, now);
      }
      now += 10_000;
      await ledger.renew();
    }
    expect(price(300, 250)).toBeCloseTo(2 * 0.95 ** 3, 4); // won everything: three steps down
    expect(price(728, 90)).toBe(1); // no shading configured: untouched
    const text = await registry.metrics();
    expect(text).toContain('bidder_shading_decisions_total{campaign="shaded",move="down"} 3');
    expect(Number(/bidder_shading_factor\{campaign="shaded"\} (\S+)/.exec(text)?.[1])).toBeCloseTo(0.95 ** 3, 6);
  });
});
