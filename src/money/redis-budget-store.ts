/**
 * Budget state in Redis, shared by every bidder instance. Each account is one hash:
 * `spent` (micros) and, per lease holder, `h:<holder>` (what it holds) and `x:<holder>` (when its
 * lease lapses, Redis server time). Renewals and spend are Lua scripts, so each is atomic:
 * - renew: per account, drop lapsed holds, grant min(want, limit − spent − others' holds), store
 *   the holder's hold (never below what it has outstanding) — one round trip for all accounts;
 * - spend: SET NX an event marker with a TTL, and only then HINCRBY every account: a retry of a
 *   call that timed out but ran finds the marker and adds nothing.
 * Every key carries the `{bgt}` hash tag, so with Redis Cluster they share one slot (scripts may
 * only touch keys of one slot).
 */
import type { RedisLike } from '../audiences/redis-client.js';
import type { BudgetStore, KillState, LeaseGrant, LeaseRequest, RenewResult, SpendEntry } from './budget-store.js';

const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holder = ARGV[1]
local leaseTtl = tonumber(ARGV[2])
local n = #KEYS - 2
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
return { out, all or '0', redis.call('SMEMBERS', KEYS[n + 2]) }
`;

const SPEND = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  for i = 2, #KEYS do
    redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2 * i - 2])
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i - 1])
  end
  return 1
end
return 0
`;

type Scripted = RedisLike & {
  budgetRenew(numKeys: number, ...args: (string | number)[]): Promise<[number[], string, string[]]>;
  budgetSpend(numKeys: number, ...args: (string | number)[]): Promise<number>;
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
    this.redis = redis as Scripted;
  }

  async renew(holder: string, requests: readonly LeaseRequest[], leaseTtlMs: number): Promise<RenewResult> {
    const keys = requests.map((r) => this.prefix + r.account);
    keys.push(`${this.prefix}kill:all`, `${this.prefix}kill:campaigns`);
    const args: (string | number)[] = [holder, Math.round(leaseTtlMs)];
    for (const r of requests) args.push(Math.round(r.limit), Math.round(r.want), Math.round(r.outstanding), Math.max(1, Math.round(r.ttlSec)));
    const [flat, all, campaigns] = await this.redis.budgetRenew(keys.length, ...keys, ...args);
    const grants: LeaseGrant[] = [];
    for (let i = 0; i < requests.length; i++) grants.push({ granted: Number(flat[2 * i]), spent: Number(flat[2 * i + 1]) });
    return { grants, kill: { all: all === '1', campaigns } };
  }

  async recordSpend(eventId: string, entries: readonly SpendEntry[], markerTtlSec: number): Promise<boolean> {
    const keys = [`${this.prefix}evt:${eventId}`, ...entries.map((e) => this.prefix + e.account)];
    // ARGV: marker TTL, then (amount, ttl) per account: account KEYS[i] (i ≥ 2) reads ARGV[2i−2], ARGV[2i−1].
    const args: number[] = [Math.max(1, Math.round(markerTtlSec))];
    for (const e of entries) args.push(Math.round(e.amount), Math.max(1, Math.round(e.ttlSec)));
    return (await this.redis.budgetSpend(keys.length, ...keys, ...args)) === 1;
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
