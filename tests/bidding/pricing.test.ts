/**
 * Prices: base x multipliers capped at max bid; 4 decimals; raised to the floor when max bid allows;
 * never above max bid, never below the floor, in any currency.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { biddablePrice, campaignPrice } from '../../src/bidding/pricing.js';
import { Currencies } from '../../src/currency/currencies.js';
import { compileCampaign, type CompiledCampaign } from '../../src/targeting/compiled-campaign.js';
import { NO_AUDIENCE } from '../../src/audiences/audience-service.js';
import type { ImpView } from '../../src/openrtb/request-view.js';
import { campaign, view } from './support.js';

const usdEur = (eurPerUsd = 0.8) => new Currencies({ base: 'USD', rates: { EUR: eurPerUsd } });
const compiled = (base: number, max: number, currency = 'USD', currencies = usdEur(), extra = {}): CompiledCampaign =>
  compileCampaign(campaign('p', { currency, bid: { base, max }, ...extra }), undefined, currencies);
const imp = (bidfloor?: number, bidfloorcur?: string): ImpView =>
  view({ imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor, bidfloorcur }] }).imps[0];

/** A banner creative: its floor is the deal's or the imp's (no duration guidance applies). */
const BANNER = compiled(1, 2).banners[0];

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
const floor4 = (x: number) => Math.floor(x * 1e4 + 1e-7) / 1e4;
const onGrid = (x: number) => Math.abs(x * 1e4 - Math.round(x * 1e4)) < 1e-6;

