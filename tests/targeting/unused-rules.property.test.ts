/**
 * The exchange, device make and model, connection type, carrier and video placement rules are
 * independent of each other and of every other campaign: giving one of them to some campaigns
 * changes no other campaign's eligibility, and a campaign that gets it stays eligible exactly where
 * it was and the rule matches (checked against a plain reading of the rule). A rule no campaign
 * uses adds nothing to a request's plan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Campaign, ConfigBundle, Targeting } from '../../src/campaigns/schema.js';
import { Currencies } from '../../src/currency/currencies.js';
import { TargetingIndex, type DeviceFacts } from '../../src/targeting/targeting-index.js';
import type { BidRequestView } from '../../src/openrtb/request-view.js';
import { bitList, campaign, view } from '../bidding/support.js';
import { CandidateSearch } from '../../src/targeting/candidate-search.js';

const NOW = Date.parse('2026-01-12T12:00:00Z');
const VIDEO = { id: 'v', type: 'video' as const, vast: '<VAST/>', duration: 15, mimes: ['video/mp4'], protocols: [3] };
const EXCHANGES = ['main', 'second', 'third'];
const MAKES = ['Apple', 'apple', 'SAMSUNG', 'Google'];
const MODELS = ['iPhone', 'IPHONE', 'Pixel 8', 'Galaxy S24'];
const CARRIERS = ['Verizon', 'VERIZON', 'T-Mobile', 'O2'];

const sub = <T>(values: readonly T[]) => fc.subarray([...values], { minLength: 1 });
/** One of the new rules, with values. */
const newRule: fc.Arbitrary<Targeting> = fc.oneof(
  fc.record({ allow: sub(EXCHANGES) }).map((exchanges) => ({ exchanges })),
  fc.record({ block: sub(EXCHANGES) }).map((exchanges) => ({ exchanges })),
  sub(MAKES).map((deviceMakes) => ({ deviceMakes })),
  sub(MODELS).map((deviceModels) => ({ deviceModels })),
  sub([0, 1, 2, 3, 4, 5, 6, 7]).map((connectionTypes) => ({ connectionTypes })),
  sub(CARRIERS).map((carriers) => ({ carriers })),
  sub([1, 2, 3, 4]).map((videoPlacements) => ({ videoPlacements })),
);
/** What a campaign has before: some existing rules, and maybe one of the new ones already. */
const startingRules: fc.Arbitrary<Targeting> = fc
  .record({ countries: fc.option(sub(['US', 'DE', 'FR']), { nil: undefined }), deviceTypes: fc.option(sub([2, 4]), { nil: undefined }), extra: fc.option(newRule, { nil: undefined }) })
  .map(({ countries, deviceTypes, extra }) => ({ ...(countries && { countries }), ...(deviceTypes && { deviceTypes }), ...extra }));
const request = fc.record({
  exchange: fc.constantFrom(...EXCHANGES),
  country: fc.option(fc.constantFrom('US', 'DE', 'FR'), { nil: undefined }),
  devicetype: fc.option(fc.constantFrom(2, 4), { nil: undefined }),
  make: fc.option(fc.constantFrom(...MAKES, 'Nokia'), { nil: undefined }),
  model: fc.option(fc.constantFrom(...MODELS, 'iPhone 15'), { nil: undefined }),
  connectiontype: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
  carrier: fc.option(fc.constantFrom(...CARRIERS, 'Vodafone'), { nil: undefined }),
  video: fc.boolean(),
  plcmt: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
});
type Request = typeof request extends fc.Arbitrary<infer R> ? R : never;

function toView(r: Request): BidRequestView {
  const imp = r.video ? { id: '1', video: { mimes: ['video/mp4'], ...(r.plcmt !== undefined && { plcmt: r.plcmt }) } } : { id: '1', banner: { w: 300, h: 250 } };
  const { make, model, carrier, connectiontype, devicetype } = r;
  return view({ imp: [imp], device: { make, model, carrier, connectiontype, devicetype, ...(r.country && { geo: { country: r.country } }) } });
}

