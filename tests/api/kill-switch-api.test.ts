/**
 * The kill switch in the config API (`GET`/`PUT /api/v1/kill-switch`) over real HTTP, on a real
 * in-process budget store: operators stop and release all bidding or one campaign, and the store's
 * renewals (what every bid thread reads) see it; advertiser and read-only keys are refused and
 * change nothing; a bad body gets its field errors; without a budget store, 503.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { tenants } from './fixtures.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { killSwitchOf } from '../../src/api/kill-switch.js';

const store = new MemoryBudgetStore();
let h: ApiHarness;
let adv: string;
let ro: string;
beforeAll(async () => {
  h = await startApi({ bundle: tenants, killSwitch: killSwitchOf(store) });
  [adv, ro] = await Promise.all([h.key('advertiser', ['acme']), h.key('read-only')]);
});
afterAll(() => h?.close());

/** What a bid thread reads on its next renewal. */
const renewed = async () => (await store.renew('bidder-1', [], 1000)).kill;

describe('/api/v1/kill-switch', () => {
  it('an operator stops one campaign, then everything, and releases both; every renewal sees it', async () => {
    expect((await h.call('GET', '/api/v1/kill-switch')).json()).toEqual({ all: false, campaigns: [] });
    const one = await h.call('PUT', '/api/v1/kill-switch', { on: true, campaign: 'acme-c1' });
    expect(one.status).toBe(200);
    expect(one.json()).toEqual({ all: false, campaigns: ['acme-c1'] });
    expect(await renewed()).toEqual({ all: false, campaigns: ['acme-c1'] });
    expect((await h.call('PUT', '/api/v1/kill-switch', { on: true })).json()).toEqual({ all: true, campaigns: ['acme-c1'] });
    expect((await renewed()).all).toBe(true);
    expect((await h.call('GET', '/api/v1/kill-switch')).json()).toEqual({ all: true, campaigns: ['acme-c1'] });
    await h.call('PUT', '/api/v1/kill-switch', { on: false });
    await h.call('PUT', '/api/v1/kill-switch', { on: false, campaign: 'acme-c1' });
    expect(await renewed()).toEqual({ all: false, campaigns: [] });
  });

  it('every change is in the audit log: who, stop or release, what, before and after; an advertiser key does not see them', async () => {
    await h.call('PUT', '/api/v1/kill-switch', { on: true, campaign: 'acme-c2' }, { headers: { 'x-request-id': 'kill-1' } });
    await h.call('PUT', '/api/v1/kill-switch', { on: false, campaign: 'acme-c2' });
    const r = await h.call('GET', '/api/v1/audit?kind=kill-switch');
    expect(r.status).toBe(200);
    const [release, stop] = r.json().items;
    expect(stop).toMatchObject({ kind: 'kill-switch', action: 'stop', id: 'acme-c2', requestId: 'kill-1', actor: { role: 'admin' } });
    expect(stop.before).toEqual({ all: false, campaigns: [] });
    expect(stop.after).toEqual({ all: false, campaigns: ['acme-c2'] });
    expect(release).toMatchObject({ action: 'release', id: 'acme-c2', after: { all: false, campaigns: [] } });
    const seen = (await h.call('GET', '/api/v1/audit?kind=kill-switch', undefined, { key: adv })).json();
    expect(seen.items ?? []).toEqual([]);
  });

  it('advertiser and read-only keys are refused (403) and change nothing; no key: 401', async () => {
    for (const key of [adv, ro]) {
      for (const [method, body] of [['GET', undefined], ['PUT', { on: true }], ['PUT', { on: true, campaign: 'acme-c1' }]] as const) {
        const r = await h.call(method, '/api/v1/kill-switch', body, { key });
        expect(r.status, `${method} ${JSON.stringify(body)}`).toBe(403);
        expect(r.json().code).toBe('forbidden');
      }
    }
    expect((await h.call('GET', '/api/v1/kill-switch', undefined, { key: null })).status).toBe(401);
    expect((await h.call('PUT', '/api/v1/kill-switch', { on: true }, { key: null })).status).toBe(401);
    expect(await renewed()).toEqual({ all: false, campaigns: [] });
  });

  it('a bad body: 400 with the field errors, and nothing changes', async () => {
    for (const [body, path] of [
      [{ on: 'yes' }, '/on'],
      [{}, '/on'],
      [{ on: true, campaign: '' }, '/campaign'],
      [{ on: true, everything: true }, '/everything'],
    ] as const) {
      const r = await h.call('PUT', '/api/v1/kill-switch', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json().errors.map((e: { path: string }) => e.path).join(' '), JSON.stringify(body)).toContain(path);
    }
    expect(await renewed()).toEqual({ all: false, campaigns: [] });
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await h.call('GET', '/api/v1/openapi.json', undefined, { key: null })).json();
    expect(Object.keys(doc.paths['/api/v1/kill-switch']).sort()).toEqual(['get', 'put']);
  });
});

describe('without a budget store', () => {
  let bare: ApiHarness;
  beforeAll(async () => {
    bare = await startApi({ bundle: tenants });
  });
  afterAll(() => bare?.close());

  it('503 store_unavailable for an operator, 403 for the others as always', async () => {
    const r = await bare.call('GET', '/api/v1/kill-switch');
    expect(r.status).toBe(503);
    expect(r.json().code).toBe('store_unavailable');
    const key = await bare.key('read-only');
    expect((await bare.call('GET', '/api/v1/kill-switch', undefined, { key })).status).toBe(403);
  });
});
