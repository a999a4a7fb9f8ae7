/**
 * The targeting index is immutable: a request's scratch state lives in its candidate search
 * (targeting/candidate-search.ts), never in the index. Frozen, the index bids exactly as before (a
 * write to a frozen object throws in strict-mode modules, so any write left would fail here).
 */
import { describe, expect, it } from 'vitest';
import { decideFor } from '../../src/bidding/bidder.js';
import { campaign, outcome, snapshotOf, view } from './support.js';

const NOW = Date.parse('2026-01-12T10:30:00Z');

function campaigns() {
  // More than one chunk of campaigns (256), on two sizes, with prices and countries spread out.
  return Array.from({ length: 600 }, (_, i) =>
    campaign(`c${i}`, {
      bid: { base: 1 + (i % 37) / 10, max: 2 + (i % 37) / 10 },
      targeting: { countries: [['US', 'DE', 'FR'][i % 3]] },
      creatives: [{ id: `cr-c${i}`, type: 'banner', w: i % 2 ? 300 : 728, h: i % 2 ? 250 : 90, html: '<b>x</b>' }],
    }),
  );
}

const REQUESTS = [
  { device: { geo: { country: 'US' } } },
  { device: { geo: { country: 'DEU' } }, imp: [{ id: '1', banner: { w: 728, h: 90 } }, { id: '2', banner: { w: 300, h: 250 }, bidfloor: 3 }] },
  { device: { geo: { country: 'FR' } }, imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 50 }] },
  { device: { geo: { country: 'JP' } } },
  { imp: [{ id: '1', banner: { w: 300, h: 250 } }, { id: '2', banner: { w: 728, h: 90 } }, { id: '3', banner: { w: 1, h: 1 } }] },
];

describe('an immutable targeting index', () => {
  it('bids the same when frozen, request after request', () => {
    const open = snapshotOf(campaigns());
    const frozen = snapshotOf(campaigns());
    Object.freeze(frozen.index);
    expect(Object.isFrozen(frozen.index)).toBe(true);
    const bids = (snap: typeof open) => REQUESTS.map((r) => outcome(decideFor(view(r), snap, snap.defaultExchange, NOW)));
    const want = bids(open);
    expect(want.filter((o) => Array.isArray(o)).length).toBeGreaterThan(1); // some requests bid
    expect(want).toContain('no_campaign');
    expect(bids(frozen)).toEqual(want);
    // Interleaved with the other index: each request's search state is its own.
    for (let i = 0; i < 3; i++) {
      expect(bids(frozen)).toEqual(want);
      expect(bids(open)).toEqual(want);
    }
  });
});
