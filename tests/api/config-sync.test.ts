/**
 * startConfigSync (a bidder's snapshot following the store), the API's settings (the admin key in
 * production and embedded modes) and openConfigStore (seeding from config/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryConfigStore, bundleFromStore, seedStore, type StoredDoc } from '../../src/campaigns/config-store.js';
import { snapshotFromStore, startConfigSync } from '../../src/campaigns/config-sync.js';
import { SnapshotRef, type Snapshot } from '../../src/campaigns/snapshot.js';
import { BidderMetrics } from '../../src/metrics/bidder-metrics.js';
import { ConfigError } from '../../src/errors.js';
import { loadApiSettings, openConfigStore } from '../../src/api/index.js';
import { loadBundleFromDir } from '../../src/campaigns/load-bundle.js';
import { RedisServer } from '../helpers/redis-server.js';
import { tenants } from './fixtures.js';

const bump = async (store: MemoryConfigStore, id: string, patch: Record<string, unknown>) => {
  const cur = (await store.get('campaigns', id))!;
  const r = await store.put('campaigns', { ...cur, ...patch, version: cur.version + 1 } as StoredDoc, cur.version);
  expect(r.ok).toBe(true);
};
const until = async (ok: () => boolean, ms = 2_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('startConfigSync', () => {
  it('follows the store: each change is compiled off the request path and swapped in whole; bursts are coalesced', async () => {
    const store = new MemoryConfigStore();
    await seedStore(store, tenants);
    const snapshots = new SnapshotRef(await snapshotFromStore(store));
    const metrics = new BidderMetrics({ defaultMetrics: false });
    const swaps: Snapshot[] = [];
    const sync = startConfigSync({ store, snapshots, metrics, debounceMs: 20, onSwap: (s, bundle) => {
      swaps.push(s);
      expect(bundle.campaigns!.map((c) => c.id)).toEqual(s.index.campaigns.map((c) => c.id).sort());
    } });
    try {
      expect(snapshots.current.version).toBe(1);
      for (let i = 0; i < 10; i++) await bump(store, 'acme-c1', { name: `burst ${i}` });
      await until(() => snapshots.current.version === 11);
      expect(swaps.length).toBeLessThan(4); // ten changes inside the debounce window: one or two rebuilds, not ten
      await bump(store, 'acme-c1', { status: 'paused' });
      await until(() => snapshots.current.version === 12);
      expect(snapshots.current.index.campaigns.map((c) => c.id)).toEqual(['globex-c1']);
      expect(await metrics.registry.getSingleMetricAsString('bidder_config_version')).toMatch(/ 12$/m);
    } finally {
      sync.stop();
    }
  });

  it('a configuration the file loader would refuse is not swapped in; the next good one is', async () => {
    const store = new MemoryConfigStore();
    await seedStore(store, tenants);
    const snapshots = new SnapshotRef(await snapshotFromStore(store));
    const errors: Error[] = [];
    const metrics = new BidderMetrics({ defaultMetrics: false });
    const sync = startConfigSync({ store, snapshots, metrics, onError: (e) => errors.push(e) });
    try {
      const before = snapshots.current;
      await bump(store, 'acme-c1', { bid: { base: 9, max: 1 } }); // a direct store write: nothing validated it
      await until(() => errors.length === 1);
      expect(errors[0]).toBeInstanceOf(ConfigError);
      expect((errors[0] as ConfigError).errors).toContainEqual(expect.objectContaining({ path: 'campaigns/acme-c1#/bid/base' }));
      expect(snapshots.current).toBe(before);
      expect(await metrics.registry.getSingleMetricAsString('bidder_config_reloads_total')).toMatch(/result="refused"} 1/);
      await bump(store, 'acme-c1', { bid: { base: 1, max: 2 } });
      await until(() => snapshots.current.version === 3);
      expect(errors).toHaveLength(1);
    } finally {
      sync.stop();
    }
  });

  it('a store that fails to answer is retried; the running snapshot stays meanwhile', async () => {
    const store = new MemoryConfigStore();
    await seedStore(store, tenants);
    const snapshots = new SnapshotRef(await snapshotFromStore(store));
    const readAll = store.readAll.bind(store);
    let failing = 2;
    store.readAll = async () => {
      if (failing-- > 0) throw new Error('connection lost');
      return readAll();
    };
    const errors: string[] = [];
    const sync = startConfigSync({ store, snapshots, retryMs: 20, onError: (e) => errors.push(e.message) });
    try {
      await bump(store, 'acme-c1', { name: 'x' });
      await until(() => snapshots.current.version === 2);
      expect(errors).toEqual(['connection lost', 'connection lost']);
    } finally {
      sync.stop();
    }
  });

  it('refresh() reads the store now', async () => {
    const store = new MemoryConfigStore();
    await seedStore(store, tenants);
    const snapshots = new SnapshotRef(await snapshotFromStore(store));
    const sync = startConfigSync({ store, snapshots, debounceMs: 10_000 });
    try {
      await bump(store, 'acme-c1', { name: 'now' });
      expect((await sync.refresh()).version).toBe(2);
    } finally {
      sync.stop();
    }
  });
});

describe('API settings: the first admin key', () => {
  it('production (a Redis config store, or NODE_ENV=production) refuses to start without DSP_ADMIN_KEY', () => {
    for (const env of [{ CONFIG_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' }, { NODE_ENV: 'production' }]) {
      const e = (() => {
        try {
          loadApiSettings(env);
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).errors).toContainEqual(expect.objectContaining({ path: 'DSP_ADMIN_KEY', code: 'required' }));
    }
    const s = loadApiSettings({ CONFIG_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1', DSP_ADMIN_KEY: 'a-long-enough-admin-key' });
    expect(s).toMatchObject({ production: true, adminKey: 'a-long-enough-admin-key', adminKeyGenerated: false, store: 'redis' });
  });

  it('embedded: a key is generated (a fresh one at each start) and marked to be printed', () => {
    const a = loadApiSettings({});
    const b = loadApiSettings({});
    expect(a).toMatchObject({ production: false, store: 'memory', adminKeyGenerated: true });
    expect(a.adminKey).toMatch(/^dsp_admin_[A-Za-z0-9_-]{43}$/);
    expect(a.adminKey).not.toBe(b.adminKey);
  });

  it('refuses bad values, all at once', () => {
    try {
      loadApiSettings({ CONFIG_STORE: 'postgres', DSP_ADMIN_KEY: 'short', API_RATE_LIMIT: '-1', CONFIG_REDIS_URL: 'http://x' });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).errors.map((x) => x.path).sort()).toEqual(['API_RATE_LIMIT', 'CONFIG_REDIS_URL', 'CONFIG_STORE', 'DSP_ADMIN_KEY']);
    }
  });
});

describe('openConfigStore', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(() => redis?.stop());

  it('memory: seeded from config/ at every start, bidding exactly what the files say', async () => {
    const { store, seeded } = await openConfigStore('config', { store: 'memory', redisUrl: undefined, redisPrefix: 'cfg' });
    try {
      expect(seeded).toBe(true);
      const files = await loadBundleFromDir('config');
      const { bundle } = await bundleFromStore(store);
      const active = files.campaigns!.filter((c) => (c.status ?? 'active') === 'active');
      expect(bundle.campaigns!.map((c) => c.id)).toEqual(active.map((c) => c.id).sort());
      // The same campaigns and creatives; a campaign's creatives come in id order (the store keeps no file order).
      const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((x, y) => (x.id < y.id ? -1 : 1));
      for (const c of bundle.campaigns!) {
        const f = active.find((x) => x.id === c.id)!;
        expect(c).toEqual({ ...f, status: 'active', creatives: byId(f.creatives) });
      }
      expect(bundle.exchanges).toEqual([...files.exchanges!].sort((x, y) => (x.id < y.id ? -1 : 1)));
      expect(bundle.currencies).toEqual(files.currencies);
      expect(bundle.defaultExchange).toEqual(files.defaultExchange);
    } finally {
      await store.close();
    }
  });

  it('Redis: seeded from config/ only while empty; afterwards the store is the source of truth (config/ is not even read)', async () => {
    const s = { store: 'redis' as const, redisUrl: redis.url, redisPrefix: 'open' };
    const first = await openConfigStore('config', s);
    expect(first.seeded).toBe(true);
    const version = await first.store.version();
    await first.store.close();
    const second = await openConfigStore('/nonexistent/config/dir', s);
    try {
      expect(second.seeded).toBe(false);
      expect(await second.store.version()).toBe(version);
    } finally {
      await second.store.close();
    }
    await expect(openConfigStore('/nonexistent/config/dir', { ...s, redisPrefix: 'empty' })).rejects.toThrow();
  });
});

describe('openConfigPlane (the one call for src/main.ts)', () => {
  it('embedded: seeds from config/, prints the generated admin key, follows the store; SIGHUP merges config/ again', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openConfigPlane } = await import('../../src/api/plane.js');
    const { buildSnapshot } = await import('../../src/campaigns/snapshot.js');
    const dir = await mkdtemp(join(tmpdir(), 'plane-'));
    const file = (base: number) => JSON.stringify({ ...tenants, campaigns: [{ ...tenants.campaigns![0], bid: { base, max: 5 } }] });
    await writeFile(join(dir, 'all.json'), file(1));
    const plane = await openConfigPlane({ configDir: dir, env: {} });
    try {
      expect(plane.initial.version).toBe(1);
      expect(plane.initial.bundle.campaigns!.map((c) => c.id)).toEqual(['acme-c1']);
      const info = plane.startInfo();
      expect(info).toMatchObject({ configStore: 'memory', configSeededFromFiles: true, adminKey: plane.settings.adminKey });
      expect((await plane.api.auth.authenticate(`Bearer ${info.adminKey}`)).ok).toBe(true);
      const snapshots = new SnapshotRef(buildSnapshot(plane.initial.bundle, plane.initial.version));
      const bundles: number[] = [];
      const sync = plane.follow({ snapshots, onSwap: (_s, bundle) => bundles.push(bundle.campaigns![0].bid.base) });
      try {
        await writeFile(join(dir, 'all.json'), file(2));
        const r = await plane.reload();
        expect(r).toMatchObject({ mode: 'merge', updated: 1 });
        await until(() => snapshots.current.version === 2);
        expect(bundles).toEqual([2]);
        expect(snapshots.current.index.byId.get('acme-c1')).toBeDefined();
        const audit = await plane.store.queryAudit({ limit: 5, actor: 'sighup' });
        expect(audit.items.map((e) => `${e.action} ${e.kind}/${e.id}`)).toEqual(['import campaigns/acme-c1']);
      } finally {
        sync.stop();
      }
    } finally {
      await plane.close();
      await rm(dir, { recursive: true });
    }
    const withKey = await openConfigPlane({ configDir: 'config', env: { DSP_ADMIN_KEY: 'my-own-admin-key-1234' } });
    try {
      expect(withKey.startInfo().adminKey).toBeUndefined();
    } finally {
      await withKey.close();
    }
  });
});
