/**
 * Bid shading: in a simulated market the controller holds its target win rate at a lower price,
 * never below its min factor, from the win rate alone or, where notices carry min-to-win, from the
 * bid landscape at the first step; through the ledger and decideFor(), a shaded price stays within max
 * bid, campaigns without `shading` are untouched (off by default), losses no price would have won are
 * left out of the landscape, and decisions show as metrics.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ShadingController } from '../../src/money/shading.js';
import { SnapshotRef } from '../../src/campaigns/snapshot.js';
import { BudgetLedger } from '../../src/money/budget-ledger.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { CampaignLabels, MoneyMetrics } from '../../src/metrics/money-metrics.js';
import { decideFor } from '../../src/bidding/bidder.js';
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

describe('ShadingController from the bid landscape (min-to-win)', () => {
  /**
   * The same market as auctions: each one's min-to-win is uniform on [0.80, 2.00] CPM (so a bid of x
   * wins with probability (x - 0.8) / 1.2, as above). A campaign bidding 2.00 with a 0.40 target
   * should settle at the price that wins 40 % of them: 0.8 + 0.4 * 1.2 = 1.28, a factor of 0.64.
   */
  const maxBid = 2;
  const minToWin = (random: () => number) => 0.8 + 1.2 * random();

  /** Windows of 200 auctions; the exchange sends min-to-win on `losses` and/or `wins`. Win rate per window. */
  function run(s: ShadingController, windows: number, send: { wins: boolean; losses: boolean }, seed = 5) {
    const random = rng(seed);
    let now = 0;
    const rates: number[] = [];
    const factors: number[] = [];
    s.update(now); // starts its clock
    for (let w = 0; w < windows; w++) {
      let wins = 0;
      for (let i = 0; i < 200; i++) {
        const price = maxBid * s.factor;
        const m = minToWin(random);
        s.bid();
        const won = price >= m;
        if (won) {
          wins++;
          s.win();
        }
        if (won ? send.wins : send.losses) s.priceToWin(m / maxBid, won); // over the price before shading
      }
      rates.push(wins / 200);
      now += 10_000;
      s.update(now);
      factors.push(s.factor);
    }
    return { rates, factors };
  }

  it('with min-to-win on wins and losses, it sets the factor that wins the target share at the first step', () => {
    const landscape = run(new ShadingController({ targetWinRate: 0.4, minFactor: 0.3 }), 12, { wins: true, losses: true });
    const stepped = run(new ShadingController({ targetWinRate: 0.4, minFactor: 0.3 }), 12, { wins: false, losses: false });
    console.log(`landscape factors ${landscape.factors.map((f) => f.toFixed(3)).join(' ')}; win-rate steps ${stepped.factors.map((f) => f.toFixed(3)).join(' ')}`);
    // One window of notices is enough: the factor lands within 0.04 of 0.64 and stays there.
    for (const f of landscape.factors) expect(Math.abs(f - 0.64)).toBeLessThan(0.04);
    const after = landscape.rates.slice(1);
    expect(Math.abs(after.reduce((a, b) => a + b, 0) / after.length - 0.4)).toBeLessThan(0.04);
    // Stepping 5 % at a time from 1 is still on its way there after 5 windows.
    expect(stepped.factors[4]).toBeGreaterThan(0.75);
  });

  it('falls back to win-rate steps when only losses carry min-to-win (they alone would overstate every price)', () => {
    const lossesOnly = run(new ShadingController({ targetWinRate: 0.4, minFactor: 0.3 }), 6, { wins: false, losses: true });
    const none = run(new ShadingController({ targetWinRate: 0.4, minFactor: 0.3 }), 6, { wins: false, losses: false });
    expect(lossesOnly.factors).toEqual(none.factors); // the same 5 % steps, the same seed
  });

  it('keeps to [minFactor, 1] whatever the landscape says', () => {
    const cheap = new ShadingController({ targetWinRate: 0.5, minFactor: 0.7, minBids: 4 });
    const dear = new ShadingController({ targetWinRate: 0.5, minFactor: 0.7, minBids: 4 });
    cheap.update(0);
    dear.update(0);
    for (let i = 0; i < 4; i++) {
      cheap.bid();
      cheap.win();
      cheap.priceToWin(0.1, true);
      dear.bid();
      dear.priceToWin(3, false);
    }
    cheap.update(10_000);
    dear.update(10_000);
    expect(cheap.factor).toBe(0.7);
    expect(dear.factor).toBe(1);
  });
});

