/**
 * Google Authorized Buyers encrypted prices: the published test vectors, tampering (signature, price,
 * IV), wrong lengths and encodings, wrong keys; key parsing and `${ENV}` resolution; config
 * validation; and win/billing notices through the real HTTP server on an exchange configured with
 * keys (an encrypted price is recorded, a tampered or plaintext one refused as bad_encrypted_price).
 *
 * Test vectors, from two public sources:
 * - Google's "Decrypt price confirmations" guide (developers.google.com/authorized-buyers/rtb/
 *   response-guide/decrypt-price, formerly /ad-exchange/rtb/response-guide/decrypt-price): sample
 *   encryption key skU7Ax_NL5pPAFyKdkfZjZz2-VhIN8bjj1rVFOaJ_5o=, integrity key
 *   arO23ykdNqUQ5LEoQ0FVmPkBd7xB5CO89PDZlSjpFxo=, and the encrypted prices
 *   YWJjMTIzZGVmNDU2Z2hpN7fhCuPemCce_6msaw (100 micros), YWJjMTIzZGVmNDU2Z2hpN7fhCuPemCAWJRxOgA (1900)
 *   and YWJjMTIzZGVmNDU2Z2hpN7fhCuPemC32prpWWw (2700), all with the IV "abc123def456ghi7"; the same
 *   vectors appear in open implementations' tests (Python DoubleClickCrypto, Go adx price packages).
 * - google/openrtb-doubleclick, doubleclick-core/src/test/java/com/google/doubleclick/crypto/
 *   DoubleClickCryptoTest.java: keys sIxwz7yw62yrfoLGt12lIHKuYrK_S5kLuApI2BQe7Ac= (encryption) and
 *   v3fsVcMBMMHYzRhi7SpM0sdqwzvAxM6KPTu9OtVod5I= (integrity), IV E679B0BE000CD1400123456789ABCDEF,
 *   price 1.2 (1,200,000 micros) → 5nmwvgAM0UABI0VniavN72_sy3T6V9ohlpvOpA== (padded form).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  decryptPrice,
  encryptPrice,
  parsePriceKey,
  resolvePriceKeys,
  type PriceKeys,
} from '../../src/events/encrypted-price.js';
import { startBidder, httpRequest, validBundle, type TestBidder } from '../helpers/bidder.js';
import { RecordingSink, metric, pathOf, substitute, until } from '../helpers/notice-kit.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { ConfigError } from '../../src/errors.js';

const GOOGLE_DOC = {
  encryptionKey: 'skU7Ax_NL5pPAFyKdkfZjZz2-VhIN8bjj1rVFOaJ_5o=',
  integrityKey: 'arO23ykdNqUQ5LEoQ0FVmPkBd7xB5CO89PDZlSjpFxo=',
  iv: Buffer.from('abc123def456ghi7', 'latin1'),
  vectors: [
    ['YWJjMTIzZGVmNDU2Z2hpN7fhCuPemCce_6msaw', 100],
    ['YWJjMTIzZGVmNDU2Z2hpN7fhCuPemCAWJRxOgA', 1900],
    ['YWJjMTIzZGVmNDU2Z2hpN7fhCuPemC32prpWWw', 2700],
  ] as const,
};
const OPENRTB_DOUBLECLICK = {
  encryptionKey: 'sIxwz7yw62yrfoLGt12lIHKuYrK_S5kLuApI2BQe7Ac=',
  integrityKey: 'v3fsVcMBMMHYzRhi7SpM0sdqwzvAxM6KPTu9OtVod5I=',
  iv: Buffer.from('E679B0BE000CD1400123456789ABCDEF', 'hex'),
  cipher: '5nmwvgAM0UABI0VniavN72_sy3T6V9ohlpvOpA==',
  micros: 1_200_000,
};

function keys(k: { encryptionKey: string; integrityKey: string }): PriceKeys {
  const r = resolvePriceKeys(k, {});
  if ('errors' in r) throw new Error(JSON.stringify(r.errors));
  return r;
}
const googleKeys = keys(GOOGLE_DOC);
const dcKeys = keys(OPENRTB_DOUBLECLICK);

/** The same string with the character at `i` replaced by another web-safe base64 character. */
function flip(s: string, i: number): string {
  const c = s[i] === 'A' ? 'B' : 'A';
  return s.slice(0, i) + c + s.slice(i + 1);
}

