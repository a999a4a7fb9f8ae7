/**
 * Notice URL signatures. Each bid's notice URLs carry an HMAC-SHA256 (truncated to 128 bits) over
 * the bid's identity and the price we bid, under a named key. The first key signs; every listed
 * key verifies, so keys rotate by adding a new first key and dropping the old one after the
 * longest notice delay (hours) has passed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SigningKey {
  readonly id: string;
  readonly secret: Buffer;
}

const MAC_BYTES = 16;

export class NoticeSigner {
  private readonly byId: ReadonlyMap<string, Buffer>;
  private readonly signing: SigningKey;

  constructor(keys: readonly SigningKey[]) {
    if (keys.length === 0) throw new Error('at least one notice signing key is needed');
    this.signing = keys[0];
    this.byId = new Map(keys.map((k) => [k.id, k.secret]));
  }

  /** `<key id>.<base64url mac>` */
  sign(payload: string): string {
    return `${this.signing.id}.${macText(this.signing.secret, payload)}`;
  }

  verify(payload: string, token: string): boolean {
    const dot = token.indexOf('.');
    if (dot <= 0) return false;
    const secret = this.byId.get(token.slice(0, dot));
    if (!secret) return false;
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    return given.length === MAC_BYTES && timingSafeEqual(given, mac(secret, payload));
  }
}

function mac(secret: Buffer, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest().subarray(0, MAC_BYTES);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Characters of MAC_BYTES bytes in base64url (no padding): 22, the last one holding 2 bits of the MAC and 4 zero bits. */
const MAC_CHARS = Math.ceil((MAC_BYTES * 8) / 6);
const LAST_CHAR_BITS = 0x3f & ~((1 << (MAC_CHARS * 6 - MAC_BYTES * 8)) - 1);

/**
 * `mac(...).toString('base64url')`, without a Buffer for the digest and another for its truncation
 * (about a third of what signing cost): the whole digest's base64url text, cut to the truncated
 * MAC's characters, the last one cleared of the bits that came from past the MAC.
 */
function macText(secret: Buffer, payload: string): string {
  const full = createHmac('sha256', secret).update(payload).digest('base64url');
  return full.slice(0, MAC_CHARS - 1) + BASE64URL[BASE64URL.indexOf(full[MAC_CHARS - 1]) & LAST_CHAR_BITS];
}

/** `id:secret,id:secret` (secrets of at least 16 bytes, base64 or plain text), first one signs. */
export function parseSigningKeys(text: string): SigningKey[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const colon = part.indexOf(':');
      if (colon <= 0) throw new Error('NOTICE_SIGNING_KEYS entries are id:secret');
      const id = part.slice(0, colon);
      const secret = Buffer.from(part.slice(colon + 1), 'utf8');
      if (!/^[A-Za-z0-9_-]{1,16}$/.test(id)) throw new Error(`signing key id "${id}" must be 1-16 of A-Z a-z 0-9 _ -`);
      if (secret.length < 16) throw new Error(`signing key "${id}" is shorter than 16 bytes`);
      return { id, secret };
    });
}
