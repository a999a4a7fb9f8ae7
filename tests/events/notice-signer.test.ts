import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NoticeSigner } from '../../src/events/notice-signer.js';
import { Rng } from '../../src/simulator/rng.js';

const secret = Buffer.from('test-signing-key-0123456789abcdef');
const signer = new NoticeSigner([{ id: 'k1', secret }]);

/** What a signature is (the notices of bids already out there verify against this): HMAC-SHA256, 128 bits, base64url. */
const reference = (payload: string) => `k1.${createHmac('sha256', secret).update(payload).digest().subarray(0, 16).toString('base64url')}`;

describe('NoticeSigner', () => {
  it('signs exactly as HMAC-SHA256 truncated to 16 bytes in base64url, over payloads of every length and script', () => {
    const rng = new Rng('notice-signer');
    const alphabet = 'abcXYZ019|=.-_ \u00e9\u4e2d\ud83d\ude00';
    // Enough payloads that the digest's 22nd character takes every value (it carries bits past the MAC).
    const lastChars = new Set<string>();
    for (let n = 0; n < 3000; n++) {
      let payload = '';
      const len = Math.floor(rng.next() * 300);
      for (let i = 0; i < len; i++) payload += alphabet[Math.floor(rng.next() * alphabet.length)];
      const signed = signer.sign(payload);
      expect(signed).toBe(reference(payload));
      expect(signer.verify(payload, signed)).toBe(true);
      lastChars.add(createHmac('sha256', secret).update(payload).digest('base64url')[21]);
    }
    expect(lastChars.size).toBe(64);
  });

  it('refuses a signature of another payload or with its last character changed', () => {
    const signed = signer.sign('bid-1|req-1|1|ex|adv|c1|cr1||1.5|USD|1700000000');
    expect(signer.verify('bid-1|req-1|1|ex|adv|c1|cr1||1.6|USD|1700000000', signed)).toBe(false);
    const last = signed[signed.length - 1];
    expect(signer.verify('bid-1|req-1|1|ex|adv|c1|cr1||1.5|USD|1700000000', signed.slice(0, -1) + (last === 'A' ? 'Q' : 'A'))).toBe(false);
  });
});
