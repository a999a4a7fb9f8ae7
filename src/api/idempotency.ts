/**
 * `Idempotency-Key` on POST (draft-ietf-httpapi-idempotency-key-header), framework-agnostic: a
 * router calls `idempotent(...)` around a POST handler when the request carries the header.
 *
 * - The same key (per API key: `scope`) and the same request (method, path, body: `fingerprint`)
 *   within the TTL (24 h by default) gets the first answer again (status, ETag, Location, body),
 *   marked `Idempotent-Replayed: true`, and the handler does not run again: one resource.
 * - The same key with another request: 422 `idempotency_key_reused`.
 * - While the first request with a key is still running: 409 `idempotency_key_in_use` (retry later).
 * - Answers under 500 are kept (a 4xx is as much the answer to that request as a 201); a 5xx or a
 *   thrown error releases the key, so a retry runs the request again.
 *
 * The claim on a key is a lease (`leaseMs`, 5 min by default): an instance that dies mid-request
 * does not hold the key longer than that. Keys are stored hashed (SHA-256 of scope and key).
 * Stores: in this process (bounded LRU), or Redis (one key per idempotency key, so it works on
 * Redis Cluster too; each step is one Lua script).
 */
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RedisLike } from '../storage/redis-client.js';
import { ApiError } from './errors.js';
import { log } from '../log.js';

/** What a POST answered, as kept and replayed. */
export interface StoredReply {
  readonly status: number;
  readonly body?: unknown;
  readonly version?: number;
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A streamed body's fingerprint, known once it has been read (audience uploads: http/audience-routes.ts). */
  readonly bodyFingerprint?: string;
}

export type Claim =
  /** This caller runs the request; `token` completes or releases the claim. */
  | { readonly kind: 'claimed'; readonly token: string }
  | { readonly kind: 'running' }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'done'; readonly reply: StoredReply };

export interface IdempotencyStore {
  /** Claims `key` for a request with `fingerprint` for `leaseMs`, unless a claim or an answer is there. */
  claim(key: string, fingerprint: string, leaseMs: number): Promise<Claim>;
  /** Keeps `reply` under `key` for `ttlMs`, if the claim `token` still holds it. */
  complete(key: string, token: string, reply: StoredReply, ttlMs: number): Promise<void>;
  /** Gives the claim `token` up (the request failed): the next request with the key runs. */
  release(key: string, token: string): Promise<void>;
  close(): Promise<void>;
}

/** What is stored under a key: the request's fingerprint, and either the claim's token or the answer. */
interface Entry {
  readonly f: string;
  readonly t?: string;
  readonly r?: StoredReply;
}

function decide(entry: Entry | undefined, fingerprint: string): Claim | undefined {
  if (!entry) return undefined;
  if (entry.f !== fingerprint) return { kind: 'mismatch' };
  return entry.r ? { kind: 'done', reply: entry.r } : { kind: 'running' };
}

