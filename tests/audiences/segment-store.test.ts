/**
 * The segment stores for real: the contract against the in-process store, a real redis-server, a
 * real 3-master Redis Cluster and the bid workers' proxy to the main thread's store; then what only
 * Redis has (key TTLs, compact encoding, bytes per user, key placement on the Cluster).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Cluster, type Redis } from 'ioredis';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import { createRedis } from '../../src/storage/redis-client.js';
import { RedisSegmentStore } from '../../src/audiences/redis-segment-store.js';
import type { MembershipRow, SegmentStore } from '../../src/audiences/segment-store.js';
import { NotifyingSegmentStore } from '../../src/workers/notifying-store.js';
import { RemoteSegmentStore } from '../../src/workers/remote.js';
import { workerLink } from '../helpers/worker-link.js';
import type { RedisCluster } from '../helpers/redis-cluster.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import { meta, segmentStoreContract } from './segment-store.contract.js';
import { whenReady } from '../helpers/redis-ready.js';

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

/** A store wired as build-audiences.ts wires it: a hot-path client for lookups, an admin client for writes. */
async function redisStore(url: string, prefix: string): Promise<RedisSegmentStore> {
  const hot = createRedis(url);
  const admin = createRedis(url, { admin: true });
  await Promise.all([whenReady(hot), whenReady(admin)]);
  return new RedisSegmentStore(hot, admin, prefix);
}

let n = 0;

segmentStoreContract('memory', async () => ({ store: new MemorySegmentStore(), cleanup: async () => {} }));

segmentStoreContract('redis', async () => {
  const store = await redisStore(server.url, `t${++n}:`);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await raw.flushall();
    },
  };
});

segmentStoreContract('redis cluster (3 masters)', async () => {
  const store = await redisStore(cluster.url, `c${++n}:`);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await Promise.all(clusterRaw.map((c) => c.flushall()));
    },
  };
});

/**
 * The worker proxy: what a bid thread calls (lookups, metadata reads, memberships and matches
 * learnt on the exchange-facing port) goes through RemoteSegmentStore to the main thread's store,
 * wrapped as main.ts wraps it (NotifyingSegmentStore); what only the admin API does (segments,
 * user removal) goes to that store directly, as on the main thread.
 */
segmentStoreContract('worker proxy (RemoteSegmentStore → memory, over a MessageChannel)', async () => {
  const main = new NotifyingSegmentStore(new MemorySegmentStore(), { keys: () => undefined, meta: () => undefined });
  const end = workerLink({ segmentStore: main });
  const remote = new RemoteSegmentStore(end.link);
  const store: SegmentStore = {
    kind: remote.kind,
    lookup: (keys) => remote.lookup(keys),
    metaVersion: () => remote.metaVersion(),
    listSegments: () => remote.listSegments(),
    addMemberships: (rows) => remote.addMemberships(rows),
    putMatch: (e, u, at) => remote.putMatch(e, u, at),
    removeMembership: (key, segment) => remote.removeMembership(key, segment),
    removeUser: (key) => main.removeUser(key),
    putSegment: (m) => main.putSegment(m),
    getSegment: (id) => main.getSegment(id),
    dropSegment: (id) => main.dropSegment(id),
    close: () => remote.close(),
  };
  return { store, cleanup: async () => end.close() };
});

const now = () => Math.floor(Date.now() / 1000);

/** Realistic ids: a mobile ad id, an exchange-synced uid, a UID2-style token. */
function userKeyFor(i: number): string {
  const hex = (i * 2654435761).toString(16).padStart(12, '0').slice(-12);
  switch (i % 3) {
    case 0:
      return `ifa:6d92078a-8246-4ba4-ae5b-${hex}`;
    case 1:
      return `uid:CAESEK${hex}x9Qm2yFhZ3`;
    default:
      return `eid:uidapi.com:A4AAAAB${hex}lh75XmviGJi-hkLGM96duGY7T`;
  }
}
const SEGMENTS = [
  'acme-crm-customers',
  'acme-crm-vip',
  'in-market-shoes',
  'auto-intenders-suv',
  'travel.frequent-flyers',
  'acme-recent-buyers',
  'sports:football-fans',
  'lookalike-acme-vip-5pct',
];

