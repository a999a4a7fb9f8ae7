/**
 * decide() directly, where HTTP cannot set the input: the clock (flight boundaries) and large
 * random campaign sets checked against a brute-force search for the best price.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Campaign } from '../../src/campaigns/schema.js';
import { Currencies } from '../../src/currency/currencies.js';
import { FLOOR_CUTOFF_MIN_WORDS } from '../../src/bidding/bidder.js';
import { CHUNK_WORDS } from '../../src/targeting/targeting-index.js';
import { campaign, decideAt, outcome, snapshotOf } from './support.js';

describe('flight dates', () => {
  const snap = snapshotOf([campaign('flight', { start: '2026-03-01T00:00:00Z', end: '2026-04-01T00:00:00Z' })]);
  it('start is inclusive, end exclusive', () => {
    expect(outcome(decideAt(snap, Date.parse('2026-02-28T23:59:59.999Z')))).toBe('no_campaign');
    expect(outcome(decideAt(snap, Date.parse('2026-03-01T00:00:00Z')))).toEqual(['flight']);
    expect(outcome(decideAt(snap, Date.parse('2026-03-31T23:59:59.999Z')))).toEqual(['flight']);
    expect(outcome(decideAt(snap, Date.parse('2026-04-01T00:00:00Z')))).toBe('no_campaign');
  });

  it('start and end with a UTC offset are instants', () => {
    const s = snapshotOf([campaign('tz', { start: '2026-03-01T09:00:00+09:00', end: '2026-03-02T00:00:00-05:00' })]);
    expect(outcome(decideAt(s, Date.parse('2026-02-28T23:59:59Z')))).toBe('no_campaign');
    expect(outcome(decideAt(s, Date.parse('2026-03-01T00:00:00Z')))).toEqual(['tz']);
    expect(outcome(decideAt(s, Date.parse('2026-03-02T04:59:59Z')))).toEqual(['tz']);
    expect(outcome(decideAt(s, Date.parse('2026-03-02T05:00:00Z')))).toBe('no_campaign');
  });
});

describe('best campaign per imp', () => {
  const SIZES = ['300x250', '728x90', '320x50'];
  const COUNTRIES = ['US', 'GB', 'DE'];
  const arbCampaign = fc.record({
    base: fc.integer({ min: 1, max: 500 }).map((c) => c / 100),
    extra: fc.integer({ min: 0, max: 500 }).map((c) => c / 100),
    currency: fc.constantFrom('USD', 'EUR', 'GBP'),
    sizes: fc.subarray(SIZES, { minLength: 1 }),
    countries: fc.option(fc.subarray(COUNTRIES, { minLength: 1 }), { nil: undefined }),
    mobileBoost: fc.option(fc.integer({ min: 50, max: 300 }).map((p) => p / 100), { nil: undefined }),
  });
  const arbImp = fc.record({ size: fc.constantFrom(...SIZES), floor: fc.integer({ min: 0, max: 600 }).map((c) => c / 100) });

  type CampaignSpec = typeof arbCampaign extends fc.Arbitrary<infer T> ? T : never;
  const currencies = new Currencies({ base: 'USD', rates: { EUR: 0.8, GBP: 0.5 } });

  /** decide() against brute force: each imp's best price, and for a request with no bid, its reason. */
  function check(specs: CampaignSpec[], imps: { size: string; floor: number }[], country: string, devicetype: number): void {
    const campaigns: Campaign[] = specs.map((s, i) =>
      campaign(`c${i}`, {
        currency: s.currency,
        bid: { base: s.base, max: s.base + s.extra },
        ...(s.countries ? { targeting: { countries: s.countries } } : {}),
        ...(s.mobileBoost ? { multipliers: { deviceType: { 4: s.mobileBoost } } } : {}),
        creatives: s.sizes.map((size, k) => {
          const [w, h] = size.split('x').map(Number);
          return { id: `cr-c${i}-${k}`, type: 'banner' as const, w, h, html: '<b>ad</b>' };
        }),
      }),
    );
    const snap = snapshotOf(campaigns);
    const request = {
      imp: imps.map((m, k) => ({ id: String(k), banner: { format: [{ w: +m.size.split('x')[0], h: +m.size.split('x')[1] }] }, bidfloor: m.floor })),
      device: { devicetype, geo: { country } },
    };
    const d = decideAt(snap, Date.parse('2026-01-12T12:00:00Z'), request);
    const got = new Map((d.bids ?? []).map((b) => [b.imp.id, b.price]));

    let anyMatch = false;
    imps.forEach((m, k) => {
      // brute force: every campaign that targets this country and has this size, priced by hand
      let best = -1;
      specs.forEach((s) => {
        if (s.countries && !s.countries.includes(country)) return;
        if (!s.sizes.includes(m.size)) return;
        anyMatch = true;
        const toUsd = (x: number) => currencies.convert(x, s.currency, 'USD');
        const max = Math.floor(toUsd(s.base + s.extra) * 1e4 + 1e-7) / 1e4;
        const wanted = Math.min(s.base * (devicetype === 4 ? (s.mobileBoost ?? 1) : 1), s.base + s.extra);
        let price = Math.min(Math.round(toUsd(wanted) * 1e4) / 1e4, max);
        if (price < m.floor) price = Math.ceil(m.floor * 1e4 - 1e-7) / 1e4;
        if (price <= max && price > 0 && price > best) best = price;
      });
      if (best < 0) expect(got.has(String(k)), `imp ${k} should get no bid`).toBe(false);
      else expect(got.get(String(k)), `imp ${k}`).toBe(best);
    });
    // No bid at all: some campaign matched but none could meet its floor, or none matched.
    if (!d.bids) expect(d.noBid).toBe(anyMatch ? 'below_floor' : 'no_campaign');
  }

  it('decide() bids the highest price any eligible campaign offers, for each imp (property)', () => {
    fc.assert(
      fc.property(fc.array(arbCampaign, { minLength: 1, maxLength: 40 }), fc.array(arbImp, { minLength: 1, maxLength: 4 }), fc.constantFrom(...COUNTRIES), fc.constantFrom(2, 4), check),
      { numRuns: 150 },
    );
  });

  it('with thousands of campaigns, evaluating only those that can meet the floors changes no bid and no reason (property)', () => {
    const n = FLOOR_CUTOFF_MIN_WORDS * 32; // enough for decide() to cut off by floor
    // Sparse matches (one country of thirteen, one size of six), so that floors decide often.
    const MANY_COUNTRIES = [...COUNTRIES, 'FR', 'IT', 'ES', 'NL', 'SE', 'PL', 'JP', 'BR', 'CA', 'AU'];
    const MANY_SIZES = [...SIZES, '160x600', '300x600', '970x250'];
    const sparse = fc.record({
      base: fc.integer({ min: 1, max: 800 }).map((c) => c / 100),
      extra: fc.integer({ min: 0, max: 400 }).map((c) => c / 100),
      currency: fc.constantFrom('USD', 'EUR', 'GBP'),
      sizes: fc.constantFrom(...MANY_SIZES).map((x) => [x]),
      countries: fc.oneof({ weight: 99, arbitrary: fc.constantFrom(...MANY_COUNTRIES).map((x) => [x]) }, { weight: 1, arbitrary: fc.constant(undefined) }),
      mobileBoost: fc.option(fc.integer({ min: 50, max: 300 }).map((p) => p / 100), { nil: undefined }),
    });
    // Floors up to past the highest max bid (12 GBP = 24 USD), so that many requests get no bid at all.
    const imp = fc.record({ size: fc.constantFrom(...MANY_SIZES), floor: fc.integer({ min: 0, max: 3_000 }).map((c) => c / 100) });
    fc.assert(
      fc.property(fc.array(sparse, { minLength: n, maxLength: n + 200 }), fc.array(imp, { minLength: 1, maxLength: 2 }), fc.constantFrom(...COUNTRIES), fc.constantFrom(2, 4), check),
      { numRuns: 30, endOnFailure: true }, // shrinking thousands of campaigns would take minutes
    );
  }, 60_000);

  it('with thousands of campaigns, a floor above every max bid is still reported as below_floor when only the cheapest campaign matches', () => {
    const n = FLOOR_CUTOFF_MIN_WORDS * 32 + 100;
    // Max bids from 20.00 down to 0.01 by rank; only the last (cheapest) campaign targets the US.
    const campaigns = Array.from({ length: n }, (_, i) =>
      campaign(`c${i}`, { bid: { base: 0.01, max: (n - i) / 100 }, targeting: { countries: [i === n - 1 ? 'US' : 'FR'] } }),
    );
    const snap = snapshotOf(campaigns);
    const at = Date.parse('2026-01-12T12:00:00Z');
    const ask = (country: string, floor: number) => decideAt(snap, at, { imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: floor }], device: { geo: { country } } });
    expect(ask('US', 50).noBid).toBe('below_floor'); // the US campaign matches; its max (0.01) is far below the floor
    expect(ask('DE', 50).noBid).toBe('no_campaign');
    expect(ask('US', 0.005).bids?.[0]?.campaign.id).toBe(`c${n - 1}`);
    expect(ask('FR', 50).noBid).toBe('below_floor');
    expect(ask('FR', 30).bids?.[0]?.price).toBe(30);
    expect(ask('FR', 0.5).bids?.[0]?.price).toBe(0.5);
  });

  it("with thousands of campaigns, a deal's floor below the imp's reaches campaigns whose max bid is under the imp floor", () => {
    // OpenRTB 2.6 implementation guidance 7.11: a bid through a deal uses the deal's floor guidance.
    const n = FLOOR_CUTOFF_MIN_WORDS * 32 + 100;
    const m = n - 100; // max bid 1.00; the only US campaign, holding deal D
    const campaigns = Array.from({ length: n }, (_, i) =>
      campaign(`c${i}`, {
        bid: { base: 0.01, max: (n - i) / 100 },
        targeting: { countries: [i === m ? 'US' : 'FR'] },
        ...(i === m ? { deals: [{ id: 'D' }], openMarket: true } : {}),
      }),
    );
    const snap = snapshotOf(campaigns);
    const at = Date.parse('2026-01-12T12:00:00Z');
    const ask = (pmp?: object) => decideAt(snap, at, { imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 30, ...(pmp ? { pmp } : {}) }], device: { geo: { country: 'US' } } });
    const through = (d: ReturnType<typeof ask>) => d.bids?.map((b) => [b.campaign.id, b.price, b.deal?.id]);
    expect(through(ask({ deals: [{ id: 'D', bidfloor: 0.5 }] }))).toEqual([[`c${m}`, 0.5, 'D']]);
    expect(through(ask({ private_auction: 1, deals: [{ id: 'D', bidfloor: 0.75 }] }))).toEqual([[`c${m}`, 0.75, 'D']]);
    expect(ask().noBid).toBe('below_floor'); // the open market faces the imp's 30
    expect(ask({ deals: [{ id: 'D' }] }).noBid).toBe('below_floor'); // a deal without a floor leaves the imp's
    expect(ask({ deals: [{ id: 'D', bidfloor: 2 }] }).noBid).toBe('below_floor'); // above the campaign's max
    expect(ask({ deals: [{ id: 'OTHER', bidfloor: 0.5 }] }).noBid).toBe('below_floor'); // a deal it does not hold
  });

  it("with thousands of campaigns, a video's duration floors below the imp's reach campaigns whose max bid is under the imp floor", () => {
    // OpenRTB 2.6 implementation guidance 7.11.2: a video bid faces the Video object's floor guidance.
    const n = FLOOR_CUTOFF_MIN_WORDS * 32 + 100;
    const m = n - 100; // max bid 1.00; the only US campaign, with a 15 s and a 30 s spot
    const spot = (d: number) => ({ id: `v${d}`, type: 'video' as const, vast: '<VAST version="4.0"/>', duration: d, mimes: ['video/mp4'], protocols: [3] });
    const campaigns = Array.from({ length: n }, (_, i) =>
      campaign(`c${i}`, { bid: { base: 0.01, max: (n - i) / 100 }, targeting: { countries: [i === m ? 'US' : 'FR'] }, ...(i === m ? { creatives: [spot(30), spot(15)] } : {}) }),
    );
    const snap = snapshotOf(campaigns);
    const at = Date.parse('2026-01-12T12:00:00Z');
    const ask = (video: object) => decideAt(snap, at, { imp: [{ id: '1', video: { mimes: ['video/mp4'], ...video }, bidfloor: 30 }], device: { geo: { country: 'US' } } });
    const bid = (d: ReturnType<typeof ask>) => d.bids?.map((b) => [b.campaign.id, b.creative.id, b.price]);
    expect(bid(ask({ mincpmpersec: 0.02 }))).toEqual([[`c${m}`, 'v30', 0.6]]);
    expect(bid(ask({ mincpmpersec: 0.05 }))).toEqual([[`c${m}`, 'v15', 0.75]]); // 30 s would be 1.50, over max 1.00
    expect(bid(ask({ durfloors: [{ maxdur: 20, bidfloor: 0.4 }, { mindur: 21, bidfloor: 3 }] }))).toEqual([[`c${m}`, 'v15', 0.4]]);
    expect(bid(ask({ durfloors: [{ mindur: 10, maxdur: 40, bidfloor: 0.9 }], minduration: 5 }))).toEqual([[`c${m}`, 'v30', 0.9]]);
    expect(ask({ mincpmpersec: 0.1 }).noBid).toBe('below_floor'); // 1.50 and 3.00: both over max
    expect(ask({}).noBid).toBe('below_floor'); // the imp's 30
    expect(ask({ durfloors: [{ mindur: 40, bidfloor: 0.1 }] }).noBid).toBe('below_floor'); // no range holds 15 or 30 s: the imp's 30
  });

  it('with thousands of campaigns, a match just past the floor cut-off, inside the chunk the scan ended in, is still found', () => {
    // The scan stops at the word holding the last campaign that reaches the floor, in the middle of
    // a chunk; the only matching campaign sits a few words further on in that same chunk.
    const words = CHUNK_WORDS * Math.ceil(FLOOR_CUTOFF_MIN_WORDS / CHUNK_WORDS) + 3;
    const reaching = words * 32 - 10;
    const match = words * 32 + 5;
    const n = match + 100;
    const campaigns = Array.from({ length: n }, (_, i) =>
      campaign(`c${i}`, { bid: { base: 0.01, max: (n - i) / 100 }, targeting: { countries: [i === match ? 'US' : 'FR'] } }),
    );
    const snap = snapshotOf(campaigns);
    const at = Date.parse('2026-01-12T12:00:00Z');
    const floor = (n - (reaching - 1)) / 100; // campaigns 0 .. reaching-1 reach it
    const ask = (country: string) => decideAt(snap, at, { imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: floor }], device: { geo: { country } } });
    expect(snap.index.wordsReaching(floor * (1 - 1e-9))).toBe(words);
    expect(ask('US').noBid).toBe('below_floor');
    expect(ask('DE').noBid).toBe('no_campaign');
    expect(ask('FR').bids?.[0]?.price).toBe(floor);
  });

  it('with thousands of campaigns, the below-floor check tries where recent requests found a match, and every reason is still the request\'s own', () => {
    // Everything but two campaigns targets France. Under the high floor: a US campaign (flight
    // ending in February) and, further on, a German one with a creative of attribute 1. The check
    // remembers the words where it found a match and tries them first for later requests: what a
    // request is told must depend on that request alone.
    const n = (FLOOR_CUTOFF_MIN_WORDS + 4 * CHUNK_WORDS) * 32;
    const reaching = (FLOOR_CUTOFF_MIN_WORDS + CHUNK_WORDS) * 32; // campaigns 0 .. reaching-1 reach the high floor
    const de = reaching + 3 * 32 + 7;
    const us = n - 20;
    const campaigns = Array.from({ length: n }, (_, i) =>
      campaign(`c${i}`, {
        bid: { base: 0.01, max: (n - i) / 100 },
        targeting: { countries: [i === us ? 'US' : i === de ? 'DE' : 'FR'] },
        ...(i === us ? { end: '2026-02-01T00:00:00Z' } : {}),
        ...(i === de ? { creatives: [{ id: 'cr-de', type: 'banner' as const, w: 300, h: 250, attrs: [1], html: '<img src="https://cdn.advertiser.example/a.png">' }] } : {}),
      }),
    );
    const snap = snapshotOf(campaigns);
    const january = Date.parse('2026-01-12T12:00:00Z');
    const march = Date.parse('2026-03-12T12:00:00Z');
    const high = (n - (reaching - 1)) / 100;
    const low = (n - de) / 100; // the German campaign reaches it
    const ask = (at: number, country: string, floor = high, battr: number[] = []) =>
      decideAt(snap, at, { imp: [{ id: '1', banner: { w: 300, h: 250, battr }, bidfloor: floor }], device: { geo: { country } } }).noBid;
    expect(snap.index.wordsReaching(high * (1 - 1e-9))).toBeLessThan(Math.floor(de / 32));
    expect(ask(january, 'US')).toBe('below_floor'); // found by the chunk scan, its word remembered
    expect(ask(march, 'US')).toBe('no_campaign'); // the remembered word matches the country, but the flight is over
    expect(ask(january, 'DE')).toBe('below_floor'); // not in the remembered word: found by the chunk scan
    expect(ask(january, 'US')).toBe('below_floor');
    expect(ask(january, 'GB')).toBe('no_campaign');
    // The German campaign reaches this floor, so its (remembered) word is not under it: no creative fits.
    expect(ask(january, 'DE', low, [1])).toBe('no_creative_fit');
    expect(ask(january, 'DE', high, [1])).toBe('below_floor');
  });

  it('a chunk scan never walks into the next chunk, where an earlier request left its candidates', () => {
    // Two chunks: the first 256 campaigns target the US with a creative of attribute 1; the last
    // targets France only, without attributes. A French request leaves that campaign in the second
    // chunk's candidates; a US request blocking attribute 1 finds no creative in the first chunk and
    // must not bid with the French campaign.
    const n = CHUNK_WORDS * 32 + 20;
    const us = (i: number) =>
      campaign(`c${i}`, {
        bid: { base: 1, max: 3 },
        targeting: { countries: ['US'] },
        creatives: [{ id: `cr-c${i}`, type: 'banner', w: 300, h: 250, attrs: [1], html: '<img src="https://cdn.advertiser.example/a.png">' }],
      });
    const fr = campaign('fr', { bid: { base: 0.5, max: 0.5 }, targeting: { countries: ['FR'] } });
    const snap = snapshotOf([...Array.from({ length: n - 1 }, (_, i) => us(i)), fr]);
    const at = Date.parse('2026-01-12T12:00:00Z');
    const ask = (country: string, battr: number[]) => decideAt(snap, at, { imp: [{ id: '1', banner: { w: 300, h: 250, battr } }], device: { geo: { country } } });
    expect(snap.index.campaigns[n - 1].id).toBe('fr'); // ranked last: in the second chunk
    expect(ask('FR', []).bids?.[0]?.campaign.id).toBe('fr');
    expect(ask('US', [1]).noBid).toBe('no_creative_fit');
    expect(ask('US', []).bids?.[0]?.campaign.id).toBe('c0');
  });
});
