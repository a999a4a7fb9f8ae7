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
import type { AuthSurface } from '../metrics/auth-metrics.js';
import type { AuthFailureLimiter } from './auth-failures.js';

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

/** What `admit` refuses an address over its failure limit with: 429, Retry-After `retryAfterSeconds`. */
export type Admission = AuthResult | { ok: false; reason: string; retryAfterSeconds: number };

/** A request's credentials and where it comes from, read while the uWS request is valid (ConfigApi `callerOf`). */
export interface Caller {
  readonly authorization: string;
  /** The source address failures count against (auth-failures.ts `sourceAddress`). */
  readonly address: string;
}

export class Authenticator {
  private readonly root: Buffer | undefined;

  constructor(
    private readonly store: ConfigStore,
    rootKey: string | undefined,
    /** Failed authentication per source address; every route that takes a key goes through `admit`. */
    readonly failures: AuthFailureLimiter,
  ) {
    this.root = rootKey ? sha(rootKey) : undefined;
  }

  /**
   * The key check for a request: refused at once (not even checked) when its address has failed too
   * often lately, else `authenticate`, a failure counted against the address.
   */
  async admit(caller: Caller, surface: AuthSurface): Promise<Admission> {
    const wait = await this.failures.check(caller.address, surface);
    if (wait !== undefined) return { ok: false, reason: 'too many failed authentications from this address; try again later', retryAfterSeconds: wait };
    const r = await this.authenticate(caller.authorization);
    if (!r.ok) await this.failures.record(caller.address, surface);
    return r;
  }

  /** The key alone (no failure limit): for requests from inside the process; HTTP routes use `admit`. */
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
