/**
 * The production segment store, in Redis (single server or Cluster).
 *
 * Data model (`P` = key prefix, default `aud:`):
 * - `P u:{<user key>}`  hash: segment id → membership expiry (unix seconds). The key expires with its
 *                       latest membership, so every user has a TTL. Small hashes use Redis's listpack
 *                       encoding (see README for measured bytes per user). The braces make the whole
 *                       user key the Cluster hash tag: one user's data lives in one slot.
 * - `P segments`        hash: segment id → metadata JSON.
 * - `P hll:{<segment>}` HyperLogLog of the users uploaded into a segment (approximate size).
 * - `P version`         counter bumped on every metadata change (other bidders poll it).
 * Match table links (segment-store.ts, MATCH_PREFIX) are fields of the same user hashes: `=uid:<id>` in
 * an exchange user's hash, `=xid:<exchange>:<id>` in ours, valued with their expiry like memberships.
 * A lookup issues one HGETALL per user key; with auto-pipelining they leave together, one round
 * trip (on a Cluster, one pipeline per node, in parallel).
 */
import type { Redis } from 'ioredis';
import type { RedisLike } from '../storage/redis-client.js';
import { MATCH_PREFIX, type MembershipRow, type SegmentMeta, type SegmentStore, type UserSegments } from './segment-store.js';

/** Adds memberships to one user hash, keeping later expiries, and pushes the key's TTL out. */
const ADD_SCRIPT = `
local exp = tonumber(ARGV[1])
for i = 2, #ARGV do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if cur < exp then redis.call('HSET', KEYS[1], ARGV[i], exp) end
end
local t = redis.call('EXPIRETIME', KEYS[1])
if t < exp then redis.call('EXPIREAT', KEYS[1], exp) end
return 1`;

/**
 * Removes one segment from one user hash and re-aims the key's TTL at its latest remaining membership
 * (HDEL alone would leave a user alive until the dropped segment's expiry).
 */
const DROP_SCRIPT = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local vals = redis.call('HVALS', KEYS[1])
if #vals == 0 then return 1 end
local latest = 0
for i = 1, #vals do
  local v = tonumber(vals[i]) or 0
  if v > latest then latest = v end
end
redis.call('EXPIREAT', KEYS[1], latest)
return 1`;

/** Points an exchange user's hash at one of our users (dropping an older match) and pushes the key's TTL out. */
const MATCH_SCRIPT = `
local exp = tonumber(ARGV[1])
local fields = redis.call('HKEYS', KEYS[1])
for i = 1, #fields do
  local f = fields[i]
  if f ~= ARGV[2] and string.sub(f, 1, 5) == '=uid:' then redis.call('HDEL', KEYS[1], f) end
