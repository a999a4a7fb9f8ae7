/**
 * Campaign goals: a cpc, cpa or roas campaign bids target x predicted outcome (within max bid, never
 * raised to a floor it is not worth), the CPM fallback while the models are cold, an optimistic
 * price from the observed rate on its exploration share, and the configuration refuses a goal without a target.
 */
import { describe, expect, it } from 'vitest';
import { decideFor } from '../../src/bidding/bidder.js';
import { NO_AUDIENCE } from '../../src/audiences/audience-service.js';
import { EXPLORE_OPTIMISM, NO_MODELS, type ModelFamily, type OutcomeModels } from '../../src/models/outcome-models.js';
import { tableOf } from '../../src/models/model-table.js';
import { FeatureVector } from '../../src/models/features.js';
import type { Campaign } from '../../src/campaigns/schema.js';
import { ConfigError } from '../../src/errors.js';
import { campaign, snapshotOf, view } from './support.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

/** A one-slot table: every feature reads the same weight (0: probability 0.5 whatever the request). */
const flat = (w: number) => tableOf(Float32Array.of(w), 1000, 100);
const family = (prior = flat(0), campaigns: [string, number][] = [], ready = true): ModelFamily => ({
  prior,
  campaigns: new Map(campaigns.map(([id, w]) => [id, flat(w)])),
  ready,
});
const models = (extra: Partial<OutcomeModels> = {}): OutcomeModels => ({
  version: 1,
  click: family(),
  conversion: family(),
  values: new Map(),
  record: false,
  ...extra,
});

const goal = (id: string, g: Campaign['goal'], bid = { base: 1, max: 5 }) => campaign(id, { bid, goal: { explore: 0, ...g } as Campaign['goal'] });
const bidOf = (snap: ReturnType<typeof snapshotOf>, m: OutcomeModels, request: object = {}) => decideFor(view(request), snap, snap.defaultExchange, NOW, NO_AUDIENCE, undefined, undefined, m);
const price = (d: ReturnType<typeof bidOf>) => d.bids?.[0].price ?? d.noBid;