describe('decryptPrice: published vectors', () => {
  it.each(GOOGLE_DOC.vectors)("Google's guide: %s → %i micros", (cipher, micros) => {
    expect(cipher).toHaveLength(38);
    expect(decryptPrice(cipher, googleKeys)).toBe(micros);
  });

  it("Google's vectors are reproduced by encrypting with their IV", () => {
    for (const [cipher, micros] of GOOGLE_DOC.vectors) expect(encryptPrice(micros, GOOGLE_DOC.iv, googleKeys)).toBe(cipher);
  });

  it('openrtb-doubleclick: the padded 40-character form, 1.2 CPM', () => {
    expect(decryptPrice(OPENRTB_DOUBLECLICK.cipher, dcKeys)).toBe(OPENRTB_DOUBLECLICK.micros);
    expect(decryptPrice(OPENRTB_DOUBLECLICK.cipher.slice(0, 38), dcKeys)).toBe(OPENRTB_DOUBLECLICK.micros);
    expect(encryptPrice(OPENRTB_DOUBLECLICK.micros, OPENRTB_DOUBLECLICK.iv, dcKeys)).toBe(OPENRTB_DOUBLECLICK.cipher.slice(0, 38));
  });

  it('round-trips random prices and IVs', () => {
    for (let i = 0; i < 200; i++) {
      const micros = Math.floor(Math.random() * 1e10);
      expect(decryptPrice(encryptPrice(micros, randomBytes(16), googleKeys), googleKeys)).toBe(micros);
    }
  });
});

describe('decryptPrice: refusals', () => {
  const [cipher] = GOOGLE_DOC.vectors[1];

  it('a tampered signature, price or IV fails the integrity check', () => {
    for (let i = 0; i < 37; i++) expect(decryptPrice(flip(cipher, i), googleKeys), `character ${i}`).toBe('bad_signature');
    // The last character carries 2 bits only (28 bytes = 224 bits, 38 characters = 228 bits): change its used bits.
    expect(decryptPrice(cipher.slice(0, 37) + 'w', googleKeys)).toBe('bad_signature');
  });

  it('a price changed to another valid-looking one (bytes XORed) is refused', () => {
    const bytes = Buffer.from(cipher, 'base64url');
    bytes[16 + 7] ^= 0x01; // 1900 micros → 1901, a one-bit change of the encrypted price
    expect(decryptPrice(bytes.toString('base64url'), googleKeys)).toBe('bad_signature');
  });

  it.each([
    ['empty', ''],
    ['37 characters', cipher.slice(0, 37)],
    ['39 characters', cipher + 'A'],
    ['41 characters', cipher + 'AAA'],
    ['a plain price', '1.25'],
  ])('wrong length: %s', (_label, value) => {
    expect(decryptPrice(value, googleKeys)).toBe('bad_length');
  });

  it.each([
    ['standard base64 characters', cipher.slice(0, 10) + '+/' + cipher.slice(12)],
    ['a space', cipher.slice(0, 10) + ' ' + cipher.slice(11)],
    ['padding in the wrong place', cipher.slice(0, 36) + '=='],
    ['40 characters without padding', cipher + 'AA'],
  ])('bad encoding: %s', (_label, value) => {
    expect(decryptPrice(value, googleKeys)).toBe('bad_encoding');
  });

  it('wrong keys: swapped, or another pair', () => {
    const swapped = { encryptionKey: googleKeys.integrityKey, integrityKey: googleKeys.encryptionKey };
    expect(decryptPrice(cipher, swapped)).toBe('bad_signature');
    expect(decryptPrice(cipher, dcKeys)).toBe('bad_signature');
    expect(decryptPrice(OPENRTB_DOUBLECLICK.cipher, googleKeys)).toBe('bad_signature');
  });

  it('a verified price too large for a number is refused', () => {
    expect(decryptPrice(encryptPrice(2n ** 63n, GOOGLE_DOC.iv, googleKeys), googleKeys)).toBe('out_of_range');
  });
});

