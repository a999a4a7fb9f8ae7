/**
 * The scheduled rebuild of rule audiences from the event store, on chDB and on ClickHouse 18.16,
 * into the in-process store, Redis and Redis Cluster: backfill of a new rule from history,
 * lookback expiry, "and did not" exclusion, notices rules (campaign-restricted), one advertiser
 * never reading another's rows, and forgetting a user so that no rebuild brings them back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ChdbDatabase } from '../../src/events/chdb-database.js';
import { ClickHouseDatabase } from '../../src/events/clickhouse-database.js';
import type { EventDatabase } from '../../src/events/event-database.js';
import { migrate } from '../../src/events/migrate.js';
import { UserKeyer } from '../../src/events/user-key.js';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS } from '../../src/audiences/audience-service.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import { RedisSegmentStore } from '../../src/audiences/redis-segment-store.js';
import { createRedis } from '../../src/storage/redis-client.js';
import type { SegmentMeta, SegmentStore } from '../../src/audiences/segment-store.js';
import { eventKey, forgottenEventUserKeys } from '../../src/audiences/rule-audiences.js';
import { forgetEventUser, rebuildRule, RuleRebuilder } from '../../src/audiences/rule-rebuild.js';
import { userHash } from '../../src/money/frequency.js';
import { ClickHouseServer } from '../helpers/clickhouse-server.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import { whenReady } from '../helpers/redis-ready.js';

const keyer = new UserKeyer('rebuild-test-secret');
const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;
let n = 0;

const pixelRow = (advertiser: string, event: string, uid: string, ageDays: number) => ({
  event_id: `pixel:${++n}`, type: 'pixel', event_time: NOW - Math.round(ageDays * DAY), exchange: '', advertiser_id: advertiser,
  campaign_id: '', creative_id: '', bid_id: '', request_id: '', imp_id: '', deal_id: '',
  event_name: event, user_key: keyer.key(uid), value_base: 0, currency: '', item: '',
});
/** A notice row of a bid on a request whose first user key was `uid:<uid>`. */
const noticeRow = (type: 'impression' | 'click' | 'conversion', advertiser: string, campaign: string, uid: string, ageDays: number) => ({
  event_id: `${type}:${++n}`, type, event_time: NOW - Math.round(ageDays * DAY), exchange: 'ex1', advertiser_id: advertiser,
  campaign_id: campaign, creative_id: 'cr', bid_id: `b${n}`, request_id: '', imp_id: '', deal_id: '',
  user_key: keyer.key(userHash([`uid:${uid}`])!),
  ...(type === 'conversion' ? { order_id: '', value_base: 0, currency: 'USD' } : {}),
});
const pixelKey = (uid: string) => eventKey(keyer.key(uid));
const noticeKey = (uid: string) => eventKey(keyer.key(userHash([`uid:${uid}`])!));

const meta = (id: string, advertiserId: string, rule: SegmentMeta['rule']): SegmentMeta => ({
  id, name: id, advertiserId, ttlSeconds: rule!.lookbackDays * DAY, createdAt: new Date().toISOString(), rule,
});
const VISITED_NOT_BOUGHT = meta('acme-visit-no-buy', 'acme', { source: 'pixel', events: ['visit'], excludeEvents: ['purchase'], lookbackDays: 30 });
const GLOBEX_VISITORS = meta('globex-visitors', 'globex', { source: 'pixel', events: ['visit'], lookbackDays: 30 });
const CLICKED_X = meta('acme-clicked-x', 'acme', { source: 'notices', events: ['click'], campaignIds: ['x'], lookbackDays: 7 });
const CONVERTED = meta('acme-converted', 'acme', { source: 'notices', events: ['conversion'], lookbackDays: 90 });

async function load(events: EventDatabase): Promise<void> {
  await migrate(events);
  await events.insert('pixels', [
    pixelRow('acme', 'visit', 'fresh', 2), // member
    pixelRow('acme', 'visit', 'bought', 5), pixelRow('acme', 'purchase', 'bought', 3), // excluded
    pixelRow('acme', 'purchase', 'boughtlong', 40), pixelRow('acme', 'visit', 'boughtlong', 1), // purchase outside the lookback: member
    pixelRow('acme', 'visit', 'stale', 45), // lookback expired
    pixelRow('globex', 'visit', 'globexonly', 1), // another advertiser's visitor
    pixelRow('acme', 'visit', 'forgotten', 1),
  ]);
  await events.insert('clicks', [noticeRow('click', 'acme', 'x', 'clicker', 2), noticeRow('click', 'acme', 'y', 'otherclick', 2), noticeRow('click', 'acme', 'x', 'oldclick', 10), noticeRow('click', 'globex', 'x', 'globexclick', 1)]);
  await events.insert('conversions', [noticeRow('conversion', 'acme', 'y', 'converter', 60), noticeRow('conversion', 'globex', 'g', 'globexconv', 1)]);
  await events.insert('impressions', [noticeRow('impression', 'acme', 'x', 'viewer', 1)]);
}

function members(store: SegmentStore, segment: string, keys: string[]): Promise<string[]> {
  return store.lookup(keys).then((rows) => keys.filter((_, i) => rows[i]?.some((m) => m.segment === segment && m.expiresAt > NOW)));
}

