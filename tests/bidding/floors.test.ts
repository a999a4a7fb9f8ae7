/**
 * Which floor a bid faces (OpenRTB 2.6 implementation guidance 7.11.2: the deal's guidance, else the
 * Video/Audio object's for the creative's duration, else the imp's), and the lowest floor an imp can
 * set, which the scan's cut-off relies on: it must never be above a floor some bid really faces.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { durationFloor, floorFor, lowestFloor } from '../../src/bidding/floors.js';
import { Currencies } from '../../src/currency/currencies.js';
import { compileCampaign, type CompiledCreative } from '../../src/targeting/compiled-campaign.js';
import type { Campaign } from '../../src/campaigns/schema.js';
import { campaign, view } from './support.js';

const cur = new Currencies({ base: 'USD', rates: { EUR: 0.8 } });

const creativesOf = (creatives: Campaign['creatives']): CompiledCreative[] => {
  const c = compileCampaign(campaign('c', { creatives }), undefined, cur);
  return [...c.banners, ...c.videos, ...c.audios];
};
const video = (duration: number) => creativesOf([{ id: `v${duration}`, type: 'video', vast: '<VAST version="4.0"/>', duration, mimes: ['video/mp4'], protocols: [3] }])[0];
const audio = (duration: number) => creativesOf([{ id: `a${duration}`, type: 'audio', vast: '<VAST version="4.0"/>', duration, mimes: ['audio/mpeg'] }])[0];
const banner = creativesOf([{ id: 'b', type: 'banner', w: 300, h: 250, html: '<img src="https://cdn.advertiser.example/a.png">' }])[0];
const imp = (fields: object) => view({ imp: [{ id: '1', ...fields }] }).imps[0];

describe('durationFloor', () => {
  const g = (perSecond: number, ranges: { min?: number; max?: number; floor: number }[] = []) => ({
    perSecond,
    ranges: ranges.map((r) => ({ min: r.min ?? 0, max: r.max ?? Infinity, floor: r.floor })),
  });

  it('mincpmpersec: the rate times the duration', () => {
    expect(durationFloor(g(0.5), 30)).toBe(15);
    expect(durationFloor(g(0.5), 6)).toBe(3);
  });

  it('durfloors: the range holding the duration, ends included, open ends unbounded', () => {
    const tiers = g(0, [{ max: 15, floor: 5 }, { min: 16, max: 30, floor: 10 }, { min: 31, floor: 20 }]);
    expect([1, 15, 16, 30, 31, 600].map((d) => durationFloor(tiers, d))).toEqual([5, 5, 10, 10, 20, 20]);
  });

  it('says nothing (-1) for a duration no range holds', () => {
    expect(durationFloor(g(0, [{ min: 10, max: 20, floor: 4 }]), 30)).toBe(-1);
    expect(durationFloor(g(0, [{ min: 10, max: 20, floor: 4 }]), 9)).toBe(-1);
  });

  it('where several apply (overlapping ranges, or both forms), the highest', () => {
    expect(durationFloor(g(0, [{ max: 30, floor: 4 }, { min: 20, floor: 9 }]), 25)).toBe(9);
    expect(durationFloor(g(0.5, [{ max: 30, floor: 4 }]), 30)).toBe(15);
    expect(durationFloor(g(0.1, [{ max: 30, floor: 4 }]), 30)).toBe(4);
  });

  it('a range floor of 0 is guidance too (free), unlike no range at all', () => {
    expect(durationFloor(g(0, [{ max: 30, floor: 0 }]), 15)).toBe(0);
  });
});

describe('floorFor', () => {
  const v = { mimes: ['video/mp4'], protocols: [3] };

  it('a video bid faces the Video guidance in place of the imp floor, above or below it', () => {
    expect(floorFor(imp({ video: { ...v, mincpmpersec: 0.2 }, bidfloor: 10 }), undefined, video(30), 'USD', cur)).toBeCloseTo(6, 10);
    expect(floorFor(imp({ video: { ...v, mincpmpersec: 0.5 }, bidfloor: 1 }), undefined, video(30), 'USD', cur)).toBe(15);
  });

  it('the imp floor when the guidance has no range for the duration, and for banner bids', () => {
    const i = imp({ video: { ...v, durfloors: [{ maxdur: 15, bidfloor: 8 }] }, banner: { w: 300, h: 250 }, bidfloor: 2 });
    expect(floorFor(i, undefined, video(15), 'USD', cur)).toBe(8);
    expect(floorFor(i, undefined, video(30), 'USD', cur)).toBe(2);
    expect(floorFor(i, undefined, banner, 'USD', cur)).toBe(2);
  });

  it("video guidance does not bind audio bids, nor audio's video", () => {
    const i = imp({ video: { ...v, mincpmpersec: 1 }, audio: { mimes: ['audio/mpeg'], durfloors: [{ bidfloor: 3 }] }, bidfloor: 0.5 });
    expect(floorFor(i, undefined, audio(30), 'USD', cur)).toBe(3);
    expect(floorFor(i, undefined, video(30), 'USD', cur)).toBe(30);
  });

  it("a deal's guidance comes first; without any there, the media's, then the imp's", () => {
    const deals = [
      { id: 'BF', bidfloor: 4 },
      { id: 'DUR', durfloors: [{ mindur: 20, bidfloor: 7 }] },
      { id: 'NONE' },
      { id: 'BOTH', bidfloor: 2, mincpmpersec: 0.3 },
    ];
    const i = imp({ video: { ...v, mincpmpersec: 0.5 }, banner: { w: 300, h: 250 }, bidfloor: 1, pmp: { deals } });
    const deal = (id: string) => i.deals.find((d) => d.id === id);
    expect(floorFor(i, deal('BF'), video(30), 'USD', cur)).toBe(4);
    expect(floorFor(i, deal('DUR'), video(30), 'USD', cur)).toBe(7);
    expect(floorFor(i, deal('DUR'), video(15), 'USD', cur)).toBe(7.5); // no deal range for 15 s: the video's 0.5 x 15
    expect(floorFor(i, deal('DUR'), banner, 'USD', cur)).toBe(1); // deal durfloors bind video and audio only
    expect(floorFor(i, deal('NONE'), video(30), 'USD', cur)).toBe(15);
    expect(floorFor(i, deal('BOTH'), video(30), 'USD', cur)).toBe(9); // both forms sent: the higher
    expect(floorFor(i, deal('BOTH'), banner, 'USD', cur)).toBe(2);
  });

  it('in the currency of the object that carries the guidance, converted to the bid currency', () => {
    const i = imp({ video: { ...v, mincpmpersec: 0.2 }, bidfloorcur: 'EUR', pmp: { deals: [{ id: 'D', mincpmpersec: 0.4, bidfloorcur: 'EUR' }] } });
    expect(floorFor(i, undefined, video(30), 'USD', cur)).toBeCloseTo(7.5, 10); // 6 EUR
    expect(floorFor(i, i.deals[0], video(30), 'EUR', cur)).toBeCloseTo(12, 10);
    expect(floorFor(imp({ video: { ...v, mincpmpersec: 0.2 }, bidfloorcur: 'CHF' }), undefined, video(30), 'USD', cur)).toBeNaN();
  });
});

describe('lowestFloor', () => {
  it('is the lowest of the open market and every deal, guidance at the shortest accepted duration', () => {
    expect(lowestFloor(imp({ video: { mimes: ['video/mp4'], mincpmpersec: 0.2, minduration: 15 }, bidfloor: 10 }), 'USD', cur)).toBeCloseTo(3, 10);
    expect(lowestFloor(imp({ video: { mimes: ['video/mp4'], mincpmpersec: 0.2, rqddurs: [30, 60] }, bidfloor: 10 }), 'USD', cur)).toBeCloseTo(6, 10);
    expect(lowestFloor(imp({ banner: { w: 300, h: 250 }, bidfloor: 3, pmp: { private_auction: 1, deals: [{ id: 'D', bidfloor: 5 }, { id: 'E', durfloors: [{ bidfloor: 4 }] }] } }), 'USD', cur)).toBe(3); // E's banner bids face the imp's 3
    expect(lowestFloor(imp({ banner: { w: 300, h: 250 }, bidfloor: 3, pmp: { private_auction: 1, deals: [{ id: 'D', bidfloor: 5 }] } }), 'USD', cur)).toBe(5);
  });

  // The scan's cut-off skips every campaign whose max bid is under it: it must be a true lower bound.
  it('is never above the floor any creative faces through any deal or none (property)', () => {
    const money = fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 50, noNaN: true }));
    const currency = fc.constantFrom('USD', 'EUR');
    const guidance = fc.record(
      {
        mincpmpersec: fc.double({ min: 0, max: 2, noNaN: true }),
        durfloors: fc.array(fc.record({ mindur: fc.integer({ min: 0, max: 60 }), maxdur: fc.integer({ min: 0, max: 120 }), bidfloor: money }, { requiredKeys: ['bidfloor'] }), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    );
    const deal = fc
      .tuple(fc.option(money, { nil: undefined }), guidance, currency)
      .map(([bidfloor, g, bidfloorcur]) => ({ ...(bidfloor !== undefined ? { bidfloor } : {}), ...g, bidfloorcur }));
    fc.assert(
      fc.property(
        money,
        currency,
        guidance,
        guidance,
        fc.array(deal, { maxLength: 3 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 4 }),
        (bidfloor, bidfloorcur, vg, ag, deals, privateAuction, minduration, durations) => {
          const i = imp({
            banner: { w: 300, h: 250 },
            video: { mimes: ['video/mp4'], minduration, ...vg },
            audio: { mimes: ['audio/mpeg'], minduration, ...ag },
            bidfloor,
            bidfloorcur,
            pmp: { private_auction: privateAuction ? 1 : 0, deals: deals.map((d, k) => ({ ...d, id: `D${k}` })) },
          });
          const low = lowestFloor(i, 'USD', cur);
          const creatives = [banner, ...durations.filter((d) => d >= minduration).flatMap((d) => [video(d), audio(d)])];
          const routes = [...(privateAuction && i.deals.length > 0 ? [] : [undefined]), ...i.deals];
          for (const d of routes) for (const cr of creatives) expect(floorFor(i, d, cr, 'USD', cur)).toBeGreaterThanOrEqual(low - 1e-9);
        },
      ),
      { numRuns: 400 },
    );
  });
});
