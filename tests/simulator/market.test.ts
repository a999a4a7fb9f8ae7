/**
 * The ground-truth market: seeded and repeatable, average CTR within 0.1-0.5 %, CVR a few per cent
 * of clicks, far more than 10x between placements, and competing bids never under the floor.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GroundTruth, competingBid } from '../../src/simulator/market.js';
import { RequestGenerator } from '../../src/simulator/requests.js';
import { parseBidRequest } from '../../src/openrtb/parse-request.js';
import { isRefusal } from '../../src/openrtb/protobuf-codec.js';
import { Rng } from '../../src/simulator/rng.js';

const T0 = Date.parse('2026-06-01T00:00:00Z');

function sample(seed: string, n: number) {
  const gen = new RequestGenerator(seed, { users: 0, unknownUserShare: 1 });
  const gt = new GroundTruth(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const v = parseBidRequest(Buffer.from(JSON.stringify(gen.next().request)), 64);
    if (isRefusal(v)) throw new Error(v.message);
    out.push({ v, t: gt.of(v, T0 + i * 60_000) });
  }
  return out;
}

describe('GroundTruth', () => {
  const s = sample('market-test', 20_000);

  it('has the required averages and spread', () => {
    const ctr = s.reduce((a, x) => a + x.t.ctr, 0) / s.length;
    const cvr = s.reduce((a, x) => a + x.t.cvr, 0) / s.length;
    expect(ctr).toBeGreaterThan(0.001);
    expect(ctr).toBeLessThan(0.005);
    expect(cvr).toBeGreaterThan(0.01);
    expect(cvr).toBeLessThan(0.1);
    const sorted = s.map((x) => x.t.ctr).sort((a, b) => a - b);
    // The best tenth of placements against the worst tenth.
    expect(sorted[Math.floor(s.length * 0.95)] / sorted[Math.floor(s.length * 0.05)]).toBeGreaterThan(10);
    // A long tail of inventory.
    expect(new Set(s.map((x) => x.v.bundle ?? x.v.domain)).size).toBeGreaterThan(1000);
  });

  it('keeps the average CTR at 0.3 % whatever the seed (the head sites would move it 0.07-0.5 % with a fixed intercept)', () => {
    for (const seed of ['c', 'e', 'outcomes', 'outcomes|history']) {
      const x = sample(seed, 4_000);
      const ctr = x.reduce((a, y) => a + y.t.ctr, 0) / x.length;
      expect(ctr, seed).toBeGreaterThan(0.002);
      expect(ctr, seed).toBeLessThan(0.004);
    }
  });

  it('spreads placements (site or app by size) well over 10x', () => {
    const by = new Map<string, [number, number]>();
    for (const x of s) {
      const k = `${x.v.bundle ?? x.v.domain}|${x.v.imps[0].banner?.sizes[0] ?? 'other'}`;
      const e = by.get(k) ?? [0, 0];
      e[0] += x.t.ctr;
      e[1]++;
      by.set(k, e);
    }
    const means = [...by.values()].filter(([, n]) => n >= 20).map(([c, n]) => c / n).sort((a, b) => a - b);
    expect(means.length).toBeGreaterThan(100);
    // The placements at the 90th percentile against those at the 10th.
    expect(means[Math.floor(means.length * 0.9)] / means[Math.floor(means.length * 0.1)]).toBeGreaterThan(10);
  });

  it('is a function of the request and the seed: the same again, another seed differs', () => {
    const again = new GroundTruth('market-test');
    for (const x of s.slice(0, 50)) expect(again.of(x.v, T0).ctr).toBe(new GroundTruth('market-test').of(x.v, T0).ctr);
    const other = new GroundTruth('another');
    expect(s.slice(0, 50).filter((x) => other.of(x.v, T0).ctr !== again.of(x.v, T0).ctr).length).toBeGreaterThan(40);
  });

  it('competing bids are never under the floor', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const floor = i % 3 === 0 ? 0 : (i % 50) / 10;
      expect(competingBid(floor, rng)).toBeGreaterThanOrEqual(floor);
    }
  });

  it('competing bids are log-normal around the floor: median 1.42x it, sigma 0.5, the floor itself where none reaches it', () => {
    const rng = new Rng('lognormal');
    const logs: number[] = [];
    let atFloor = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const b = competingBid(2, rng);
      if (b === 2) atFloor++;
      logs.push(Math.log(b / 2));
    }
    logs.sort((a, b) => a - b);
    expect(Math.exp(logs[n / 2])).toBeCloseTo(Math.exp(0.35), 1);
    // Above the censoring point the quantiles are the normal's: the 84th percentile is one sigma over the median.
    expect(logs[Math.floor(n * 0.8413)] - logs[n / 2]).toBeCloseTo(0.5, 1);
    expect(atFloor / n).toBeGreaterThan(0.2); // P(z < -0.7) = 0.24
    expect(atFloor / n).toBeLessThan(0.28);
    expect(competingBid(0, rng)).toBeGreaterThan(0); // no floor: around 1.00
  });
});

describe('the models never read the truth', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

  it('no module outside the simulator imports it, and the models and the bid path import nothing of the simulator', () => {
    const src = join(__dirname, '..', '..', 'src');
    const all = files(src);
    expect(all.length).toBeGreaterThan(50);
    for (const f of all) {
      const text = readFileSync(f, 'utf8');
      if (!f.includes(`${join('src', 'simulator')}`)) expect(text, f).not.toMatch(/simulator\/market/);
      if (f.includes(join('src', 'models')) || f.includes(join('src', 'bidding'))) expect(text, f).not.toMatch(/from '[^']*simulator\//);
    }
  });
});
