/**
 * Lookalike audiences: the profile store (bounded, forgetting), its feed from the bid route (only
 * requests whose privacy outcome allows user data), the config API's lookalike field (tenancy of
 * the seed), the build publishing members as a full replacement to the in-process store and to
 * Redis, and the lift in the simulator's population with a hidden propensity (fixed seed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { ProfileFeed, ProfileStore } from '../../src/audiences/profiles.js';
import { LookalikeBuilder } from '../../src/audiences/lookalikes.js';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS } from '../../src/audiences/audience-service.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import { RedisSegmentStore } from '../../src/audiences/redis-segment-store.js';
import { createRedis } from '../../src/storage/redis-client.js';
import type { SegmentMeta, SegmentStore } from '../../src/audiences/segment-store.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';
import { measureLookalike } from '../../src/simulator/lookalike-market.js';
import { FORGET_HOLD_MS, ProfileCollector, ProfileForwarder } from '../../src/workers/profile-link.js';
import type { Sighting } from '../../src/audiences/profiles.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { httpRequest, startBidder, type TestBidder } from '../helpers/bidder.js';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { RedisServer } from '../helpers/redis-server.js';
import { tenants } from '../api/fixtures.js';
import { OUR_VENDOR, tcString } from '../helpers/tcf.js';

const T0 = Date.UTC(2026, 0, 5, 9);

describe('profile store', () => {
  it('keeps what it saw of a user, bounded lists, and evicts the user seen longest ago when full', () => {
    const store = new ProfileStore(2);
    store.observe({ key: 'uid:a', country: 'US', os: 'iOS', categories: ['IAB1'], domain: 'a.example', nowMs: T0, segments: ['s1'] });
    for (let i = 0; i < 20; i++) store.observe({ key: 'uid:a', domain: `d${i}.example`, nowMs: T0 + 3_600_000 });
    const a = store.get('uid:a')!;
    expect(a).toMatchObject({ country: 'US', os: 'iOS', categories: ['IAB1'], segments: ['s1'] });
    expect(a.domains).toHaveLength(12);
    expect(a.domains.at(-1)).toBe('d19.example');
    expect(a.hours).toBe((1 << 9) | (1 << 10));
    store.observe({ key: 'uid:b', nowMs: T0 });
    store.observe({ key: 'uid:a', nowMs: T0 }); // a is now the most recent
    store.observe({ key: 'uid:c', nowMs: T0 });
    expect(store.size).toBe(2);
    expect(store.get('uid:b')).toBeUndefined();
    expect(store.evictions).toBe(1);
    expect(store.forget('uid:a')).toBe(true);
    expect(store.get('uid:a')).toBeUndefined();
  });

  it('the feed samples one request in N into a fixed ring, overwrites the oldest when full, and forgets waiting samples', () => {
    const store = new ProfileStore(100);
    const feed = new ProfileFeed(store, { slots: 3, sampleEvery: 2 });
    const req = (domain: string) => ({ country: 'DE', region: 'BE', domain, categories: ['IAB2'], deviceType: 2, os: 'Windows', ua: undefined }) as never;
    let sampled = 0;
    for (let i = 0; i < 10; i++)
      if (feed.sampled()) {
        sampled++;
        feed.put(`uid:${i}`, req(`${i}.example`), T0, new Set(['seg']));
      }
    expect(sampled).toBe(5);
    expect(feed.overwritten).toBe(2); // 5 samples into 3 slots: the two oldest lost
    expect(feed.forget('uid:9')).toBe(true); // waiting in the ring
    expect(feed.drain()).toBe(3);
    expect([...store.entries()].map(([k]) => k)).toEqual(['uid:5', 'uid:7']);
    expect(store.get('uid:5')).toMatchObject({ country: 'DE', region: 'BE', os: 'Windows', deviceType: 2, domains: ['5.example'], segments: ['seg'] });
    expect(feed.drain()).toBe(0);
  });
});

describe('profiles gathered from bid workers (WORKERS>1)', () => {
  it('a worker posts each drain as one batch of plain sightings; the main thread takes them, counted per worker', () => {
    const sent: Sighting[][] = [];
    const feed = new ProfileFeed(new ProfileForwarder((b) => sent.push(b)), { slots: 8, sampleEvery: 1 });
    const req = { country: 'FRA', region: 'IDF', domain: 'a.example', categories: ['IAB8'], deviceType: 4, os: 'ios', ua: undefined } as never;
    feed.put('uid:a', req, T0, new Set(['s1']));
    feed.put('uid:b', req, T0, undefined);
    expect(feed.drain()).toBe(2);
    expect(feed.drain()).toBe(0);
    expect(sent).toHaveLength(1); // an empty drain posts nothing
    expect(sent[0][0]).toEqual({ key: 'uid:a', country: 'FRA', region: 'IDF', deviceType: 4, os: 'ios', browser: undefined, categories: ['IAB8'], domain: 'a.example', nowMs: T0, segments: ['s1'] });
    expect(structuredClone(sent[0])).toEqual(sent[0]); // what postMessage carries
    const collector = new ProfileCollector(new ProfileStore(10));
    collector.take(2, sent[0]);
    expect(collector.received.get(2)).toBe(2);
    expect(collector.store.get('uid:a')).toMatchObject({ country: 'FRA', domains: ['a.example'], segments: ['s1'] });
  });

  it('a forgotten user: gone from the store, from unsent samples, and refused from batches still in flight for a while', () => {
    let now = T0;
    const collector = new ProfileCollector(new ProfileStore(10), () => now);
    collector.take(1, [{ key: 'uid:x', nowMs: T0 }]);
    expect(collector.forget('uid:x')).toBe(true);
    collector.take(1, [{ key: 'uid:x', nowMs: T0 }, { key: 'uid:y', nowMs: T0 }]); // a batch posted before the worker heard
    expect(collector.store.get('uid:x')).toBeUndefined();
    expect(collector.store.get('uid:y')).toBeDefined();
    now += FORGET_HOLD_MS;
    collector.take(1, [{ key: 'uid:x', nowMs: now }]); // seen again later: a new profile
    expect(collector.store.get('uid:x')).toBeDefined();
    const sent: Sighting[][] = [];
    const forwarder = new ProfileForwarder((b) => sent.push(b));
    forwarder.observe({ key: 'uid:x', nowMs: T0 });
    forwarder.observe({ key: 'uid:z', nowMs: T0 });
    expect(forwarder.forget('uid:x')).toBe(true);
    forwarder.flush();
    expect(sent[0].map((s) => s.key)).toEqual(['uid:z']);
  });

  it('lists keep the most recent last, each value once', () => {
    const store = new ProfileStore(10);
    for (const d of ['a', 'b', 'c', 'a', 'a']) store.observe({ key: 'uid:l', domain: d, nowMs: T0 });
    expect(store.get('uid:l')!.domains).toEqual(['b', 'c', 'a']);
  });
});

const banner = (id: string) => ({ id, type: 'banner' as const, w: 300, h: 250, html: `<div>${id}</div>` });
const bundle: ConfigBundle = {
  exchanges: [{ id: 'default', seat: 'seat-1', currency: 'USD' }],
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
  campaigns: [{ id: 'c', advertiserId: 'acme', bid: { base: 2, max: 3 }, creatives: [banner('b')] }],
};

describe('profiles fed by the bid route', () => {
  let bidder: TestBidder;
  let feed: ProfileFeed;
  beforeAll(async () => {
    feed = new ProfileFeed(new ProfileStore(1000), { slots: 64, sampleEvery: 1 });
    bidder = await startBidder({ bundle, profiles: feed, env: { DEBUG_NOBID: '1', GDPR_VENDOR_ID: String(OUR_VENDOR) } });
  });
  afterAll(() => bidder?.close());

  let seq = 0;
  const bid = (user: string, regs?: object, consent?: string) =>
    bidder.post('/bid', {
      id: `r${++seq}`,
      imp: [{ id: '1', banner: { w: 300, h: 250 } }],
      site: { domain: 'news.example', cat: ['IAB17'] },
      device: { geo: { country: 'DEU', region: 'BE' }, devicetype: 2, os: 'Linux' },
      user: { buyeruid: user, ...(consent ? { consent } : {}) },
      ...(regs ? { regs } : {}),
    });

  it('a request whose privacy outcome allows user data leaves a profile under the user key', async () => {
    expect((await bid('allowed', { gdpr: 1 }, tcString())).status).toBe(200);
    feed.drain();
    expect(feed.store.get('uid:allowed')).toMatchObject({ country: 'DEU', region: 'DEU-BE', deviceType: 2, os: 'linux', domains: ['news.example'] });
    expect(feed.store.get('uid:allowed')!.categories).toContain('IAB17');
  });

  it('a request without consent stores nothing', async () => {
    expect((await bid('no-consent', { gdpr: 1 })).status).toBe(200);
    feed.drain();
    expect(feed.store.get('uid:no-consent')).toBeUndefined();
  });

  it('forgetting the user on the admin port removes the profile', async () => {
    expect((await bid('forget-me')).status).toBe(200);
    feed.drain();
    expect(feed.store.get('uid:forget-me')).toBeDefined();
    const r = await httpRequest(bidder.adminPort, 'DELETE', '/api/v1/users/uid/forget-me/segments');
    expect(r.status, r.text).toBe(200); // the user had a profile, though no segments
    expect(feed.store.get('uid:forget-me')).toBeUndefined();
  });
});

describe('lookalike lift in the simulator (fixed seed)', () => {
  it('the top decile converts at 2x the base rate or more', async () => {
    const r = await measureLookalike({ users: 40_000, seedConverters: 300, seed: 'lookalike-test' });
    expect(r.positivesSeen).toBe(300);
    expect(r.topDecileLift).toBeGreaterThanOrEqual(2);
    expect(r.deciles[0]).toBeGreaterThan(r.deciles[9]);
  }, 60_000);
});
