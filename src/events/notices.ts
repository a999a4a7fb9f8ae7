/**
 * Reading a notice (win, billing, loss, impression, click): the signed bid identity, the prices
 * the exchange substituted into its macros, and the checks that keep forged, stale and over-priced
 * notices out. Pure: the caller supplies the time, the signer and the currency table.
 */
import type { Currencies } from '../currency/currencies.js';
import type { NoticeSigner } from './notice-signer.js';
import { identityColumns, readIdentity, type BidIdentity } from './bid-identity.js';
import type { BidderEvent } from './event-types.js';
import { decryptPrice, type PriceKeys } from './encrypted-price.js';

export const NOTICE_TYPES = ['win', 'billing', 'loss', 'impression', 'click'] as const;
export type NoticeType = (typeof NOTICE_TYPES)[number];

export const NOTICE_REJECTIONS = ['missing_field', 'bad_signature', 'expired', 'bad_price', 'over_bid', 'unknown_currency', 'bad_encrypted_price'] as const;
export type NoticeRejection = (typeof NOTICE_REJECTIONS)[number];

export interface NoticeContext {
  readonly signer: NoticeSigner;
  readonly currencies: Currencies;
  readonly nowSec: number;
  /** Notices older than this are refused (the dedupe window covers at least this long). */
  readonly maxAgeSec: number;
  /** The exchange's price keys: set, the win/billing price `p` must be encrypted with them (encrypted-price.ts). */
  readonly priceKeys?: PriceKeys;
}

export interface AcceptedNotice {
  readonly identity: BidIdentity;
  readonly event: BidderEvent;
  /** The exchange did not substitute the price macro; the bid price stands in for the clearing price. */
  readonly priceMissing: boolean;
  /** Win and loss notices: `${AUCTION_MIN_TO_WIN}` in the base currency, when the exchange sent it. */
  readonly minToWinBase?: number;
  /** The bid's price before shading and the floor it faced, in the base currency (campaigns that shade). */
  readonly unshadedBase?: number;
  readonly floorBase?: number;
}

/** A macro the exchange left as it was (`${AUCTION_PRICE}`, `%%WINNING_PRICE%%`, ...). */
const unsubstituted = (v: string) => v.includes('$') || v.includes('%') || v.includes('{');

/**
 * Digits, optionally a point and more digits: `0`, `1`, `0.5`, `12.345`. Nothing else is a price:
 * `Number()` alone let through `0x1` (1), `-0` (a billing of 0), `1e-400` (0), `1e3`, `+1`, ` 1`,
 * `.5` and `1.`, none of which an exchange writes for a clearing price.
 */
const PLAIN_DECIMAL = /^[0-9]+(?:\.[0-9]+)?$/;

/** A plain decimal as a number; undefined for anything else, or one too large to be finite. */
export function parsePlainDecimal(v: string): number | undefined {
  if (!PLAIN_DECIMAL.test(v)) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function optionalNumber(v: string | null): number | undefined | 'bad' {
  if (v === null || v === '' || unsubstituted(v)) return undefined;
  return parsePlainDecimal(v) ?? 'bad';
}

/** A CPM from an encrypted price (micros); undefined when the macro was not substituted. */
function encryptedPrice(v: string | null, keys: PriceKeys): number | undefined | 'bad_encrypted_price' {
  if (v === null || v === '' || unsubstituted(v)) return undefined;
  const micros = decryptPrice(v, keys);
  return typeof micros === 'string' ? 'bad_encrypted_price' : micros / 1_000_000;
}

export function readNotice(type: NoticeType, exchange: string, q: URLSearchParams, ctx: NoticeContext): AcceptedNotice | NoticeRejection {
  const id = readIdentity(q, exchange, ctx.signer);
  if (typeof id === 'string') return id;
  if (ctx.nowSec - id.issuedAt > ctx.maxAgeSec || id.issuedAt - ctx.nowSec > 300) return 'expired';
  const base = ctx.currencies.base;
  const bidBase = ctx.currencies.convert(id.price, id.currency, base);
  if (!Number.isFinite(bidBase)) return 'unknown_currency';
  const common = identityColumns(type, id, ctx.nowSec);
  if (type === 'impression' || type === 'click') return { identity: id, event: { ...common, type }, priceMissing: false };

  const priceCurrency = (() => {
    const pc = q.get('pc');
    return pc && !unsubstituted(pc) ? pc.toUpperCase() : id.currency;
  })();
  if (!ctx.currencies.has(priceCurrency)) return 'unknown_currency';
  const toBase = (n: number) => ctx.currencies.convert(n, priceCurrency, base);
  // An exchange with price keys encrypts `p` (win and billing): only a price that decrypts and verifies counts.
  const price = !ctx.priceKeys ? optionalNumber(q.get('p')) : type === 'loss' ? undefined : encryptedPrice(q.get('p'), ctx.priceKeys);
  if (price === 'bad_encrypted_price') return price;
  const minToWin = optionalNumber(q.get('m'));
  if (price === 'bad' || minToWin === 'bad') return 'bad_price';

  if (type === 'loss') {
    const reason = optionalNumber(q.get('l'));
    if (reason === 'bad') return 'bad_price';
    return {
      identity: id,
      event: { ...common, type, bid_cpm_base: bidBase, loss_reason: reason ?? 0, min_to_win_base: minToWin === undefined ? 0 : toBase(minToWin) },
      priceMissing: false,
      minToWinBase: minToWin === undefined ? undefined : toBase(minToWin),
      unshadedBase: inBase(id.unshaded, id, ctx.currencies),
      floorBase: inBase(id.floor, id, ctx.currencies),
    };
  }
  // Win and billing: we never pay more than we bid (a little slack for rounding and conversion).
  const clearBase = price === undefined ? bidBase : toBase(price);
  if (clearBase > bidBase * (1 + 1e-6) + 1e-9) return 'over_bid';
  return {
    identity: id,
    event: { ...common, type, bid_cpm_base: bidBase, clear_cpm_base: clearBase, currency: id.currency },
    priceMissing: price === undefined,
    minToWinBase: type === 'win' && minToWin !== undefined ? toBase(minToWin) : undefined,
    unshadedBase: type === 'win' ? inBase(id.unshaded, id, ctx.currencies) : undefined,
    floorBase: type === 'win' ? inBase(id.floor, id, ctx.currencies) : undefined,
  };
}

/** A price of the bid's identity (in its currency) in the base currency. */
function inBase(price: number | undefined, id: BidIdentity, currencies: Currencies): number | undefined {
  return price === undefined ? undefined : currencies.convert(price, id.currency, currencies.base);
}