end
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
if cur < exp then redis.call('HSET', KEYS[1], ARGV[2], exp) end
local t = redis.call('EXPIRETIME', KEYS[1])
if t < exp then redis.call('EXPIREAT', KEYS[1], exp) end
return 1`;

type WithAdd = RedisLike & {
  audAdd(key: string, expiresAt: number, ...segments: string[]): Promise<number>;
  audMatch(key: string, expiresAt: number, field: string): Promise<number>;
};
type WithDrop = Redis & { audDrop(key: string, segment: string): Promise<number> };

export class RedisSegmentStore implements SegmentStore {
  readonly kind = 'redis' as const;
  private readonly redis: WithAdd;

  constructor(
    redis: RedisLike,
    private readonly admin: RedisLike = redis,
    private readonly prefix = 'aud:',
  ) {
    this.redis = redis as WithAdd;
    for (const client of new Set([redis, admin])) {
      client.defineCommand('audAdd', { numberOfKeys: 1, lua: ADD_SCRIPT });
      client.defineCommand('audMatch', { numberOfKeys: 1, lua: MATCH_SCRIPT });
    }
  }

  userKey(key: string): string {
    return `${this.prefix}u:{${key}}`;
  }

  async lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    const replies = await Promise.all(keys.map((k) => this.redis.hgetall(this.userKey(k))));
    return replies.map((h) => {
      let out: { segment: string; expiresAt: number }[] | undefined;
      for (const segment in h) (out ??= []).push({ segment, expiresAt: Number(h[segment]) });
      return out;
    });
  }

  async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    const admin = this.admin as WithAdd;
    const work: Promise<unknown>[] = [];
    const bySegment = new Map<string, string[]>();
    for (const row of rows) {
      work.push(admin.audAdd(this.userKey(row.key), row.expiresAt, ...row.segments));
      for (const seg of row.segments) {
        let list = bySegment.get(seg);
        if (!list) bySegment.set(seg, (list = []));
        list.push(row.key);
      }
    }
    for (const [seg, keys] of bySegment) work.push(admin.pfadd(`${this.prefix}hll:{${seg}}`, ...keys));
    await Promise.all(work);
  }

  /** The user's hash and the hashes it links to (different slots on a Cluster: one DEL each). */
  async removeUser(key: string): Promise<boolean> {
    const fields = await this.admin.hkeys(this.userKey(key));
    const keys = [key, ...fields.filter((f) => f.startsWith(MATCH_PREFIX)).map((f) => f.slice(MATCH_PREFIX.length))];
    const removed = await Promise.all(keys.map((k) => this.admin.del(this.userKey(k))));
    return removed.some((n) => n > 0);
  }

  /** The sweep's script on one user: HDEL, and the key's TTL re-aimed at its latest remaining membership. */
  async removeMembership(key: string, segment: string): Promise<boolean> {
    const admin = this.admin;
    if (!('audDrop' in admin)) admin.defineCommand('audDrop', { numberOfKeys: 1, lua: DROP_SCRIPT });
    return (await (admin as unknown as WithDrop).audDrop(this.userKey(key), segment)) === 1;
  }

  async putMatch(exchangeKey: string, userKey: string, expiresAt: number): Promise<void> {
    const admin = this.admin as WithAdd;
    const at = Math.floor(expiresAt);
    await Promise.all([admin.audMatch(this.userKey(exchangeKey), at, MATCH_PREFIX + userKey), admin.audAdd(this.userKey(userKey), at, MATCH_PREFIX + exchangeKey)]);
  }

  async putSegment(meta: SegmentMeta): Promise<void> {
    const { approximateSize: _ignored, ...stored } = meta;
    await this.admin.hset(`${this.prefix}segments`, meta.id, JSON.stringify(stored));
    await this.admin.incr(`${this.prefix}version`);
  }

  async getSegment(id: string): Promise<SegmentMeta | undefined> {
    const raw = await this.admin.hget(`${this.prefix}segments`, id);
    if (!raw) return undefined;
    return { ...(JSON.parse(raw) as SegmentMeta), approximateSize: await this.admin.pfcount(`${this.prefix}hll:{${id}}`) };
  }

  async listSegments(): Promise<SegmentMeta[]> {
    const all = await this.admin.hgetall(`${this.prefix}segments`);
    const metas = Object.values(all).map((raw) => JSON.parse(raw) as SegmentMeta);
    const sizes = await Promise.all(metas.map((m) => this.admin.pfcount(`${this.prefix}hll:{${m.id}}`)));
    return metas.map((m, i) => ({ ...m, approximateSize: sizes[i] }));
  }

  /** Metadata goes at once (bidders stop using the segment on their next refresh); memberships are swept. */
  async dropSegment(id: string): Promise<boolean> {
    const removed = await this.admin.hdel(`${this.prefix}segments`, id);
    if (!removed) return false;
    await this.admin.del(`${this.prefix}hll:{${id}}`);
    await this.admin.incr(`${this.prefix}version`);
    await this.sweep(id);
    return true;
  }

  /** Removes one segment from every user hash (SCAN in batches on every master). */
  private async sweep(segment: string): Promise<void> {
    const nodes = 'nodes' in this.admin && typeof this.admin.nodes === 'function' ? this.admin.nodes('master') : [this.admin as Redis];
    for (const node of nodes) {
      if (!('audDrop' in node)) node.defineCommand('audDrop', { numberOfKeys: 1, lua: DROP_SCRIPT });
      const dropper = node as WithDrop;
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${this.prefix}u:*`, 'COUNT', 1000);
        cursor = next;
        await Promise.all(keys.map((k) => dropper.audDrop(k, segment)));
      } while (cursor !== '0');
    }
  }

  async metaVersion(): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}version`)) ?? 0);
  }

  async close(): Promise<void> {
    for (const client of new Set([this.redis as RedisLike, this.admin])) client.disconnect();
  }
}
