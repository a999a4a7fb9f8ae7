/**
 * Tracing (telemetry/tracing.ts) against a real OTLP/HTTP receiver in this process: a node http
 * server that takes the exporter's JSON export requests. Notices on the bid port are traced with
 * the right span names, parents and attributes, and no secret (signature, query string, signing key)
 * leaves the process. Off, tracing is the NO_TRACING constant.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startGated, bidBody, type GatedBidder } from '../helpers/gate-kit.js';
import { NO_TRACING, startTracing, type Tracing } from '../../src/telemetry/tracing.js';
import { loadSettings } from '../../src/settings/settings.js';
import { createAdminServer, listenAdmin } from '../../src/api/admin-server.js';
import { registerAdminRoutes } from '../../src/http/admin-routes.js';
import { registerTestHooks } from '../../src/http/test-hooks.js';
import { buildSnapshot, SnapshotRef } from '../../src/campaigns/snapshot.js';

interface OtlpValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: OtlpValue }[];
  status?: { code?: number; message?: string };
}

/** A minimal OTLP/HTTP traces receiver: keeps every request body and the spans decoded from it. */
async function receiver(): Promise<{ url: string; bodies: string[]; spans: OtlpSpan[]; resources: Record<string, unknown>[]; paths: string[]; close(): Promise<void> }> {
  const bodies: string[] = [];
  const spans: OtlpSpan[] = [];
  const resources: Record<string, unknown>[] = [];
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      bodies.push(body);
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const doc = JSON.parse(body) as { resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) {
        resources.push(Object.fromEntries(rs.resource.attributes.map((a) => [a.key, valueOf(a.value)])));
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, bodies, spans, resources, paths, close: () => new Promise((r) => server.close(() => r())) };
}