function rebuildSuite(engine: string, openEvents: () => Promise<{ events: EventDatabase; dispose(): Promise<void> }>, stores: [string, () => Promise<SegmentStore>][]) {
  describe(`rule audience rebuild on ${engine}`, () => {
    let events: EventDatabase;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ events, dispose } = await openEvents());
      await load(events);
    }, 120_000);
    afterAll(async () => {
      await events?.close();
      await dispose?.();
    });

    for (const [name, open] of stores)
      it(`backfills, expires, excludes and keeps advertisers apart (${name} segment store)`, async () => {
        const store = await open();
        const audiences = new AudienceService(store, new AudienceMetrics(new Registry()), DEFAULT_AUDIENCE_SETTINGS);
        // Left behind by the online path: a member whose visit has left the lookback, and one who since bought.
        await store.addMemberships([{ key: pixelKey('stale'), segments: [VISITED_NOT_BOUGHT.id], expiresAt: NOW + DAY }]);
        await store.addMemberships([{ key: pixelKey('bought'), segments: [VISITED_NOT_BOUGHT.id], expiresAt: NOW + 20 * DAY }]);
        const uids = ['fresh', 'bought', 'boughtlong', 'stale', 'globexonly', 'forgotten'];
        const r = await rebuildRule(events, audiences, VISITED_NOT_BOUGHT, NOW);
        expect(r).toMatchObject({ members: 3 });
        expect(await members(store, VISITED_NOT_BOUGHT.id, uids.map(pixelKey))).toEqual(['fresh', 'boughtlong', 'forgotten'].map(pixelKey));
        const [fresh] = await store.lookup([pixelKey('fresh')]);
        expect(fresh?.find((m) => m.segment === VISITED_NOT_BOUGHT.id)?.expiresAt).toBe(NOW - 2 * DAY + 30 * DAY); // the visit's time plus the lookback

        await rebuildRule(events, audiences, GLOBEX_VISITORS, NOW);
        expect(await members(store, GLOBEX_VISITORS.id, uids.map(pixelKey))).toEqual([pixelKey('globexonly')]);

        const clickers = ['clicker', 'otherclick', 'oldclick', 'globexclick', 'viewer', 'converter', 'globexconv'];
        await rebuildRule(events, audiences, CLICKED_X, NOW);
        expect(await members(store, CLICKED_X.id, clickers.map(noticeKey))).toEqual([noticeKey('clicker')]);
        await rebuildRule(events, audiences, CONVERTED, NOW);
        expect(await members(store, CONVERTED.id, clickers.map(noticeKey))).toEqual([noticeKey('converter')]);
        await store.close();
      }, 60_000);

    it('the rebuilder backfills a rule as soon as it is live', async () => {
      const store = new MemorySegmentStore();
      const audiences = new AudienceService(store, new AudienceMetrics(new Registry()), DEFAULT_AUDIENCE_SETTINGS);
      const rebuilder = new RuleRebuilder(events, audiences, 3_600_000);
      await rebuilder.tick(); // no rules yet
      await store.putSegment({ ...CONVERTED, id: 'late-rule' });
      await audiences.refreshRegistry(true);
      await rebuilder.tick();
      expect(await members(store, 'late-rule', [noticeKey('converter')])).toEqual([noticeKey('converter')]);
    }, 60_000);

    it('forgetting a user deletes their pixel rows and blanks their key on notice rows: a rebuild does not bring them back', async () => {
      await forgetEventUser(events, [...forgottenEventUserKeys('uid:forgotten', keyer), ...forgottenEventUserKeys('uid:converter', keyer)]);
      // Mutations are asynchronous on a server: wait for them to be done.
      for (let i = 0; i < 100; i++) {
        const [row] = await events.query<{ n: number | string }>("SELECT count() AS n FROM system.mutations WHERE is_done = 0 AND database = currentDatabase()");
        if (Number(row.n) === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const [p] = await events.query<{ n: number | string }>(`SELECT count() AS n FROM pixels WHERE user_key = '${keyer.key('forgotten')}'`);
      expect(Number(p.n)).toBe(0);
      const [c] = await events.query<{ n: number | string }>(`SELECT count() AS n FROM conversions WHERE advertiser_id = 'acme'`);
      expect(Number(c.n)).toBe(1); // the conversion is still counted, without its user
      const store = new MemorySegmentStore();
      const audiences = new AudienceService(store, new AudienceMetrics(new Registry()), DEFAULT_AUDIENCE_SETTINGS);
      await rebuildRule(events, audiences, VISITED_NOT_BOUGHT, NOW);
      await rebuildRule(events, audiences, CONVERTED, NOW);
      expect(await members(store, VISITED_NOT_BOUGHT.id, [pixelKey('forgotten'), pixelKey('fresh')])).toEqual([pixelKey('fresh')]);
      expect(await members(store, CONVERTED.id, [noticeKey('converter')])).toEqual([]);
    }, 60_000);
  });
}

let servers: ContractServers;
beforeAll(async () => {
  servers = await startContractServers();
}, 120_000);
afterAll(() => servers?.stop());

const redisStore = (url: () => string, prefix: string) => async () =>
  new RedisSegmentStore(await whenReady(createRedis(url())), await whenReady(createRedis(url(), { admin: true })), `${prefix}${++n}:`);

rebuildSuite(
  'chDB',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chdb-rebuild-'));
    return { events: await ChdbDatabase.open(join(dir, 'data'), { database: 'dsp' }), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  [
    ['in-process', async () => new MemorySegmentStore()],
    ['redis', redisStore(() => servers.server.url, 'rebuild')],
    ['redis cluster', redisStore(() => servers.cluster.url, 'rebuildc')],
  ],
);

rebuildSuite(
  'ClickHouse 18.16',
  async () => {
    const server = await ClickHouseServer.start();
    return { events: await ClickHouseDatabase.open(server.url), dispose: () => server.dispose() };
  },
  [['in-process', async () => new MemorySegmentStore()]],
);
