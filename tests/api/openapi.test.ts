/**
 * The OpenAPI document at /api/v1/openapi.json: served without a key, well formed, every route in
 * it and every operation in it routed, and its component schemas the very shapes the API
 * validates with: each compiles with ajv, accepts and refuses the same bodies as the API (with
 * the same error paths), and describes what the API answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { adminRoutes, createAdminServer } from '../../src/api/admin-server.js';
import { Registry } from 'prom-client';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { samples, tenants } from './fixtures.js';
import { registerAdminRoutes } from '../../src/http/admin-routes.js';
import { registerMoneyRoutes } from '../../src/http/money-routes.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';
import { FakeEventDatabase } from '../helpers/fake-event-database.js';

/** Every route the admin port registers (Fastify's onRoute hook; the 404/405 answers are not routes), as `METHOD /path/{}`. */
async function adminPortRoutes(h: ApiHarness): Promise<string[]> {
  const app = await createAdminServer();
  registerAdminRoutes(app, {
    snapshots: h.bidder.snapshots,
    metricsText: async () => '',
    isReady: () => true,
    audiences: { audiences: h.bidder.audiences, metrics: new AudienceMetrics(new Registry()), uploadLimitBytes: 1024 },
    configApi: h.api,
    reports: { store: new FakeEventDatabase() },
  });
  registerMoneyRoutes(app, { store: new MemoryBudgetStore(), configApi: h.api });
  return adminRoutes(app)
    .filter((r) => ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))
    .map((r) => `${r.method} ${r.url}`.replace(/:\w+/g, '{}'));
}

const Ajv = AjvModule.default ?? AjvModule;
const addFormats = addFormatsModule.default ?? addFormatsModule;

let h: ApiHarness;
let doc: any;
let ajv: InstanceType<typeof Ajv>;
const compiled = new Map<string, ValidateFunction>();
const component = (name: string) => {
  let v = compiled.get(name);
  if (!v) compiled.set(name, (v = ajv.compile(doc.components.schemas[name])));
  return v;
};

beforeAll(async () => {
  h = await startApi({ bundle: tenants });
  const r = await h.call('GET', '/api/v1/openapi.json', undefined, { key: null });
  expect(r.status).toBe(200);
  doc = r.json();
  ajv = new Ajv({ allErrors: true, discriminator: true, strict: false });
  addFormats(ajv);
  // Components may refer to each other.
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(schema as object, `#/components/schemas/${name}`);
});
afterAll(() => h?.close());

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('the document', () => {
  it('is OpenAPI 3.1 with the contract\'s paths and bearer auth', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const p of ['advertisers', 'campaigns', 'creatives', 'audiences', 'exchanges', 'keys']) {
      expect(Object.keys(doc.paths[`/api/v1/${p}`]).sort(), p).toEqual(['get', 'post']);
      expect(Object.keys(doc.paths[`/api/v1/${p}/{id}`]).sort(), p).toEqual(p === 'keys' ? ['delete', 'get', 'patch'] : ['delete', 'get', 'patch', 'put']);
    }
    for (const p of ['/api/v1/audit', '/api/v1/openapi.json', '/api/v1/export', '/api/v1/import', '/api/v1/creatives/{id}/approve', '/api/v1/campaigns/{id}/pause'])
      expect(doc.paths[p], p).toBeDefined();
    expect(doc.paths['/api/v1/openapi.json'].get.security).toEqual([]);
  });

  it('is well formed: unique operation ids, declared path parameters, responses on every operation, every $ref resolves', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<any>(doc.paths))
      for (const [method, op] of Object.entries<any>(item)) {
        expect(METHODS).toContain(method);
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
        const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name);
        expect(declared.sort()).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort());
        for (const p of op.parameters ?? []) expect(['path', 'query', 'header']).toContain(p.in);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const status of Object.keys(op.responses)) expect(status).toMatch(/^[1-5]\d\d$/);
      }
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of new Set(refs)) {
      const name = /#\/components\/schemas\/(\w+)/.exec(ref)![1];
      expect(doc.components.schemas[name], ref).toBeDefined();
    }
  });

  it('every component schema compiles with ajv', () => {
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(
      expect.arrayContaining(['Advertiser', 'AdvertiserInput', 'Campaign', 'CampaignInput', 'Creative', 'CreativeInput', 'Exchange', 'ExchangeInput', 'Audience', 'AudienceInput', 'ApiKey', 'ApiKeyInput', 'ApiKeyCreated', 'AuditEntry', 'AuditPage', 'Error', 'ConfigDocument', 'ImportResult']),
    );
    for (const name of names) expect(() => component(name), name).not.toThrow();
  });

  it('every documented operation is routed, and every route is documented', async () => {
    for (const [path, item] of Object.entries<any>(doc.paths))
      for (const method of Object.keys(item)) {
        if (!path.startsWith('/api/v1/')) continue; // /admin/kill-switch: registered with a budget store (the walk below)
        const r = await h.call(method.toUpperCase(), path.replace(/\{(\w+)\}/g, 'no-such-id'), method === 'get' || method === 'delete' ? undefined : {});
        expect(r.status, `${method} ${path}`).not.toBe(405);
        if (r.status === 404) expect(r.json().detail, `${method} ${path}`).not.toBe('no such endpoint');
      }
    const documented = new Set(Object.entries<any>(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`)));
    const routed = new Set(h.api.routes.map((r) => `${r.method === 'del' ? 'delete' : r.method} ${r.path}`));
    for (const r of routed) expect(documented.has(r), r).toBe(true);
  });

  it('walks every route registered on the admin port: each API route (/api/v1, /admin) is in the document, and each documented one is registered', async () => {
    const registered = (await adminPortRoutes(h)).filter((r) => / \/(api\/v1|admin)\//.test(r));
    expect(registered.length).toBeGreaterThan(60);
    const documented = Object.entries<any>(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p.replace(/\{\w+\}/g, '{}')}`));
    expect(registered.filter((r) => !documented.includes(r)), 'registered but not documented').toEqual([]);
    expect(documented.filter((r) => !registered.includes(r)), 'documented but not registered').toEqual([]);
    for (const p of ['/api/v1/audiences/{id}/members', '/api/v1/audience-uploads', '/api/v1/reports', '/api/v1/users/{idType}/{userId}/segments', '/admin/kill-switch'])
      expect(doc.paths[p], p).toBeDefined();
  });
});