describe('redis segment store: what only Redis has', () => {
  let store: RedisSegmentStore;
  beforeEach(async () => {
    store = await redisStore(server.url, 'aud:');
  });
  afterEach(async () => {
    await store.close();
    await raw.flushall();
  });

  /** Every user key expires exactly with its latest membership. */
  async function expectTtlsMatchLatestMembership(): Promise<number> {
    let checked = 0;
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', 'aud:u:*', 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const [h, exp] = await Promise.all([raw.hgetall(k), raw.expiretime(k)]);
        const latest = Math.max(...Object.values(h).map(Number));
        expect(exp, k).toBe(latest);
        checked++;
      }
    } while (cursor !== '0');
    return checked;
  }

  it('keeps the documented key layout', async () => {
    const t = now() + 3_600;
    await store.putSegment(meta('acme-crm-vip'));
    await store.addMemberships([{ key: 'uid:alice', segments: ['acme-crm-vip'], expiresAt: t }]);
    expect(store.userKey('uid:alice')).toBe('aud:u:{uid:alice}');
    expect((await raw.keys('*')).sort()).toEqual(['aud:hll:{acme-crm-vip}', 'aud:segments', 'aud:u:{uid:alice}', 'aud:version']);
    expect(await raw.type('aud:u:{uid:alice}')).toBe('hash');
    expect(await raw.hgetall('aud:u:{uid:alice}')).toEqual({ 'acme-crm-vip': String(t) });
    expect(JSON.parse((await raw.hget('aud:segments', 'acme-crm-vip'))!)).toEqual(meta('acme-crm-vip'));
    expect(await raw.pfcount('aud:hll:{acme-crm-vip}')).toBe(1);
    expect(await raw.get('aud:version')).toBe('1');
    // segment metadata and counters never expire; only user keys do
    expect(await raw.ttl('aud:segments')).toBe(-1);
    expect(await raw.ttl('aud:version')).toBe(-1);
  });

  it('gives every user key a TTL equal to its latest membership expiry', async () => {
    const t = now() + 3_600;
    await store.addMemberships([
      { key: 'uid:a', segments: ['s1'], expiresAt: t },
      { key: 'uid:a', segments: ['s2'], expiresAt: t + 100 },
      { key: 'uid:b', segments: ['s1', 's2', 's3'], expiresAt: t + 7 },
    ]);
    expect(await raw.expiretime('aud:u:{uid:a}')).toBe(t + 100);
    expect(await raw.expiretime('aud:u:{uid:b}')).toBe(t + 7);
    await store.addMemberships([{ key: 'uid:a', segments: ['s1'], expiresAt: t + 500 }]); // later: pushes the TTL out
    expect(await raw.expiretime('aud:u:{uid:a}')).toBe(t + 500);
    await store.addMemberships([{ key: 'uid:a', segments: ['s3'], expiresAt: t + 50 }]); // earlier: TTL unchanged
    expect(await raw.expiretime('aud:u:{uid:a}')).toBe(t + 500);
    expect(await expectTtlsMatchLatestMembership()).toBe(2);
    await store.removeUser('uid:a');
    expect(await raw.expiretime('aud:u:{uid:a}')).toBe(-2);
  });

  it('keeps the TTL equal to the latest remaining membership after dropSegment', async () => {
    const t = now() + 3_600;
    await store.putSegment(meta('long'));
    await store.putSegment(meta('short'));
    const rows: MembershipRow[] = [];
    for (let i = 0; i < 1_500; i++) {
      rows.push({ key: userKeyFor(i), segments: ['short'], expiresAt: t + (i % 7) });
      if (i % 2) rows.push({ key: userKeyFor(i), segments: ['long'], expiresAt: t + 86_400 * 300 });
    }
    await store.addMemberships(rows);
    expect(await expectTtlsMatchLatestMembership()).toBe(1_500);
    expect(await store.dropSegment('long')).toBe(true);
    // a dropped long-lived segment must not keep its users' keys alive for 300 days
    expect(await expectTtlsMatchLatestMembership()).toBe(1_500);
    expect(await raw.expiretime(store.userKey(userKeyFor(1)))).toBe(t + 1);
  });

  it('stores small users compactly (listpack) and reports bytes per user', async () => {
    const t = now() + 30 * 86_400;
    const USERS = 2_000;
    const report: Record<string, { memoryUsage: number; usedMemoryDelta: number }> = {};
    for (const segCount of [1, 3, 8]) {
      await raw.flushall();
      const before = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))![1]);
      const rows: MembershipRow[] = [];
      for (let i = 0; i < USERS; i++) rows.push({ key: userKeyFor(i), segments: SEGMENTS.slice(0, segCount), expiresAt: t + (i % 1000) });
      for (let i = 0; i < rows.length; i += 1_000) await store.addMemberships(rows.slice(i, i + 1_000));
      // the segments' HyperLogLogs are per segment, not per user: leave them out
      let hll = 0;
      for (const seg of SEGMENTS.slice(0, segCount)) hll += Number(await raw.call('MEMORY', 'USAGE', `aud:hll:{${seg}}`, 'SAMPLES', '0'));
      const after = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))![1]) - hll;
      let usage = 0;
      for (let i = 0; i < USERS; i++) {
        const k = store.userKey(userKeyFor(i));
        if (i % 97 === 0) expect(await raw.call('OBJECT', 'ENCODING', k), k).toBe('listpack');
        usage += Number(await raw.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
      }
      report[`${segCount} segment${segCount > 1 ? 's' : ''}`] = {
        memoryUsage: Math.round(usage / USERS),
        usedMemoryDelta: Math.round((after - before) / USERS),
      };
    }
    console.log(`bytes per user (keys ~40-60 chars, segment ids 12-23 chars, ${USERS} users):`, JSON.stringify(report));
    // generous bounds that a regression to the hashtable encoding breaks
    // (measured on Redis 7.0 listpack: about 150 / 185 / 330; the hashtable encoding: about 265 / 390 / 785)
    expect(report['1 segment'].memoryUsage).toBeLessThan(220);
    expect(report['3 segments'].memoryUsage).toBeLessThan(260);
    expect(report['8 segments'].memoryUsage).toBeLessThan(480);
  });
});