describe('keys', () => {
  const raw = Buffer.from(GOOGLE_DOC.encryptionKey, 'base64url');
  it('accepts web-safe and standard base64, padded or not, of 32 bytes', () => {
    for (const text of [GOOGLE_DOC.encryptionKey, GOOGLE_DOC.encryptionKey.replace(/=$/, ''), raw.toString('base64'), ` ${raw.toString('base64')} `])
      expect(parsePriceKey(text)).toEqual(raw);
  });
  it('refuses other lengths and non-base64', () => {
    expect(parsePriceKey(raw.subarray(0, 31).toString('base64'))).toMatch(/32 bytes/);
    expect(parsePriceKey(Buffer.concat([raw, raw]).toString('base64'))).toMatch(/32 bytes/);
    expect(parsePriceKey('not a key!')).toMatch(/base64/);
  });
  it('resolves ${ENV} references, and says which variable is missing or bad', () => {
    const env = { ADX_EK: GOOGLE_DOC.encryptionKey, ADX_IK: GOOGLE_DOC.integrityKey, SHORT: 'AAAA' };
    expect(resolvePriceKeys({ encryptionKey: '${ADX_EK}', integrityKey: '${ADX_IK}' }, env)).toEqual(googleKeys);
    const missing = resolvePriceKeys({ encryptionKey: '${NOPE}', integrityKey: '${SHORT}' }, env);
    expect(missing).toEqual({ errors: { encryptionKey: 'environment variable NOPE is not set', integrityKey: expect.stringMatching(/SHORT must decode to 32 bytes/) } });
  });
});

const banner = (id: string) => ({ id, type: 'banner' as const, w: 300, h: 250, html: `<div>${id}</div>` });
const bundle = (adx: Record<string, unknown>): ConfigBundle => ({
  exchanges: [
    { id: 'adx', seat: 'seat-adx', currency: 'USD', ...adx } as never,
    { id: 'plain', seat: 'seat-plain', currency: 'USD' },
  ],
  defaultExchange: 'plain',
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
  campaigns: [{ id: 'c1', advertiserId: 'acme', bid: { base: 2, max: 2 }, creatives: [banner('cr1')] }],
});

