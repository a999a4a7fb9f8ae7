/**
 * Prices in notices (`p`, `m`, `l`, and a conversion's `value`) are plain decimals: digits,
 * optionally a point and more digits. Everything else `Number()` would have taken (hex, signs,
 * exponents, blanks, a bare point) is refused with `400 bad_price`: `p=-0` used to record a billing
 * of 0, `p=1e-400` one of 0 too, `p=0x1` one of 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { identityQuery, type BidIdentity } from '../../src/events/bid-identity.js';
import { parsePlainDecimal, readNotice, type AcceptedNotice } from '../../src/events/notices.js';
import { NoticeSigner, parseSigningKeys } from '../../src/events/notice-signer.js';
import { Currencies } from '../../src/currency/currencies.js';
import { startBidder, httpRequest, type TestBidder } from '../helpers/bidder.js';
import { RecordingSink, bannerRequest, clickUrl, pathOf, substitute } from '../helpers/notice-kit.js';

const KEY = 'test:0123456789abcdef0123456789abcdef';
const signer = new NoticeSigner(parseSigningKeys(KEY));
const currencies = new Currencies({ base: 'USD', rates: { EUR: 0.8 } });
const nowSec = 1_800_000_000;
const id: BidIdentity = { bidId: 'b1', requestId: 'r1', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId: 'c', creativeId: 'cr', dealId: '', price: 20, currency: 'USD', issuedAt: nowSec };
const read = (type: 'win' | 'billing' | 'loss', extra: string) =>
  readNotice(type, 'main', new URLSearchParams(`${identityQuery(id, signer)}&${extra}`), { signer, currencies, nowSec, maxAgeSec: 3600 });

const ACCEPTED: [string, number][] = [
  ['0', 0],
  ['1', 1],
  ['0.5', 0.5],
  ['12.345', 12.345],
  ['007', 7],
  ['1.50', 1.5],
  ['19.999999', 19.999999],
];
const REFUSED = ['0x1', '-0', '-1', '+1', '1e-400', '1e3', '1E3', '1e0', 'Infinity', 'NaN', ' 1', '1 ', '1.', '.5', '1,5', '0b1', '0o7', '1_000', '١', '9'.repeat(400)];

describe('notice prices are plain decimals', () => {
  it.each(ACCEPTED)('%s is accepted as %d', (text, n) => {
    expect(parsePlainDecimal(text)).toBe(n);
    const billing = read('billing', `p=${encodeURIComponent(text)}`) as AcceptedNotice;
    expect(billing.event).toMatchObject({ clear_cpm_base: n });
    expect(Object.is((billing.event as { clear_cpm_base: number }).clear_cpm_base, n)).toBe(true);
    expect((read('win', `p=1&m=${encodeURIComponent(text)}`) as AcceptedNotice).minToWinBase).toBe(n);
  });

  it.each(REFUSED)('%j is refused with bad_price (p, m and l)', (text) => {
    expect(parsePlainDecimal(text)).toBeUndefined();
    expect(read('billing', `p=${encodeURIComponent(text)}`)).toBe('bad_price');
    expect(read('win', `p=${encodeURIComponent(text)}`)).toBe('bad_price');
    expect(read('win', `p=1&m=${encodeURIComponent(text)}`)).toBe('bad_price');
    expect(read('loss', `l=${encodeURIComponent(text)}`)).toBe('bad_price');
    expect(read('loss', `l=1&m=${encodeURIComponent(text)}`)).toBe('bad_price');
  });

  it('an empty or unsubstituted price is still "no price" (the bid price stands in)', () => {
    expect((read('billing', 'p=') as AcceptedNotice).priceMissing).toBe(true);
    expect((read('billing', 'p=${AUCTION_PRICE}') as AcceptedNotice).priceMissing).toBe(true);
  });

  it('any accepted string is a plain decimal and reads as the number it writes (property)', () => {
    // Arbitrary strings over the characters numbers are written with: whatever is accepted must match
    // the plain-decimal shape and be exactly the number JavaScript reads from that decimal.
    const chars = fc.constantFrom(...'0123456789.-+eExXabcfinINFAyt _,'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 12 }), (s) => {
        const n = parsePlainDecimal(s);
        if (n === undefined) return;
        expect(s).toMatch(/^[0-9]+(\.[0-9]+)?$/);
        expect(Number.isFinite(n) && n >= 0 && !Object.is(n, -0)).toBe(true);
        expect(n).toBe(Number(s));
        expect(n).toBe(Number.parseFloat(s));
      }),
      { numRuns: 5_000 },
    );
    // And every plain decimal is accepted, as that number.
    const decimal = fc
      .tuple(fc.stringMatching(/^[0-9]{1,8}$/), fc.option(fc.stringMatching(/^[0-9]{1,8}$/), { nil: undefined }))
      .map(([i, f]) => (f === undefined ? i : `${i}.${f}`));
    fc.assert(
      fc.property(decimal, (s) => {
        expect(parsePlainDecimal(s)).toBe(Number.parseFloat(s));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('through the notice routes', () => {
  let bidder: TestBidder;
  const sink = new RecordingSink();
  beforeAll(async () => {
    bidder = await startBidder({ configDir: 'config', events: sink, env: { NOTICE_SIGNING_KEYS: KEY } });
  });
  afterAll(() => bidder?.close());

  it('p=-0, p=0x1 and p=1e-400 on a billing, and value=-0 on a conversion, get 400 bad_price and record nothing', async () => {
    const r = await bidder.post('/bid', bannerRequest('req-prices'));
    expect(r.status).toBe(200);
    const bid = r.json().seatbid[0].bid[0] as { id: string; burl: string; adm: string };
    for (const price of ['-0', '0x1', '1e-400']) {
      const a = await httpRequest(bidder.port, 'GET', pathOf(substitute(bid.burl, { price, currency: 'USD' })));
      expect([a.status, a.text], price).toEqual([400, 'bad_price']);
    }
    const click = await httpRequest(bidder.port, 'GET', pathOf(clickUrl(bid.adm)!));
    const token = new URL(String(click.headers.location)).searchParams.get('dsp_click')!;
    for (const value of ['-0', '0x10', '1e2']) {
      const c = await httpRequest(bidder.port, 'GET', `/notice/conversion?click=${encodeURIComponent(token)}&order=o-${value}&value=${encodeURIComponent(value)}`);
      expect(c.status, value).toBe(400);
    }
    await new Promise((res) => setTimeout(res, 30));
    expect(sink.events.filter((e) => e.type === 'billing' || e.type === 'conversion')).toEqual([]);
    // A plain one goes through.
    expect((await httpRequest(bidder.port, 'GET', pathOf(substitute(bid.burl, { price: '0.25', currency: 'USD' })))).status).toBe(204);
    expect((await httpRequest(bidder.port, 'GET', `/notice/conversion?click=${encodeURIComponent(token)}&order=o-ok&value=12.5`)).status).toBe(204);
  });
});
