/**
 * A bid thread's budget ledger on the in-process store, with an injected clock: slices bound what a
 * thread commits between renewals, spend frees room only once recorded, the kill switch arrives with
 * the next renewal, and an unreachable store stops budgeted campaigns after BUDGET_STALE_MS. Then
 * four ledgers on one store spend a budget down together without passing it.
 */
import { describe, expect, it } from 'vitest';
import { SnapshotRef } from '../../src/campaigns/snapshot.js';
import { decide } from '../../src/bidding/bidder.js';
import { BudgetLedger, type LedgerOptions } from '../../src/money/budget-ledger.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import type { BudgetStore } from '../../src/money/budget-store.js';
import type { BidIdentity } from '../../src/events/bid-identity.js';
import { campaign, snapshotOf, view } from '../bidding/support.js';

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
    const d = decide(view({}), snap, snap.defaultExchange, now, undefined, ledger);
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
    const d = decide(view({ imp: imps }), t.snap, t.snap.defaultExchange, t.now(), undefined, t.ledger);
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
    expect(decide(view({}), killed, killed.defaultExchange, NOW).noBid).toBe('kill_switch');
  });

  it('an unreachable store: budgeted campaigns stop after BUDGET_STALE_MS, the others keep bidding, spend is retried', async () => {
    const inner = new MemoryBudgetStore(() => NOW);
    let down = false;
    const flaky: BudgetStore = {
      kind: 'memory',
      renew: (...a) => (down ? Promise.reject(new Error('down')) : inner.renew(...a)),
      recordSpend: (...a) => (down ? Promise.reject(new Error('down')) : inner.recordSpend(...a)),
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
    expect(decide(view({}), paced, paced.defaultExchange, t.now(), undefined, ledger).noBid).toBeUndefined();
    t.advance(10_000);
    await ledger.renew();
    expect(ledger.state()[0].pacing).toBe(0);
    expect(decide(view({}), paced, paced.defaultExchange, t.now(), undefined, ledger).noBid).toBe('paced');
    t.advance(3 * 3_600_000); // 15:00: the line (62.5 %) passed the spend
    await ledger.renew();
    expect(ledger.state()[0].pacing).toBeGreaterThan(0.5);
    expect(decide(view({}), paced, paced.defaultExchange, t.now(), undefined, ledger).noBid).toBeUndefined();
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
          const d = decide(view({}), snap, snap.defaultExchange, now, undefined, l);
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
});
