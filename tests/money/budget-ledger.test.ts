/**
 * A bid thread's budget ledger on the in-process store, with an injected clock: slices bound what a
 * thread commits between renewals, spend frees room only once recorded, the kill switch arrives with
 * the next renewal, and an unreachable store stops budgeted campaigns after BUDGET_STALE_MS. Then
 * four ledgers on one store spend a budget down together without passing it.
 */
import { describe, expect, it } from 'vitest';
import { SnapshotRef } from '../../src/campaigns/snapshot.js';
import { decideFor } from '../../src/bidding/bidder.js';
import { BudgetLedger, type LedgerOptions } from '../../src/money/budget-ledger.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import type { BudgetStore } from '../../src/money/budget-store.js';
import type { BidIdentity } from '../../src/events/bid-identity.js';
import { BASE, campaign, snapshotOf, view } from '../bidding/support.js';
import type { Snapshot } from '../../src/campaigns/snapshot.js';

const NOW = Date.parse('2026-01-12T12:00:00Z');

function setup(o: Partial<LedgerOptions> & { daily?: number; store?: BudgetStore } = {}) {
  let now = NOW;
  const clock = () => now;
  const snap = snapshotOf([campaign('b', { bid: { base: 2, max: 2 }, budget: { daily: o.daily ?? 1, pacing: 'asap' } }), campaign('free', { bid: { base: 0.5, max: 0.5 } })]);
  const store = o.store ?? new MemoryBudgetStore(clock);
  const ledger = new BudgetLedger({
    holder: 'h1',
    store,
    snapshots: new SnapshotRef(snap),
    sliceFraction: 0.01,
    renewMs: 100,
    holdMs: 1000,
    leaseTtlMs: 3000,
    staleMs: 500,
    eventTtlSec: 3600,
    clock,
    ...o,
  });
  let n = 0;
  const bid = (): string | undefined => {
    const d = decideFor(view({}), snap, snap.defaultExchange, now, undefined, ledger);
    if (d.noBid !== undefined) return d.noBid;
    const ids: BidIdentity[] = d.bids.map((b) => ({
      bidId: `bid${++n}`, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: b.campaign.id,
      creativeId: b.creative.id, dealId: '', price: b.price, currency: d.currency, issuedAt: Math.floor(now / 1000),
    }));
    ledger.reserve(ids, snap.currencies, now);
    return `${d.bids[0].campaign.id}:${ids[0].bidId}`;
  };
  return { ledger, store, snap, bid, advance: (ms: number) => (now += ms), now: () => now };
}