describe('shading through the ledger and decideFor()', () => {
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
    const price = (w: number, h: number) => decideFor(view({ imp: [{ id: '1', banner: { w, h } }] }), snap, snap.defaultExchange, now, undefined, ledger).bids![0].price;
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
    // The price before shading goes with a shaded bid (into its notice URLs), not with others.
    const bid = (w: number, h: number) => decideFor(view({ imp: [{ id: '1', banner: { w, h } }] }), snap, snap.defaultExchange, now, undefined, ledger).bids![0];
    expect(bid(300, 250).unshaded).toBe(2);
    expect(bid(728, 90).unshaded).toBeUndefined();
    expect(price(728, 90)).toBe(1); // no shading configured: untouched
    const text = await registry.metrics();
    expect(text).toContain('bidder_shading_decisions_total{campaign="shaded",move="down"} 3');
    expect(Number(/bidder_shading_factor\{campaign="shaded"\} (\S+)/.exec(text)?.[1])).toBeCloseTo(0.95 ** 3, 6);
  });

  it("sets the factor from win and loss notices' min-to-win, leaving out losses no price would have won", async () => {
    async function after(lossReason: number) {
      let now = NOW;
      const snap = snapshotOf([campaign('shaded', { bid: { base: 2, max: 2 }, shading: { targetWinRate: 0.4 } })]);
      const ledger = new BudgetLedger({
        holder: 's', store: new MemoryBudgetStore(() => now), snapshots: new SnapshotRef(snap), sliceFraction: 0.01, renewMs: 100, holdMs: 1000,
        leaseTtlMs: 3000, staleMs: 1000, eventTtlSec: 3600, clock: () => now,
      });
      await ledger.renew(); // starts the controller's clock
      const id = (n: number): BidIdentity => ({ bidId: `b${n}`, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'shaded', creativeId: 'cr-shaded', dealId: '', price: 2, currency: 'USD', issuedAt: NOW / 1000 });
      for (let n = 0; n < 100; n++) {
        ledger.reserve([id(n)], snap.currencies, now);
        // 40 wins that needed 0.500-0.695 of the bid, 60 losses that needed 0.700-0.995 of it.
        if (n < 40) ledger.notice('win', 'billing', { eventId: `w${n}`, exchange: 'main', identity: id(n), clearCpmBase: 2, bidCpmBase: 2, minToWinBase: 2 * (0.5 + n / 200), unshadedBase: 2 }, snap.currencies, now);
        else ledger.notice('loss', 'billing', { eventId: `l${n}`, exchange: 'main', identity: id(n), bidCpmBase: 2, minToWinBase: 2 * (0.7 + (n - 40) / 200), lossReason, unshadedBase: 2 }, snap.currencies, now);
      }
      now += 10_000;
      await ledger.renew();
      return ledger.shading(snap.index.campaigns[0]);
    }
    // Lost to a higher bid (102): the 40th cheapest of the 100 prices to win, 0.695 of the bid, wins 40 %.
    expect(await after(102)).toBeCloseTo(0.695, 9);
    // Creative filtered (200): those losses say nothing about price; 40 of 100 bids won, the target: hold.
    expect(await after(200)).toBe(1);
  });

  it('an auction whose min-to-win was the floor counts as won at any factor (a shaded price under the floor is raised to it)', async () => {
    async function after(floorBase: number | undefined) {
      let now = NOW;
      const snap = snapshotOf([campaign('shaded', { bid: { base: 2, max: 2 }, shading: { targetWinRate: 0.4, minFactor: 0.5 } })]);
      const ledger = new BudgetLedger({
        holder: 's', store: new MemoryBudgetStore(() => now), snapshots: new SnapshotRef(snap), sliceFraction: 0.01, renewMs: 100, holdMs: 1000,
        leaseTtlMs: 3000, staleMs: 1000, eventTtlSec: 3600, clock: () => now,
      });
      await ledger.renew();
      const id = (n: number): BidIdentity => ({ bidId: `b${n}`, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'shaded', creativeId: 'cr-shaded', dealId: '', price: 2, currency: 'USD', issuedAt: NOW / 1000 });
      for (let n = 0; n < 100; n++) {
        ledger.reserve([id(n)], snap.currencies, now);
        // 45 wins with nobody above the floor of 1.20 (min-to-win: the floor), 55 losses to bids of 1.50-2.00.
        const facts = { exchange: 'main', identity: id(n), bidCpmBase: 2, unshadedBase: 2, floorBase };
        if (n < 45) ledger.notice('win', 'billing', { ...facts, eventId: `w${n}`, clearCpmBase: 1.2, minToWinBase: 1.2 }, snap.currencies, now);
        else ledger.notice('loss', 'billing', { ...facts, eventId: `l${n}`, minToWinBase: 1.5 + (n - 45) / 110, lossReason: 102 }, snap.currencies, now);
      }
      now += 10_000;
      await ledger.renew();
      return ledger.shading(snap.index.campaigns[0]);
    }
    // 45 % of the auctions were the floor's: the least the campaign pays wins more than its 40 %.
    expect(await after(1.2)).toBe(0.5);
    // Taken for 0.6 of the price (1.20 of 2.00), they would have held the factor at 0.6 and paid for nothing.
    expect(await after(undefined)).toBeCloseTo(0.6, 9);
  });
});