describe('redis cluster: key placement', () => {
  let store: RedisSegmentStore;
  beforeEach(async () => {
    store = await redisStore(cluster.url, 'aud:');
  });
  afterEach(async () => {
    await store.close();
    await Promise.all(clusterRaw.map((c) => c.flushall()));
  });

  it('places each user key by the slot of the whole user key (its hash tag) and spreads users over every master', async () => {
    const t = now() + 3_600;
    const keys = Array.from({ length: 300 }, (_, i) => userKeyFor(i));
    await store.addMemberships(keys.map((key) => ({ key, segments: ['s1', 's2'], expiresAt: t })));
    const perNode = await Promise.all(clusterRaw.map((c) => c.dbsize()));
    expect(perNode.reduce((a, b) => a + b, 0)).toBe(300 + 2); // + hll:{s1}, hll:{s2}
    for (const count of perNode) expect(count).toBeGreaterThan(50);
    for (const key of keys.slice(0, 30)) {
      const slotOfKey = await clusterRaw[0].call('CLUSTER', 'KEYSLOT', store.userKey(key));
      expect(slotOfKey).toBe(await clusterRaw[0].call('CLUSTER', 'KEYSLOT', key));
      expect(slotOfKey).toBe(await clusterRaw[0].call('CLUSTER', 'KEYSLOT', `{${key}}`));
    }
    const plain = new Cluster(cluster.nodes.map((s) => ({ host: '127.0.0.1', port: s.port })));
    try {
      for (const key of keys.slice(0, 30)) expect(await plain.expiretime(store.userKey(key))).toBe(t);
    } finally {
      plain.disconnect();
    }
  });

  it('sweeps a dropped segment on every master and re-aims each user key\'s TTL', async () => {
    const t = now() + 3_600;
    await store.putSegment(meta('long'));
    const keys = Array.from({ length: 300 }, (_, i) => userKeyFor(i));
    await store.addMemberships(keys.map((key, i) => ({ key, segments: ['short'], expiresAt: t + (i % 5) })));
    await store.addMemberships(keys.map((key) => ({ key, segments: ['long'], expiresAt: t + 86_400 * 300 })));
    expect(await store.dropSegment('long')).toBe(true);
    const plain = new Cluster(cluster.nodes.map((s) => ({ host: '127.0.0.1', port: s.port })));
    try {
      const exp = await Promise.all(keys.map((k) => plain.expiretime(store.userKey(k))));
      expect(exp).toEqual(keys.map((_, i) => t + (i % 5)));
    } finally {
      plain.disconnect();
    }
    const r = await store.lookup(keys);
    expect(r.every((u, i) => u?.length === 1 && u[0].segment === 'short' && u[0].expiresAt === t + (i % 5))).toBe(true);
  });
});
