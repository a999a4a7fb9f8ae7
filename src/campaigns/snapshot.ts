/**
 * A snapshot is everything the hot path reads from configuration, compiled and immutable:
 * the targeting index, the currency table and the exchanges. Changes build a new snapshot
 * off the hot path and publish it with one reference swap, so no bid ever sees half a change.
 */
import type { ConfigBundle, Exchange } from './schema.js';
import { Currencies } from '../currency/currencies.js';
import { TargetingIndex } from '../targeting/targeting-index.js';
import { resolvePriceKeys, type PriceKeys } from '../events/encrypted-price.js';
import { ConfigError } from '../errors.js';

export interface ExchangeProfile {
  readonly id: string;
  readonly seat: string;
  readonly currency: string;
  readonly versions: readonly string[];
  /** The OpenRTB protocol version we answer with (the newest it speaks). */
  readonly responseVersion: string;
  readonly sendNurl: boolean;
  /** The notice that counts as spend against budgets (config `spendOn`, default billing). */
  readonly spendOn: 'billing' | 'win';
  readonly macros: { readonly price: string; readonly minToWin: string; readonly loss: string; readonly currency: string };
  /** Set: win and billing prices arrive encrypted with these keys (config `priceEncryption`). */
  readonly priceKeys: PriceKeys | undefined;
  /** `application/octet-stream` bodies are protobuf (config `protobuf.octetStream`); else they get 415. */
  readonly protobufOctetStream: boolean;
  /** User matching: the exchange's set-uid URL with `{UID}` for our user id (config `userSync.setUidUrl`); unset: none. */
  readonly setUidUrl: string | undefined;
}

export interface Snapshot {
  readonly version: number;
  readonly loadedAt: Date;
  readonly index: TargetingIndex;
  readonly currencies: Currencies;
  readonly exchanges: ReadonlyMap<string, ExchangeProfile>;
  readonly defaultExchange: ExchangeProfile;
  /** Advertiser ids in the configuration (the pixel answers only for these). */
  readonly advertisers: ReadonlySet<string>;
}

export const OPENRTB_MACROS = {
  price: '${AUCTION_PRICE}',
  minToWin: '${AUCTION_MIN_TO_WIN}',
  loss: '${AUCTION_LOSS}',
  currency: '${AUCTION_CURRENCY}',
} as const;

/** Used when the configuration names no exchanges at all. */
const FALLBACK_EXCHANGE: Exchange = { id: 'default', seat: 'dsp' };

function profile(ex: Exchange, currencies: Currencies): ExchangeProfile {
  const versions = ex.versions ?? ['2.5', '2.6'];
  return {
    id: ex.id,
    seat: ex.seat,
    currency: ex.currency ?? currencies.base,
    versions,
    responseVersion: versions.includes('2.6') ? '2.6' : versions[versions.length - 1],
    sendNurl: ex.sendNurl ?? true,
    spendOn: ex.spendOn ?? 'billing',
    macros: { ...OPENRTB_MACROS, ...ex.macros },
    priceKeys: ex.priceEncryption ? priceKeys(ex) : undefined,
    protobufOctetStream: ex.protobuf?.octetStream === true,
    setUidUrl: ex.userSync?.setUidUrl,
  };
}

/** Validation already checked the keys; a failure here means the environment changed since. */
function priceKeys(ex: Exchange): PriceKeys {
  const keys = resolvePriceKeys(ex.priceEncryption!);
  if ('errors' in keys)
    throw new ConfigError(
      Object.entries(keys.errors).map(([field, message]) => ({ path: `exchanges/${ex.id}/priceEncryption/${field}`, code: 'invalid_key', message: message! })),
    );
  return keys;
}

export function buildSnapshot(bundle: ConfigBundle, version: number): Snapshot {
  const currencies = new Currencies(bundle.currencies);
  const list = bundle.exchanges?.length ? bundle.exchanges : [FALLBACK_EXCHANGE];
  const exchanges = new Map(list.map((ex) => [ex.id, profile(ex, currencies)]));
  const defaultExchange = exchanges.get(bundle.defaultExchange ?? list[0].id)!;
  return {
    version,
    loadedAt: new Date(),
    index: new TargetingIndex(bundle, currencies),
    currencies,
    exchanges,
    defaultExchange,
    advertisers: new Set((bundle.advertisers ?? []).map((a) => a.id)),
  };
}

/** The one mutable reference: readers take `current` once per request. */
export class SnapshotRef {
  constructor(public current: Snapshot) {}
  swap(next: Snapshot): void {
    this.current = next;
  }
}