describe('exchange config priceEncryption', () => {
  it('refuses keys that are not 32 bytes of base64, and ${ENV} references to unset variables, naming the field', () => {
    vi.stubEnv('ENC_PRICE_TEST_UNSET', '');
    try {
      validBundle(bundle({ priceEncryption: { encryptionKey: 'AAAA', integrityKey: '${ENC_PRICE_TEST_UNSET}' } }));
      expect.unreachable('the bundle should have been refused');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const paths = (e as ConfigError).errors.map((x) => `${x.path} ${x.code}`);
      expect(paths).toEqual([
        'test.json#/exchanges/0/priceEncryption/encryptionKey invalid_key',
        'test.json#/exchanges/0/priceEncryption/integrityKey invalid_key',
      ]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
  it('refuses unknown fields', () => {
    expect(() => validBundle(bundle({ priceEncryption: { encryptionKey: GOOGLE_DOC.encryptionKey, integrityKey: GOOGLE_DOC.integrityKey, iv: 'x' } }))).toThrow(
      ConfigError,
    );
  });
});

describe('win and billing notices on an exchange with price keys (real HTTP)', () => {
  let sink: RecordingSink;
  let bidder: TestBidder;
  beforeAll(async () => {
    // The documented way: secrets in the environment, referenced from the config.
    vi.stubEnv('ADX_PRICE_ENCRYPTION_KEY', GOOGLE_DOC.encryptionKey);
    vi.stubEnv('ADX_PRICE_INTEGRITY_KEY', GOOGLE_DOC.integrityKey);
    sink = new RecordingSink();
    bidder = await startBidder({
      bundle: bundle({ priceEncryption: { encryptionKey: '${ADX_PRICE_ENCRYPTION_KEY}', integrityKey: '${ADX_PRICE_INTEGRITY_KEY}' } }),
      events: sink,
    });
  });
  afterAll(() => {
    bidder?.close();
    vi.unstubAllEnvs();
  });

  let seq = 0;
  async function bid(exchange: string): Promise<{ nurl: string; burl: string; price: number; id: string }> {
    const r = await bidder.post(`/bid/${exchange}`, {
      id: `enc-${++seq}`,
      imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
      site: { domain: 'news.example' },
    });
    expect(r.status, r.text).toBe(200);
    return r.json().seatbid[0].bid[0];
  }
  const call = (url: string, price: string) => httpRequest(bidder.port, 'GET', pathOf(substitute(url, { price, currency: 'USD', minToWin: '' })));
  const counted = async (type: string, result: string) => metric(await bidder.metricsText(), 'notices_total', { type, result });

  it('records the decrypted clearing price of a win and a billing notice', async () => {
    const b = await bid('adx');
    expect(b.price).toBe(2);
    const win = await call(b.nurl, encryptPrice(1_234_500, randomBytes(16), googleKeys));
    expect(win.status, win.text).toBe(204);
    const bill = await call(b.burl, encryptPrice(1_234_500, randomBytes(16), googleKeys));
    expect(bill.status, bill.text).toBe(204);
    expect(await until(() => sink.of('win').some((e) => e.bid_id === b.id) && sink.of('billing').some((e) => e.bid_id === b.id))).toBe(true);
    for (const type of ['win', 'billing'] as const) {
      const e = sink.of(type).find((x) => x.bid_id === b.id) as { clear_cpm_base: number };
      expect(e.clear_cpm_base).toBeCloseTo(1.2345, 9);
    }
  });

  it('refuses a tampered encrypted price (400 bad_encrypted_price, counted, nothing recorded)', async () => {
    const b = await bid('adx');
    const before = await counted('win', 'bad_encrypted_price');
    const good = encryptPrice(1_000_000, randomBytes(16), googleKeys);
    const bytes = Buffer.from(good, 'base64url');
    bytes[16] ^= 0x80; // the price's top byte: a huge price if it were believed
    const r = await call(b.nurl, bytes.toString('base64url'));
    expect(r.status).toBe(400);
    expect(r.text).toBe('bad_encrypted_price');
    expect(await counted('win', 'bad_encrypted_price')).toBe(before + 1);
    expect(sink.of('win').some((e) => e.bid_id === b.id)).toBe(false);
  });

  it('refuses a plaintext price, and one encrypted with other keys, on that exchange', async () => {
    const b = await bid('adx');
    expect((await call(b.nurl, '1.5')).text).toBe('bad_encrypted_price');
    expect((await call(b.nurl, encryptPrice(1_000_000, randomBytes(16), dcKeys))).text).toBe('bad_encrypted_price');
    expect((await call(b.burl, GOOGLE_DOC.vectors[0][0].slice(0, 37))).text).toBe('bad_encrypted_price');
  });

  it('a genuine price above our bid is still over_bid', async () => {
    const b = await bid('adx');
    const r = await call(b.nurl, encryptPrice(2_500_000, randomBytes(16), googleKeys));
    expect(r.status).toBe(400);
    expect(r.text).toBe('over_bid');
  });

  it('an exchange without keys still takes plain prices (and refuses an encrypted one as bad_price)', async () => {
    const b = await bid('plain');
    expect((await call(b.nurl, '1.5')).status).toBe(204);
    const other = await bid('plain');
    expect((await call(other.nurl, encryptPrice(1_000_000, randomBytes(16), googleKeys))).text).toBe('bad_price');
  });
});
