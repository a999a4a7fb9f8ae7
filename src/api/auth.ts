/**
 * API keys: `Authorization: Bearer <key>`. A key is `dsp_<id>_<secret>`: the id finds its record,
 * the secret is random (256 bits), so a fast hash with a per-key salt is enough; only the salt and
 * sha256(salt || secret) are stored, and compared in constant time.
 *
 * Roles: `admin` (everything), `advertiser` (its advertisers' resources only), `read-only`
 * (reads; scoped to advertisers when the key names some). The first admin key comes from the
 * environment (`DSP_ADMIN_KEY`) and is never stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ConfigStore, StoredDoc } from '../campaigns/config-store.js';

export type RoleName = 'admin' | 'advertiser' | 'read-only';

export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/** Who is calling. `advertiserIds` undefined: not scoped (operators). */
export interface Principal {
  readonly keyId: string;
  readonly name?: string;
  readonly role: RoleName;
  readonly advertiserIds?: ReadonlySet<string>;
  readonly rateLimit?: RateLimit;
}

/** The stored record of a key (what `GET /api/v1/keys` shows, minus salt and hash). */
export interface KeyDoc extends StoredDoc {
  readonly name: string;
  readonly role: RoleName;
  readonly advertiserIds?: string[];
  readonly rateLimit?: RateLimit;
  readonly status: 'active' | 'paused';
  readonly prefix: string;
  readonly salt: string;
  readonly hash: string;
  readonly revokedAt?: string;
}

export const ROOT_KEY_ID = 'root';
const TOKEN = /^dsp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function newKeySecret(): { id: string; token: string; salt: string; hash: string; prefix: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  return { id, token: `dsp_${id}_${secret}`, salt, hash: hashSecret(salt, secret), prefix: `dsp_${id}_` };
}

export function hashSecret(salt: string, secret: string): string {
  return createHash('sha256').update(salt).update(secret).digest('hex');
}

/** A key for DSP_ADMIN_KEY when none is set (embedded mode prints it at start). */
export function generateAdminKey(): string {
  return `dsp_admin_${randomBytes(32).toString('base64url')}`;
}

const sha = (s: string) => createHash('sha256').update(s).digest();

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

/** Who a request without a key is on the open routes (see Authenticator `openPaths`). */
export const LOCAL_ADMIN: Principal = { keyId: 'local', name: 'admin port without a key (embedded default)', role: 'admin' };

export class Authenticator {
  private readonly root: Buffer | undefined;

  constructor(
    private readonly store: ConfigStore,
    rootKey: string | undefined,
    /**
     * Paths (OpenAPI style, e.g. `/api/v1/reports`) that a request without an Authorization header
     * may use as an operator: the embedded default without DSP_ADMIN_KEY opens the audience data and
     * report routes this way, as `/metrics` is open. A request that sends a key is checked as usual.
     */
    private readonly openPaths: (path: string) => boolean = () => false,
  ) {
    this.root = rootKey ? sha(rootKey) : undefined;
  }

  /** `authenticate`, except that a request without a key on an open path is LOCAL_ADMIN. */
  async authenticateOn(path: string, authorization: string): Promise<AuthResult> {
    if (authorization.trim() === '' && this.openPaths(path)) return { ok: true, principal: LOCAL_ADMIN };
    return this.authenticate(authorization);
  }

  async authenticate(authorization: string): Promise<AuthResult> {
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return { ok: false, reason: 'send Authorization: Bearer <api key>' };
    const token = m[1];
    if (this.root && timingSafeEqual(sha(token), this.root))
      return { ok: true, principal: { keyId: ROOT_KEY_ID, name: 'DSP_ADMIN_KEY', role: 'admin' } };
    const t = TOKEN.exec(token);
    if (!t) return { ok: false, reason: 'invalid api key' };
    const doc = (await this.store.get('keys', t[1])) as KeyDoc | undefined;
    // Hash even when the id is unknown, so timing does not tell which ids exist.
    const expected = Buffer.from(doc?.hash ?? '0'.repeat(64), 'hex');
    const actual = Buffer.from(hashSecret(doc?.salt ?? '', t[2]), 'hex');
    const match = expected.length === actual.length && timingSafeEqual(expected, actual);
    if (!doc || !match || doc.revokedAt !== undefined || doc.status !== 'active') return { ok: false, reason: 'invalid api key' };
    return {
      ok: true,
      principal: {
        keyId: doc.id,
        name: doc.name,
        role: doc.role,
        advertiserIds: doc.advertiserIds ? new Set(doc.advertiserIds) : undefined,
        rateLimit: doc.rateLimit,
      },
    };
  }
}
