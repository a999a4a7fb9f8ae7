/**
 * The index narrows candidates by set operations, not by scanning: checked by the exact contents
 * of the candidate bit sets (with `count`), never by timing.
 */
import { describe, expect, it } from 'vitest';
import countries from 'i18n-iso-countries';
import type { Campaign, ConfigBundle } from '../../src/campaigns/schema.js';
import { Currencies } from '../../src/currency/currencies.js';
import { TargetingIndex, type DeviceFacts } from '../../src/targeting/targeting-index.js';
import { count } from '../../src/targeting/bitset.js';
import { normalizeCountry } from '../../src/openrtb/geo.js';
import { bitList, campaign, view } from '../bidding/support.js';
import { CandidateSearch } from '../../src/targeting/candidate-search.js';

const NO_DEVICE: DeviceFacts = { deviceType: undefined, os: undefined, browser: undefined };
const NOW = Date.parse('2026-01-12T12:00:00Z');
const COUNTRIES = Object.keys(countries.getAlpha2Codes()).sort().slice(0, 100);

/**
 * 10,000 campaigns: campaign i targets COUNTRIES[i % 100]; with r = floor(i / 100) (its round),
 * even rounds also target phones only and every tenth round blocks blocked.example, so each
 * country has 100 campaigns, 50 phone-only, 10 blocking. Built without schema validation (speed).
 */
const phoneOnly = (i: number) => Math.floor(i / 100) % 2 === 0;
const blocking = (i: number) => Math.floor(i / 100) % 10 === 0;

function bigIndex(): { index: TargetingIndex; campaigns: Campaign[] } {
  const campaigns: Campaign[] = [];
  for (let i = 0; i < 10_000; i++)
    campaigns.push(
      campaign(`c${i}`, {
        bid: { base: 1, max: 1 + (i % 97) / 10 },
        targeting: {
          countries: [COUNTRIES[i % 100]],
          ...(phoneOnly(i) ? { deviceTypes: [4] } : {}),
          ...(blocking(i) ? { domains: { block: ['blocked.example'] } } : {}),
        },
      }),
    );
  const bundle: ConfigBundle = { advertisers: [{ id: 'adv', name: 'Advertiser', domains: ['advertiser.example'] }], campaigns };
  return { index: new TargetingIndex(bundle, new Currencies(undefined)), campaigns };
}

describe('targeting index narrowing', () => {
  const { index, campaigns } = bigIndex();
  const byId = new Map(campaigns.map((c, i) => [c.id, i]));
  /** Generated positions (i) of the candidate campaigns, sorted. */
  const candidates = (request: object, device: DeviceFacts = NO_DEVICE) => {
    const bits = new CandidateSearch(index).requestCandidates(view(request), device, NOW);
    const ids = bitList(bits).map((rank) => byId.get(index.campaigns[rank].id)!);
    expect(ids.length).toBe(count(bits));
    return ids.sort((a, b) => a - b);
  };
  const expected = (keep: (i: number) => boolean) => campaigns.map((_, i) => i).filter(keep);

  it('indexes all 10,000 campaigns, ranked by max bid', () => {
    expect(index.campaigns.length).toBe(10_000);
    for (let r = 1; r < index.campaigns.length; r++) expect(index.campaigns[r - 1].maxBidBase).toBeGreaterThanOrEqual(index.campaigns[r].maxBidBase);
  });

  it('one country out of 100 leaves exactly its 100 campaigns (alpha-2 or alpha-3 in the request)', () => {
    const k = 42;
    const cc = COUNTRIES[k];
    const want = expected((i) => i % 100 === k && !phoneOnly(i)); // phone-only campaigns drop out: no device type known
    expect(candidates({ device: { geo: { country: cc } } })).toEqual(want);
    expect(candidates({ device: { geo: { country: normalizeCountry(cc) } } })).toEqual(want);
    expect(want.length).toBe(50);
  });

  it('with a phone, the country\'s phone-only campaigns join: all 100', () => {
    const k = 7;
    const got = candidates({ device: { geo: { country: COUNTRIES[k] } } }, { deviceType: 4, os: undefined, browser: undefined });
    expect(got).toEqual(expected((i) => i % 100 === k));
    expect(got.length).toBe(100);
  });

  it('a PC narrows to the non-phone half of the country', () => {
    const got = candidates({ device: { geo: { country: COUNTRIES[99] } } }, { deviceType: 2, os: undefined, browser: undefined });
    expect(got).toEqual(expected((i) => i % 100 === 99 && !phoneOnly(i)));
  });

  it('a blocked domain removes exactly the blocking campaigns', () => {
    const device = { deviceType: 4, os: undefined, browser: undefined };
    const got = candidates({ site: { domain: 'blocked.example' }, device: { geo: { country: COUNTRIES[30] } } }, device);
    expect(got).toEqual(expected((i) => i % 100 === 30 && !blocking(i)));
    expect(got.length).toBe(90);
  });

  it('no country, or a country nobody targets, leaves nothing', () => {
    expect(candidates({})).toEqual([]);
    const untargeted = Object.keys(countries.getAlpha2Codes()).sort()[150];
    expect(candidates({ device: { geo: { country: untargeted } } })).toEqual([]);
  });

  it('imp candidates narrow further by creative size', () => {
    const small = new TargetingIndex(
      {
        advertisers: [{ id: 'adv', name: 'A', domains: ['a.example'] }],
        campaigns: [
          campaign('mpu'),
          campaign('leaderboard', { creatives: [{ id: 'cr-lb', type: 'banner', w: 728, h: 90, html: '<b>x</b>' }] }),
          campaign('video', { creatives: [{ id: 'cr-v', type: 'video', vast: '<VAST/>', duration: 15, mimes: ['video/mp4'], protocols: [3] }] }),
        ],
      },
      new Currencies(undefined),
    );
    const req = view({ imp: [{ id: '1', banner: { format: [{ w: 728, h: 90 }, { w: 160, h: 600 }] } }, { id: '2', video: { mimes: ['video/mp4'] } }, { id: '3', banner: {} }] });
    const search = new CandidateSearch(small);
    const reqBits = search.requestCandidates(req, NO_DEVICE, NOW);
    expect(count(reqBits)).toBe(3);
    const ids = (k: number) => bitList(search.impCandidates(req.imps[k], reqBits, small.newScratch())).map((r) => small.campaigns[r].id).sort();
    expect(ids(0)).toEqual(['leaderboard']);
    expect(ids(1)).toEqual(['video']);
    expect(ids(2)).toEqual(['leaderboard', 'mpu']); // no size listed: any banner
  });
});