describe('goals', () => {
  it('cpc bids target x P(click) x 1000, capped at max bid', () => {
    const snap = snapshotOf([goal('c', { type: 'cpc', target: 0.003 })]); // p = 0.5: 1.5 CPM
    expect(price(bidOf(snap, models()))).toBe(1.5);
    const capped = snapshotOf([goal('c', { type: 'cpc', target: 0.03 })]); // worth 15, max 5
    expect(price(bidOf(capped, models()))).toBe(5);
  });

  it('cpa multiplies P(click) by P(conversion | click); roas prices the expected value over the target', () => {
    expect(price(bidOf(snapshotOf([goal('a', { type: 'cpa', target: 0.02 })]), models()))).toBe(5 * 1); // 0.02 x 0.25 x 1000
    const roas = snapshotOf([goal('r', { type: 'roas', target: 4 })]);
    // Mean value 40: 0.25 x 40 / 4 x 1000 = 2500, capped at 5; value 0.016: 0.25 x 0.016 / 4 x 1000 = 1.
    expect(price(bidOf(roas, models({ values: new Map([['r', 0.016]]) })))).toBe(1);
    expect(price(bidOf(roas, models({ values: new Map([['r', 40]]) })))).toBe(5);
    // No conversion value known yet: the CPM fallback.
    expect(price(bidOf(roas, models()))).toBe(1);
  });

  it('uses the campaign’s own table over the prior', () => {
    const snap = snapshotOf([goal('c', { type: 'cpc', target: 0.003 })]);
    // Its own table lowers every feature's weight: the prediction, so the price, falls.
    const lower = bidOf(snap, models({ click: family(flat(0), [['c', -0.05]]) }));
    expect(lower.bids![0].price).toBeLessThan(1.5);
    expect(lower.bids![0].price).toBeGreaterThan(0.5);
    // Another campaign's table does not apply.
    expect(price(bidOf(snap, models({ click: family(flat(0), [['other', -0.05]]) })))).toBe(1.5);
  });

  it('bids the CPM fallback (bid.base) while the models are cold, and a cpm campaign is untouched', () => {
    const snap = snapshotOf([goal('c', { type: 'cpc', target: 0.003 }, { base: 0.7, max: 5 })]);
    expect(price(bidOf(snap, NO_MODELS))).toBe(0.7);
    expect(price(bidOf(snap, models({ click: family(flat(0), [], false) })))).toBe(0.7);
    // cpa needs the conversion model too.
    const cpa = snapshotOf([goal('a', { type: 'cpa', target: 0.02 }, { base: 0.7, max: 5 })]);
    expect(price(bidOf(cpa, models({ conversion: family(flat(0), [], false) })))).toBe(0.7);
    const cpm = snapshotOf([campaign('m', { bid: { base: 0.7, max: 5 }, goal: { type: 'cpm' } })]);
    expect(price(bidOf(cpm, models()))).toBe(0.7);
  });

  it('explores: on about its share of requests it prices the impression at least at the observed rate x optimism, not the CPM fallback', () => {
    expect(EXPLORE_OPTIMISM).toBe(2);
    // The model observed 100 clicks in 1,000 impressions (rate 0.1) and predicts far less here (a weight of -0.3 per feature).
    const low = (campaigns: [string, number][] = [], w = -0.3) =>
      models({ click: { prior: tableOf(Float32Array.of(w), 1000, 100), campaigns: new Map(campaigns.map(([id, r]) => [id, tableOf(Float32Array.of(0), 500, 0, r)])), ready: true } });
    const g = (explore: number) => snapshotOf([campaign('c', { bid: { base: 3, max: 5 }, goal: { type: 'cpc', target: 0.01, explore } })]);
    const snap = g(0.2);
    const priced = price(bidOf(g(0), low())) as number; // never explores: the prediction
    expect(priced).toBeGreaterThan(0);
    expect(priced).toBeLessThan(1);
    const explored = 0.01 * 0.1 * 2 * 1000; // 2: the observed rate x optimism, not bid.base 3
    const seen = new Map<unknown, number>();
    for (let i = 0; i < 2000; i++) {
      const p = price(bidOf(snap, low(), { id: `req-${i}` }));
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([priced, explored].sort());
    expect(seen.get(explored)).toBeGreaterThan(330);
    expect(seen.get(explored)).toBeLessThan(470);
    // The same request always draws the same way (the decision stays a function of its inputs).
    const once = price(bidOf(snap, low(), { id: 'req-7' }));
    for (let i = 0; i < 5; i++) expect(price(bidOf(snap, low(), { id: 'req-7' }))).toBe(once);
    const exploredId = Array.from({ length: 200 }, (_, i) => `req-${i}`).find((id) => price(bidOf(snap, low(), { id })) === explored)!;
    // A campaign with its own table explores from its own published rate (0.2 x 2; its weight 0 adds nothing to the prediction).
    expect(price(bidOf(snap, low([['c', 0.2]]), { id: exploredId }))).toBeCloseTo(0.01 * 0.4 * 1000, 9);
    // A prediction above rate x optimism is bid as it is.
    const high = price(bidOf(g(0), low([], -0.02))) as number;
    expect(high).toBeGreaterThan(explored);
    expect(price(bidOf(snap, low([], -0.02), { id: exploredId }))).toBe(high);
    // Explored, a goal's price is still not raised to a floor it is not worth.
    expect(price(bidOf(snap, low(), { id: exploredId, imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 2.5 }] }))).toBe('below_floor');
    // A cold model bids the CPM fallback, explored or not.
    expect(price(bidOf(snap, NO_MODELS, { id: exploredId }))).toBe(3);
    // cpa: the outcome is a click then a conversion; explored, its probability is at least click rate x conversion rate x optimism (0.1 x 0.05 x 2).
    const cpaModels = models({
      click: { prior: tableOf(Float32Array.of(-0.3), 1000, 100), campaigns: new Map(), ready: true },
      conversion: { prior: tableOf(Float32Array.of(-0.5), 100, 5), campaigns: new Map(), ready: true },
    });
    const cpa = (explore: number) => snapshotOf([campaign('c', { bid: { base: 3, max: 5 }, goal: { type: 'cpa', target: 0.2, explore } })]);
    const cpaPriced = price(bidOf(cpa(0), cpaModels, { id: exploredId })) as number;
    expect(cpaPriced).toBeLessThan(1);
    expect(price(bidOf(cpa(0.2), cpaModels, { id: exploredId }))).toBeCloseTo(0.2 * 0.1 * 0.05 * 2 * 1000, 9);
  });

  it('does not raise a goal’s price to a floor it is not worth; a CPM price still is', () => {
    const request = { imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 1.6 }] };
    const snap = snapshotOf([goal('c', { type: 'cpc', target: 0.003 })]); // worth 1.5
    expect(price(bidOf(snap, models(), request))).toBe('below_floor');
    expect(price(bidOf(snap, NO_MODELS, request))).toBe(1.6); // cold: bid.base 1, raised to the floor as before
    const worthIt = snapshotOf([goal('c', { type: 'cpc', target: 0.004 })]); // worth 2
    expect(price(bidOf(worthIt, models(), request))).toBe(2);
  });

  it('the better-valued campaign wins the imp', () => {
    const snap = snapshotOf([campaign('m', { bid: { base: 1.6, max: 5 } }), goal('c', { type: 'cpc', target: 0.003 })]);
    expect(bidOf(snap, models()).bids![0].campaign.id).toBe('m');
    expect(bidOf(snap, models({ click: family(flat(0.1)) })).bids![0].campaign.id).toBe('c');
  });

  it('records each bid’s features when the trainer listens, and only then', () => {
    const snap = snapshotOf([campaign('m')]);
    const request = { site: { domain: 'news.example' } };
    expect(bidOf(snap, models(), request).bids![0].features).toBeUndefined();
    const f = bidOf(snap, models({ record: true }), request).bids![0].features!;
    const expected = new FeatureVector();
    const v = view(request);
    expected.setRequest(v, { deviceType: undefined, os: undefined, browser: undefined }, 'main', NOW, NO_AUDIENCE.segments);
    expected.setImp(v.imps[0]);
    expected.setCreative(snap.index.campaigns[0].banners[0].featureHash);
    expect(Array.from(f)).toEqual(Array.from(expected.copy()));
  });
});

describe('goal validation', () => {
  const refused = (c: Campaign) => {
    try {
      snapshotOf([c]);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).errors.map((x) => `${x.path.replace(/^.*#/, '')} ${x.code}`);
    }
    throw new Error('accepted');
  };
  it('a cpc, cpa or roas goal needs a target; a cpm goal takes none; types and ranges are checked', () => {
    expect(refused(campaign('x', { goal: { type: 'cpc' } })).join()).toMatch(/goal\/target required/);
    expect(refused(campaign('x', { goal: { type: 'cpm', target: 1 } })).join()).toMatch(/goal\/target not_applicable/);
    expect(refused(campaign('x', { goal: { type: 'cpv' as 'cpc', target: 1 } })).join()).toMatch(/goal\/type enum/);
    expect(refused(campaign('x', { goal: { type: 'cpc', target: 1, explore: 0.9 } })).join()).toMatch(/goal\/explore maximum/);
    expect(() => snapshotOf([campaign('x', { goal: { type: 'roas', target: 4, explore: 0.1 } })])).not.toThrow();
  });
});
