/**
 * Budget state in Redis, shared by every bidder instance. Each account is one hash:
 * `spent` (micros) and, per lease holder, `h:<holder>` (what it holds) and `x:<holder>` (when its
 * lease lapses, Redis server time). Renewals and spend are Lua scripts, so each is atomic:
 * - renew: per account, drop lapsed holds, grant min(want, limit − spent − others' holds), store
 *   the holder's hold (never below what it has outstanding) — one round trip for all accounts;
 * - spend: SET NX an event marker with a TTL, and only then HINCRBY every account: a retry of a
 *   call that timed out but ran finds the marker and adds nothing. A bid made by another holder
 *   also goes onto that holder's list of ended bids, `end:<holder>`, in the same script;
 * - end: loss notices of other holders' bids, onto their lists;
 * - renew also takes the holder's list (and deletes it), so the holder learns which of its bids
 *   ended elsewhere with the round trip it makes anyway.
 * Every key carries the `{bgt}` hash tag, so with Redis Cluster they share one slot (scripts may
 * only touch keys of one slot).
 */
import type { RedisLike } from '../storage/redis-client.js';
import { ENDED_TTL_SEC, type BidEnd, type BudgetStore, type KillState, type LeaseGrant, type LeaseRequest, type RenewResult, type SpendEntry } from './budget-store.js';

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = ARGV[1]
local leaseTtl = tonumber(ARGV[2])
local n = #KEYS - 3
local out = {}
for i = 1, n do
  local key = KEYS[i]
  local b = 2 + (i - 1) * 4
  local limit = tonumber(ARGV[b + 1])
  local want = tonumber(ARGV[b + 2])
  local outstanding = tonumber(ARGV[b + 3])
  local keyTtl = tonumber(ARGV[b + 4])
  local fields = redis.call('HGETALL', key)
  local spent = 0
  local amounts = {}
  local expiries = {}
  for j = 1, #fields, 2 do
    local f = fields[j]
    if f == 'spent' then spent = tonumber(fields[j + 1])
    else
      local kind = string.sub(f, 1, 2)
      local h = string.sub(f, 3)
      if kind == 'h:' then amounts[h] = tonumber(fields[j + 1]) elseif kind == 'x:' then expiries[h] = tonumber(fields[j + 1]) end
    end
  end
  local others = 0
  for h, amount in pairs(amounts) do
    if (expiries[h] or 0) <= now then redis.call('HDEL', key, 'h:' .. h, 'x:' .. h)
    elseif h ~= holder then others = others + amount end
  end
  local granted = math.min(want, limit - spent - others)
  if granted < 0 then granted = 0 end
  redis.call('HSET', key, 'h:' .. holder, string.format('%d', math.max(granted, outstanding)), 'x:' .. holder, string.format('%d', now + leaseTtl))
  redis.call('EXPIRE', key, keyTtl)
  out[#out + 1] = granted
  out[#out + 1] = spent
end
local all = redis.call('GET', KEYS[n + 1])
local ended = redis.call('LRANGE', KEYS[n + 3], 0, -1)
if #ended > 0 then redis.call('DEL', KEYS[n + 3]) end
return { out, all or '0', redis.call('SMEMBERS', KEYS[n + 2]), ended }
`;

// KEYS: the marker, the holder's ended list when ARGV[2] (the bid id) is not empty, then the accounts.
// ARGV: marker TTL, bid id or '', ended list TTL, then (amount, ttl) per account.
const SPEND = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  local first = 2
  if ARGV[2] ~= '' then
    redis.call('RPUSH', KEYS[2], ARGV[2])
    redis.call('EXPIRE', KEYS[2], ARGV[3])
    first = 3
  end
  for i = first, #KEYS do
    local a = 4 + (i - first) * 2
    redis.call('HINCRBY', KEYS[i], 'spent', ARGV[a])
    redis.call('EXPIRE', KEYS[i], ARGV[a + 1])
  end
  return 1
end
return 0
`;

// KEYS: one ended list per holder. ARGV: the lists' TTL, then per list its number of ids and the ids.
const END = `
local a = 2
for i = 1, #KEYS do
  local count = tonumber(ARGV[a])
  for j = a + 1, a + count do redis.call('RPUSH', KEYS[i], ARGV[j]) end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  a = a + count + 1
end
return #KEYS
`;

type Scripted = RedisLike & {
  budgetRenew(numKeys: number, ...args: (string | number)[]): Promise<[number[], string, string[], string[]]>;
  budgetSpend(numKeys: number, ...args: (string | number)[]): Promise<number>;
  budgetEnd(numKeys: number, ...args: (string | number)[]): Promise<number>;
};

export class RedisBudgetStore implements BudgetStore {
  readonly kind = 'redis' as const;
  private readonly redis: Scripted;

  constructor(
    redis: RedisLike,
    private readonly prefix = '{bgt}:',
    private readonly ownsClient = false,
  ) {
    redis.defineCommand('budgetRenew', { lua: RENEW });
    redis.defineCommand('budgetSpend', { lua: SPEND });
    redis.defineCommand('budgetEnd', { lua: END });
    this.redis = redis as Scripted;
  }

  async renew(holder: string, requests: readonly LeaseRequest[], leaseTtlMs: number): Promise<RenewResult> {
    const keys = requests.map((r) => this.prefix + r.account);
    keys.push(`${this.prefix}kill:all`, `${this.prefix}kill:campaigns`, this.endedKey(holder));
    const args: (string | number)[] = [holder, Math.round(leaseTtlMs)];
    for (const r of requests) args.push(Math.round(r.limit), Math.round(r.want), Math.round(r.outstanding), Math.max(1, Math.round(r.ttlSec)));
    const [flat, all, campaigns, ended] = await this.redis.budgetRenew(keys.length, ...keys, ...args);
    const grants: LeaseGrant[] = [];
    for (let i = 0; i < requests.length; i++) grants.push({ granted: Number(flat[2 * i]), spent: Number(flat[2 * i + 1]) });
    return { grants, kill: { all: all === '1', campaigns }, ended };
  }

  async recordSpend(eventId: string, entries: readonly SpendEntry[], markerTtlSec: number, end?: BidEnd): Promise<boolean> {
    const keys = [`${this.prefix}evt:${eventId}`];
    if (end !== undefined) keys.push(this.endedKey(end.holder));
    for (const e of entries) keys.push(this.prefix + e.account);
    const args: (string | number)[] = [Math.max(1, Math.round(markerTtlSec)), end?.bidId ?? '', ENDED_TTL_SEC];
    for (const e of entries) args.push(Math.round(e.amount), Math.max(1, Math.round(e.ttlSec)));
    return (await this.redis.budgetSpend(keys.length, ...keys, ...args)) === 1;
  }

  async endBids(ends: readonly BidEnd[]): Promise<void> {
    if (ends.length === 0) return;
    const byHolder = new Map<string, string[]>();
    for (const e of ends) {
      const ids = byHolder.get(e.holder);
      if (ids === undefined) byHolder.set(e.holder, [e.bidId]);
      else ids.push(e.bidId);
    }
    const keys: string[] = [];
    const args: (string | number)[] = [ENDED_TTL_SEC];
    for (const [holder, ids] of byHolder) {
      keys.push(this.endedKey(holder));
      args.push(ids.length, ...ids);
    }
    await this.redis.budgetEnd(keys.length, ...keys, ...args);
  }

  private endedKey(holder: string): string {
    return `${this.prefix}end:${holder}`;
  }

  async spent(accounts: readonly string[]): Promise<number[]> {
    if (accounts.length === 0) return [];
    const values = await Promise.all(accounts.map((a) => this.redis.hget(this.prefix + a, 'spent')));
    return values.map((v) => (v === null ? 0 : Number(v)));
  }

  async setKill(on: boolean, campaign?: string): Promise<KillState> {
    if (campaign === undefined) await this.redis.set(`${this.prefix}kill:all`, on ? '1' : '0');
    else if (on) await this.redis.sadd(`${this.prefix}kill:campaigns`, campaign);
    else await this.redis.srem(`${this.prefix}kill:campaigns`, campaign);
    const [all, campaigns] = await Promise.all([this.redis.get(`${this.prefix}kill:all`), this.redis.smembers(`${this.prefix}kill:campaigns`)]);
    return { all: all === '1', campaigns };
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.redis.disconnect();
  }
}