/** Bounded: past `max` keys the least recently used answer is forgotten (its key then runs afresh). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries: LRUCache<string, string>;

  constructor(max = 100_000) {
    this.entries = new LRUCache<string, string>({ max, ttlAutopurge: false });
  }

  async claim(key: string, fingerprint: string, leaseMs: number): Promise<Claim> {
    const raw = this.entries.get(key);
    const seen = decide(raw === undefined ? undefined : (JSON.parse(raw) as Entry), fingerprint);
    if (seen) return seen;
    const token = randomUUID();
    this.entries.set(key, JSON.stringify({ f: fingerprint, t: token } satisfies Entry), { ttl: leaseMs });
    return { kind: 'claimed', token };
  }

  async complete(key: string, token: string, reply: StoredReply, ttlMs: number): Promise<void> {
    const raw = this.entries.get(key);
    const e = raw === undefined ? undefined : (JSON.parse(raw) as Entry);
    if (e?.t !== token) return;
    this.entries.set(key, JSON.stringify({ f: e.f, r: reply } satisfies Entry), { ttl: ttlMs });
  }

  async release(key: string, token: string): Promise<void> {
    const raw = this.entries.get(key);
    if (raw !== undefined && (JSON.parse(raw) as Entry).t === token) this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

/** ARGV: the claim entry JSON, lease ms. Returns '' when claimed, else the entry there. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ''`;
/** ARGV: the claim entry JSON (exact), the answer entry JSON ('' = release), ttl ms. */
const SETTLE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`;

type WithScripts = RedisLike & {
  idemClaim(key: string, entry: string, leaseMs: number): Promise<string>;
  idemSettle(key: string, claim: string, answer: string, ttlMs: number): Promise<number>;
};

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: WithScripts;
  /** The claim entry each of this instance's tokens wrote (SETTLE compares it exactly). */
  private readonly claims = new Map<string, string>();

  /** `redis` is shared (the API's limits client): not closed here unless `owned`. */
  constructor(
    redis: RedisLike,
    private readonly o: { prefix?: string; owned?: boolean } = {},
  ) {
    redis.defineCommand('idemClaim', { numberOfKeys: 1, lua: CLAIM });
    redis.defineCommand('idemSettle', { numberOfKeys: 1, lua: SETTLE });
    this.redis = redis as WithScripts;
  }

  private k(key: string): string {
    return `${this.o.prefix ?? 'api'}:idem:${key}`;
  }

  async claim(key: string, fingerprint: string, leaseMs: number): Promise<Claim> {
    const token = randomUUID();
    const entry = JSON.stringify({ f: fingerprint, t: token } satisfies Entry);
    const cur = await this.redis.idemClaim(this.k(key), entry, Math.max(1, Math.round(leaseMs)));
    if (cur === '') {
      this.claims.set(token, entry);
      return { kind: 'claimed', token };
    }
    return decide(JSON.parse(cur) as Entry, fingerprint)!;
  }

  async complete(key: string, token: string, reply: StoredReply, ttlMs: number): Promise<void> {
    const claim = this.claims.get(token);
    if (claim === undefined) return;
    this.claims.delete(token);
    const f = (JSON.parse(claim) as Entry).f;
    await this.redis.idemSettle(this.k(key), claim, JSON.stringify({ f, r: reply } satisfies Entry), Math.max(1, Math.round(ttlMs)));
  }

  async release(key: string, token: string): Promise<void> {
    const claim = this.claims.get(token);
    if (claim === undefined) return;
    this.claims.delete(token);
    await this.redis.idemSettle(this.k(key), claim, '', 1);
  }

  async close(): Promise<void> {
    this.claims.clear();
    if (this.o.owned) this.redis.disconnect();
  }
}

export interface IdempotencySettings {
  /** How long an answer is kept (default 24 h). */
  readonly ttlMs: number;
  /** How long a running request holds its key (default 5 min). */
  readonly leaseMs: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencySettings = { ttlMs: 24 * 3600_000, leaseMs: 5 * 60_000 };

/** The header's value: a structured-field string (`"..."`) or a bare token; 1-255 visible ASCII characters. */
export function parseIdempotencyKey(header: string): string | undefined {
  if (header === '') return undefined;
  const m = /^"([^"\\]*)"$/.exec(header.trim());
  const key = m ? m[1] : header.trim();
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw new ApiError(400, 'bad_idempotency_key', 'Idempotency-Key must be 1-255 visible ASCII characters');
  return key;
}

/** The request a key stands for: method, path with query, and the body bytes. */
export function fingerprintOf(method: string, url: string, body: Buffer | undefined): string {
  const h = createHash('sha256').update(`${method.toUpperCase()} ${url}\n`);
  if (body) h.update(body);
  return h.digest('base64url');
}

/** Where a key is stored: per API key (`scope`), hashed. */
export const storageKey = (scope: string, key: string) => createHash('sha256').update(`${scope}\n${key}`).digest('base64url');

/**
 * Runs `run` once per (scope, key) and request; answers a repeat from the store (see the top).
 * Headers that describe this answer only (`ratelimit-remaining`) are not kept.
 */
export async function idempotent(
  store: IdempotencyStore,
  req: { readonly scope: string; readonly key: string; readonly fingerprint: string },
  run: () => Promise<StoredReply>,
  settings: IdempotencySettings = DEFAULT_IDEMPOTENCY,
): Promise<StoredReply> {
  const key = storageKey(req.scope, req.key);
  let claim: Claim;
  try {
    claim = await store.claim(key, req.fingerprint, settings.leaseMs);
  } catch (e) {
    // Without the store a retry could create a second resource: refuse rather than run unguarded.
    throw new ApiError(503, 'idempotency_store_unavailable', `the Idempotency-Key store is unavailable (${(e as Error)?.message ?? e}); retry later`);
  }
  switch (claim.kind) {
    case 'done':
      return { ...claim.reply, headers: { ...claim.reply.headers, 'idempotent-replayed': 'true' } };
    case 'running':
      throw new ApiError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still running; retry later', undefined, { 'retry-after': '1' });
    case 'mismatch':
      throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with another request (method, path or body) in the last 24 hours');
  }
  let reply: StoredReply;
  try {
    reply = await run();
  } catch (e) {
    await store.release(key, claim.token).catch(() => {});
    throw e;
  }
  if (reply.status >= 500) await store.release(key, claim.token).catch(() => {});
  else {
    const { ['ratelimit-remaining']: _, ...headers } = reply.headers ?? {};
    // The request has done its work: its answer goes out even if it cannot be kept (a retry within the
    // lease then gets 409, after it runs again: logged, so an operator can tell).
    await store.complete(key, claim.token, { ...reply, headers }, settings.ttlMs).catch((e: unknown) =>
      log('warn', 'Idempotency-Key: the answer could not be kept', { status: reply.status, error: (e as Error)?.message ?? String(e) }),
    );
  }
  return reply;
}
