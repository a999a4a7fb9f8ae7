/**
 * Rate limits shared across instances through Redis (src/api/rate-limit.ts, auth-failures.ts):
 * two API instances on one real redis-server count a key's requests, and an address's failed
 * authentications, against the same window, so the fleet allows the limit, not twice it (two
 * instances without Redis are shown to allow twice it); with Redis down, each instance falls back
 * to its own count (fail open to the per-instance limit: no 503), counted in
 * api_limit_store_errors_total, and goes back to the shared count when Redis returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminServer, listenAdmin } from '../../src/api/admin-server.js';
import { createConfigApi, registerConfigApi, type ConfigApi } from '../../src/api/index.js';
import { MemoryConfigStore, type ConfigStore } from '../../src/campaigns/config-store.js';
import { createRedis, type RedisLike } from '../../src/storage/redis-client.js';
import type { Listening } from '../../src/http/listen.js';
import { windowOf } from '../../src/api/rate-limit.js';
import { loadApiSettings } from '../../src/api/settings.js';
import { openConfigPlane } from '../../src/api/plane.js';
import { MemoryIdempotencyStore, RedisIdempotencyStore } from '../../src/api/idempotency.js';
import { httpRequest, type HttpResult } from '../helpers/bidder.js';
import { RedisServer } from '../helpers/redis-server.js';

const ADMIN = 'shared-limits-admin-key-0123456789';
const WRONG = `Bearer dsp_0123456789abcdef_${'x'.repeat(43)}`;

interface Instance {
  readonly api: ConfigApi;
  readonly port: number;
  get(path: string, authorization: string): Promise<HttpResult>;
}

let server: RedisServer;
const listening: Listening[] = [];
const clients: RedisLike[] = [];

async function instance(store: ConfigStore, redis: RedisLike | undefined, prefix: string): Promise<Instance> {
  const api = createConfigApi({
    store,
    adminKey: ADMIN,
    shared: redis && { redis, prefix },
    rateLimit: { perSecond: 10_000, burst: 10_000 },
    authFailures: { limit: 4, windowMs: 60_000, trustedProxies: 0 },
  });
  const app = await createAdminServer();
  registerConfigApi(app, api);
  const l = await listenAdmin(app, '127.0.0.1', 0);
  listening.push(l);
  return { api, port: l.port, get: (path, authorization) => httpRequest(l.port, 'GET', path, undefined, { authorization }) };
}

async function redisClient(): Promise<RedisLike> {
  const c = createRedis(server.url, { commandTimeoutMs: 500 });
  clients.push(c);
  await new Promise((r) => c.once('ready', r));
  return c;
}

/** Two instances on one config store, sharing `redis` (one client each) or not. */
async function pair(shared: boolean, prefix: string): Promise<[Instance, Instance]> {
  const store = new MemoryConfigStore();
  return [await instance(store, shared ? await redisClient() : undefined, prefix), await instance(store, shared ? await redisClient() : undefined, prefix)];
}

async function keyWith(on: Instance, rateLimit: { perSecond: number; burst: number }): Promise<string> {
  const r = await httpRequest(on.port, 'POST', '/api/v1/keys', JSON.stringify({ name: 'limited', role: 'read-only', rateLimit }), { authorization: `Bearer ${ADMIN}` });
  expect(r.status).toBe(201);
  return `Bearer ${r.json().key as string}`;
}

/** `n` requests as `auth`, alternating between the instances; the statuses. */
async function alternate(on: Instance[], n: number, auth: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await on[i % on.length].get('/api/v1/me', auth)).status);
  return statuses;
}
const count = (s: number[], status: number) => s.filter((x) => x === status).length;
const storeErrors = async (api: ConfigApi, limiter: string) => (await api.authMetrics.limitStoreErrors.get()).values.find((v) => v.labels.limiter === limiter)?.value ?? 0;

beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  for (const l of listening) l.close();
  for (const c of clients) c.disconnect();
  await server?.stop();
});