const valueOf = (v: OtlpValue) => v.stringValue ?? v.boolValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined);
const attrs = (s: OtlpSpan) => Object.fromEntries(s.attributes.map((a) => [a.key, valueOf(a.value)]));

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('tracing', () => {
  it('is off by default: no endpoint, and NO_TRACING starts no span', async () => {
    expect(loadSettings({}).tracesEndpoint).toBeUndefined();
    expect(loadSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracesEndpoint).toBe('http://collector:4318/v1/traces');
    expect(loadSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' }).tracesEndpoint).toBe('http://c:4318/custom');
    expect(() => loadSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(NO_TRACING.start('x')).toBeUndefined();
    expect(await NO_TRACING.inSpan('x', {}, async (s) => s)).toBeUndefined();
  });

  it('exports notice spans and their event writes over OTLP/HTTP, with names, parents and attributes, and no secrets', async () => {
    const rx = await receiver();
    cleanup.push(() => rx.close());
    const tracing: Tracing = await startTracing({ endpoint: rx.url, serviceName: 'bidder-test', instanceId: 't1', exportDelayMs: 50 });
    cleanup.push(() => tracing.shutdown());
    const b: GatedBidder = await startGated({}, {}, { tracing });
    cleanup.push(() => b.close());
    const base = `http://127.0.0.1:${b.port}`;

    const bid = await fetch(`${base}/bid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bidBody('t-1') });
    expect(bid.status).toBe(200);
    const offer = ((await bid.json()) as { seatbid: { bid: { burl: string; nurl?: string }[] }[] }).seatbid[0]!.bid[0]!;
    const billing = offer.burl.replace(/^https?:\/\/[^/]+/, '').split('${AUCTION_PRICE}').join('0.5');
    const query = billing.slice(billing.indexOf('?') + 1);
    expect((await fetch(base + billing)).status).toBe(204);
    expect((await fetch(base + billing)).status).toBe(204); // a repeat: a duplicate write
    const tampered = billing.replace(/([?&]s(?:ig)?=)([^&]{4})/, '$1AAAA');
    expect(tampered).not.toBe(billing);
    expect((await fetch(base + tampered)).status).toBe(403);
    expect((await fetch(`${base}/notice/win/no-such-exchange?${query}`)).status).toBe(404);
    expect((await fetch(`${base}/notice/conversion`)).status).toBe(400);

    await tracing.flush();
    await until(() => rx.spans.filter((s) => s.name.startsWith('notice')).length >= 5 && rx.spans.filter((s) => s.name === 'event write').length >= 2);
    expect(rx.paths.every((p) => p.startsWith('POST /v1/traces application/json'))).toBe(true);
    expect(rx.resources[0]).toMatchObject({ 'service.name': 'bidder-test', 'service.instance.id': 't1' });

    const notices = rx.spans.filter((s) => s.name.startsWith('notice'));
    const byOutcome = (o: string) => notices.filter((s) => attrs(s)['dsp.notice.outcome'] === o);
    const accepted = byOutcome('accepted');
    expect(accepted.map((s) => s.name)).toEqual(['notice billing', 'notice billing']);
    expect(attrs(accepted[0]!)).toMatchObject({ 'dsp.notice.type': 'billing', 'dsp.exchange': expect.any(String), 'http.route': '/notice/:type/:exchange', 'dsp.campaign.id': expect.any(String) });
    expect(byOutcome('bad_signature')).toHaveLength(1);
    expect(byOutcome('bad_signature')[0]!.status?.code).toBe(2);
    expect(byOutcome('unknown_exchange').map((s) => attrs(s)['dsp.exchange'])).toEqual(['no-such-exchange']);
    expect(notices.filter((s) => s.name === 'notice conversion')).toHaveLength(1);

    // Each accepted billing notice has one child span for its durable event write; the repeat is marked a duplicate.
    const writes = rx.spans.filter((s) => s.name === 'event write');
    expect(writes).toHaveLength(2);
    for (const w of writes) {
      const parent = accepted.find((s) => s.spanId === w.parentSpanId);
      expect(parent).toBeDefined();
      expect(w.traceId).toBe(parent!.traceId);
      expect(attrs(w)).toMatchObject({ 'dsp.event.type': 'billing', 'dsp.event.durable': true });
    }
    expect(writes.filter((w) => attrs(w)['dsp.event.duplicate'] === true)).toHaveLength(1);

    // No secrets: not the query string (signature, prices), not any of its values, not the signing key.
    const all = rx.bodies.join('\n');
    expect(all).not.toContain('0123456789abcdef0123456789abcdef');
    expect(all).not.toContain(query);
    const q = new URLSearchParams(query);
    expect(q.get('s')?.length).toBeGreaterThan(8); // the signature
    for (const k of ['s', 'u', 'r']) if (q.get(k)) expect(all, k).not.toContain(q.get(k));
  });

  it('exports a span per admin request, named by its route, with the status, no path ids, query or key; a 5xx is an error', async () => {
    const rx = await receiver();
    cleanup.push(() => rx.close());
    const tracing: Tracing = await startTracing({ endpoint: rx.url, serviceName: 'bidder-test', instanceId: 't2', exportDelayMs: 50 });
    cleanup.push(() => tracing.shutdown());
    const app = await createAdminServer({ tracing });
    let failing = false;
    registerAdminRoutes(app, {
      snapshots: new SnapshotRef(buildSnapshot({}, 1)),
      metricsText: async () => {
        if (failing) throw new Error('scrape failed');
        return '';
      },
      isReady: () => true,
      console: new Map(),
    });
    registerTestHooks(app, { crash: () => false, lag: () => {} });
    const admin = await listenAdmin(app, '127.0.0.1', 0);
    cleanup.push(() => admin.stop());
    const base = `http://127.0.0.1:${admin.port}`;

    expect((await fetch(`${base}/healthz?token=secret-in-query`, { headers: { authorization: 'Bearer secret-key-123' } })).status).toBe(200);
    expect((await fetch(`${base}/debug/workers/7-secret-id/crash`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base}/no-such-page`)).status).toBe(404);
    failing = true;
    expect((await fetch(`${base}/metrics`)).status).toBe(500);

    await tracing.flush();
    await until(() => rx.spans.filter((s) => s.name.startsWith('admin ')).length >= 4);
    const spans = rx.spans.filter((s) => s.name.startsWith('admin '));
    const named = (n: string) => spans.find((s) => s.name === n);
    expect(spans.map((s) => s.name).sort()).toEqual(['admin GET /healthz', 'admin GET /metrics', 'admin GET unmatched', 'admin POST /debug/workers/:n/crash']);
    expect(attrs(named('admin GET /healthz')!)).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/healthz', 'http.response.status_code': 200 });
    expect(attrs(named('admin POST /debug/workers/:n/crash')!)).toMatchObject({ 'http.route': '/debug/workers/:n/crash', 'http.response.status_code': 404 });
    expect(named('admin GET /healthz')!.status?.code ?? 0).not.toBe(2);
    expect(named('admin GET /metrics')!.status?.code).toBe(2);
    expect(attrs(named('admin GET /metrics')!)['http.response.status_code']).toBe(500);
    const all = rx.bodies.join('\n');
    for (const secret of ['secret-in-query', 'secret-key-123', '7-secret-id', 'no-such-page']) expect(all, secret).not.toContain(secret);
  });

  it('is off without tracing: the admin server starts no span', async () => {
    const started: string[] = [];
    const spy: Tracing = { ...NO_TRACING, start: (name) => void started.push(name) };
    const app = await createAdminServer({ tracing: spy });
    registerAdminRoutes(app, { snapshots: new SnapshotRef(buildSnapshot({}, 1)), metricsText: async () => '', isReady: () => true, console: new Map() });
    const admin = await listenAdmin(app, '127.0.0.1', 0);
    cleanup.push(() => admin.stop());
    expect((await fetch(`http://127.0.0.1:${admin.port}/healthz`)).status).toBe(200);
    expect(started).toEqual([]);
  });
});
