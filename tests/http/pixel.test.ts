/**
 * The advertiser pixel (GET /px/{advertiserId}/{event}) on the exchange-facing port: browser and
 * server-to-server calls, validation, the neutral answer for unknown advertisers, privacy (no user
 * key without the right), and the snippet the config API serves, per tenant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import type { PixelEvent } from '../../src/events/event-types.js';
import { UserKeyer } from '../../src/events/user-key.js';
import { httpRequest, startBidder, type TestBidder } from '../helpers/bidder.js';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { tenants } from '../api/fixtures.js';
import { OUR_VENDOR, tcString } from '../helpers/tcf.js';
import { RecordingSink } from '../helpers/notice-kit.js';


const bundle: ConfigBundle = {
  exchanges: [{ id: 'ex1', seat: 's' }],
  currencies: { base: 'USD', rates: { EUR: 0.5 } },
  advertisers: [{ id: 'acme', name: 'Acme' }],
  campaigns: [],
};
const UID = 'DDDDDDDDDDDDDDDDDDDDDD';
const keyOf = (uid: string) => new UserKeyer('test-user-key-secret').key(uid);
let sink: RecordingSink;
let bidder: TestBidder;

beforeAll(async () => {
  sink = new RecordingSink();
  bidder = await startBidder({ bundle, events: sink, env: { GDPR_VENDOR_ID: String(OUR_VENDOR) } });
});
afterAll(() => bidder?.close());

const px = (path: string, headers: Record<string, string> = {}) => httpRequest(bidder.port, 'GET', path, undefined, headers);
async function pixelOf(path: string, headers: Record<string, string> = {}) {
  const before = (sink.of('pixel') as PixelEvent[]).length;
  const r = await px(path, headers);
  return { r, rows: (sink.of('pixel') as PixelEvent[]).slice(before) };
}

describe('GET /px/{advertiserId}/{event}', () => {
  it('a browser call: a 1x1 GIF, one pixel event keyed by the cookie’s user (never the raw id)', async () => {
    const { r, rows } = await pixelOf('/px/acme/purchase?value=20&currency=EUR&item=sku-1', { cookie: `dspuid=${UID}` });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/gif');
    expect(rows).toHaveLength(1);
    const e = rows[0];
    expect(e).toMatchObject({ type: 'pixel', advertiser_id: 'acme', event_name: 'purchase', user_key: keyOf(UID), value_base: 40, currency: 'EUR', item: 'sku-1' });
    expect(e.user_key).not.toContain(UID);
    expect(JSON.stringify(e)).not.toContain(UID);
    expect(e.event_id).toMatch(/^pixel:/);
  });

  it('a server-to-server call passes uid= and gets 204; a malformed one gets 400 and stores nothing', async () => {
    const ok = await pixelOf(`/px/acme/visit?uid=${UID}`);
    expect(ok.r.status).toBe(204);
    expect(ok.rows[0]).toMatchObject({ event_name: 'visit', user_key: keyOf(UID), value_base: 0, currency: '', item: '' });
    for (const [q, why] of [
      ['uid=short', 'bad_uid'],
      [`uid=${UID}&value=-1`, 'bad_value'],
      [`uid=${UID}&value=abc`, 'bad_value'],
      [`uid=${UID}&value=1&currency=XXX`, 'bad_currency'],
      [`uid=${UID}&item=${'x'.repeat(129)}`, 'bad_item'],
    ]) {
      const bad = await pixelOf(`/px/acme/visit?${q}`);
      expect(bad.r.status, q).toBe(400);
      expect(bad.r.text).toBe(why);
      expect(bad.rows).toEqual([]);
    }
    const badEvent = await pixelOf(`/px/acme/Not%20An%20Event?uid=${UID}`);
    expect(badEvent.r.status).toBe(400);
    expect(badEvent.rows).toEqual([]);
  });

  it('a browser without our cookie: the event is counted, with no user key', async () => {
    const { r, rows } = await pixelOf('/px/acme/visit');
    expect(r.status).toBe(200);
    expect(rows[0].user_key).toBe('');
  });

  it('an unknown advertiser gets the same answer as a real one, and nothing is stored', async () => {
    const browser = await pixelOf('/px/nobody/visit', { cookie: `dspuid=${UID}` });
    expect(browser.r.status).toBe(200);
    expect(browser.r.headers['content-type']).toBe('image/gif');
    const server = await pixelOf(`/px/nobody/visit?uid=${UID}`);
    expect(server.r.status).toBe(204);
    expect([...browser.rows, ...server.rows]).toEqual([]);
  });

  const noRight: [string, string, Record<string, string>][] = [
    ['GDPR without consent', 'gdpr=1', {}],
    ['COPPA', 'coppa=1', {}],
    ['a US privacy opt-out', 'us_privacy=1YYN', {}],
    ['Global Privacy Control', '', { 'sec-gpc': '1' }],
  ];
  for (const [what, q, headers] of noRight)
    it(`${what}: the event has no user key, from a browser or a server`, async () => {
      const browser = await pixelOf(`/px/acme/visit?${q}`, { cookie: `dspuid=${UID}`, ...headers });
      const server = await pixelOf(`/px/acme/visit?${q}&uid=${UID}`, headers);
      expect(browser.rows.map((e) => e.user_key)).toEqual(['']);
      expect(server.rows.map((e) => e.user_key)).toEqual(['']);
      expect(browser.r.headers['set-cookie']).toBeUndefined();
    });

  it('with consent where GDPR applies, the user is keyed', async () => {
    const { rows } = await pixelOf(`/px/acme/visit?gdpr=1&gdpr_consent=${tcString()}`, { cookie: `dspuid=${UID}` });
    expect(rows[0].user_key).toBe(keyOf(UID));
  });
});

describe('GET /api/v1/advertisers/{id}/pixel', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({ bundle: tenants });
  });
  afterAll(() => h?.close());

  it('gives the advertiser’s pixel URL and snippet; another advertiser’s key gets 404', async () => {
    const acme = await h.key('advertiser', ['acme']);
    const globex = await h.key('advertiser', ['globex']);
    const r = await h.call('GET', '/api/v1/advertisers/acme/pixel', undefined, { key: acme });
    expect(r.status, r.text).toBe(200);
    const body = r.json();
    expect(body.advertiserId).toBe('acme');
    expect(body.url).toBe('http://localhost:8080/px/acme/{event}');
    expect(body.snippet).toContain('"http://localhost:8080/px/acme/"');
    expect(body.snippet).toContain('dspPixel');
    expect((await h.call('GET', '/api/v1/advertisers/acme/pixel', undefined, { key: globex })).status).toBe(404);
    expect((await h.call('GET', '/api/v1/advertisers/nobody/pixel')).status).toBe(404);
  });
});
