/**
 * Rule audiences end to end: an advertiser's pixel, called by a browser with our cookie on one
 * bidder instance, puts the user into the advertiser's rule audience, and a bid request carrying
 * that user (user.buyeruid) on another instance gets the audience's campaign's bid within 60 s;
 * in-process, on Redis and on Redis Cluster. A foreign advertiser's pixel never reaches another's
 * audience; a user without consent is never stored. And the config API's rule validation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import { RedisSegmentStore } from '../../src/audiences/redis-segment-store.js';
import { createRedis } from '../../src/storage/redis-client.js';
import type { SegmentMeta, SegmentStore } from '../../src/audiences/segment-store.js';
import type { PixelEvent } from '../../src/events/event-types.js';
import { httpRequest, startBidder, type TestBidder } from '../helpers/bidder.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { tenants } from '../api/fixtures.js';
import { OUR_VENDOR } from '../helpers/tcf.js';
import { clickUrl, pathOf, RecordingSink } from '../helpers/notice-kit.js';
import { userHash } from '../../src/money/frequency.js';
import { UserKeyer } from '../../src/events/user-key.js';
import { eventKey, forgetUser } from '../../src/audiences/rule-audiences.js';
import { whenReady } from '../helpers/redis-ready.js';


const banner = (id: string, w: number, h: number) => ({ id, type: 'banner' as const, w, h, html: `<div>${id}</div>` });
const bundle: ConfigBundle = {
  exchanges: [{ id: 'ex1', seat: 's' }],
  currencies: { base: 'USD', rates: {} },
  advertisers: [
    { id: 'acme', name: 'Acme', domains: ['acme.example'] },
    { id: 'globex', name: 'Globex', domains: ['globex.example'] },
  ],
  campaigns: [
    // Each audience's campaign has its own size: the size asked for says whose audience the user is in.
    { id: 'acme-retarget', advertiserId: 'acme', bid: { base: 2, max: 3 }, targeting: { segments: { anyOf: ['acme-visitors'] } }, creatives: [banner('a', 300, 250)] },
    { id: 'globex-retarget', advertiserId: 'globex', bid: { base: 2, max: 3 }, targeting: { segments: { anyOf: ['globex-visitors'] } }, creatives: [banner('g', 728, 90)] },
    // Notices rules: a click on the prospecting campaign's ad puts the user into acme-clickers; a conversion takes them out.
    { id: 'acme-prospect', advertiserId: 'acme', bid: { base: 2, max: 3 }, creatives: [{ ...banner('p', 160, 600), html: '<a href="${DSP_CLICK_URL}">p</a>', landingUrl: 'https://acme.example/shop' }] },
    { id: 'acme-clickers-retarget', advertiserId: 'acme', bid: { base: 2, max: 3 }, targeting: { segments: { anyOf: ['acme-clickers'] } }, creatives: [banner('c', 320, 50)] },
  ],
};
const rule = (id: string, advertiserId: string): SegmentMeta => ({
  id,
  name: id,
  advertiserId,
  ttlSeconds: 30 * 86_400,
  createdAt: new Date().toISOString(),
  rule: { source: 'pixel', events: ['visit', 'product_view'], excludeEvents: ['purchase'], lookbackDays: 30 },
});

// The bidders' user key secret (tests/helpers/bidder.ts): what rules learn lives under the user's event key.
const keyer = new UserKeyer('test-user-key-secret');
const ek = (uid: string) => eventKey(keyer.key(uid));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

let servers: ContractServers;
beforeAll(async () => {
  servers = await startContractServers();
});
afterAll(() => servers?.stop());

async function redisStore(url: string, prefix: string): Promise<SegmentStore> {
  return new RedisSegmentStore(await whenReady(createRedis(url)), await whenReady(createRedis(url, { admin: true })), prefix);
}

const backends: [string, () => Promise<[SegmentStore, SegmentStore]>][] = [
  ['in-process', async () => {
    const one = new MemorySegmentStore();
    return [one, one];
  }],
  ['redis', async () => [await redisStore(servers.server.url, 'rules:'), await redisStore(servers.server.url, 'rules:')]],
  ['redis cluster', async () => [await redisStore(servers.cluster.url, 'rules:'), await redisStore(servers.cluster.url, 'rules:')]],
];

for (const [name, stores] of backends)
  describe(`rule audiences online (${name}): pixel on one instance, bid on another`, () => {
    let pixelHost: TestBidder;
    let bidHost: TestBidder;
    let sink: RecordingSink;
    let store: SegmentStore;

    beforeAll(async () => {
      const [a, b] = await stores();
      store = a;
      await a.putSegment(rule('acme-visitors', 'acme'));
      await a.putSegment(rule('globex-visitors', 'globex'));
      await a.putSegment({ ...rule('acme-clickers', 'acme'), rule: { source: 'notices', events: ['click'], excludeEvents: ['conversion'], campaignIds: ['acme-prospect'], lookbackDays: 7 } });
      sink = new RecordingSink();
      // Short cache and registry settings: what bounds "within 60 s" in production is the cache TTL.
      const audienceSettings = { cacheTtlMs: 300, negativeTtlMs: 300, registryPollMs: 100 };
      const env = { GDPR_VENDOR_ID: String(OUR_VENDOR), DEBUG_NOBID: '1' };
      pixelHost = await startBidder({ bundle, segmentStore: a, events: sink, audienceSettings, env });
      bidHost = await startBidder({ bundle, segmentStore: b, audienceSettings, env });
      for (const h of [pixelHost, bidHost]) h.audiences.startRegistryPolling();
    });
    afterAll(() => {
      pixelHost?.close();
      bidHost?.close();
    });

    const pixel = (path: string, headers: Record<string, string> = {}) => httpRequest(pixelHost.port, 'GET', path, undefined, headers);
    async function winner(uid: string, w: number, h: number): Promise<string | undefined> {
      const r = await bidHost.post('/bid/ex1', { id: `r${++seq}`, imp: [{ id: '1', banner: { w, h } }], site: { domain: 'news.example' }, user: { buyeruid: uid } });
      return r.status === 200 ? r.json().seatbid[0].bid[0].cid : undefined;
    }
    async function within(ms: number, f: () => Promise<boolean>): Promise<number> {
      const t0 = Date.now();
      for (;;) {
        if (await f()) return Date.now() - t0;
        if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
        await sleep(50);
      }
    }

    it('pixel with cookie → rule audience → the audience campaign bids on that user within 60 s; a purchase takes the user out', async () => {
      const uid = `AcmeVisitor${name.replace(/\W/g, '').padEnd(11, 'x')}`.slice(0, 22);
      expect(await winner(uid, 300, 250)).toBeUndefined(); // not a member yet (and now cached as nobody)
      expect((await pixel('/px/acme/visit', { cookie: `dspuid=${uid}` })).status).toBe(200);
      const ms = await within(60_000, async () => (await winner(uid, 300, 250)) === 'acme-retarget');
      expect(ms).toBeLessThan(60_000);
      // Acme's pixel says nothing to Globex's audience.
      expect(await winner(uid, 728, 90)).toBeUndefined();
      await pixel('/px/acme/purchase?value=10', { cookie: `dspuid=${uid}` });
      await within(60_000, async () => (await winner(uid, 300, 250)) === undefined);
    }, 130_000); // the claim is "within 60 s" twice; the suite's 20 s default cut it short on a loaded machine

    it("a foreign advertiser's pixel never reaches another's audience", async () => {
      const uid = `GlobexOnly${name.replace(/\W/g, '').padEnd(12, 'y')}`.slice(0, 22);
      await pixel('/px/globex/product_view', { cookie: `dspuid=${uid}` });
      await within(60_000, async () => (await winner(uid, 728, 90)) === 'globex-retarget');
      expect(await winner(uid, 300, 250)).toBeUndefined();
      const [m] = await store.lookup([ek(uid)]);
      expect(m?.map((x) => x.segment)).toEqual(['globex-visitors']);
    });

    it('a user without consent is never stored: no cookie, no membership, no user key in the event row', async () => {
      const uid = `NoConsent${name.replace(/\W/g, '').padEnd(13, 'z')}`.slice(0, 22);
      const before = sink.events.length;
      const r = await pixel('/px/acme/visit?gdpr=1', { cookie: `dspuid=${uid}` });
      const s2s = await pixel(`/px/acme/visit?us_privacy=1YYN&uid=${uid}`);
      const gpc = await pixel('/px/acme/visit', { cookie: `dspuid=${uid}`, 'sec-gpc': '1' });
      expect([r.status, s2s.status, gpc.status]).toEqual([200, 204, 200]);
      expect([r, s2s, gpc].map((x) => x.headers['set-cookie'])).toEqual([undefined, undefined, undefined]);
      await sleep(500);
      expect(await store.lookup([ek(uid)])).toEqual([undefined]);
      expect(await winner(uid, 300, 250)).toBeUndefined();
      const rows = sink.events.slice(before) as PixelEvent[];
      expect(rows.map((e) => e.user_key)).toEqual(['', '', '']);
    });

    it('click notice with the user → notices rule audience → bid on that user within 60 s; a conversion takes the user out', async () => {
      const uid = `Clicker${name.replace(/\W/g, '').padEnd(15, 'c')}`.slice(0, 22);
      const noticeKey = keyer.key(userHash([`uid:${uid}`])!);
      expect(await winner(uid, 320, 50)).toBeUndefined();
      const r = await bidHost.post('/bid/ex1', { id: `r${++seq}`, imp: [{ id: '1', banner: { w: 160, h: 600 } }], site: { domain: 'news.example' }, user: { buyeruid: uid } });
      expect(r.status).toBe(200);
      const click = clickUrl(r.json().seatbid[0].bid[0].adm)!;
      expect(click).toContain('&u=');
      const redirect = await httpRequest(pixelHost.port, 'GET', pathOf(click));
      expect(redirect.status).toBe(302);
      const ms = await within(60_000, async () => (await winner(uid, 320, 50)) === 'acme-clickers-retarget');
      expect(ms).toBeLessThan(60_000);
      const [m] = await store.lookup([eventKey(noticeKey)]);
      expect(m?.map((x) => x.segment)).toEqual(['acme-clickers']);
      const token = new URL(String(redirect.headers.location)).searchParams.get('dsp_click')!;
      expect((await httpRequest(pixelHost.port, 'GET', `/notice/conversion?click=${encodeURIComponent(token)}&order=o-${uid}`)).status).toBe(204);
      await within(60_000, async () => (await winner(uid, 320, 50)) === undefined);
      // The click and conversion rows carry the user key, so a rebuild finds the user too.
      const rows = sink.events.filter((e) => (e.type === 'click' || e.type === 'conversion') && 'user_key' in e && e.user_key === noticeKey);
      expect(rows.map((e) => e.type).sort()).toEqual(['click', 'conversion']);
    });

    it('a bid whose request allowed no user data carries no user to its notices', async () => {
      const r = await bidHost.post('/bid/ex1', { id: `r${++seq}`, imp: [{ id: '1', banner: { w: 160, h: 600 } }], site: { domain: 'news.example' }, regs: { gdpr: 1 }, user: { buyeruid: 'NoConsentClicker00000x' } });
      expect(r.status).toBe(200); // contextual bids go on without consent
      const click = clickUrl(r.json().seatbid[0].bid[0].adm)!;
      expect(click).not.toContain('&u=');
      const before = sink.events.length;
      await httpRequest(pixelHost.port, 'GET', pathOf(click));
      await sleep(300);
      expect(sink.events.slice(before).filter((e) => 'user_key' in e && e.user_key)).toEqual([]);
    });

    it('forgetting the user removes what the rules taught us', async () => {
      const uid = `Forgotten${name.replace(/\W/g, '').padEnd(13, 'f')}`.slice(0, 22);
      await pixel('/px/acme/visit', { cookie: `dspuid=${uid}` });
      await within(10_000, async () => (await store.lookup([ek(uid)]))[0] !== undefined);
      expect(await forgetUser(store, `uid:${uid}`, keyer)).toBe(true);
      expect(await store.lookup([ek(uid)])).toEqual([undefined]);
    });
  });

describe('PUT /api/v1/audiences/{id} with a rule', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ bundle: tenants });
  });
  afterAll(() => h?.close());

  it('stores the rule, its lookback as the membership lifetime, and shows it', async () => {
    const acme = await h.key('advertiser', ['acme']);
    const body = { name: 'Visited, not bought', advertiserId: 'acme', rule: { source: 'pixel', events: ['visit'], excludeEvents: ['purchase'], lookbackDays: 30 } };
    const r = await h.call('PUT', '/api/v1/audiences/acme-visit-no-buy', body, { key: acme });
    expect(r.status, r.text).toBe(201);
    expect(r.json()).toMatchObject({ id: 'acme-visit-no-buy', advertiserId: 'acme', ttlSeconds: 30 * 86_400, rule: body.rule });
    await h.bidder.audiences.refreshRegistry(true);
    expect(h.bidder.audiences.ruleSegments().map((m) => m.id)).toContain('acme-visit-no-buy');
    const got = await h.call('GET', '/api/v1/audiences/acme-visit-no-buy', undefined, { key: acme });
    expect(got.json().rule).toEqual(body.rule);
  });

  it('refuses a rule without an owner, notices rules on other events, and an event both in and out', async () => {
    const noOwner = await h.call('PUT', '/api/v1/audiences/shared-rule', { rule: { source: 'pixel', events: ['visit'], lookbackDays: 7 } });
    expect(noOwner.status).toBe(400);
    expect(noOwner.text).toContain('/advertiserId');
    const notices = await h.call('PUT', '/api/v1/audiences/acme-clickers', { advertiserId: 'acme', rule: { source: 'notices', events: ['visit'], lookbackDays: 7 } });
    expect(notices.status).toBe(400);
    expect(notices.text).toContain('/rule/events/0');
    const both = await h.call('PUT', '/api/v1/audiences/acme-both', { advertiserId: 'acme', rule: { source: 'pixel', events: ['visit'], excludeEvents: ['visit'], lookbackDays: 7 } });
    expect(both.status).toBe(400);
    const noSource = await h.call('PUT', '/api/v1/audiences/acme-nosource', { advertiserId: 'acme', rule: { events: ['visit'], lookbackDays: 7 } });
    expect(noSource.status).toBe(400);
  });
});
