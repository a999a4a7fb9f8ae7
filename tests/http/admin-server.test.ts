/**
 * The admin port's server (src/api/admin-server.ts): exclusive listening, node:http timeouts for
 * slow clients, bounded bodies, and Fastify's own errors answered as problem documents.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { createAdminServer, listenAdmin, type AdminListening, type AdminTimeouts } from '../../src/api/admin-server.js';
import { registerAdminRoutes } from '../../src/http/admin-routes.js';
import { registerMoneyRoutes } from '../../src/http/money-routes.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { buildSnapshot, SnapshotRef } from '../../src/campaigns/snapshot.js';
import { httpRequest } from '../helpers/bidder.js';

const open: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of open.reverse()) await f();
});

async function admin(timeouts?: AdminTimeouts): Promise<AdminListening> {
  const app = await createAdminServer({ timeouts });
  registerMoneyRoutes(app, { store: new MemoryBudgetStore() });
  registerAdminRoutes(app, { snapshots: new SnapshotRef(buildSnapshot({}, 1)), metricsText: async () => '', isReady: () => true, console: new Map() });
  const l = await listenAdmin(app, '127.0.0.1', 0);
  open.push(() => l.stop());
  return l;
}

/** Resolves once the server closes the socket, with what it sent. */
function whenClosed(port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(send));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

describe('the admin server', () => {
  it('refuses a port something else holds, with a clear message', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    open.push(() => new Promise((r) => holder.close(r)));
    const port = (holder.address() as AddressInfo).port;
    const app = await createAdminServer();
    await expect(listenAdmin(app, '127.0.0.1', port)).rejects.toThrow(`cannot listen on 127.0.0.1:${port}: the port is in use`);
  });

  it('closes a connection whose request headers never finish, and one whose body never finishes', async () => {
    const l = await admin({ headersMs: 300, requestMs: 600, keepAliveMs: 1_000, idleMs: 10_000 });
    const t0 = Date.now();
    const headers = await whenClosed(l.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    expect(headers).toMatch(/^(HTTP\/1.1 408|$)/);
    const body = await whenClosed(l.port, 'PUT /admin/kill-switch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"on":');
    expect(body).toMatch(/^(HTTP\/1.1 408|$)/);
    expect(Date.now() - t0).toBeLessThan(20_000); // not held until the defaults (20 s, 30 min)
    expect((await httpRequest(l.port, 'GET', '/healthz')).status).toBe(200);
  });

  it('bounds bodies: over the route\'s limit is a 413 problem document and the connection closes', async () => {
    const l = await admin();
    const r = await httpRequest(l.port, 'PUT', '/admin/kill-switch', JSON.stringify({ on: false, campaign: 'x'.repeat(10_000) }), { 'content-type': 'application/json' });
    expect(r.status).toBe(413);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.json()).toMatchObject({ status: 413, code: 'body_too_large' });
    expect(r.headers.connection).toBe('close');
    const ok = await httpRequest(l.port, 'PUT', '/admin/kill-switch', JSON.stringify({ on: false }), { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json');
  });

  it('answers a path that is not valid percent-encoding with a 400 problem document', async () => {
    const l = await admin();
    const r = await httpRequest(l.port, 'GET', '/api/v1/campaigns/%E0%A4%A');
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.json()).toMatchObject({ status: 400, code: 'bad_path' });
  });
});
