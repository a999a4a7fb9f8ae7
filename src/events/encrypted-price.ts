/**
 * Google Authorized Buyers' encrypted winning price (`${AUCTION_PRICE}` on Google), the public
 * scheme of its "Decrypt price confirmations" guide:
 *
 *   28 bytes = iv (16) | price XOR pad (8) | signature (4), sent as 38 characters of unpadded
 *   web-safe base64 (a padded 40-character form is accepted too)
 *   pad       = HMAC-SHA1(encryptionKey, iv)[0..8)
 *   price     = big-endian unsigned 64-bit micros of the account currency (CPM)
 *   signature = HMAC-SHA1(integrityKey, price | iv)[0..4)
 *
 * Each exchange has its own pair of 32-byte keys (exchange config `priceEncryption`). A price whose
 * signature does not verify is refused: someone changed it, or it was not made with our keys.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { processEnvironment, type Environment } from '../settings/environment.js';

export interface PriceKeys {
  readonly encryptionKey: Buffer;
  readonly integrityKey: Buffer;
}

export type PriceDecryptError = 'bad_length' | 'bad_encoding' | 'bad_signature' | 'out_of_range';

const IV_SIZE = 16;
const PRICE_SIZE = 8;
const SIGNATURE_SIZE = 4;
const SIZE = IV_SIZE + PRICE_SIZE + SIGNATURE_SIZE;
const ENCODED = /^[A-Za-z0-9_-]{38}(==)?$/;
export const KEY_BYTES = 32;

/** Decrypts and verifies one encrypted price; the price in micros (CPM), or why it was refused. */
export function decryptPrice(encoded: string, keys: PriceKeys): number | PriceDecryptError {
  if (encoded.length !== 38 && encoded.length !== 40) return 'bad_length';
  if (!ENCODED.test(encoded)) return 'bad_encoding';
  const data = Buffer.from(encoded, 'base64url');
  if (data.length !== SIZE) return 'bad_length';
  const iv = data.subarray(0, IV_SIZE);
  const pad = createHmac('sha1', keys.encryptionKey).update(iv).digest();
  const price = Buffer.allocUnsafe(PRICE_SIZE);
  for (let i = 0; i < PRICE_SIZE; i++) price[i] = data[IV_SIZE + i] ^ pad[i];
  const expected = createHmac('sha1', keys.integrityKey).update(price).update(iv).digest().subarray(0, SIGNATURE_SIZE);
  if (!timingSafeEqual(expected, data.subarray(IV_SIZE + PRICE_SIZE))) return 'bad_signature';
  const micros = price.readBigUInt64BE(0);
  // Verified, but no real price is that large: refuse rather than lose precision.
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) return 'out_of_range';
  return Number(micros);
}

/** The exchange's side of the scheme (tests, and tools that simulate the exchange). */
export function encryptPrice(micros: number | bigint, iv: Buffer, keys: PriceKeys): string {
  if (iv.length !== IV_SIZE) throw new RangeError(`iv must be ${IV_SIZE} bytes`);
  const price = Buffer.alloc(PRICE_SIZE);
  price.writeBigUInt64BE(BigInt(micros));
  const pad = createHmac('sha1', keys.encryptionKey).update(iv).digest();
  const enc = Buffer.alloc(PRICE_SIZE);
  for (let i = 0; i < PRICE_SIZE; i++) enc[i] = price[i] ^ pad[i];
  const signature = createHmac('sha1', keys.integrityKey).update(price).update(iv).digest().subarray(0, SIGNATURE_SIZE);
  return Buffer.concat([iv, enc, signature]).toString('base64url');
}

/**
 * A key as configured: standard or web-safe base64 (padded or not) of exactly 32 bytes.
 * Returns the bytes, or an error message.
 */
export function parsePriceKey(text: string): Buffer | string {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return 'must be base64 (standard or web-safe)';
  const bytes = Buffer.from(t.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  if (bytes.length !== KEY_BYTES) return `must decode to ${KEY_BYTES} bytes (got ${bytes.length})`;
  return bytes;
}

/** `${NAME}`: the key is in environment variable NAME. */
const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface PriceEncryptionConfig {
  readonly encryptionKey: string;
  readonly integrityKey: string;
}

/**
 * Resolves an exchange's `priceEncryption`: each key is either `${ENV_NAME}` (the key is read from
 * that environment variable, so secrets stay out of config files) or the base64 key itself.
 * Returns the keys, or one error message per bad field (keyed by field name).
 */
export function resolvePriceKeys(
  config: PriceEncryptionConfig,
  env: Environment = processEnvironment(),
): PriceKeys | { errors: Partial<Record<keyof PriceEncryptionConfig, string>> } {
  const errors: Partial<Record<keyof PriceEncryptionConfig, string>> = {};
  const read = (field: keyof PriceEncryptionConfig): Buffer | undefined => {
    const raw = config[field];
    const ref = ENV_REFERENCE.exec(raw.trim());
    const text = ref ? env[ref[1]] : raw;
    if (text === undefined || text.trim() === '') {
      errors[field] = `environment variable ${ref![1]} is not set`;
      return undefined;
    }
    const key = parsePriceKey(text);
    if (typeof key === 'string') {
      errors[field] = ref ? `environment variable ${ref[1]} ${key}` : key;
      return undefined;
    }
    return key;
  };
  const encryptionKey = read('encryptionKey');
  const integrityKey = read('integrityKey');
  if (!encryptionKey || !integrityKey) return { errors };
  return { encryptionKey, integrityKey };
}