/** The ids of the campaigns that may bid on the request's imp. */
function eligible(campaigns: Campaign[], r: Request): Set<string> {
  const bundle: ConfigBundle = { advertisers: [{ id: 'adv', name: 'A', domains: ['a.example'] }], campaigns };
  const index = new TargetingIndex(bundle, new Currencies(undefined));
  const req = toView(r);
  const device: DeviceFacts = { deviceType: req.deviceType, os: undefined, browser: undefined };
  const search = new CandidateSearch(index);
  const reqBits = search.requestCandidates(req, device, NOW, undefined, r.exchange);
  return new Set(bitList(search.impCandidates(req.imps[0], reqBits, index.newScratch())).map((rank) => index.campaigns[rank].id));
}

/** The rule read plainly: whether it lets a campaign bid on the request. */
function matches(t: Targeting, r: Request): boolean {
  const folded = (list: string[], v: string | undefined) => v !== undefined && list.some((x) => x.toLowerCase() === v.toLowerCase());
  if (t.exchanges?.allow && !t.exchanges.allow.includes(r.exchange)) return false;
  if (t.exchanges?.block?.includes(r.exchange)) return false;
  if (t.deviceMakes && !folded(t.deviceMakes, r.make)) return false;
  if (t.deviceModels && !folded(t.deviceModels, r.model)) return false;
  if (t.carriers && !folded(t.carriers, r.carrier)) return false;
  const ct = r.connectiontype;
  if (t.connectionTypes && !(ct !== undefined && (t.connectionTypes.includes(ct) || (t.connectionTypes.includes(3) && ct >= 4))))
    return false;
  if (t.videoPlacements && !(r.video && r.plcmt !== undefined && t.videoPlacements.includes(r.plcmt))) return false;
  return true;
}

describe('the new rules, given to some campaigns', () => {
  it('change no other campaign\'s eligibility; the campaigns given one are eligible where they were and it matches', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ rules: startingRules, max: fc.integer({ min: 1, max: 50 }), gets: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        newRule,
        fc.array(request, { minLength: 1, maxLength: 5 }),
        (specs, added, requests) => {
          const before = specs.map((s, i) => campaign(`c${i}`, { bid: { base: 1, max: s.max }, targeting: s.rules, creatives: [...campaign(`c${i}`).creatives, { ...VIDEO, id: `v${i}` }] }));
          // The added rule replaces a rule of its kind the campaign may already have: `stripped` is
          // every campaign without that kind, where the campaigns given the rule start from.
          const strip = (c: Campaign) => ({ ...c, targeting: Object.fromEntries(Object.entries(c.targeting!).filter(([k]) => !(k in added))) });
          const stripped = before.map((c, i) => (specs[i].gets ? strip(c) : c));
          const after = before.map((c, i) => (specs[i].gets ? { ...c, targeting: { ...c.targeting, ...added } } : c));
          for (const r of requests) {
            const was = eligible(before, r);
            const base = eligible(stripped, r);
            const is = eligible(after, r);
            for (const [i, c] of after.entries()) {
              if (!specs[i].gets) expect(is.has(c.id), `c${i} (not given the rule)`).toBe(was.has(c.id));
              else expect(is.has(c.id), `c${i} (given ${JSON.stringify(added)})`).toBe(base.has(c.id) && matches(added, r));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a rule no campaign uses adds no operation to a request\'s plan', () => {
    const index = new TargetingIndex({ advertisers: [{ id: 'adv', name: 'A', domains: ['a.example'] }], campaigns: [campaign('plain', { targeting: { countries: ['US'] } })] }, new Currencies(undefined));
    const search = new CandidateSearch(index);
    const size = (request: object) => {
      search.planRequest(view(request), { deviceType: undefined, os: undefined, browser: undefined }, NOW, undefined, 'main');
      search.planImp(view(request).imps[0]);
      const plans = search as unknown as { requestPlan: { size: number }; impPlan: { size: number } };
      return [plans.requestPlan.size, plans.impPlan.size];
    };
    const bare = size({ imp: [{ id: '1', video: { mimes: ['video/mp4'] } }] });
    expect(size({ imp: [{ id: '1', video: { mimes: ['video/mp4'], plcmt: 1 } }], device: { make: 'Apple', model: 'iPhone', carrier: 'Verizon', connectiontype: 2 } })).toEqual(bare);
  });
});