describe('campaignPrice', () => {
  const device = (deviceType?: number, os?: string) => ({ deviceType, os, browser: undefined });

  it('multiplies base by every multiplier that applies', () => {
    const c = compiled(1, 10, 'USD', usdEur(), { multipliers: { deviceType: { 4: 1.5 }, os: { iOS: 2 }, country: { GB: 1.2 } } });
    const req = view({ device: { geo: { country: 'GBR' } } });
    expect(campaignPrice(c, req, device(4, 'ios'), NO_AUDIENCE, 1)).toBeCloseTo(3.6, 10);
    expect(campaignPrice(c, req, device(2, 'ios'), NO_AUDIENCE, 1)).toBeCloseTo(2.4, 10);
    expect(campaignPrice(c, view({}), device(undefined, undefined), NO_AUDIENCE, 1)).toBe(1);
  });

  it('applies the deal multiplier and caps the product at max bid', () => {
    const c = compiled(2, 5, 'USD', usdEur(), { multipliers: { deviceType: { 4: 2 } } });
    expect(campaignPrice(c, view({}), device(4), NO_AUDIENCE, 1)).toBe(4);
    expect(campaignPrice(c, view({}), device(4), NO_AUDIENCE, 1.5)).toBe(5);
    expect(campaignPrice(c, view({}), device(2), NO_AUDIENCE, 1.5)).toBe(3);
  });

  it('never exceeds max bid, whatever the multipliers (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (base, extra, m1, m2) => {
          const c = compiled(base, base + extra, 'USD', usdEur(), { multipliers: { deviceType: { 4: m1 }, os: { android: m2 } } });
          const p = campaignPrice(c, view({}), device(4, 'android'), NO_AUDIENCE, m2);
          expect(p).toBeLessThanOrEqual(base + extra);
          expect(p).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('biddablePrice', () => {
  const cur = usdEur();

  it('bids the wanted price rounded to 4 decimals when above the floor', () => {
    expect(biddablePrice(compiled(1, 2), 1.23456, imp(0.5), undefined, BANNER, 'USD', cur)).toBe(1.2346);
    expect(biddablePrice(compiled(1, 2), 1.23454, imp(), undefined, BANNER, 'USD', cur)).toBe(1.2345);
  });

  it('rounding never takes the price above max bid', () => {
    expect(biddablePrice(compiled(1, 1.23459), 1.23459, imp(), undefined, BANNER, 'USD', cur)).toBe(1.2345);
  });

  it('a floor between price and max raises the price to the floor, rounded up', () => {
    expect(biddablePrice(compiled(1, 2), 1, imp(1.5), undefined, BANNER, 'USD', cur)).toBe(1.5);
    expect(biddablePrice(compiled(1, 2), 1, imp(1.23451), undefined, BANNER, 'USD', cur)).toBe(1.2346);
  });

  it('a floor above max bid, or one that cannot be met in 4 decimals within max, is a no-bid (-1)', () => {
    expect(biddablePrice(compiled(1, 2), 1, imp(2.0001), undefined, BANNER, 'USD', cur)).toBe(-1);
    expect(biddablePrice(compiled(1, 1.00005), 1, imp(1.00001), undefined, BANNER, 'USD', cur)).toBe(-1); // 1.0001 > max
  });

  it('a floor equal to max bid after a conversion with float noise still bids max (0.56 EUR = 0.7000000000000001 USD)', () => {
    expect(biddablePrice(compiled(0.5, 0.7), 0.5, imp(0.56, 'EUR'), undefined, BANNER, 'USD', cur)).toBe(0.7);
  });

  it('converts the campaign\'s currency, the floor\'s and the response\'s', () => {
    // campaign in EUR (1.00 EUR = 1.25 USD), floor in USD, answer in USD
    expect(biddablePrice(compiled(1, 2, 'EUR'), 1, imp(1), undefined, BANNER, 'USD', cur)).toBe(1.25);
    // same campaign answering in EUR: the USD floor 1.50 is 1.20 EUR
    expect(biddablePrice(compiled(1, 2, 'EUR'), 1, imp(1.5), undefined, BANNER, 'EUR', cur)).toBe(1.2);
    // a floor in a currency without a rate cannot be checked: no bid
    expect(biddablePrice(compiled(1, 2), 1, imp(0.01, 'CHF'), undefined, BANNER, 'USD', cur)).toBe(-1);
  });

  it('the deal floor applies when bidding through the deal', () => {
    const deal = (bidfloor: number) => view({ imp: [{ id: '1', banner: { w: 300, h: 250 }, pmp: { deals: [{ id: 'D', bidfloor }] } }] }).imps[0].deals[0];
    expect(biddablePrice(compiled(1, 5), 1, imp(0.5), deal(3), BANNER, 'USD', cur)).toBe(3);
    expect(biddablePrice(compiled(1, 5), 1, imp(0.5), deal(6), BANNER, 'USD', cur)).toBe(-1);
    expect(biddablePrice(compiled(1, 5), 1, imp(0.5), undefined, BANNER, 'USD', cur)).toBe(1); // the open auction ignores it
    // It takes the imp floor's place, even below it (OpenRTB 2.6 implementation guidance 7.11)...
    expect(biddablePrice(compiled(1, 5), 1, imp(4), deal(2), BANNER, 'USD', cur)).toBe(2);
    expect(biddablePrice(compiled(1, 3), 1, imp(4), deal(2), BANNER, 'USD', cur)).toBe(2); // max 3 could not meet the imp's 4
    // ...and a deal without a floor of its own leaves the imp's.
    expect(biddablePrice(compiled(1, 5), 1, imp(4), deal(0), BANNER, 'USD', cur)).toBe(4);
    expect(biddablePrice(compiled(1, 3), 1, imp(4), deal(0), BANNER, 'USD', cur)).toBe(-1);
  });

  it('never above max bid, never below the floor, always 4 decimals, in any currency (property)', () => {
    const currency = fc.constantFrom('USD', 'EUR');
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 20, noNaN: true }), // EUR per USD
        fc.double({ min: 0.01, max: 100, noNaN: true }), // base
        fc.double({ min: 0, max: 100, noNaN: true }), // max - base
        fc.double({ min: 0, max: 1, noNaN: true }), // wanted, as a share of the way from base to max
        fc.oneof(fc.constant(0), fc.double({ min: 0, max: 250, noNaN: true })), // floor
        currency, // campaign currency
        currency, // floor currency
        currency, // response currency
        (rate, base, extra, share, floor, cCur, fCur, rCur) => {
          const currencies = usdEur(rate);
          const max = base + extra;
          const c = compiled(base, max, cCur, currencies);
          const wanted = base + share * extra;
          const p = biddablePrice(c, wanted, imp(floor, fCur), undefined, BANNER, rCur, currencies);
          const maxR = currencies.convert(max, cCur, rCur);
          const floorR = currencies.convert(floor, fCur, rCur);
          const wantedR = round4(currencies.convert(wanted, cCur, rCur));
          if (p === -1) {
            // only when the floor cannot be met within max bid (or the price would round to zero)
            expect(floorR > floor4(maxR) - 1e-9 || Math.min(wantedR, floor4(maxR)) <= 0).toBe(true);
            return;
          }
          expect(p).toBeGreaterThan(0);
          expect(onGrid(p)).toBe(true);
          expect(p).toBeLessThanOrEqual(maxR + 1e-9);
          expect(p).toBeGreaterThanOrEqual(floorR - 1e-9);
          // when the floor does not bind, the bid is the wanted price (capped at max), not more
          if (floorR <= Math.min(wantedR, floor4(maxR))) expect(p).toBe(Math.min(wantedR, floor4(maxR)));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
