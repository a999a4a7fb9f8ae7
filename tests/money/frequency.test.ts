/**
 * Frequency caps: the decision's checks per scope and window with fail-open/closed, the per-thread
 * service (cache, pending bids and when they end, lookup budget), end to end through the bid and notice routes (the hashed user key travels in the signed
 * notice URLs), and four bid threads racing for one user on one Redis, against the documented margin.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../helpers/redis-server.js';
import { createRedis, type RedisLike } from '../../src/storage/redis-client.js';
import { MemoryFrequencyStore, RedisFrequencyStore, type FrequencyStore, type FrequencyWindow } from '../../src/money/frequency-store.js';
import { FrequencyService, userHash } from '../../src/money/frequency.js';
import { Registry } from 'prom-client';
import { frequencyLookups } from '../../src/metrics/money-metrics.js';
import { decideFor } from '../../src/bidding/bidder.js';
import type { UserCaps } from '../../src/bidding/money-gate.js';
import { campaign, snapshotOf, view } from '../bidding/support.js';
import { startBidder, type TestBidder } from '../helpers/bidder.js';
import { RecordingSink, pathOf, impressionPixel } from '../helpers/notice-kit.js';

let redis: RedisServer;
const clients: RedisLike[] = [];

async function redisClient(): Promise<RedisLike> {
  const c = createRedis(redis.url);
  clients.push(c);
  if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
  return c;
}

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('userHash', () => {
  it('is the first key\'s SHA-256, base64url, cut to 16 characters (what notices and counters already carry)', () => {
    expect(userHash([])).toBeUndefined();
    expect(userHash(['uid:alice'])).toBe('gcaRZPdrUl9wrs-Z');
    for (const key of ['uid:alice', 'ifa:6d92078a-8246-4ba4-ae5b-76104861e7dc', 'xid:ex:é€😀', 'eid:id5-sync.com:' + 'x'.repeat(200)])
      expect(userHash([key, 'uid:other'])).toBe(createHash('sha256').update(key).digest('base64url').slice(0, 16));
  });
});

describe('caps in the decision', () => {
  const caps = (seen: Record<string, number>, known = true): UserCaps => ({ user: 'u', known, seen: (w, f) => seen[`${w}|${f}`] ?? 0 });
  const snap = snapshotOf([
    campaign('capped', {
      bid: { base: 2, max: 2 },
      frequencyCaps: { caps: [{ scope: 'campaign', window: 'day', max: 3 }, { scope: 'advertiser', window: 'hour', max: 5 }, { scope: 'creative', window: 'lifetime', max: 10 }] },
    }),
    campaign('open', { bid: { base: 1.5, max: 1.5 }, frequencyCaps: { caps: [{ scope: 'campaign', window: 'hour', max: 1 }], whenUnavailable: 'bid' } }),
  ]);
  const d = (c?: UserCaps) => {
    const r = decideFor(view({}), snap, snap.defaultExchange, Date.parse('2026-01-12T12:00:00Z'), undefined, undefined, c);
    return r.noBid ?? r.bids.map((b) => `${b.campaign.id}:${b.user}`)[0];
  };

  it('each scope and window stops the campaign at its max; the next campaign bids', () => {
    expect(d(caps({}))).toBe('capped:u');
    expect(d(caps({ 'day|c:capped': 2 }))).toBe('capped:u');
    expect(d(caps({ 'day|c:capped': 3 }))).toBe('open:u');
    expect(d(caps({ 'hour|a:adv': 5 }))).toBe('open:u'); // "capped" caps its advertiser at 5 an hour; "open" does not
    expect(d(caps({ 'lifetime|cr:cr-capped': 10 }))).toBe('open:u');
    expect(d(caps({ 'day|c:capped': 3, 'hour|c:open': 1 }))).toBe('frequency_capped');
  });

  it('fail-closed (default) and fail-open when the counters are unknown or there is no user', () => {
    expect(d(caps({}, false))).toBe('open:u');
    expect(d(undefined)).toBe('open:undefined');
    expect(d(caps({ 'hour|c:open': 1 }, true))).toBe('capped:u');
  });
});

describe('FrequencyService', () => {
  it('counts its lookups by result in bidder_frequency_lookups_total', async () => {
    let now = Date.parse('2026-01-12T12:30:00Z');
    const registry = new Registry();
    const lookups = frequencyLookups(registry);
    const slow = new MemoryFrequencyStore(() => now);
    const f = new FrequencyService(slow, { cacheTtlMs: 1000, holdMs: 5000, maxUsers: 100, clock: () => now, lookups });
    await f.resolve('u', ['hour'], 50); // store
    f.resolve('u', ['hour'], 50); // cached
    f.resolve('u', ['hour'], 50); // cached
    now += 1001;
    f.resolve('u', ['hour'], 0); // past the TTL with no budget: unavailable
    const values = Object.fromEntries((await lookups.get()).values.map((v) => [v.labels.result, v.value]));
    expect(values).toEqual({ store: 1, cached: 2, unavailable: 1 });
  });

  it('reads within the lookup budget, caches, counts its own bids at once, and sees recorded impressions after the cache TTL', async () => {
    let now = Date.parse('2026-01-12T12:30:00Z');
    const store = new MemoryFrequencyStore(() => now);
    const f = new FrequencyService(store, { cacheTtlMs: 1000, holdMs: 5000, maxUsers: 100, clock: () => now });
    const first = await f.resolve('u', ['hour'], 50);
    expect(first.known).toBe(true);
    expect(first.seen('hour', 'c:a')).toBe(0);
    const b = { campaignId: 'a', creativeId: 'cr', advertiserId: 'adv' };
    f.bid('u', [b], ['hour']);
    const cached = f.resolve('u', ['hour'], 50);
    expect(cached instanceof Promise).toBe(false);
    expect((cached as UserCaps).seen('hour', 'c:a')).toBe(1);
    await f.record('u', b, ['hour'], Math.floor(now / 1000));
    now += 1001;
    const fresh = await f.resolve('u', ['hour'], 50);
    expect(fresh.seen('hour', 'c:a')).toBe(2); // the recorded impression, and the pending bid (conservative until holdMs)
    now += 5000; // the pending bid is past holdMs
    expect((await f.resolve('u', ['hour'], 50)).seen('hour', 'c:a')).toBe(1);
  });

  it('an hourly cap starts again at the hour: the counters of the new bucket, not the cached ones of the last', async () => {
    let now = Date.parse('2026-01-12T12:59:59.400Z');
    const store = new MemoryFrequencyStore(() => now);
    const f = new FrequencyService(store, { cacheTtlMs: 60_000, holdMs: 0, maxUsers: 100, clock: () => now });
    const b = { campaignId: 'a', creativeId: 'cr', advertiserId: 'adv' };
    const windows: FrequencyWindow[] = ['hour', 'day']; // one list, as the bid path passes the snapshot's
    await f.record('u', b, windows, Math.floor(now / 1000));
    expect((await f.resolve('u', windows, 50)).seen('hour', 'c:a')).toBe(1);
    now += 300; // still 12:59:59: cached
    const cached = f.resolve('u', windows, 50) as UserCaps;
    expect(cached.seen('hour', 'c:a')).toBe(1);
    now += 600; // 13:00:00.3, well inside the cache TTL: the hour's bucket changed, so the counters are read again
    const next = await f.resolve('u', windows, 50);
    expect(next.seen('hour', 'c:a')).toBe(0);
    expect(next.seen('day', 'c:a')).toBe(1);
  });

  it('a bid stops counting as pending with the read that includes its impression, recorded by any thread: never counted twice', async () => {
    let now = Date.parse('2026-01-12T12:30:00Z');
    const store = new MemoryFrequencyStore(() => now);
    const opts = { cacheTtlMs: 1000, holdMs: 10_000, maxUsers: 100, clock: () => now };
    const bidder = new FrequencyService(store, opts);
    const elsewhere = new FrequencyService(store, opts); // another thread or instance, where the notice landed
    await bidder.resolve('u', ['hour'], 50);
    const b = { campaignId: 'a', creativeId: 'cr', advertiserId: 'adv', bidId: 'h1-1' };
    bidder.bid('u', [b], ['hour']);
    await elsewhere.record('u', b, ['hour'], Math.floor(now / 1000));
    expect((bidder.resolve('u', ['hour'], 50) as UserCaps).seen('hour', 'c:a')).toBe(1); // cached: the pending bid
    now += 1001;
    expect((await bidder.resolve('u', ['hour'], 50)).seen('hour', 'c:a')).toBe(1); // refreshed: the impression, not the bid too
    // Its own impression notice: the same.
    bidder.bid('u', [{ ...b, bidId: 'h1-2' }], ['hour']);
    await bidder.record('u', { ...b, bidId: 'h1-2' }, ['hour'], Math.floor(now / 1000));
    now += 1001;
    expect((await bidder.resolve('u', ['hour'], 50)).seen('hour', 'c:a')).toBe(2);
  });

  it('a loss ends the hold: at once on the thread that bid, with the next read elsewhere', async () => {
    let now = Date.parse('2026-01-12T12:30:00Z');
    const store = new MemoryFrequencyStore(() => now);
    const opts = { cacheTtlMs: 1000, holdMs: 10_000, maxUsers: 100, clock: () => now };
    const bidder = new FrequencyService(store, opts);
    const elsewhere = new FrequencyService(store, opts);
    await bidder.resolve('u', ['hour'], 50);
    const b = { campaignId: 'a', creativeId: 'cr', advertiserId: 'adv' };
    bidder.bid('u', [{ ...b, bidId: 'h1-1' }, { ...b, bidId: 'h1-2' }], ['hour']);
    expect((bidder.resolve('u', ['hour'], 50) as UserCaps).seen('hour', 'c:a')).toBe(2);
    await bidder.end('u', 'h1-1');
    expect((bidder.resolve('u', ['hour'], 50) as UserCaps).seen('hour', 'c:a')).toBe(1);
    await elsewhere.end('u', 'h1-2');
    now += 1001;
    expect((await bidder.resolve('u', ['hour'], 50)).seen('hour', 'c:a')).toBe(0);
  });

  it('a store slower than the budget, or failing: unknown counters (the campaign fails open or closed)', async () => {
    const slow: FrequencyStore = { kind: 'memory', counts: () => sleep(200).then(() => ({ rows: [{}], ended: [] })), record: async () => {}, end: async () => {}, close: async () => {} };
    const f = new FrequencyService(slow, { cacheTtlMs: 1000, holdMs: 5000, maxUsers: 100 });
    const t0 = performance.now();
    expect((await f.resolve('u', ['day'], 20)).known).toBe(false);
    expect(performance.now() - t0).toBeLessThan(100);
    const failing: FrequencyStore = { kind: 'memory', counts: () => Promise.reject(new Error('down')), record: async () => {}, end: async () => {}, close: async () => {} };
    expect((await new FrequencyService(failing, { cacheTtlMs: 1000, holdMs: 5000, maxUsers: 100 }).resolve('u', ['day'], 20)).known).toBe(false);
  });
});

describe('end to end: bid, impression notice, cap', () => {
  let bidder: TestBidder;
  beforeAll(async () => {
    const store = new MemoryFrequencyStore();
    bidder = await startBidder({
      env: { DEBUG_NOBID: '1' },
      events: new RecordingSink(),
      frequency: new FrequencyService(store, { cacheTtlMs: 0, holdMs: 0, maxUsers: 100 }),
      bundle: {
        exchanges: [{ id: 'main', seat: 'seat', currency: 'USD' }],
        advertisers: [{ id: 'adv', name: 'Advertiser', domains: ['adv.example'] }],
        campaigns: [
          {
            id: 'capped',
            advertiserId: 'adv',
            bid: { base: 1, max: 1 },
            frequencyCaps: { caps: [{ scope: 'campaign', window: 'day', max: 2 }] },
            creatives: [{ id: 'cr1', type: 'banner', w: 300, h: 250, imageUrl: 'https://cdn.adv.example/a.png', landingUrl: 'https://adv.example/' }],
          },
        ],
      },
    });
  });
  afterAll(() => bidder?.close());

  const request = (user: string) => ({ id: `r${Math.random()}`, imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'news.example', page: 'https://news.example/' }, user: { buyeruid: user }, device: { ip: '203.0.113.5' } });

  it('the notice URLs carry the signed user hash; two impressions cap the user, not others', async () => {
    const shown: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await bidder.post('/bid', request('alice'));
      expect(r.status).toBe(200);
      const bid = r.json().seatbid[0].bid[0];
      const pixel = impressionPixel(bid.adm)!;
      expect(pixel).toContain(`u=${userHash(['uid:alice'])}`);
      shown.push(pixel);
    }
    // Bids alone do not count (no impression yet: holdMs 0 here): a third bid is still made.
    expect((await bidder.post('/bid', request('alice'))).status).toBe(200);
    for (const p of shown) expect((await bidder.get(pathOf(p), false)).status).toBe(200);
    await sleep(20);
    const capped = await bidder.post('/bid', request('alice'));
    expect(capped.status).toBe(204);
    expect(capped.headers['x-nobid-reason']).toBe('frequency_capped');
    expect((await bidder.post('/bid', request('bob'))).status).toBe(200);
    // A tampered user hash breaks the signature.
    for (const p of shown) {
      const forged = p.replace(/u=[^&]+/, `u=${userHash(['uid:bob'])}`);
      expect((await bidder.get(pathOf(forged), false)).status).toBe(200); // the pixel is always served ...
    }
    await sleep(20);
    expect((await bidder.post('/bid', request('bob'))).status).toBe(200); // ... but nothing was counted for bob
  });
});

describe('four bid threads racing for one user on one Redis', () => {
  /**
   * Each "request" goes to a random thread at a random moment; a bid's impression is recorded 5–30 ms
   * later. Returns the impressions the user got.
   */
  async function race(cap: number, requests: number, spreadMs: number, cacheTtlMs: number): Promise<number> {
    const store = new RedisFrequencyStore(await redisClient(), `race${Math.random()}:`);
    const threads = [0, 1, 2, 3].map(() => new FrequencyService(store, { cacheTtlMs, holdMs: 10_000, maxUsers: 1000 }));
    const snap = snapshotOf([campaign('c', { frequencyCaps: { caps: [{ scope: 'campaign', window: 'day', max: cap }] } })]);
    let impressions = 0;
    const pending: Promise<void>[] = [];
    await Promise.all(
      Array.from({ length: requests }, async (_, i) => {
        await sleep((i / requests) * spreadMs);
        const f = threads[i % 4];
        const caps = await f.resolve('user', ['day'], 50);
        const d = decideFor(view({}), snap, snap.defaultExchange, Date.now(), undefined, undefined, caps);
        if (d.noBid) return;
        f.bid('user', [{ campaignId: 'c', creativeId: 'cr-c', advertiserId: 'adv' }], ['day']);
        pending.push(
          sleep(5 + (i % 26)).then(async () => {
            impressions++;
            await f.record('user', { campaignId: 'c', creativeId: 'cr-c', advertiserId: 'adv' }, ['day'], Math.floor(Date.now() / 1000));
          }),
        );
      }),
    );
    await Promise.all(pending);
    return impressions;
  }

  it('concurrent requests: never more than cap + (threads − 1) × cap; spaced requests: exactly the cap', async () => {
    const cap = 3;
    const burst = await race(cap, 400, 300, 100);
    const spaced = await race(cap, 12, 12 * 160, 100); // 160 ms apart: more than the cache TTL plus the notice delay
    console.log(`frequency race: cap ${cap}, 400 requests over 300 ms on 4 threads → ${burst} impressions (margin ${3 * cap}); 12 requests 160 ms apart → ${spaced}`);
    expect(burst).toBeGreaterThanOrEqual(cap);
    expect(burst).toBeLessThanOrEqual(cap + 3 * cap);
    expect(spaced).toBe(cap);
  });
});
