/**
 * User matching on the exchange-facing port (GET /match/{exchange}), against a real bidder and
 * an in-process segment store: the cookie, the redirect to the exchange's set-uid URL, the match
 * table, privacy (nothing set or stored without the right), and the bid path finding the user by
 * the exchange's user id or by the buyeruid the exchange learnt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import { matchedUser } from '../../src/audiences/segment-store.js';
import { userIdFromCookie } from '../../src/audiences/user-match.js';
import { httpRequest, startBidder, validBundle, type TestBidder } from '../helpers/bidder.js';
import { OUR_VENDOR, OTHER_VENDOR, tcString } from '../helpers/tcf.js';

const banner = (id: string) => ({ id, type: 'banner' as const, w: 300, h: 250, html: `<div>${id}</div>` });
const bundle: ConfigBundle = {
  defaultExchange: 'ex1',
  exchanges: [
    { id: 'ex1', seat: 'seat-1', currency: 'USD', userSync: { setUidUrl: 'https://sync.ex1.example/setuid?bidder=us&uid={UID}' } },
    { id: 'ex2', seat: 'seat-2', currency: 'USD' },
  ],
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
  campaigns: [
    { id: 'segmented', advertiserId: 'acme', bid: { base: 5, max: 10 }, targeting: { segments: { anyOf: ['in-market'] } }, creatives: [banner('seg')] },
  ],
};

const nowSec = () => Math.floor(Date.now() / 1000);
let store: MemorySegmentStore;
let bidder: TestBidder;

beforeAll(async () => {
  store = new MemorySegmentStore();
  await store.putSegment({ id: 'in-market', name: 'In market', ttlSeconds: 86_400, createdAt: new Date().toISOString() });
  bidder = await startBidder({ bundle, segmentStore: store, env: { DEBUG_NOBID: '1', GDPR_VENDOR_ID: String(OUR_VENDOR), USER_COOKIE_MAX_AGE_SECONDS: '864000' } });
  await bidder.audiences.refreshRegistry(true);
});
afterAll(() => bidder?.close());

const match = (path: string, headers: Record<string, string> = {}) => httpRequest(bidder.port, 'GET', path, undefined, headers);
const cookieOf = (r: { headers: Record<string, string | string[] | undefined> }) => {
  const c = r.headers['set-cookie'];
  return Array.isArray(c) ? c[0] : c;
};
async function eventually<T>(f: () => Promise<T | undefined>, ms = 2_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined || Date.now() > until) return v as T;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('GET /match/{exchange}', () => {
  it('sets a new bidder id cookie (Secure, SameSite=None, HttpOnly, Max-Age) and redirects to the set-uid URL with it', async () => {
    const r = await match('/match/ex1');
    expect(r.status).toBe(302);
    const cookie = cookieOf(r)!;
    expect(cookie).toMatch(/^dspuid=[A-Za-z0-9_-]{22}; Max-Age=864000; Path=\/; Secure; HttpOnly; SameSite=None$/);
    const uid = userIdFromCookie(cookie.split(';')[0])!;
    expect(r.headers.location).toBe(`https://sync.ex1.example/setuid?bidder=us&uid=${uid}`);
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('keeps the id a browser already carries, and renews its cookie', async () => {
    const uid = 'AAAAAAAAAAAAAAAAAAAAAA';
    const r = await match('/match/ex1', { cookie: `other=1; dspuid=${uid}` });
    expect(r.headers.location).toBe(`https://sync.ex1.example/setuid?bidder=us&uid=${uid}`);
    expect(cookieOf(r)).toContain(`dspuid=${uid};`);
    // A malformed cookie is replaced, not echoed.
    const bad = await match('/match/ex1', { cookie: 'dspuid=<script>' });
    expect(cookieOf(bad)).toMatch(/^dspuid=[A-Za-z0-9_-]{22};/);
  });

  it('stores the exchange user id (xuid) against ours, and a bid request with only that id gets our user’s segments', async () => {
    const uid = 'BBBBBBBBBBBBBBBBBBBBBB';
    await store.addMemberships([{ key: `uid:${uid}`, segments: ['in-market'], expiresAt: nowSec() + 3600 }]);
    const r = await match('/match/ex2?xuid=their-42', { cookie: `dspuid=${uid}` });
    expect(r.status).toBe(200); // ex2 has no set-uid URL: a pixel
    expect(r.headers['content-type']).toBe('image/gif');
    const [theirs] = await eventually(async () => {
      const got = await store.lookup(['xid:ex2:their-42']);
      return got[0] ? got : undefined;
    });
    expect(matchedUser(theirs!, nowSec())).toBe(`uid:${uid}`);
    const bid = await bidder.post('/bid/ex2', { id: 'm1', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'news.example' }, user: { id: 'their-42' } });
    expect(bid.status, String(bid.headers['x-nobid-reason'])).toBe(200);
    expect(bid.json().seatbid[0].bid[0].cid).toBe('segmented');
    // The same exchange user id from another exchange is another person.
    const other = await bidder.post('/bid/ex1', { id: 'm2', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'news.example' }, user: { id: 'their-42' } });
    expect(other.status).toBe(204);
  });

  it('with consent where GDPR applies, matches as usual', async () => {
    const r = await match(`/match/ex1?gdpr=1&gdpr_consent=${tcString()}&xuid=consented-1`);
    expect(cookieOf(r)).toBeDefined();
    expect(r.headers.location).not.toBe('https://sync.ex1.example/setuid?bidder=us&uid=');
    await eventually(async () => (await store.lookup(['xid:ex1:consented-1']))[0]);
  });

  const noRight: [string, string, Record<string, string>][] = [
    ['GDPR without a consent string', 'gdpr=1', {}],
    ['GDPR with consent for another vendor only', `gdpr=1&gdpr_consent=${tcString({ vendors: [OTHER_VENDOR] })}`, {}],
    ['GDPR without purpose 1 (storage)', `gdpr=1&gdpr_consent=${tcString({ purposes: [2, 3, 4] })}`, {}],
    ['COPPA', 'coppa=1', {}],
    ['a US privacy opt-out', 'us_privacy=1YYN', {}],
    ['Global Privacy Control', '', { 'sec-gpc': '1' }],
  ];
  for (const [what, query, headers] of noRight)
    it(`${what}: no cookie, nothing stored, and the redirect carries no id`, async () => {
      const xuid = `no-right-${what.replace(/\W+/g, '-')}`;
      const r = await match(`/match/ex1?${query}&xuid=${xuid}`, { cookie: 'dspuid=CCCCCCCCCCCCCCCCCCCCCC', ...headers });
      expect(r.status).toBe(302);
      expect(r.headers['set-cookie']).toBeUndefined();
      expect(r.headers.location).toBe('https://sync.ex1.example/setuid?bidder=us&uid=');
      await new Promise((res) => setTimeout(res, 50));
      expect(await store.lookup([`xid:ex1:${xuid}`, 'uid:CCCCCCCCCCCCCCCCCCCCCC'])).toEqual([undefined, undefined]);
    });

  it('an unknown exchange is 404, and sets nothing', async () => {
    const r = await match('/match/nope?xuid=1');
    expect(r.status).toBe(404);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('counts matches by result', async () => {
    const text = await bidder.metricsText();
    expect(text).toMatch(/user_matches_total\{result="matched"\} [1-9]/);
    expect(text).toMatch(/user_matches_total\{result="no_right"\} [1-9]/);
  });
});

describe('userSync configuration', () => {
  const withUrl = (setUidUrl: string) => ({ ...bundle, exchanges: [{ id: 'ex1', seat: 's', userSync: { setUidUrl } }] , defaultExchange: 'ex1' });
  it('refuses a set-uid URL that is not https or has no {UID}', () => {
    expect(() => validBundle(withUrl('http://sync.example/?uid={UID}'))).toThrow(/setUidUrl/);
    expect(() => validBundle(withUrl('https://sync.example/?uid=UID'))).toThrow(/\{UID\}/);
    expect(() => validBundle(withUrl('https://sync.example/?uid={UID}'))).not.toThrow();
  });
});
