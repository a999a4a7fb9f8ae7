/**
 * Audience rules (anyOf / allOf / exclude, the whenUnavailable policy) and segment multipliers:
 * on their own, and through the whole decision (decideFor() with a compiled snapshot), where the
 * price must never pass the campaign's max bid.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { audienceAllows, segmentMultiplier } from '../../src/bidding/audience-rules.js';
import { decideFor } from '../../src/bidding/bidder.js';
import type { Audience } from '../../src/audiences/audience-service.js';
import type { CompiledSegmentRules } from '../../src/targeting/compiled-campaign.js';
import { buildSnapshot } from '../../src/campaigns/snapshot.js';
import type { Campaign, ConfigBundle } from '../../src/campaigns/schema.js';
import { isInvalid, parseBidRequest } from '../../src/openrtb/parse-request.js';
import type { BidRequestView } from '../../src/openrtb/request-view.js';
import { validBundle } from '../helpers/bidder.js';

const known = (...s: string[]): Audience => ({ segments: new Set(s), complete: true });
const partial = (...s: string[]): Audience => ({ segments: new Set(s), complete: false });
const rules = (r: Partial<CompiledSegmentRules>): CompiledSegmentRules => ({
  anyOf: undefined,
  allOf: undefined,
  exclude: undefined,
  skipWhenUnavailable: true,
  ...r,
});

describe('audienceAllows with a fully known audience', () => {
  it('no rules: everyone', () => {
    expect(audienceAllows(undefined, known())).toBe(true);
    expect(audienceAllows(undefined, partial())).toBe(true);
  });

  it('anyOf: at least one of the segments', () => {
    const r = rules({ anyOf: ['a', 'b'] });
    expect(audienceAllows(r, known('a'))).toBe(true);
    expect(audienceAllows(r, known('b', 'z'))).toBe(true);
    expect(audienceAllows(r, known('z'))).toBe(false);
    expect(audienceAllows(r, known())).toBe(false);
  });

  it('allOf: every one of the segments', () => {
    const r = rules({ allOf: ['a', 'b'] });
    expect(audienceAllows(r, known('a', 'b'))).toBe(true);
    expect(audienceAllows(r, known('a', 'b', 'c'))).toBe(true);
    expect(audienceAllows(r, known('a'))).toBe(false);
    expect(audienceAllows(r, known())).toBe(false);
  });

  it('exclude: none of the segments', () => {
    const r = rules({ exclude: ['x', 'y'] });
    expect(audienceAllows(r, known())).toBe(true);
    expect(audienceAllows(r, known('a'))).toBe(true);
    expect(audienceAllows(r, known('y'))).toBe(false);
    expect(audienceAllows(r, known('a', 'x'))).toBe(false);
  });

  it('combinations: anyOf and allOf and exclude must all hold', () => {
    const r = rules({ anyOf: ['a', 'b'], allOf: ['m', 'n'], exclude: ['x'] });
    expect(audienceAllows(r, known('a', 'm', 'n'))).toBe(true);
    expect(audienceAllows(r, known('b', 'm', 'n', 'q'))).toBe(true);
    expect(audienceAllows(r, known('m', 'n'))).toBe(false); // no anyOf
    expect(audienceAllows(r, known('a', 'm'))).toBe(false); // not all of
    expect(audienceAllows(r, known('a', 'm', 'n', 'x'))).toBe(false); // excluded
    const anyAndExclude = rules({ anyOf: ['a'], exclude: ['a'] }); // contradictory: nobody
    expect(audienceAllows(anyAndExclude, known('a'))).toBe(false);
    expect(audienceAllows(anyAndExclude, known())).toBe(false);
  });

  it('the policy does not matter when the audience is complete', () => {
    for (const skip of [true, false]) {
      const r = rules({ anyOf: ['a'], exclude: ['x'], skipWhenUnavailable: skip });
      expect(audienceAllows(r, known('a'))).toBe(true);
      expect(audienceAllows(r, known())).toBe(false);
      expect(audienceAllows(r, known('a', 'x'))).toBe(false);
    }
  });
});

describe('audienceAllows with an incomplete audience', () => {
  it('skip: the campaign is skipped unless the known segments already qualify and nothing can be hiding', () => {
    const skip = rules({ anyOf: ['a'], skipWhenUnavailable: true });
    expect(audienceAllows(skip, partial())).toBe(false);
    expect(audienceAllows(skip, partial('z'))).toBe(false);
    expect(audienceAllows(skip, partial('a'))).toBe(true); // positively known to qualify, no exclusion to hide
    const all = rules({ allOf: ['a', 'b'], skipWhenUnavailable: true });
    expect(audienceAllows(all, partial('a'))).toBe(false);
    expect(audienceAllows(all, partial('a', 'b'))).toBe(true);
  });

  it('skip with an exclusion: an unknown exclusion could be hiding, so it is skipped even when included', () => {
    const r = rules({ anyOf: ['a'], exclude: ['x'], skipWhenUnavailable: true });
    expect(audienceAllows(r, partial('a'))).toBe(false);
    expect(audienceAllows(rules({ exclude: ['x'], skipWhenUnavailable: true }), partial())).toBe(false);
  });

  it('bid: the campaign bids as if its rules were met', () => {
    const r = rules({ anyOf: ['a'], allOf: ['b', 'c'], exclude: ['x'], skipWhenUnavailable: false });
    expect(audienceAllows(r, partial())).toBe(true);
    expect(audienceAllows(r, partial('z'))).toBe(true);
    expect(audienceAllows(rules({ exclude: ['x'], skipWhenUnavailable: false }), partial())).toBe(true);
  });

  it('a known exclusion always wins, whatever the policy', () => {
    for (const skip of [true, false]) {
      expect(audienceAllows(rules({ anyOf: ['a'], exclude: ['x'], skipWhenUnavailable: skip }), partial('a', 'x'))).toBe(false);
      expect(audienceAllows(rules({ exclude: ['x'], skipWhenUnavailable: skip }), partial('x'))).toBe(false);
    }
  });
});

describe('segmentMultiplier', () => {
  const m = new Map([
    ['vip', 1.5],
    ['loyal', 2],
    ['cheap', 0.5],
  ]);
  it('multiplies the factors of the segments the user is in, 1 for none', () => {
    expect(segmentMultiplier(undefined, known('vip'))).toBe(1);
    expect(segmentMultiplier(m, known())).toBe(1);
    expect(segmentMultiplier(m, known('other'))).toBe(1);
    expect(segmentMultiplier(m, known('vip'))).toBe(1.5);
    expect(segmentMultiplier(m, known('vip', 'loyal'))).toBe(3);
    expect(segmentMultiplier(m, known('vip', 'loyal', 'cheap', 'other'))).toBe(1.5);
  });
  it('an incomplete audience: only the known segments count', () => {
    expect(segmentMultiplier(m, partial('vip'))).toBe(1.5);
    expect(segmentMultiplier(m, partial())).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Through decideFor(): a compiled snapshot, a parsed request, an audience.

const banner = { id: 'cr', type: 'banner' as const, w: 300, h: 250, html: '<div>ad</div>' };
const campaign = (id: string, base: number, max: number, extra: Partial<Campaign> = {}): Campaign => ({
  id,
  advertiserId: 'adv',
  adomain: ['adv.example'],
  bid: { base, max },
  creatives: [{ ...banner, id: `${id}-cr` }],
  ...extra,
});

function snapshotOf(campaigns: Campaign[]) {
  const bundle: ConfigBundle = {
    exchanges: [{ id: 'ex', seat: 'seat-1', currency: 'USD' }],
    currencies: { base: 'USD', rates: { EUR: 0.9 } },
    advertisers: [{ id: 'adv', name: 'Adv' }],
    campaigns,
  };
  return buildSnapshot(validBundle(bundle), 1);
}

function request(floor = 0.01, cur?: string): BidRequestView {
  const v = parseBidRequest(
    JSON.stringify({
      id: 'r1',
      imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: floor }],
      site: { domain: 'news.example' },
      user: { buyeruid: 'u1' },
      ...(cur ? { cur: [cur] } : {}),
    }),
  );
  if (isInvalid(v)) throw new Error(v.message);
  return v;
}

function bidOf(snap: ReturnType<typeof snapshotOf>, audience: Audience, req = request()) {
  const d = decideFor(req, snap, snap.defaultExchange, Date.now(), audience);
  if (d.noBid !== undefined) return { noBid: d.noBid };
  expect(d.bids).toHaveLength(1);
  return { campaign: d.bids[0].campaign.id, price: d.bids[0].price };
}

describe('decideFor() with audiences', () => {
  const snap = snapshotOf([
    campaign('autos', 2, 5, {
      targeting: { segments: { anyOf: ['autos', 'moto'], exclude: ['churned'] } },
      multipliers: { segment: { vip: 2, loyal: 1.5, autos: 1.1 } },
    }),
    campaign('families', 1, 1.8, {
      targeting: { segments: { allOf: ['parents', 'suburbs'], whenUnavailable: 'bid' } },
    }),
  ]);

  it('bids only for users the rules admit', () => {
    expect(bidOf(snap, known('autos'))).toEqual({ campaign: 'autos', price: 2.2 });
    expect(bidOf(snap, known('moto'))).toEqual({ campaign: 'autos', price: 2 });
    expect(bidOf(snap, known('autos', 'churned')).noBid).toBeDefined();
    expect(bidOf(snap, known('parents', 'suburbs'))).toEqual({ campaign: 'families', price: 1 });
    expect(bidOf(snap, known('parents')).noBid).toBe('no_campaign');
    expect(bidOf(snap, known()).noBid).toBe('no_campaign');
    expect(bidOf(snap, known('unrelated')).noBid).toBe('no_campaign');
  });

  it('the higher campaign wins when a user qualifies for both; an exclusion hands the impression on', () => {
    expect(bidOf(snap, known('autos', 'parents', 'suburbs')).campaign).toBe('autos');
    expect(bidOf(snap, known('autos', 'churned', 'parents', 'suburbs'))).toEqual({ campaign: 'families', price: 1 });
  });

  it('an incomplete audience: the skip campaign stays out, the bid campaign bids', () => {
    expect(bidOf(snap, partial())).toEqual({ campaign: 'families', price: 1 });
    expect(bidOf(snap, partial('parents'))).toEqual({ campaign: 'families', price: 1 });
    // autos has an exclusion that could be hiding: skipped even though the user is known to be in autos.
    expect(bidOf(snap, partial('autos', 'vip'))).toEqual({ campaign: 'families', price: 1 });
    const onlySkip = snapshotOf([campaign('autos', 2, 5, { targeting: { segments: { anyOf: ['autos'] } } })]);
    expect(bidOf(onlySkip, partial()).noBid).toBe('no_campaign');
    expect(bidOf(onlySkip, partial('other')).noBid).toBe('no_campaign');
    expect(bidOf(onlySkip, partial('autos'))).toEqual({ campaign: 'autos', price: 2 });
  });

  it('an incomplete audience under the bid policy: known multipliers apply, a known exclusion still blocks', () => {
    const s = snapshotOf([
      campaign('c', 1, 10, {
        targeting: { segments: { anyOf: ['a'], exclude: ['x'], whenUnavailable: 'bid' } },
        multipliers: { segment: { vip: 3 } },
      }),
    ]);
    expect(bidOf(s, partial())).toEqual({ campaign: 'c', price: 1 });
    expect(bidOf(s, partial('vip'))).toEqual({ campaign: 'c', price: 3 });
    expect(bidOf(s, partial('x', 'vip')).noBid).toBe('no_campaign');
  });

  it('segment multipliers multiply and the price is capped at max bid', () => {
    expect(bidOf(snap, known('moto', 'vip'))).toEqual({ campaign: 'autos', price: 4 });
    expect(bidOf(snap, known('moto', 'loyal'))).toEqual({ campaign: 'autos', price: 3 });
    expect(bidOf(snap, known('moto', 'vip', 'loyal'))).toEqual({ campaign: 'autos', price: 5 }); // 6 → max 5
    expect(bidOf(snap, known('autos', 'vip', 'loyal'))).toEqual({ campaign: 'autos', price: 5 }); // 6.6 → max 5
  });

  it('a floor above max bid is not met by multipliers; a floor under max bid lifts the price', () => {
    expect(bidOf(snap, known('moto', 'vip', 'loyal'), request(5.5)).noBid).toBe('below_floor');
    expect(bidOf(snap, known('moto'), request(4.5))).toEqual({ campaign: 'autos', price: 4.5 });
  });

  it('a campaign with only segment multipliers (no rules) bids for everyone, more for its segments', () => {
    const s = snapshotOf([campaign('m', 1, 2.5, { multipliers: { segment: { vip: 2, gold: 2 } } })]);
    expect(s.index.usesSegments).toBe(true);
    expect(bidOf(s, known())).toEqual({ campaign: 'm', price: 1 });
    expect(bidOf(s, partial())).toEqual({ campaign: 'm', price: 1 });
    expect(bidOf(s, known('vip'))).toEqual({ campaign: 'm', price: 2 });
    expect(bidOf(s, known('vip', 'gold'))).toEqual({ campaign: 'm', price: 2.5 });
  });

  it('property: price = min(base × Π segment factors, max), never above max bid, in any currency', () => {
    const segs = ['s0', 's1', 's2', 's3', 's4'];
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.05, max: 20, noNaN: true }), { minLength: segs.length, maxLength: segs.length }),
        fc.subarray(segs),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.boolean(),
        fc.constantFrom(undefined, 'EUR'),
        (factors, userSegs, a, b, complete, cur) => {
          const base = Math.round(Math.min(a, b) * 100) / 100;
          const max = Math.round(Math.max(a, b) * 100) / 100;
          const factorMap = Object.fromEntries(segs.map((s, i) => [s, Math.round(factors[i] * 100) / 100]));
          const s = snapshotOf([campaign('p', base, max, { multipliers: { segment: factorMap } })]);
          const audience = { segments: new Set(userSegs), complete };
          const d = decideFor(request(0.01, cur), s, s.defaultExchange, Date.now(), audience);
          const rate = cur === 'EUR' ? 0.9 : 1;
          const product = userSegs.reduce((f, seg) => f * factorMap[seg], 1);
          const want = Math.min(base * product, max) * rate;
          if (want < 0.01 * rate) return; // under the floor: no claim here
          if (d.noBid !== undefined) throw new Error(`no bid: ${d.noBid}`);
          const price = d.bids[0].price;
          expect(price).toBeLessThanOrEqual(max * rate + 1e-9);
          expect(Math.abs(price - want)).toBeLessThanOrEqual(1e-4 + 1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });
});
