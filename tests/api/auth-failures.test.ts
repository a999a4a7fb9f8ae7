/**
 * Failed authentication, limited per source address (src/api/auth-failures.ts): the limiter on its
 * own (counting, the window, Retry-After, bounded memory, addresses), the settings, and over HTTP on
 * the admin port as the bidder builds it: every route registered there, except the few that are open
 * by design, goes through the limit; an address over it gets 429 even with the right key; another
 * address does not; X-Forwarded-For counts only when proxies are trusted; the metrics count both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { Registry } from 'prom-client';
import { AuthFailureLimiter, MAX_TRACKED_ADDRESSES, addressKey, sourceAddress, type AuthFailureSettings } from '../../src/api/auth-failures.js';
import { AuthMetrics } from '../../src/metrics/auth-metrics.js';
import { loadApiSettings } from '../../src/api/settings.js';
import { createConfigApi, type ConfigApi } from '../../src/api/index.js';
import { buildAdminApp, type AppDeps } from '../../src/app.js';
import { loadSettings } from '../../src/settings/settings.js';
import { loadBundleFromDir } from '../../src/campaigns/load-bundle.js';
import { buildSnapshot, SnapshotRef } from '../../src/campaigns/snapshot.js';
import { MemoryConfigStore, seedStore } from '../../src/campaigns/config-store.js';
import { BidderMetrics } from '../../src/metrics/bidder-metrics.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS } from '../../src/audiences/audience-service.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import { NoticeSigner, parseSigningKeys } from '../../src/events/notice-signer.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import type { Listening } from '../../src/http/listen.js';
import { adminRoutes, listenAdmin } from '../../src/api/admin-server.js';
import { FakeEventDatabase } from '../helpers/fake-event-database.js';
import { httpRequest } from '../helpers/bidder.js';

const ADMIN_KEY = 'auth-failures-admin-key-0123456789';
const WRONG = `Bearer dsp_0123456789abcdef_${'x'.repeat(43)}`;

describe('AuthFailureLimiter', () => {
  const make = (s: Partial<AuthFailureSettings> = {}) => {
    let now = 1_000;
    const metrics = new AuthMetrics(new Registry());
    const limiter = new AuthFailureLimiter({ limit: 3, windowMs: 10_000, trustedProxies: 0, ...s }, metrics, () => now);
    return { limiter, metrics, advance: (ms: number) => (now += ms) };
  };

  it('refuses an address after `limit` failures for the rest of the window that began with its first, with Retry-After', () => {
    const { limiter, advance } = make();
    for (let i = 0; i < 3; i++) {
      expect(limiter.refusal('192.0.2.1', 'config_api')).toBeUndefined();
      limiter.failed('192.0.2.1', 'config_api');
      advance(1_000);
    }
    expect(limiter.refusal('192.0.2.1', 'config_api')).toBe(7); // 10 s from the first failure, 3 s gone
    expect(limiter.refusal('192.0.2.2', 'config_api')).toBeUndefined(); // another address
    advance(6_500);
    expect(limiter.refusal('192.0.2.1', 'config_api')).toBe(1); // rounded up, never 0
    advance(500);
    expect(limiter.refusal('192.0.2.1', 'config_api')).toBeUndefined(); // the window is over
    limiter.failed('192.0.2.1', 'config_api'); // a new window: 2 more before a refusal
    limiter.failed('192.0.2.1', 'config_api');
    expect(limiter.refusal('192.0.2.1', 'config_api')).toBeUndefined();
    limiter.failed('192.0.2.1', 'config_api');
    expect(limiter.refusal('192.0.2.1', 'config_api')).toBe(10);
  });

  it('counts failures and refusals by surface', async () => {
    const { limiter, metrics } = make({ limit: 1 });
    limiter.failed('a', 'reports');
    limiter.refusal('a', 'kill_switch');
    limiter.refusal('a', 'kill_switch');
    const value = async (c: typeof metrics.failures, surface: string) => (await c.get()).values.find((v) => v.labels.surface === surface)?.value;
    expect(await value(metrics.failures, 'reports')).toBe(1);
    expect(await value(metrics.refused, 'kill_switch')).toBe(2);
    expect(await value(metrics.failures, 'audiences')).toBe(0); // made at boot
  });

  it('limit 0: failures are counted, nobody is refused', () => {
    const { limiter } = make({ limit: 0 });
    for (let i = 0; i < 100; i++) limiter.failed('a', 'config_api');
    expect(limiter.refusal('a', 'config_api')).toBeUndefined();
    expect(limiter.tracked).toBe(0);
  });

  it('keeps at most MAX_TRACKED_ADDRESSES addresses however many fail', () => {
    const { limiter } = make();
    for (let i = 0; i < MAX_TRACKED_ADDRESSES + 20_000; i++) limiter.failed(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 'config_api');
    expect(limiter.tracked).toBe(MAX_TRACKED_ADDRESSES);
  });
});

describe('source addresses', () => {
  const res = (peer: string) => ({ getRemoteAddressAsText: () => new TextEncoder().encode(peer).buffer }) as unknown as HttpResponse;
  const req = (xff: string) => ({ getHeader: (n: string) => (n === 'x-forwarded-for' ? xff : '') }) as unknown as HttpRequest;

  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
  });

  it('X-Forwarded-For is ignored unless proxies are trusted; then the entry the outermost trusted proxy appended', () => {
    expect(sourceAddress(res('10.0.0.5'), req('198.51.100.7'), 0)).toBe('10.0.0.5');
    expect(sourceAddress(res('10.0.0.5'), req('1.1.1.1, 198.51.100.7'), 1)).toBe('198.51.100.7');
    expect(sourceAddress(res('10.0.0.5'), req('1.1.1.1, 198.51.100.7, 10.0.0.9'), 2)).toBe('198.51.100.7');
    expect(sourceAddress(res('10.0.0.5'), req('198.51.100.7'), 2)).toBe('198.51.100.7'); // fewer entries than proxies
    expect(sourceAddress(res('10.0.0.5'), req(''), 1)).toBe('10.0.0.5'); // none: the peer
    expect(sourceAddress(res('10.0.0.5'), req('1.1.1.1, not-an-address'), 1)).toBe('10.0.0.5');
  });

  it('settings: API_AUTH_FAILURE_LIMIT, API_AUTH_FAILURE_WINDOW_SECONDS, API_TRUSTED_PROXIES', () => {
    expect(loadApiSettings({}).authFailures).toEqual({ limit: 20, windowMs: 60_000, trustedProxies: 0 });
    expect(loadApiSettings({ API_AUTH_FAILURE_LIMIT: '5', API_AUTH_FAILURE_WINDOW_SECONDS: '300', API_TRUSTED_PROXIES: '1' }).authFailures).toEqual({
      limit: 5,
      windowMs: 300_000,
      trustedProxies: 1,
    });
    expect(() => loadApiSettings({ API_AUTH_FAILURE_WINDOW_SECONDS: '0' })).toThrow(/API_AUTH_FAILURE_WINDOW_SECONDS/);
    expect(() => loadApiSettings({ API_TRUSTED_PROXIES: 'yes' })).toThrow(/API_TRUSTED_PROXIES/);
  });
});

/** The admin port as buildAdminApp makes it, with every route registered on it recorded. */
async function startAdmin(failures: AuthFailureSettings): Promise<{ api: ConfigApi; admin: Listening; routes: [string, string][]; metrics: BidderMetrics }> {
  const settings = loadSettings({ HOST: '127.0.0.1', PORT: '0', ADMIN_PORT: '0', INSTANCE_ID: 'test' });
  const bundle = await loadBundleFromDir('config');
  const store = new MemoryConfigStore();
  await seedStore(store, bundle);
  const metrics = new BidderMetrics({ defaultMetrics: false });
  const audienceMetrics = new AudienceMetrics(metrics.registry);
  const audiences = new AudienceService(new MemorySegmentStore(), audienceMetrics, DEFAULT_AUDIENCE_SETTINGS);
  const api = createConfigApi({ store, adminKey: ADMIN_KEY, audiences, authFailures: failures, authMetrics: new AuthMetrics(metrics.registry) });
  const deps: AppDeps = {
    settings,
    snapshots: new SnapshotRef(buildSnapshot(bundle, 1)),
    metrics,
    audiences,
    audienceMetrics,
    signer: new NoticeSigner(parseSigningKeys('test:0123456789abcdef0123456789abcdef')),
    isReady: () => true,
    reports: { store: new FakeEventDatabase() },
    configApi: api,
    budgetStore: new MemoryBudgetStore(),
  };
  const app = await buildAdminApp(deps);
  // Every route registered on the admin port (Fastify's onRoute hook), as [method, pattern].
  const routes: [string, string][] = adminRoutes(app).map((r) => [r.method === 'DELETE' ? 'del' : r.method.toLowerCase(), r.url]);
  const admin = await listenAdmin(app, '127.0.0.1', 0);
  return { api, admin, routes, metrics };
}

