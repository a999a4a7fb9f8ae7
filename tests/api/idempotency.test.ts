/**
 * Idempotency-Key on POST (src/api/idempotency.ts): the store contract on the in-process store, a
 * real redis-server and a real 3-master Redis Cluster; `idempotent()` on its own (replay, 409 while
 * running, 422 for another request, what is kept and what is released); and end to end over HTTP:
 * two POSTs creating an advertiser with one key make one advertiser, and two API instances on one
 * Redis share the keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminServer, listenAdmin } from '../../src/api/admin-server.js';
import { uploadKey } from '../../src/audiences/identity.js';
import type { Redis } from 'ioredis';
import { ApiError } from '../../src/api/errors.js';
import {
  MemoryIdempotencyStore,
  RedisIdempotencyStore,
  fingerprintOf,
  idempotent,
  parseIdempotencyKey,
  storageKey,
  type StoredReply,
} from '../../src/api/idempotency.js';
import { createRedis, type RedisLike } from '../../src/storage/redis-client.js';
import { createConfigApi, registerConfigApi } from '../../src/api/index.js';
import { MemoryConfigStore } from '../../src/campaigns/config-store.js';
import type { Listening } from '../../src/http/listen.js';
import { httpRequest } from '../helpers/bidder.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { idempotencyStoreContract } from './idempotency-store.contract.js';

let servers: ContractServers;
let raw: Redis;
let clusterRaw: Redis[];

beforeAll(async () => {
  servers = await startContractServers();
  ({ raw, clusterRaw } = servers);
}, 60_000);

afterAll(() => servers?.stop());

let n = 0;

idempotencyStoreContract('memory', async () => ({ store: new MemoryIdempotencyStore(), cleanup: async () => {} }));

for (const [name, url, flush] of [
  ['redis', () => servers.server.url, () => raw.flushall()],
  ['redis cluster (3 masters)', () => servers.cluster.url, () => Promise.all(clusterRaw.map((c) => c.flushall().catch(() => {})))],
] as const) {
  idempotencyStoreContract(name, async () => {
    const prefix = `t${++n}`;
    const clients: RedisLike[] = [];
    const open = () => {
      const c = createRedis(url(), { admin: true });
      clients.push(c);
      return new RedisIdempotencyStore(c, { prefix });
    };
    return {
      store: open(),
      peer: open,
      cleanup: async () => {
        for (const c of clients) c.disconnect();
        await flush();
      },
    };
  });
}

describe('idempotent()', () => {
  const req = (fingerprint = 'fp', key = 'k') => ({ scope: 'key-1', key, fingerprint });
  const created: StoredReply = { status: 201, body: { id: 'a1' }, version: 1, headers: { location: '/x/a1', 'ratelimit-remaining': '7' } };

  it('runs once, then answers the same request from the store, marked as replayed, without the per-answer headers', async () => {
    const store = new MemoryIdempotencyStore();
    let runs = 0;
    const run = async () => (runs++, created);
    expect(await idempotent(store, req(), run)).toEqual(created);
    const again = await idempotent(store, req(), run);
    expect(runs).toBe(1);
    expect(again).toEqual({ status: 201, body: { id: 'a1' }, version: 1, headers: { location: '/x/a1', 'idempotent-replayed': 'true' } });
  });

  it('another request with the key: 422; while the first runs: 409 with Retry-After; keys are per API key', async () => {
    const store = new MemoryIdempotencyStore();
    let finish!: (r: StoredReply) => void;
    const first = idempotent(store, req(), () => new Promise<StoredReply>((r) => (finish = r)));
    await new Promise((r) => setTimeout(r, 10));
    const running = await idempotent(store, req(), async () => created).catch((e: unknown) => e);
    expect(running).toBeInstanceOf(ApiError);
    expect((running as ApiError).status).toBe(409);
    expect((running as ApiError).headers?.['retry-after']).toBe('1');
    // The same key from another API key is another key.
    expect((await idempotent(store, { ...req(), scope: 'key-2' }, async () => created)).status).toBe(201);
    finish(created);
    await first;
    const other = await idempotent(store, req('another body'), async () => created).catch((e: unknown) => e);
    expect((other as ApiError).status).toBe(422);
    expect((other as ApiError).code).toBe('idempotency_key_reused');
  });

  it('a 4xx answer is kept; a 5xx answer or a thrown error releases the key so a retry runs', async () => {
    const store = new MemoryIdempotencyStore();
    let runs = 0;
    const refused: StoredReply = { status: 412, body: { error: { code: 'precondition_failed', message: 'x' } } };
    await idempotent(store, req('a', 'k4'), async () => (runs++, refused));
    expect((await idempotent(store, req('a', 'k4'), async () => (runs++, created))).status).toBe(412);
    expect(runs).toBe(1);
    await idempotent(store, req('a', 'k5'), async () => (runs++, { status: 503 }));
    expect((await idempotent(store, req('a', 'k5'), async () => (runs++, created))).status).toBe(201);
    expect(runs).toBe(3);
    await expect(idempotent(store, req('a', 'k6'), async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect((await idempotent(store, req('a', 'k6'), async () => created)).status).toBe(201);
  });

  it('a store that cannot be reached: 503, and the request does not run unguarded', async () => {
    const store = new MemoryIdempotencyStore();
    store.claim = async () => Promise.reject(new Error('Connection is closed.'));
    let ran = false;
    const e = await idempotent(store, req(), async () => ((ran = true), created)).catch((x: unknown) => x);
    expect((e as ApiError).status).toBe(503);
    expect(ran).toBe(false);
  });

  it('an answer that cannot be kept still goes out (the work is done); the key is not released', async () => {
    const store = new MemoryIdempotencyStore();
    store.complete = async () => Promise.reject(new Error('Command timed out'));
    expect(await idempotent(store, req(), async () => created)).toEqual(created);
    const e = await idempotent(store, req(), async () => created).catch((x: unknown) => x);
    expect((e as ApiError).status).toBe(409); // held until the lease ends, rather than run twice at once
  });

  it('parses the header (a structured-field string or a bare token) and refuses a bad one', () => {
    expect(parseIdempotencyKey('')).toBeUndefined();
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(parseIdempotencyKey('abc-123')).toBe('abc-123');
    expect(() => parseIdempotencyKey('"has space"')).toThrow(ApiError);
    expect(() => parseIdempotencyKey('x'.repeat(256))).toThrow(ApiError);
    expect(fingerprintOf('post', '/a?', Buffer.from('{}'))).toBe(fingerprintOf('POST', '/a?', Buffer.from('{}')));
    expect(fingerprintOf('POST', '/a?', Buffer.from('{}'))).not.toBe(fingerprintOf('POST', '/b?', Buffer.from('{}')));
  });
});

describe('Idempotency-Key over HTTP', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi();
  });
  afterAll(() => h?.close());

  const advertisers = async () => (await h.call('GET', '/api/v1/advertisers?limit=500')).json().items as { id: string; name: string }[];

  it('two POSTs creating an advertiser with one key make one advertiser and get the same answer', async () => {
    const before = (await advertisers()).length;
    const body = { name: 'Idempotent Inc' };
    const headers = { 'idempotency-key': '"create-idem-inc-1"' };
    const first = await h.call('POST', '/api/v1/advertisers', body, { headers });
    const second = await h.call('POST', '/api/v1/advertisers', body, { headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.json()).toEqual(first.json());
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.headers.location).toBe(first.headers.location);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const after = await advertisers();
    expect(after.length).toBe(before + 1);
    expect(after.filter((a) => a.name === 'Idempotent Inc')).toHaveLength(1);
    // Without the header, each POST is its own.
    await h.call('POST', '/api/v1/advertisers', { name: 'No Key Inc' });
    await h.call('POST', '/api/v1/advertisers', { name: 'No Key Inc' });
    expect((await advertisers()).filter((a) => a.name === 'No Key Inc')).toHaveLength(2);
  });

  it('the key with another body: 422, and nothing created; two at once: one 201 and one 409 (or its replay)', async () => {
    const headers = { 'idempotency-key': 'create-2' };
    expect((await h.call('POST', '/api/v1/advertisers', { name: 'Two Inc' }, { headers })).status).toBe(201);
    const other = await h.call('POST', '/api/v1/advertisers', { name: 'Other Inc' }, { headers });
    expect(other.status).toBe(422);
    expect(other.json().code).toBe('idempotency_key_reused');
    expect((await advertisers()).filter((a) => a.name === 'Other Inc')).toHaveLength(0);

    const both = await Promise.all([0, 1].map(() => h.call('POST', '/api/v1/advertisers', { name: 'Race Inc' }, { headers: { 'idempotency-key': 'race-1' } })));
    const statuses = both.map((r) => r.status).sort();
    expect(statuses[0]).toBe(201);
    expect([201, 409]).toContain(statuses[1]);
    expect((await advertisers()).filter((a) => a.name === 'Race Inc')).toHaveLength(1);
  });

  it('an audience upload with a key: the same bytes make one upload and get the same answer; other bytes or another query are a 422', async () => {
    const csv = { 'content-type': 'text/csv' };
    const uploadsOf = async (segment: string) => ((await h.call('GET', '/api/v1/audience-uploads')).json().uploads as { segmentId: string; uploadId: string }[]).filter((u) => u.segmentId === segment);
    const rows = 'user_id,id_type\nidem-u1,uid\nidem-u2,uid\n';
    const headers = { ...csv, 'idempotency-key': 'upload-idem-1' };
    const first = await h.call('POST', '/api/v1/audiences/idem-seg/members', rows, { headers });
    expect(first.status, first.text).toBe(200);
    expect(first.json()).toMatchObject({ segmentId: 'idem-seg', accepted: 2, rejected: 0, state: 'done' });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const second = await h.call('POST', '/api/v1/audiences/idem-seg/members', rows, { headers });
    expect(second.status, second.text).toBe(200);
    expect(second.json()).toEqual(first.json());
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await uploadsOf('idem-seg')).toHaveLength(1);

    const other = await h.call('POST', '/api/v1/audiences/idem-seg/members', 'user_id,id_type\nidem-u3,uid\n', { headers });
    expect(other.status, other.text).toBe(422);
    expect(other.headers['content-type']).toBe('application/problem+json');
    expect(other.json().code).toBe('idempotency_key_reused');
    const otherQuery = await h.call('POST', '/api/v1/audiences/idem-seg/members?ttl=60', rows, { headers });
    expect(otherQuery.status, otherQuery.text).toBe(422);
    expect(await uploadsOf('idem-seg')).toHaveLength(1);
    // The user of the refused body was not added.
    const key = (id: string) => uploadKey('uid', id) as string;
    const [u1, u3] = await h.bidder.audiences.store.lookup([key('idem-u1'), key('idem-u3')]);
    expect(JSON.stringify(u1)).toContain('idem-seg');
    expect(u3).toBeUndefined();

    // Another API key has keys of its own; without the header each upload is its own.
    const admin2 = await h.key('admin');
    expect((await h.call('POST', '/api/v1/audiences/idem-seg/members', rows, { key: admin2, headers })).headers['idempotent-replayed']).toBeUndefined();
    await h.call('POST', '/api/v1/audiences/idem-seg/members', rows, { headers: csv });
    expect(await uploadsOf('idem-seg')).toHaveLength(3);
    const bad = await h.call('POST', '/api/v1/audiences/idem-seg/members', rows, { headers: { ...csv, 'idempotency-key': 'bad key with spaces' } });
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe('bad_idempotency_key');
  });

  it('the OpenAPI document names the header, 409 and 422 on every POST that takes a key, and on no other method', () => {
    const paths = h.api.openapi().paths as Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown>; security?: unknown[] }>>;
    let posts = 0;
    for (const [path, ops] of Object.entries(paths))
      for (const [method, op] of Object.entries(ops)) {
        const has = (op.parameters ?? []).some((p) => p.name === 'Idempotency-Key' && p.in === 'header');
        const expected = method === 'post' && op.security === undefined;
        expect(has, `${method} ${path}`).toBe(expected);
        if (expected) {
          posts++;
          expect(op.responses, `${method} ${path}`).toHaveProperty('409');
          expect(op.responses, `${method} ${path}`).toHaveProperty('422');
        }
      }
    expect(posts).toBeGreaterThan(5);
  });

  it('the key is per API key; a refusal is kept as the answer; a bad key is a 400', async () => {
    const adv = await h.key('admin');
    const headers = { 'idempotency-key': 'shared-name' };
    expect((await h.call('POST', '/api/v1/advertisers', { name: 'Scoped A' }, { headers })).status).toBe(201);
    expect((await h.call('POST', '/api/v1/advertisers', { name: 'Scoped B' }, { key: adv, headers })).status).toBe(201);
    const bad = { name: '' };
    const r1 = await h.call('POST', '/api/v1/advertisers', bad, { headers: { 'idempotency-key': 'invalid-body' } });
    expect(r1.status).toBe(400);
    const r2 = await h.call('POST', '/api/v1/advertisers', bad, { headers: { 'idempotency-key': 'invalid-body' } });
    expect(r2.status).toBe(400);
    expect(r2.headers['idempotent-replayed']).toBe('true');
    expect((await h.call('POST', '/api/v1/advertisers', { name: 'x' }, { headers: { 'idempotency-key': 'with space' } })).status).toBe(400);
  });
});

describe('Idempotency-Key across two API instances on one Redis', () => {
  const store = new MemoryConfigStore(); // the config both instances serve (a Redis config store in production)
  const ADMIN = 'idempotency-admin-key-0123456789';
  const listening: Listening[] = [];
  const clients: RedisLike[] = [];
  const ports: number[] = [];
  const apis: ReturnType<typeof createConfigApi>[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const redis = createRedis(servers.server.url, { commandTimeoutMs: 500 });
      clients.push(redis);
      await new Promise((r) => redis.once('ready', r));
      const api = createConfigApi({ store, adminKey: ADMIN, shared: { redis, prefix: 'two' }, rateLimit: { perSecond: 10_000, burst: 10_000 } });
      const app = await createAdminServer();
      registerConfigApi(app, api);
      const l = await listenAdmin(app, '127.0.0.1', 0);
      listening.push(l);
      ports.push(l.port);
      apis.push(api);
    }
  });
  afterAll(() => {
    for (const l of listening) l.close();
    for (const c of clients) c.disconnect();
  });

  it('a retry sent to the other instance is answered from the first one\'s answer: one advertiser', async () => {
    const call = (port: number, body: unknown, key: string) =>
      httpRequest(port, 'POST', '/api/v1/advertisers', JSON.stringify(body), { authorization: `Bearer ${ADMIN}`, 'idempotency-key': key });
    const a = await call(ports[0], { name: 'Fleet Inc' }, 'fleet-1');
    const b = await call(ports[1], { name: 'Fleet Inc' }, 'fleet-1');
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.json()).toEqual(a.json());
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect((await call(ports[1], { name: 'Fleet Two' }, 'fleet-1')).status).toBe(422);
    const list = (await httpRequest(ports[0], 'GET', '/api/v1/advertisers?limit=500', undefined, { authorization: `Bearer ${ADMIN}` })).json().items as { name: string }[];
    expect(list.filter((x) => x.name === 'Fleet Inc')).toHaveLength(1);
  });

  it('while one instance still runs the first request with a key, the other answers 409 with Retry-After, and creates nothing', async () => {
    const body = JSON.stringify({ id: 'adv-running', name: 'Running Inc' });
    // Instance 0 holds the key as the router would while its handler runs (same scope, key and fingerprint).
    const held = await apis[0].idempotency.claim(storageKey('root', 'run-1'), fingerprintOf('POST', '/api/v1/advertisers?', Buffer.from(body)), 60_000);
    expect(held.kind).toBe('claimed');
    const r = await httpRequest(ports[1], 'POST', '/api/v1/advertisers', body, { authorization: `Bearer ${ADMIN}`, 'idempotency-key': 'run-1' });
    expect(r.status).toBe(409);
    expect(r.json().code).toBe('idempotency_key_in_use');
    expect(r.headers['retry-after']).toBe('1');
    expect((await httpRequest(ports[1], 'GET', '/api/v1/advertisers/adv-running', undefined, { authorization: `Bearer ${ADMIN}` })).status).toBe(404);
  });
});