describe('the component schemas are the validators', () => {
  /** Paths the component's ajv reports, formatted like the API's error paths. */
  const componentPaths = (name: string, body: unknown) => {
    const v = component(name);
    if (v(body)) return [];
    return [
      ...new Set(
        v.errors!.map((e) => {
          if (e.keyword === 'additionalProperties') return `${e.instancePath}/${(e.params as any).additionalProperty}`;
          if (e.keyword === 'required') return `${e.instancePath}/${(e.params as any).missingProperty}`;
          if (e.keyword === 'discriminator') return `${e.instancePath}/${(e.params as any).tag}`;
          return e.instancePath || '/';
        }),
      ),
    ].sort();
  };

  const cases: [string, string, unknown][] = [
    ['campaigns', 'CampaignInput', samples.campaigns('oa-c1')],
    ['campaigns', 'CampaignInput', { id: 'oa-c2', advertiserId: 'acme', bid: { base: 'x' }, colour: 1, status: 'on', targeting: { deviceTypes: [0] } }],
    ['campaigns', 'CampaignInput', { id: 'oa-c3', advertiserId: 'acme', bid: { base: 1, max: 2 }, start: 'soon', multipliers: { os: { ios: -1 } } }],
    ['creatives', 'CreativeInput', samples.creatives('oa-cr1')],
    ['creatives', 'CreativeInput', { id: 'oa-cr2', campaignId: 'acme-c1', type: 'video', vast: '', duration: 0, mimes: ['bad mime'], protocols: [] }],
    ['creatives', 'CreativeInput', { id: 'oa-cr3', campaignId: 'acme-c1', type: 'hologram' }],
    ['creatives', 'CreativeInput', { id: 'oa-cr4', campaignId: 'acme-c1', type: 'native', clickUrl: 'ftp://x', title: 'T', colour: 1 }],
    ['advertisers', 'AdvertiserInput', samples.advertisers('oa-a1')],
    ['advertisers', 'AdvertiserInput', { id: 'oa a2', name: '', currency: 'usd', extra: true }],
    ['exchanges', 'ExchangeInput', samples.exchanges('oa-e1')],
    ['exchanges', 'ExchangeInput', { id: 'OA_E2!', versions: ['3.0'], macros: { price: 1 } }],
    ['audiences', 'AudienceInput', samples.audiences('oa-s1')],
    ['audiences', 'AudienceInput', { id: 'oa-s2', ttlSeconds: 5, name: 7 }],
    ['keys', 'ApiKeyInput', { name: 'k', role: 'read-only' }],
    ['keys', 'ApiKeyInput', { name: '', role: 'root', advertiserIds: [] }],
  ];

  it.each(cases)('POST /api/v1/%s: the %s component and the API agree on %j', async (kind, name, body) => {
    const expected = componentPaths(name, body);
    const r = await h.call('POST', `/api/v1/${kind}`, body);
    if (expected.length === 0) {
      expect(r.status, r.text).toBe(201);
    } else {
      expect(r.status, r.text).toBe(400);
      expect([...new Set(r.json().errors.map((e: { path: string }) => e.path))].sort()).toEqual(expected);
    }
  });

  it('what the API answers matches its documented response schemas', async () => {
    await h.call('POST', '/api/v1/audiences', samples.audiences('oa-out'));
    const checks: [string, string][] = [
      ['/api/v1/campaigns/acme-c1', 'Campaign'],
      ['/api/v1/creatives/acme-cr1', 'Creative'],
      ['/api/v1/advertisers/acme', 'Advertiser'],
      ['/api/v1/exchanges/default', 'Exchange'],
      ['/api/v1/audiences/oa-out', 'Audience'],
      ['/api/v1/campaigns?limit=500', 'CampaignList'],
      ['/api/v1/creatives?limit=500', 'CreativeList'],
      ['/api/v1/audiences', 'AudienceList'],
      ['/api/v1/keys', 'ApiKeyList'],
      ['/api/v1/audit?limit=500', 'AuditPage'],
      ['/api/v1/campaigns/acme-c1/history', 'AuditPage'],
      ['/api/v1/export', 'ConfigDocument'],
      ['/api/v1/campaigns/nope', 'Error'],
      ['/api/v1/me', 'Principal'],
    ];
    for (const [path, name] of checks) {
      const body = (await h.call('GET', path)).json();
      const v = component(name);
      expect(v(body), `${path} as ${name}: ${JSON.stringify(v.errors)}`).toBe(true);
    }
    const created = await h.call('POST', '/api/v1/keys', { name: 'doc', role: 'read-only' });
    expect(component('ApiKeyCreated')(created.json())).toBe(true);
    const imported = await h.call('POST', '/api/v1/import?dryRun=true', (await h.call('GET', '/api/v1/export')).json());
    expect(component('ImportResult')(imported.json())).toBe(true);
    // a response schema is not a rubber stamp
    expect(component('Campaign')({ id: 'x' })).toBe(false);
  });
});