/** Routes open by design: probes, metrics, the OpenAPI document, and the catch-alls (404, 405: they read nothing). */
const OPEN = new Set(['get /healthz', 'get /readyz', 'get /metrics', 'get /api/v1/openapi.json']);
/** The console's static files (its page asks for a key and calls the API with it; the files hold no data). */
const isConsoleFile = (method: string, pattern: string) => method === 'get' && (pattern === '/' || pattern === '/index.html' || pattern.startsWith('/assets/'));

describe('over HTTP: every route that takes a key goes through the failure limit', () => {
  let admin: Awaited<ReturnType<typeof startAdmin>>;
  beforeAll(async () => {
    admin = await startAdmin({ limit: 3, windowMs: 60_000, trustedProxies: 1 });
  });
  afterAll(() => admin?.admin.close());

  const call = (method: string, path: string, address: string, authorization?: string) => {
    const verb = method === 'del' ? 'DELETE' : method.toUpperCase();
    const csv = path.endsWith('/members');
    const body = verb === 'GET' || verb === 'DELETE' ? undefined : csv ? 'u1,uid,\n' : '{"on":false}';
    return httpRequest(admin.admin.port, verb, path, body, {
      'x-forwarded-for': address,
      ...(csv ? { 'content-type': 'text/csv' } : {}),
      ...(authorization ? { authorization } : {}),
    });
  };

  it('walks them all: after 3 failures from an address, its next request gets 429 with Retry-After even with the admin key', async () => {
    const guarded = admin.routes.filter(([m, p]) => m !== 'any' && !OPEN.has(`${m} ${p}`) && !isConsoleFile(m, p));
    const paths = guarded.map(([m, p]) => `${m} ${p}`);
    // The ones this issue names, so the walk cannot pass by walking nothing.
    for (const r of ['get /api/v1/campaigns', 'post /api/v1/keys', 'post /api/v1/audiences/:segmentId/members', 'get /api/v1/audience-uploads', 'del /api/v1/users/:idType/:userId/segments', 'get /api/v1/reports', 'get /admin/kill-switch', 'put /admin/kill-switch'])
      expect(paths).toContain(r);
    expect(guarded.length).toBeGreaterThan(40);
    let n = 0;
    for (const [method, pattern] of guarded) {
      const path = pattern.replace(/:idType/, 'uid').replace(/:\w+/g, 'x');
      const address = `198.18.${n >> 8}.${n++ & 255}`;
      for (let i = 0; i < 3; i++) {
        const r = await call(method, path, address, i === 1 ? undefined : WRONG);
        expect(r.status, `${method} ${pattern}: ${r.text}`).toBe(pattern.startsWith('/admin/') ? 403 : 401);
      }
      const limited = await call(method, path, address, `Bearer ${ADMIN_KEY}`);
      expect(limited.status, `${method} ${pattern}: ${limited.text}`).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(59);
      if (!pattern.startsWith('/admin/')) expect(limited.json().code).toBe('auth_rate_limited');
    }
    const text = await admin.metrics.registry.metrics();
    const sum = (name: string) => [...text.matchAll(new RegExp(`^${name}\\{surface="\\w+"\\} (\\d+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
    expect(sum('api_auth_failures_total')).toBe(3 * guarded.length);
    expect(sum('api_auth_refused_total')).toBe(guarded.length);
    expect(text).toMatch(/^api_auth_refused_total\{surface="kill_switch"\} 2$/m);
    expect(text).toMatch(/^api_auth_refused_total\{surface="reports"\} 1$/m);
  });

  it('another address is not refused; the right key works there', async () => {
    for (let i = 0; i < 3; i++) expect((await call('get', '/api/v1/me', '198.19.0.1', WRONG)).status).toBe(401);
    expect((await call('get', '/api/v1/me', '198.19.0.1', `Bearer ${ADMIN_KEY}`)).status).toBe(429);
    expect((await call('get', '/api/v1/me', '198.19.0.2', `Bearer ${ADMIN_KEY}`)).status).toBe(200);
    // A client cannot hide behind entries of its own to the left of the one the trusted proxy appended.
    expect((await call('get', '/api/v1/me', '203.0.113.1, 198.19.0.1', `Bearer ${ADMIN_KEY}`)).status).toBe(429);
  });
});

describe('over HTTP, without trusted proxies', () => {
  it('X-Forwarded-For does not move a client to another address: 1,000 bad keys get 20 401s, then 429s', async () => {
    const { admin, metrics } = await startAdmin({ limit: 20, windowMs: 60_000, trustedProxies: 0 });
    try {
      const counts: Record<number, number> = {};
      for (let i = 0; i < 1_000; i++) {
        const r = await httpRequest(admin.port, 'GET', '/api/v1/campaigns', undefined, { authorization: WRONG, 'x-forwarded-for': `198.18.${i >> 8}.${i & 255}` });
        counts[r.status] = (counts[r.status] ?? 0) + 1;
      }
      expect(counts).toEqual({ 401: 20, 429: 980 });
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^api_auth_failures_total\{surface="config_api"\} 20$/m);
      expect(text).toMatch(/^api_auth_refused_total\{surface="config_api"\} 980$/m);
    } finally {
      admin.close();
    }
  });
});
