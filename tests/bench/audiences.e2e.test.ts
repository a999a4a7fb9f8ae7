/**
 * `npm run bench:audiences` small: 50,000 events through chDB's insert (as the event writer sends
 * them) and the scheduled rebuild, every user's membership of every rule checked against what the
 * generator says they did; the same events generated in the engine by SQL give the same members;
 * and the online path's cost comes out at 20 and 200 rules with members written.
 */
import { describe, expect, it } from 'vitest';
import { eventAt, runAudienceBench, type AudienceBenchOptions } from '../../bench/audiences.js';

const base: AudienceBenchOptions = {
  events: 50_000, users: 5_000, advertisers: 4, days: 60, batch: 10_000, checkEvery: 1,
  onlineRules: [], onlineEvents: 1_000, skipLoad: false, load: 'insert', seed: 7, nowSec: 1_790_000_000,
};

describe('npm run bench:audiences (small)', () => {
  it('materialises 50,000 events into exactly the expected rule audiences, by insert and by SQL alike', async () => {
    const insert = await runAudienceBench(base);
    expect(insert.engine).toBe('chdb');
    expect(insert.rules).toBe(12);
    expect(insert.load!.events_per_s).toBeGreaterThan(0);
    expect(insert.rebuild!.seconds).toBeGreaterThan(0);
    expect(insert.rebuild!.per_rule).toHaveLength(12);
    expect(insert.check!.users).toBe(5_000);
    expect(insert.check!.mismatches).toBe(0);
    // Every expected membership, and no other, was written (each user checked: checkEvery 1).
    expect(insert.rebuild!.members).toBe(insert.check!.memberships);
    expect(insert.check!.memberships).toBeGreaterThan(1_000);
    for (const r of insert.rebuild!.per_rule) expect(r.members, r.segment).toBeGreaterThan(0);
    expect(insert.peak_rss_mb).toBeGreaterThan(0);

    const sql = await runAudienceBench({ ...base, load: 'sql' });
    expect(sql.check!.mismatches).toBe(0);
    expect(sql.rebuild!.per_rule).toEqual(insert.rebuild!.per_rule);
  }, 180_000);

  it('the generator mixes kinds, advertisers and days as documented', () => {
    const kinds = new Map<string, number>();
    const advertisers = new Set<number>();
    let oldest = Infinity;
    for (let i = 0; i < 10_000; i++) {
      const e = eventAt(i, base);
      kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      advertisers.add(e.advertiser);
      oldest = Math.min(oldest, e.time);
      expect(e.user).toBeLessThan(base.users);
    }
    expect(kinds.get('visit')! / 10_000).toBeCloseTo(0.35, 1);
    expect(kinds.get('conversion')! / 10_000).toBeCloseTo(0.02, 1);
    expect(advertisers.size).toBe(4);
    expect(base.nowSec - oldest).toBeGreaterThan(59 * 86_400);
  });

  it('measures the online path per pixel and per notice event at 20 and 200 rules', async () => {
    const r = await runAudienceBench({ ...base, skipLoad: true, onlineRules: [20, 200] });
    expect(r.load).toBeUndefined();
    expect(r.online.map((x) => [x.rules, x.advertisers])).toEqual([[20, 2], [200, 20]]);
    for (const x of r.online) {
      expect(x.pixel_us).toBeGreaterThan(0);
      expect(x.notice_us).toBeGreaterThan(0);
      expect(x.members).toBeGreaterThan(0);
    }
  }, 60_000);
});
