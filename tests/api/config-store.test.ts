/**
 * The config stores for real: the contract against the in-process store, a real redis-server and
 * a real 3-master Redis Cluster (every key shares one hash tag, so the commit script runs there
 * too); then what only Redis has: the change feed's fallback poll when a message is lost, and a
 * store that survives Redis restarting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { MemoryConfigStore } from '../../src/campaigns/config-store.js';
import { RedisConfigStore, createRedisConfigStore } from '../../src/campaigns/redis-config-store.js';
import { createRedis } from '../../src/storage/redis-client.js';
import { RedisServer } from '../helpers/redis-server.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import type { RedisCluster } from '../helpers/redis-cluster.js';
import { configStoreContract, doc } from './config-store.contract.js';

let servers: ContractServers;
let server: RedisServer;
let cluster: RedisCluster;
let raw: Redis;
let clusterRaw: Redis[];

beforeAll(async () => {
  servers = await startContractServers();
  ({ server, cluster, raw, clusterRaw } = servers);
});

afterAll(() => servers?.stop());

let n = 0;

configStoreContract('memory', async () => ({ store: new MemoryConfigStore(), cleanup: async () => {} }));

configStoreContract('redis', async () => {
  const prefix = `t${++n}`;
  const store = createRedisConfigStore(server.url, { prefix });
  const peers: RedisConfigStore[] = [];
  return {
    store,
    peer: () => {
      const p = createRedisConfigStore(server.url, { prefix });
      peers.push(p);
      return p;
    },
    cleanup: async () => {
      await store.close();
      await Promise.all(peers.map((p) => p.close()));
      await raw.flushall();
    },
  };
});

configStoreContract('redis cluster (3 masters)', async () => {
  const prefix = `c${++n}`;
  const store = createRedisConfigStore(cluster.url, { prefix });
  const peers: RedisConfigStore[] = [];
  return {
    store,
    peer: () => {
      const p = createRedisConfigStore(cluster.url, { prefix });
      peers.push(p);
      return p;
    },
    cleanup: async () => {
      await store.close();
      await Promise.all(peers.map((p) => p.close()));
      await Promise.all(clusterRaw.map((c) => c.flushall().catch(() => {})));
    },
  };
});

describe('Redis config store: the change feed and its fallback', () => {
  it('a watcher whose change message is lost still hears the new version from its poll (within ~500 ms)', async () => {
    const prefix = `lost${++n}`;
    // The watcher's subscriber connection listens on a channel nobody publishes to: every message is "lost".
    const watcher = new RedisConfigStore(createRedis(server.url, { admin: true }), createRedis(server.url, { admin: true }), { prefix, pollMs: 200 });
    const writer = createRedisConfigStore(server.url, { prefix });
    (watcher as unknown as { channel: string }).channel = 'nobody-publishes-here';
    try {
      const heard: { v: number; at: number }[] = [];
      watcher.watch((v) => heard.push({ v, at: performance.now() }), 0);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await writer.put('campaigns', doc('c', 1), 0);
      while (!heard.length && performance.now() - t0 < 3_000) await new Promise((r) => setTimeout(r, 10));
      expect(heard.map((h) => h.v)).toEqual([1]);
      expect(heard[0].at - t0).toBeLessThan(600);
    } finally {
      await watcher.close();
      await writer.close();
    }
  });

  it('the published message alone is enough: with polling effectively off, a change is heard in well under a second', async () => {
    const prefix = `fast${++n}`;
    const watcher = new RedisConfigStore(createRedis(server.url, { admin: true }), createRedis(server.url, { admin: true }), { prefix, pollMs: 60_000 });
    const writer = createRedisConfigStore(server.url, { prefix });
    try {
      const heard: number[] = [];
      watcher.watch((v) => heard.push(v), 0);
      await new Promise((r) => setTimeout(r, 200)); // the first poll has run, the subscription is up
      const t0 = performance.now();
      await writer.put('campaigns', doc('c', 1), 0);
      while (!heard.length && performance.now() - t0 < 2_000) await new Promise((r) => setTimeout(r, 2));
      expect(heard).toEqual([1]);
      expect(performance.now() - t0).toBeLessThan(250);
    } finally {
      await watcher.close();
      await writer.close();
    }
  });

  it('Redis restarting: the store reconnects and a watcher hears later changes again', async () => {
    const own = await RedisServer.start();
    const prefix = 'restart';
    const watcher = new RedisConfigStore(createRedis(own.url, { admin: true }), createRedis(own.url, { admin: true }), { prefix, pollMs: 200 });
    const writer = createRedisConfigStore(own.url, { prefix });
    try {
      const heard: number[] = [];
      watcher.watch((v) => heard.push(v), 0);
      await writer.put('campaigns', doc('c', 1), 0);
      await expect.poll(() => heard, { timeout: 3_000 }).toEqual([1]);
      await own.kill();
      await own.restart(); // no persistence: the data is gone, the version starts again from 0
      await expect.poll(() => writer.version().catch(() => -1), { timeout: 10_000 }).toBe(0);
      await expect.poll(() => heard.includes(0), { timeout: 5_000 }).toBe(true); // the reset is news too
      // A fresh store: versions 1 and 2 again. The watcher reports the reset (a lower version) and what follows.
      await writer.put('campaigns', doc('c', 1), 0);
      await writer.put('campaigns', doc('c', 2), 1);
      await expect.poll(() => heard.at(-1), { timeout: 5_000 }).toBe(2);
      expect(heard[0]).toBe(1);
    } finally {
      await watcher.close();
      await writer.close();
      await own.stop();
    }
  });
});

describe('Redis config store: the change feed after Redis restarts', () => {
  it('with polling effectively off, the store subscribes again after a reconnect and hears the change message', async () => {
    const own = await RedisServer.start();
    const prefix = 'resubscribe';
    const watcher = new RedisConfigStore(createRedis(own.url, { admin: true }), createRedis(own.url, { admin: true }), { prefix, pollMs: 60_000 });
    const writer = createRedisConfigStore(own.url, { prefix });
    try {
      const heard: number[] = [];
      watcher.watch((v) => heard.push(v), 0);
      await new Promise((r) => setTimeout(r, 200)); // the first poll has run, the subscription is up
      await writer.put('campaigns', doc('c', 1), 0);
      await expect.poll(() => heard, { timeout: 2_000 }).toEqual([1]);
      await own.kill();
      await own.restart(); // empty again: versions start from 0, and 1 is not news to the watcher
      await expect.poll(() => writer.version().catch(() => -1), { timeout: 10_000 }).toBe(0);
      await new Promise((r) => setTimeout(r, 300)); // the watcher's subscriber is back too
      await writer.put('campaigns', doc('c', 1), 0);
      await writer.put('campaigns', doc('c', 2), 1);
      // Only the change message can carry version 2 within the timeout: the next poll is a minute away.
      await expect.poll(() => heard.at(-1), { timeout: 3_000 }).toBe(2);
    } finally {
      await watcher.close();
      await writer.close();
      await own.stop();
    }
  });
});

describe('the API on a Redis store that goes away', () => {
  it('answers 503 store_unavailable while Redis is down (bids go on from the last snapshot), and works again when it is back', async () => {
    const { startApi, winner } = await import('../helpers/config-api.js');
    const { tenants } = await import('./fixtures.js');
    const own = await RedisServer.start();
    const h = await startApi({ bundle: tenants, store: createRedisConfigStore(own.url, { prefix: 'down' }) });
    try {
      expect((await h.call('GET', '/api/v1/campaigns')).status).toBe(200);
      await own.kill();
      const t0 = performance.now();
      const r = await h.call('PATCH', '/api/v1/campaigns/acme-c1', { name: 'while down' });
      expect(r.status).toBe(503);
      expect(r.json().code).toBe('store_unavailable');
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(await winner(h.bidder)).toBe('acme-cr1'); // the running snapshot keeps bidding
      await own.restart(); // empty again (no persistence)
      await expect.poll(async () => (await h.call('GET', '/api/v1/campaigns')).status, { timeout: 10_000 }).toBe(200);
    } finally {
      await h.close();
      await own.stop();
    }
  });
});
