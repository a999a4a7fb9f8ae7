/**
 * Export and import of the whole configuration: JSON and YAML, the round trip between stores,
 * the config/ file format both ways, merge and replace, dry runs, validation of everything at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readFile } from 'node:fs/promises';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { bundleFromTexts, loadBundleFromDir } from '../../src/campaigns/load-bundle.js';
import { bundleFromStore } from '../../src/campaigns/config-store.js';
import { banner, samples, tenants } from './fixtures.js';

let h: ApiHarness;
let other: ApiHarness;
beforeAll(async () => {
  [h, other] = await Promise.all([startApi({ bundle: tenants }), startApi()]);
  // some API state a config/ file cannot express: a pending creative, a paused campaign, a paused creative
  await h.call('POST', '/api/v1/campaigns', { ...samples.campaigns('exp-c'), status: 'paused', spend: { amount: 3 } });
  await h.call('POST', '/api/v1/creatives', samples.creatives('exp-pending', 'exp-c'));
  await h.call('POST', '/api/v1/creatives', { ...samples.creatives('exp-paused', 'acme-c1'), status: 'approved', paused: true });
  await h.call('POST', '/api/v1/campaigns', samples.campaigns('exp-deleted'));
  await h.call('DELETE', '/api/v1/campaigns/exp-deleted');
});
afterAll(async () => {
  await h?.close();
  await other?.close();
});

const withoutStamp = (d: Record<string, unknown>) => {
  const { exportedAt: _e, configVersion: _v, ...rest } = d;
  return rest;
};

describe('export', () => {
  it('JSON: every live resource with its status, without server fields, sorted by id', async () => {
    const r = await h.call('GET', '/api/v1/export');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['content-disposition']).toBe('attachment; filename="config.json"');
    const doc = r.json();
    expect(doc).toMatchObject({ format: 'rtb-bidder-config/1', defaultExchange: 'default', currencies: tenants.currencies });
    expect(doc.configVersion).toBe(await h.store.version());
    expect(doc.campaigns.map((c: { id: string }) => c.id)).toEqual(['acme-c1', 'exp-c', 'globex-c1']);
    expect(doc.campaigns[1]).toEqual({ ...samples.campaigns('exp-c'), status: 'paused', spend: { amount: 3 } });
    expect(doc.creatives.find((c: { id: string }) => c.id === 'exp-pending')).toEqual({ ...samples.creatives('exp-pending', 'exp-c'), status: 'pending' });
    expect(doc.creatives.find((c: { id: string }) => c.id === 'exp-paused')).toEqual({ ...samples.creatives('exp-paused', 'acme-c1'), status: 'approved', paused: true });
    expect(r.text).not.toMatch(/"version"|createdAt|updatedBy|reviewedBy|exp-deleted/);
  });

  it('YAML, by format=yaml or Accept: application/yaml; the same content', async () => {
    const json = withoutStamp((await h.call('GET', '/api/v1/export')).json());
    for (const r of [await h.call('GET', '/api/v1/export?format=yaml'), await h.call('GET', '/api/v1/export', undefined, { headers: { accept: 'application/yaml' } })]) {
      expect(r.headers['content-type']).toBe('application/yaml');
      expect(withoutStamp(parseYaml(r.text))).toEqual(json);
    }
  });

  it('shape=bundle: exactly what bids now, in the config/ file format (loadable by the file loader)', async () => {
    const r = await h.call('GET', '/api/v1/export?shape=bundle&format=yaml');
    const loaded = bundleFromTexts([{ name: 'exported.yaml', text: r.text }]);
    expect(loaded).toEqual((await bundleFromStore(h.store)).bundle);
    expect(loaded.campaigns!.map((c) => c.id)).toEqual(['acme-c1', 'globex-c1']); // exp-c is paused
    expect(loaded.campaigns![0].creatives.map((c) => c.id)).toEqual(['acme-cr1']); // not the paused one
  });
});

describe('import', () => {
  it('round trip: an export imported into an empty store exports the same; importing it again changes nothing', async () => {
    const exported = (await h.call('GET', '/api/v1/export')).json();
    const r = await other.call('POST', '/api/v1/import?mode=replace', exported);
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toMatchObject({ mode: 'replace', dryRun: false, updated: 0, deleted: 0, unchanged: 0 });
    expect(r.json().created).toBe(exported.exchanges.length + exported.advertisers.length + exported.campaigns.length + exported.creatives.length);
    expect(withoutStamp((await other.call('GET', '/api/v1/export')).json())).toEqual(withoutStamp(exported));
    const version = await other.store.version();
    const again = await other.call('POST', '/api/v1/import?mode=replace', exported);
    expect(again.json()).toMatchObject({ created: 0, updated: 0, deleted: 0, configVersion: version });
    expect(await other.store.version()).toBe(version);
    // the same configuration bids the same
    expect((await bundleFromStore(other.store)).bundle).toEqual((await bundleFromStore(h.store)).bundle);
  });

  it('imports the config/ files of this repository (YAML); their creatives count as approved, owned by their campaign\'s advertiser', async () => {
    const fresh = await startApi();
    try {
      // currencies first: the exchanges' currencies must have rates when they arrive
      for (const f of ['currencies.yaml', 'exchanges.yaml', 'campaigns/acme-shoes.yaml', 'campaigns/northwind-travel.yaml', 'campaigns/streamly.yaml']) {
        const r = await fresh.call('POST', '/api/v1/import', await readFile(`config/${f}`, 'utf8'), { headers: { 'content-type': 'application/yaml' } });
        expect(r.status, `${f}: ${r.text}`).toBe(200);
      }
      const fromFiles = await loadBundleFromDir('config');
      const { bundle } = await bundleFromStore(fresh.store);
      expect(bundle.campaigns!.map((c) => c.id).sort()).toEqual(fromFiles.campaigns!.filter((c) => (c.status ?? 'active') === 'active').map((c) => c.id).sort());
      const creatives = (await fresh.call('GET', '/api/v1/creatives?limit=500')).json().items;
      expect(creatives.length).toBe(fromFiles.campaigns!.reduce((n, c) => n + c.creatives.length, 0));
      for (const cr of creatives) {
        const campaign = fromFiles.campaigns!.find((c) => c.id === cr.campaignId)!;
        expect(cr).toMatchObject({ status: 'approved', advertiserId: campaign.advertiserId });
      }
    } finally {
      await fresh.close();
    }
  });

  it('merge (default) adds and replaces what the file names; replace also soft-deletes what it does not (history kept)', async () => {
    const t = await startApi({ bundle: tenants });
    try {
      const file = {
        format: 'rtb-bidder-config/1',
        advertisers: [{ id: 'acme', name: 'Acme Renamed', domains: ['acme.example'] }],
        campaigns: [{ id: 'merged', advertiserId: 'acme', bid: { base: 1, max: 1 } }],
        creatives: [{ ...banner('merged-cr'), campaignId: 'merged', status: 'approved' }],
      };
      const merged = await t.call('POST', '/api/v1/import', file);
      expect(merged.json()).toMatchObject({ mode: 'merge', created: 2, updated: 1, deleted: 0 });
      expect((await t.call('GET', '/api/v1/campaigns/globex-c1')).status).toBe(200);
      expect((await t.call('GET', '/api/v1/settings')).status).toBe(404); // not a resource
      expect((await bundleFromStore(t.store)).bundle.currencies).toEqual(tenants.currencies); // merge kept the settings

      const before = await t.store.version();
      const dry = await t.call('POST', '/api/v1/import?mode=replace&dryRun=true', file);
      expect(dry.json()).toMatchObject({ dryRun: true, deleted: 6 }); // globex, its campaign and creative, acme-c1, acme-cr1, the exchange
      expect(await t.store.version()).toBe(before);
      expect((await t.call('GET', '/api/v1/campaigns/globex-c1')).status).toBe(200);

      const replaced = await t.call('POST', '/api/v1/import?mode=replace', { ...file, defaultExchange: undefined, exchanges: [{ id: 'solo', seat: 's' }] });
      expect(replaced.status, replaced.text).toBe(200);
      expect(replaced.json().changes).toEqual(
        expect.arrayContaining([
          { kind: 'campaigns', id: 'globex-c1', action: 'delete' },
          { kind: 'creatives', id: 'globex-cr1', action: 'delete' },
          { kind: 'advertisers', id: 'globex', action: 'delete' },
          { kind: 'exchanges', id: 'default', action: 'delete' },
          { kind: 'exchanges', id: 'solo', action: 'create' },
        ]),
      );
      expect((await t.call('GET', '/api/v1/campaigns/globex-c1')).status).toBe(404);
      const history = (await t.call('GET', '/api/v1/campaigns/globex-c1/history')).json().items;
      expect(history[0]).toMatchObject({ action: 'import', after: { deletedAt: expect.any(String) } });
      const { bundle } = await bundleFromStore(t.store);
      expect(bundle.campaigns!.map((c) => c.id)).toEqual(['merged']);
      expect(bundle.currencies).toBeUndefined(); // replace: the file's settings, which have none
      // and a later import brings a deleted resource back
      const back = await t.call('POST', '/api/v1/import', { format: 'rtb-bidder-config/1', advertisers: [tenants.advertisers![1]] });
      expect(back.json().changes).toEqual([{ kind: 'advertisers', id: 'globex', action: 'create' }]);
      expect((await t.call('GET', '/api/v1/advertisers/globex')).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('validates the whole file at once: schema errors, or references and rules, with paths into the file', async () => {
    const schemaBad = await h.call('POST', '/api/v1/import', {
      format: 'rtb-bidder-config/1',
      campaigns: [{ id: 'i1', advertiserId: 'acme', bid: { base: 1 } }, { id: 'i2', bid: { base: 1, max: 2 }, colour: 'red' }],
      creatives: [{ id: 'i-cr', campaignId: 'i1', type: 'banner', w: 0, h: 250, html: 'x' }],
    });
    expect(schemaBad.status).toBe(400);
    expect(schemaBad.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`).sort()).toEqual(
      ['/campaigns/0/bid/max required', '/campaigns/1/advertiserId required', '/campaigns/1/colour unknown_field', '/creatives/0/w minimum'].sort(),
    );
    const rulesBad = await h.call('POST', '/api/v1/import', {
      format: 'rtb-bidder-config/1',
      campaigns: [
        { id: 'i1', advertiserId: 'acme', bid: { base: 3, max: 2 } },
        { id: 'i2', advertiserId: 'nobody', bid: { base: 1, max: 2 } },
        { id: 'i1', advertiserId: 'acme', bid: { base: 1, max: 2 } },
      ],
      creatives: [
        { id: 'i-cr', campaignId: 'missing', type: 'banner', w: 300, h: 250, html: 'x' },
      ],
    });
    expect(rulesBad.status).toBe(400);
    expect(rulesBad.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`).sort()).toEqual(
      ['/campaigns/2/id duplicate_id', '/creatives/0/campaignId unknown_reference'].sort(),
    );
    const rulesOnly = await h.call('POST', '/api/v1/import', {
      format: 'rtb-bidder-config/1',
      campaigns: [
        { id: 'i1', advertiserId: 'acme', bid: { base: 3, max: 2 } },
        { id: 'i2', advertiserId: 'nobody', bid: { base: 1, max: 2 }, targeting: { countries: ['ZZ'] } },
      ],
      creatives: [{ id: 'i-cr', campaignId: 'i1', type: 'banner', w: 300, h: 250 }],
    });
    expect(rulesOnly.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`).sort()).toEqual(
      [
        '/campaigns/0/bid/base out_of_range',
        '/campaigns/1/adomain required',
        '/campaigns/1/advertiserId unknown_reference',
        '/campaigns/1/targeting/countries/0 unknown_country',
        '/creatives/0 required',
      ].sort(),
    );
    // config/ format: errors point into the file's own nesting
    const fileBad = await h.call('POST', '/api/v1/import', {
      advertisers: [{ id: 'f1', name: 'F' }],
      campaigns: [{ id: 'fc', advertiserId: 'f1', bid: { base: 1, max: 2 }, creatives: [{ id: 'fcr', type: 'banner', w: 300, h: 250 }] }],
    });
    expect(fileBad.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`).sort()).toEqual(
      ['/campaigns/0/adomain required', '/campaigns/0/creatives/0 required'].sort(),
    );
    expect((await h.call('GET', '/api/v1/campaigns/i1')).status).toBe(404); // nothing was applied
  });

  it('bad YAML or JSON, a wrong format marker, an empty body: 400', async () => {
    const yaml = await h.call('POST', '/api/v1/import', 'campaigns: [', { headers: { 'content-type': 'application/yaml' } });
    expect(yaml.status).toBe(400);
    expect(yaml.json().code).toBe('bad_yaml');
    expect((await h.call('POST', '/api/v1/import', '{', {})).json().code).toBe('bad_json');
    const marker = await h.call('POST', '/api/v1/import', { format: 'something-else/9' });
    expect(marker.json().errors[0]).toMatchObject({ pointer: '/format', path: '/format', code: 'const' });
    expect((await h.call('POST', '/api/v1/import', '')).status).toBe(400);
  });

  it('only operators import; a global read-only key may export, advertisers may not', async () => {
    const adv = await h.key('advertiser', ['acme']);
    const ro = await h.key('read-only');
    expect((await h.call('POST', '/api/v1/import', { format: 'rtb-bidder-config/1' }, { key: adv })).status).toBe(403);
    expect((await h.call('POST', '/api/v1/import', { format: 'rtb-bidder-config/1' }, { key: ro })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/export', undefined, { key: adv })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/export', undefined, { key: ro })).status).toBe(200);
  });
});