describe('rate limits shared through Redis', () => {
  // 0.5/s with a burst of 20: a window of 40 s allowing 20, so the test never straddles two windows.
  const LIMIT = { perSecond: 0.5, burst: 20 };

  it('maps a limit to a fixed window: burst requests per ceil(burst / perSecond) s', () => {
    expect(windowOf(LIMIT)).toEqual({ points: 20, seconds: 40 });
    expect(windowOf({ perSecond: 20, burst: 40 })).toEqual({ points: 40, seconds: 2 });
    expect(windowOf({ perSecond: 10_000, burst: 10_000 })).toEqual({ points: 10_000, seconds: 1 });
  });

  it('two instances on one Redis allow a key its limit in all (not twice it); without Redis each allows it', async () => {
    const shared = await pair(true, 'rl1');
    const key = await keyWith(shared[0], LIMIT);
    const s = await alternate(shared, 60, key);
    expect(count(s, 200)).toBe(20);
    expect(count(s, 429)).toBe(40);

    const apart = await pair(false, 'rl2');
    const key2 = await keyWith(apart[0], LIMIT);
    expect(count(await alternate(apart, 60, key2), 200)).toBe(40); // the problem sharing solves
  });

  it('a key over its limit on one instance is refused on the other, with Retry-After (the rest of the window)', async () => {
    const [a, b] = await pair(true, 'rl3');
    const key = await keyWith(a, { perSecond: 0.1, burst: 2 }); // 2 per 20 s
    expect((await a.get('/api/v1/me', key)).status).toBe(200);
    expect((await a.get('/api/v1/me', key)).status).toBe(200);
    const r = await b.get('/api/v1/me', key);
    expect(r.status).toBe(429);
    expect(r.json().code).toBe('rate_limited');
    const retry = Number(r.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(19);
    expect(retry).toBeLessThanOrEqual(20);
  });

  it('failed authentications from one address count across instances: 2 + 2 failures reach the limit of 4', async () => {
    const [a, b] = await pair(true, 'af1');
    for (const on of [a, a, b, b]) expect((await on.get('/api/v1/me', WRONG)).status).toBe(401);
    // Over the limit: refused without the key being checked, even the right one, on either instance.
    for (const on of [a, b]) {
      const r = await on.get('/api/v1/me', `Bearer ${ADMIN}`);
      expect(r.status).toBe(429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(50);
    }
    expect(await storeErrors(a.api, 'auth_failures')).toBe(0);
  });
});

describe('Redis down: each instance falls back to its own count, with a metric', () => {
  it('no 503; a key gets the per-instance limit; failures count per instance; back to shared when Redis returns', async () => {
    const [a, b] = await pair(true, 'down');
    const key = await keyWith(a, { perSecond: 0.1, burst: 5 }); // 5 per 50 s
    expect(count(await alternate([a, b], 4, key), 200)).toBe(4); // shared: 4 of 5 used
    await server.kill();
    try {
      const onA = await alternate([a], 8, key);
      // A's own window: 5 allowed, whatever the fleet used before Redis went away (fail open).
      expect(count(onA, 200)).toBe(5);
      expect(count(onA, 429)).toBe(3);
      expect(count(onA, 503)).toBe(0);
      expect(count(await alternate([b], 6, key), 200)).toBe(5); // and B's own
      expect(await storeErrors(a.api, 'requests')).toBeGreaterThanOrEqual(8);
      expect(await storeErrors(b.api, 'requests')).toBeGreaterThanOrEqual(6);
      // Failed authentications still count, per instance: 4 on A refuse the address on A only.
      for (let i = 0; i < 4; i++) expect((await a.get('/api/v1/me', WRONG)).status).toBe(401);
      expect((await a.get('/api/v1/me', `Bearer ${ADMIN}`)).status).toBe(429);
      expect((await b.get('/api/v1/me', `Bearer ${ADMIN}`)).status).toBe(200);
      expect(await storeErrors(a.api, 'auth_failures')).toBeGreaterThan(0);
    } finally {
      await server.restart();
    }
    // Redis is back (empty: no persistence): both clients reconnect and the count is shared again.
    const deadline = Date.now() + 10_000;
    while (clients.some((c) => c.status !== 'ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const before = await storeErrors(b.api, 'requests');
    const fresh = await keyWith(a, { perSecond: 0.1, burst: 3 });
    const s = await alternate([a, b], 6, fresh);
    expect(count(s, 200)).toBe(3);
    expect(await storeErrors(b.api, 'requests')).toBe(before);
  });
});

describe('the config plane (src/main.ts) wires API_REDIS_URL', () => {
  it('shares limits and idempotency through it when set, and keeps them per process with none', async () => {
    const env = { DSP_ADMIN_KEY: ADMIN, API_REDIS_URL: server.url, API_REDIS_PREFIX: 'plane' };
    const shared = await openConfigPlane({ configDir: 'config', env });
    const alone = await openConfigPlane({ configDir: 'config', env: { ...env, REDIS_URL: server.url, API_REDIS_URL: 'none' } });
    try {
      expect(shared.startInfo().apiLimits).toBe('shared (API_REDIS_URL)');
      expect(shared.api.idempotency).toBeInstanceOf(RedisIdempotencyStore);
      expect(alone.startInfo().apiLimits).toBe('per process');
      expect(alone.api.idempotency).toBeInstanceOf(MemoryIdempotencyStore);
      // The plane's client connects in the background: until it is ready a check is counted locally.
      const raw = server.client();
      try {
        const deadline = Date.now() + 5_000;
        let keys: string[] = [];
        while (keys.length === 0 && Date.now() < deadline) {
          await shared.api.limiter.take('plane-key', { perSecond: 0.1, burst: 3 });
          keys = await raw.keys('plane:rl:*');
          if (keys.length === 0) await new Promise((r) => setTimeout(r, 50));
        }
        expect(keys).toEqual(['plane:rl:3/30:plane-key']);
        await alone.api.limiter.take('alone-key');
        expect(await raw.keys('api:rl:*')).toEqual([]);
      } finally {
        raw.disconnect();
      }
    } finally {
      await shared.close();
      await alone.close();
    }
  });
});

describe('settings', () => {
  it('API_REDIS_URL defaults to the config store\'s Redis; none keeps limits per process; a bad URL is refused', () => {
    const base = { DSP_ADMIN_KEY: ADMIN };
    expect(loadApiSettings(base).sharedRedisUrl).toBeUndefined();
    expect(loadApiSettings({ ...base, REDIS_URL: 'redis://r:6379' }).sharedRedisUrl).toBe('redis://r:6379');
    expect(loadApiSettings({ ...base, CONFIG_REDIS_URL: 'redis://c:6379', REDIS_URL: 'redis://r:6379' }).sharedRedisUrl).toBe('redis://c:6379');
    expect(loadApiSettings({ ...base, REDIS_URL: 'redis://r:6379', API_REDIS_URL: 'redis+cluster://a:1,b:2' }).sharedRedisUrl).toBe('redis+cluster://a:1,b:2');
    expect(loadApiSettings({ ...base, REDIS_URL: 'redis://r:6379', API_REDIS_URL: 'none' }).sharedRedisUrl).toBeUndefined();
    expect(() => loadApiSettings({ ...base, API_REDIS_URL: 'http://x' })).toThrow(/API_REDIS_URL/);
    expect(loadApiSettings(base).idempotencyTtlMs).toBe(86_400_000);
    expect(loadApiSettings({ ...base, API_IDEMPOTENCY_TTL_SECONDS: '3600' }).idempotencyTtlMs).toBe(3_600_000);
    expect(loadApiSettings(base).sharedRedisPrefix).toBe('api');
  });
});