describe('BudgetLedger', () => {
  it('commits at most its slice between renewals; recorded spend and expired holds free room at the next renewal', async () => {
    const t = setup(); // daily 1.00 → slice 0.01 = 10 000 micros; a bid at max 2.00 CPM reserves 2 000
    expect(t.bid()).toBe('free:bid1'); // nothing confirmed yet: the budgeted campaign waits, others bid
    await t.ledger.renew();
    const won = [t.bid(), t.bid(), t.bid(), t.bid(), t.bid()];
    expect(won.every((w) => w?.startsWith('b:'))).toBe(true);
    expect(t.bid()).toBe('free:bid7'); // slice used up
    // Two wins recorded (clearing 1.50 CPM), one loss: room comes back only after the next renewal.
    for (const w of won.slice(0, 2)) await t.ledger.spend(`billing:${w!.slice(2)}`, w!.slice(2), 'b', 1.5, t.snap.currencies, t.now());
    t.ledger.release(won[2]!.slice(2));
    expect(t.bid()).toBe('free:bid8');
    await t.ledger.renew();
    expect(t.ledger.state()[0].accounts[0]).toMatchObject({ spent: 3000, granted: 10_000, outstanding: 4000 });
    expect([t.bid(), t.bid(), t.bid()].every((w) => w?.startsWith('b:'))).toBe(true);
    expect(t.bid()).toMatch(/^free/);
    // Holds end after BUDGET_HOLD_MS without a notice.
    t.advance(1001);
    await t.ledger.renew();
    expect(t.ledger.state()[0].accounts[0].outstanding).toBe(0);
    expect(t.bid()).toMatch(/^b:/);
  });

  it("a request with several imps counts the campaign's earlier imps against the slice too", async () => {
    const t = setup();
    await t.ledger.renew();
    const imps = Array.from({ length: 7 }, (_, i) => ({ id: String(i + 1), banner: { w: 300, h: 250 } }));
    const d = decideFor(view({ imp: imps }), t.snap, t.snap.defaultExchange, t.now(), undefined, t.ledger);
    expect(d.bids!.map((b) => b.campaign.id)).toEqual(['b', 'b', 'b', 'b', 'b', 'free', 'free']); // a 10 000 slice, 2 000 per imp
  });

  it('spend of a paused campaign still counts against its budget', async () => {
    const store = new MemoryBudgetStore(() => NOW);
    const snap = snapshotOf([campaign('p', { status: 'paused', budget: { daily: 1 } })]);
    const ledger = new BudgetLedger({ holder: 'h', store, snapshots: new SnapshotRef(snap), sliceFraction: 0.01, renewMs: 100, holdMs: 1000, leaseTtlMs: 3000, staleMs: 500, eventTtlSec: 3600, clock: () => NOW });
    expect(await ledger.spend('billing:x', 'x', 'p', 2, snap.currencies, NOW)).toBe(true);
    expect(await store.spent(['c:p:d:20260112'])).toEqual([2000]);
  });

  it('stops at the budget: grants shrink to what is left', async () => {
    const t = setup();
    await t.store.recordSpend('billing:old', [{ account: 'c:b:d:20260112', amount: 995_000, ttlSec: 3600 }], 3600);
    await t.ledger.renew();
    expect(t.ledger.state()[0].accounts[0].granted).toBe(5000);
    expect([t.bid(), t.bid(), t.bid()].map((w) => w?.split(':')[0])).toEqual(['b', 'b', 'free']);
  });

  it('the kill switch (global, per campaign, or in config) stops bids at the next renewal', async () => {
    const t = setup();
    await t.ledger.renew();
    await t.store.setKill(true, 'b');
    expect(t.bid()).toMatch(/^b:/); // not yet renewed
    await t.ledger.renew();
    expect(t.bid()).toMatch(/^free/);
    await t.store.setKill(true, 'free');
    await t.ledger.renew();
    expect(t.bid()).toBe('kill_switch');
    await t.store.setKill(false, 'b');
    await t.store.setKill(false, 'free');
    await t.store.setKill(true);
    await t.ledger.renew();
    expect(t.ledger.stopAll).toBe(true);
    expect(t.bid()).toBe('kill_switch');
    await t.store.setKill(false);
    await t.ledger.renew();
    expect(t.bid()).toMatch(/^b:/);
    const killed = snapshotOf([campaign('k', { killSwitch: true })]);
    expect(decideFor(view({}), killed, killed.defaultExchange, NOW).noBid).toBe('kill_switch');
  });

  it('an unreachable store: budgeted campaigns stop after BUDGET_STALE_MS, the others keep bidding, spend is retried', async () => {
    const inner = new MemoryBudgetStore(() => NOW);
    let down = false;
    const flaky: BudgetStore = {
      kind: 'memory',
      renew: (...a) => (down ? Promise.reject(new Error('down')) : inner.renew(...a)),
      recordSpend: (...a) => (down ? Promise.reject(new Error('down')) : inner.recordSpend(...a)),
      endBids: (...a) => (down ? Promise.reject(new Error('down')) : inner.endBids(...a)),
      spent: (a) => inner.spent(a),
      setKill: (...a) => inner.setKill(...a),
      close: async () => {},
    };
    const t = setup({ store: flaky });
    await t.ledger.renew();
    const w = t.bid()!;
    down = true;
    expect(await t.ledger.spend(`billing:${w.slice(2)}`, w.slice(2), 'b', 2, t.snap.currencies, t.now())).toBe(false);
    t.advance(400);
    await t.ledger.renew();
    expect(t.bid()).toMatch(/^b:/); // within BUDGET_STALE_MS: still on its slice
    t.advance(200);
    await t.ledger.renew();
    expect(t.bid()).toMatch(/^free/);
    expect(t.ledger.failures).toBe(2);
    expect(t.ledger.retryQueue).toBe(1);
    down = false;
    await t.ledger.renew();
    expect(t.ledger.retryQueue).toBe(0);
    expect(await inner.spent(['c:b:d:20260112'])).toEqual([2000]);
    expect(t.bid()).toMatch(/^b:/);
  });

  it('even pacing: a campaign ahead of its curve is paced (participation 0) until the line catches up', async () => {
    const t = setup({ random: () => 0.5 });
    const paced = snapshotOf([campaign('p', { bid: { base: 2, max: 2 }, budget: { daily: 10 } })]); // pacing: even by default
    const ledger = new BudgetLedger({ holder: 'hp', store: t.store, snapshots: new SnapshotRef(paced), sliceFraction: 0.01, renewMs: 100, holdMs: 1000, leaseTtlMs: 3000, staleMs: 60_000, eventTtlSec: 3600, clock: t.now, random: () => 0.5 });
    await t.store.recordSpend('billing:p', [{ account: 'c:p:d:20260112', amount: 6_000_000, ttlSec: 3600 }], 3600); // 60 % spent at noon
    await ledger.renew();
    expect(decideFor(view({}), paced, paced.defaultExchange, t.now(), undefined, ledger).noBid).toBeUndefined();
    t.advance(10_000);
    await ledger.renew();
    expect(ledger.state()[0].pacing).toBe(0);
    expect(decideFor(view({}), paced, paced.defaultExchange, t.now(), undefined, ledger).noBid).toBe('paced');
    t.advance(3 * 3_600_000); // 15:00: the line (62.5 %) passed the spend
    await ledger.renew();
    expect(ledger.state()[0].pacing).toBeGreaterThan(0.5);
    expect(decideFor(view({}), paced, paced.defaultExchange, t.now(), undefined, ledger).noBid).toBeUndefined();
  });

  it('four threads on one store spend a budget down together and never pass it', async () => {
    let now = NOW;
    const clock = () => now;
    const store = new MemoryBudgetStore(clock);
    const snap = snapshotOf([campaign('b', { bid: { base: 2, max: 2 }, budget: { daily: 10, pacing: 'asap' } })]);
    const ledgers = [0, 1, 2, 3].map(
      (i) =>
        new BudgetLedger({ holder: `h${i}`, store, snapshots: new SnapshotRef(snap), sliceFraction: 0.002, renewMs: 50, holdMs: 200, leaseTtlMs: 3000, staleMs: 1000, eventTtlSec: 3600, clock }),
    );
    let n = 0;
    const pending: { ledger: BudgetLedger; bidId: string; at: number }[] = [];
    for (let step = 0; step < 4000; step++) {
      now += 10;
      if (step % 5 === 0) await Promise.all(ledgers.map((l) => l.renew()));
      for (const l of ledgers)
        for (let k = 0; k < 3; k++) {
          const d = decideFor(view({}), snap, snap.defaultExchange, now, undefined, l);
          if (d.noBid) continue;
          const bidId = `x${++n}`;
          l.reserve([{ bidId, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'b', creativeId: 'cr-b', dealId: '', price: d.bids[0].price, currency: 'USD', issuedAt: 0 }], snap.currencies, now);
          pending.push({ ledger: l, bidId, at: now });
        }
      // Notices come back 0..40 ms later; 70 % of the bids win at 80 % of the bid, the rest lose.
      while (pending.length && pending[0].at <= now - 40) {
        const p = pending.shift()!;
        if (n % 10 < 7) await p.ledger.spend(`billing:${p.bidId}`, p.bidId, 'b', 1.6, snap.currencies, now);
        else p.ledger.release(p.bidId);
      }
    }
    const [spent] = await store.spent(['c:b:d:20260112']);
    expect(spent).toBeLessThanOrEqual(10_000_000);
    expect(spent).toBeGreaterThan(10_000_000 * 0.97);
  });

  describe('notices on another thread than the one that made the bid', () => {
    /** Two ledgers (threads `t1`, `t2`) on one store; bid ids start with their thread's name, as BidIds makes them. */
    function fleet(snap: Snapshot, sliceFraction = 0.01) {
      let now = NOW;
      const clock = () => now;
      const store = new MemoryBudgetStore(clock);
      const [t1, t2] = ['t1', 't2'].map(
        (holder) => new BudgetLedger({ holder, store, snapshots: new SnapshotRef(snap), sliceFraction, renewMs: 100, holdMs: 5000, leaseTtlMs: 3000, staleMs: 1000, eventTtlSec: 3600, clock }),
      );
      let n = 0;
      const bid = (l: BudgetLedger): string | undefined => {
        const d = decideFor(view({}), snap, snap.defaultExchange, now, undefined, l);
        if (d.noBid !== undefined || d.bids[0].campaign.id !== 'b') return undefined;
        const id: BidIdentity = {
          bidId: `${l.holder}-${++n}`, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'b',
          creativeId: 'cr-b', dealId: '', price: d.bids[0].price, currency: d.currency, issuedAt: Math.floor(now / 1000),
        };
        l.reserve([id], snap.currencies, now);
        return id.bidId;
      };
      const identity = (bidId: string): BidIdentity => ({
        bidId, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'b', creativeId: 'cr-b', dealId: '', price: 2, currency: 'USD', issuedAt: Math.floor(now / 1000),
      });
      return { store, t1, t2, bid, identity, advance: (ms: number) => (now += ms), now: () => now };
    }
    const snap = snapshotOf([campaign('b', { bid: { base: 2, max: 2 }, budget: { daily: 1, pacing: 'asap' } }), campaign('free', { bid: { base: 0.5, max: 0.5 } })]);

    it("a spend recorded on another thread ends the bid's reservation at its holder's next renewal, not after BUDGET_HOLD_MS", async () => {
      const f = fleet(snap); // slice 10 000 micros: five bids at 2.00 CPM
      await Promise.all([f.t1.renew(), f.t2.renew()]);
      const bids = Array.from({ length: 5 }, () => f.bid(f.t1));
      expect(bids.every((b) => b?.startsWith('t1-'))).toBe(true);
      expect(f.bid(f.t1)).toBeUndefined(); // t1's slice is full
      // Every billing notice lands on t2: the spend is recorded there, against t1's bids.
      f.advance(50);
      for (const b of bids) await f.t2.spend(`billing:${b}`, b!, 'b', 1.6, snap.currencies, f.now());
      expect(await f.store.spent(['c:b:d:20260112'])).toEqual([8000]);
      expect(f.t1.state()[0].accounts[0].outstanding).toBe(10_000); // t1 has not heard yet
      f.advance(100); // one renewal later (far inside the 5 s hold)
      await f.t1.renew();
      expect(f.t1.state()[0].accounts[0]).toMatchObject({ outstanding: 0, spent: 8000, granted: 10_000 });
      expect(Array.from({ length: 5 }, () => f.bid(f.t1)).every((b) => b?.startsWith('t1-'))).toBe(true);
      expect(f.bid(f.t1)).toBeUndefined();
    });

    it("a loss notice on another thread ends the bid's reservation at its holder's next renewal", async () => {
      const f = fleet(snap);
      await Promise.all([f.t1.renew(), f.t2.renew()]);
      const bids = Array.from({ length: 5 }, () => f.bid(f.t1)!);
      for (const b of bids.slice(0, 3)) f.t2.notice('loss', 'billing', { eventId: `loss:${b}`, exchange: 'main', identity: f.identity(b) }, snap.currencies, f.now());
      await f.t2.flushEnds();
      f.t2.notice('loss', 'billing', { eventId: 'loss:x', exchange: 'main', identity: f.identity('t2-999') }, snap.currencies, f.now()); // its own (unknown) bid: nothing to send
      await f.t2.flushEnds();
      await f.t1.renew();
      expect(f.t1.state()[0].accounts[0]).toMatchObject({ outstanding: 4000, spent: 0 });
      expect([f.bid(f.t1), f.bid(f.t1), f.bid(f.t1), f.bid(f.t1)].filter(Boolean)).toHaveLength(3);
      await f.t2.renew();
      expect(f.t2.state()[0].accounts[0].outstanding).toBe(0);
    });

    it("with every notice on the other thread, two threads spend a budget down about as fast as with their own notices, and never pass it", async () => {
      const tiny = snapshotOf([campaign('b', { bid: { base: 2, max: 2 }, budget: { daily: 0.1, pacing: 'asap' } })]);
      const run = async (elsewhere: boolean) => {
        const f = fleet(tiny, 0.002); // a slice (200 micros) below one bid: each thread gets one bid's worth (2 000)
        let wins = 0;
        let steps = 0;
        const pending: { bidId: string; owner: BudgetLedger; at: number }[] = [];
        for (; steps < 2000 && (await f.store.spent(['c:b:d:20260112']))[0] < 100_000 - 2000; steps++) {
          f.advance(10);
          if (steps % 10 === 0) {
            await Promise.all([f.t1.flushEnds(), f.t2.flushEnds()]);
            await Promise.all([f.t1.renew(), f.t2.renew()]);
          }
          for (const l of [f.t1, f.t2]) {
            const b = f.bid(l);
            if (b !== undefined) pending.push({ bidId: b, owner: l, at: f.now() });
          }
          while (pending.length && pending[0].at <= f.now() - 30) {
            const p = pending.shift()!;
            const on = elsewhere ? (p.owner === f.t1 ? f.t2 : f.t1) : p.owner;
            if (wins++ % 4 === 3) on.notice('loss', 'billing', { eventId: `loss:${p.bidId}`, exchange: 'main', identity: f.identity(p.bidId) }, tiny.currencies, f.now());
            else await on.spend(`billing:${p.bidId}`, p.bidId, 'b', 2, tiny.currencies, f.now());
          }
        }
        const [spent] = await f.store.spent(['c:b:d:20260112']);
        return { spent, ms: steps * 10 };
      };
      const own = await run(false);
      const other = await run(true);
      expect(own.spent).toBeLessThanOrEqual(100_000);
      expect(other.spent).toBeLessThanOrEqual(100_000);
      expect(other.spent).toBeGreaterThanOrEqual(98_000);
      expect(other.ms).toBeLessThanOrEqual(own.ms * 1.25);
      expect(other.ms).toBeLessThan(5000); // it never waited for a 5 s hold
    });
  });

  describe('slices and small budgets', () => {
    it('a slice is never smaller than one bid at max bid, while the budget has it', async () => {
      // 2.00 daily at a 6.00 CPM max bid: BUDGET_SLICE 0.002 is 4 000 micros, under one bid (6 000).
      const t = setup({ daily: 2, sliceFraction: 0.002 });
      const snap = snapshotOf([campaign('b', { bid: { base: 5, max: 6 }, budget: { daily: 2, pacing: 'asap' } })]);
      const ledger = new BudgetLedger({ holder: 'h', store: t.store, snapshots: new SnapshotRef(snap), sliceFraction: 0.002, renewMs: 100, holdMs: 1000, leaseTtlMs: 3000, staleMs: 500, eventTtlSec: 3600, clock: t.now });
      await ledger.renew();
      expect(ledger.state()[0].accounts[0].granted).toBe(6000);
      expect(decideFor(view({}), snap, snap.defaultExchange, t.now(), undefined, ledger).bids?.[0]?.campaign.id).toBe('b');
      // Near the end, the store grants only what is left: less than one bid, no bid.
      await t.store.recordSpend('billing:old', [{ account: 'c:b:d:20260112', amount: 1_995_000, ttlSec: 3600 }], 3600);
      await ledger.renew();
      expect(ledger.state()[0].accounts[0].granted).toBe(5000);
      expect(decideFor(view({}), snap, snap.defaultExchange, t.now(), undefined, ledger).noBid).toBe('budget_exhausted');
    });

    it('a budget smaller than one impression at max bid is named: budget_below_max_bid', async () => {
      // Validation refuses a campaign's own budget under one bid; an advertiser's (0.001 a day) can be under a campaign's max bid (0.002 an impression).
      const snap = snapshotOf([campaign('b', { bid: { base: 2, max: 2 } })], { advertisers: [{ ...BASE.advertisers![0], budget: { daily: 0.001 } }] });
      const store = new MemoryBudgetStore(() => NOW);
      const ledger = new BudgetLedger({ holder: 'h', store, snapshots: new SnapshotRef(snap), sliceFraction: 0.002, renewMs: 100, holdMs: 1000, leaseTtlMs: 3000, staleMs: 500, eventTtlSec: 3600, clock: () => NOW });
      await ledger.renew();
      expect(decideFor(view({}), snap, snap.defaultExchange, NOW, undefined, ledger).noBid).toBe('budget_below_max_bid');
    });
  });
});
