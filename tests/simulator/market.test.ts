/**
 * The ground-truth market: seeded and repeatable, average CTR within 0.1-0.5 %, CVR a few per cent
 * of clicks, far more than 10x between placements, and competing bids never under the floor.
 */
import { describe, expect, it } from 'vitest';
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
});
