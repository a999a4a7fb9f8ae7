/**
 * The BudgetStore contract, run against every backend (budget-store.test.ts): leases never hand out
 * more than the budget less spend and other holders' holds, spend is idempotent per event id, a
 * dead holder's lease lapses, and the kill switch is read back with every renewal.
 */
import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import type { BudgetStore, LeaseRequest } from '../../src/money/budget-store.js';

export interface StoreUnderTest {
  readonly store: BudgetStore;
  readonly cleanup: () => Promise<void>;
}

const req = (account: string, limit: number, want: number, outstanding = 0): LeaseRequest => ({ account, limit, want, outstanding, ttlSec: 3600 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function budgetStoreContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`BudgetStore contract: ${name}`, () => {
    let t: StoreUnderTest;
    let store: BudgetStore;
    let n = 0;
    let acct: string;
    beforeEach(async () => {
      t = await make();
      store = t.store;
      acct = `c:test${++n}:d:20260112`;
    });
    afterEach(async () => t.cleanup());

    it('grants the wanted slice while the budget has room, and never more than budget − spend − other holds', async () => {
      const a = await store.renew('h1', [req(acct, 1000, 300)], 60_000);
      expect(a.grants).toEqual([{ granted: 300, spent: 0 }]);
      const b = await store.renew('h2', [req(acct, 1000, 300)], 60_000);
      expect(b.grants[0].granted).toBe(300);
      const c = await store.renew('h3', [req(acct, 1000, 600)], 60_000);
      expect(c.grants[0].granted).toBe(400); // 1000 − 300 − 300
      // A holder renewing replaces its own hold (it is not counted against itself).
      const a2 = await store.renew('h1', [req(acct, 1000, 300)], 60_000);
      expect(a2.grants[0].granted).toBe(300);
      const d = await store.renew('h4', [req(acct, 1000, 100)], 60_000);
      expect(d.grants[0].granted).toBe(0);
    });

    it('spend shrinks the grants, down to 0 when the budget is spent', async () => {
      expect(await store.recordSpend('billing:b1', [{ account: acct, amount: 700, ttlSec: 3600 }], 3600)).toBe(true);
      const r = await store.renew('h1', [req(acct, 1000, 500)], 60_000);
      expect(r.grants[0]).toEqual({ granted: 300, spent: 700 });
      await store.recordSpend('billing:b2', [{ account: acct, amount: 400, ttlSec: 3600 }], 3600);
      const r2 = await store.renew('h1', [req(acct, 1000, 500)], 60_000);
      expect(r2.grants[0]).toEqual({ granted: 0, spent: 1100 });
    });

    it('records spend once per event id, on every account of the event, with each its own amount', async () => {
      const other = `a:adv${n}:t`;
      const entries = [
        { account: acct, amount: 1500, ttlSec: 3600 },
        { account: other, amount: 1350, ttlSec: 3600 },
      ];
      expect(await store.recordSpend('billing:x', entries, 3600)).toBe(true);
      // A retry (the first call timed out but ran) adds nothing.
      expect(await store.recordSpend('billing:x', entries, 3600)).toBe(false);
      expect(await store.recordSpend('win:x', [entries[0]], 3600)).toBe(true);
      expect(await store.spent([acct, other, 'c:never:t'])).toEqual([3000, 1350, 0]);
    });

    it('concurrent records of one event id add it once', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => store.recordSpend('billing:race', [{ account: acct, amount: 10, ttlSec: 3600 }], 3600)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.spent([acct])).toEqual([10]);
    });

    it('concurrent holders never hold more than the budget together', async () => {
      const grants = await Promise.all(Array.from({ length: 40 }, (_, i) => store.renew(`h${i}`, [req(acct, 1000, 70)], 60_000)));
      const total = grants.reduce((s, g) => s + g.grants[0].granted, 0);
      expect(total).toBe(1000);
    });

    it('a holder holds at least what it has outstanding, even when granted less', async () => {
      await store.renew('h1', [req(acct, 1000, 100, 900)], 60_000);
      const other = await store.renew('h2', [req(acct, 1000, 500)], 60_000);
      expect(other.grants[0].granted).toBe(100);
    });

    it("a holder's lease lapses after its TTL: its slice comes back", async () => {
      await store.renew('dead', [req(acct, 1000, 800)], 150);
      expect((await store.renew('live', [req(acct, 1000, 800)], 60_000)).grants[0].granted).toBe(200);
      await sleep(250);
      expect((await store.renew('live', [req(acct, 1000, 800)], 60_000)).grants[0].granted).toBe(800);
    });

    it('renews several accounts in one call, each on its own', async () => {
      const total = `c:test${n}:t`;
      await store.recordSpend('billing:t', [{ account: total, amount: 4990, ttlSec: 3600 }], 3600);
      const r = await store.renew('h1', [req(acct, 1000, 100), req(total, 5000, 100)], 60_000);
      expect(r.grants).toEqual([
        { granted: 100, spent: 0 },
        { granted: 10, spent: 4990 },
      ]);
    });

    it("a spend recorded for another holder's bid reaches that holder with its next renewal, once", async () => {
      const spend = [{ account: acct, amount: 500, ttlSec: 3600 }];
      expect(await store.recordSpend('billing:own', spend, 3600)).toBe(true); // no end: nobody is told
      expect(await store.recordSpend(`billing:h1-${n}a`, spend, 3600, { holder: `h1x${n}`, bidId: `h1-${n}a` })).toBe(true);
      // A retry of that call (it timed out but ran) adds nothing and tells nobody twice.
      expect(await store.recordSpend(`billing:h1-${n}a`, spend, 3600, { holder: `h1x${n}`, bidId: `h1-${n}a` })).toBe(false);
      expect((await store.renew(`h2x${n}`, [req(acct, 10_000, 100)], 60_000)).ended).toEqual([]);
      const first = await store.renew(`h1x${n}`, [req(acct, 10_000, 100)], 60_000);
      expect(first.ended).toEqual([`h1-${n}a`]);
      expect(first.grants[0].spent).toBe(1000); // the spend is in the same answer
      expect((await store.renew(`h1x${n}`, [req(acct, 10_000, 100)], 60_000)).ended).toEqual([]);
    });

    it('bids ended without spend (losses) reach each their own holder, in order, with its next renewal', async () => {
      await store.endBids([
        { holder: `a${n}`, bidId: 'a-1' },
        { holder: `b${n}`, bidId: 'b-1' },
        { holder: `a${n}`, bidId: 'a-2' },
      ]);
      await store.endBids([]);
      await store.endBids([{ holder: `a${n}`, bidId: 'a-3' }]);
      expect((await store.renew(`a${n}`, [], 60_000)).ended).toEqual(['a-1', 'a-2', 'a-3']);
      expect((await store.renew(`b${n}`, [req(acct, 1000, 100)], 60_000)).ended).toEqual(['b-1']);
      expect((await store.renew(`a${n}`, [], 60_000)).ended).toEqual([]);
    });

    it('the kill switch, global and per campaign, comes back with every renewal', async () => {
      expect((await store.renew('h1', [], 1000)).kill).toEqual({ all: false, campaigns: [] });
      expect(await store.setKill(true, 'c1')).toEqual({ all: false, campaigns: ['c1'] });
      expect((await store.setKill(true)).all).toBe(true);
      const r = await store.renew('h1', [req(acct, 1000, 100)], 1000);
      expect(r.kill).toEqual({ all: true, campaigns: ['c1'] });
      await store.setKill(false);
      expect(await store.setKill(false, 'c1')).toEqual({ all: false, campaigns: [] });
    });
  });
}
