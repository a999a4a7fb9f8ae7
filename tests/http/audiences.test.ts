/**
 * The audience API on the real admin port, and its effect on real bids on the bid port
 * (in-process segment store): uploads, segment metadata, user and segment removal, and a large
 * streamed upload while bid traffic keeps flowing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { once } from 'node:events';
import { httpRequest, startBidder, type HttpResult, type TestBidder } from '../helpers/bidder.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';

const banner = (id: string) => ({ id, type: 'banner' as const, w: 300, h: 250, html: `<div>${id}</div>` });

const bundle: ConfigBundle = {
  exchanges: [{ id: 'default', seat: 'seat-1', currency: 'USD' }],
  currencies: { base: 'USD', rates: { EUR: 0.9 } },
  advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
  campaigns: [
    {
      id: 'crm',
      advertiserId: 'acme',
      bid: { base: 2, max: 10 },
      multipliers: { segment: { 'crm-vip': 1.5 } },
      targeting: { segments: { anyOf: ['crm-customers'], exclude: ['crm-churned'] } },
      creatives: [banner('crm-cr')],
    },
    {
      id: 'bulk',
      advertiserId: 'acme',
      bid: { base: 1, max: 1.5 },
      targeting: { segments: { anyOf: ['bulk'] } },
      creatives: [banner('bulk-cr')],
    },
  ],
};

let bidder: TestBidder;
beforeAll(async () => {
  bidder = await startBidder({ bundle, env: { DEBUG_NOBID: '1' } });
});
afterAll(() => bidder?.close());

const admin = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
  httpRequest(bidder.adminPort, method, path, body, headers);
const upload = (segment: string, body: string, contentType: string, query = '') =>
  admin('POST', `/api/v1/audiences/${segment}/members${query}`, body, { 'content-type': contentType });

type User = { buyeruid?: string; eids?: { source: string; uids: { id: string }[] }[] };
let reqSeq = 0;
const bidRequest = (user: User) => ({
  id: `r-${++reqSeq}`,
  imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
  site: { domain: 'news.example' },
  user,
});
/** The winning campaign and price, or the no-bid reason. */
async function bidFor(user: User): Promise<{ status: number; cid?: string; price?: number; reason?: string }> {
  const r = await bidder.post('/bid', bidRequest(user));
  if (r.status === 204) return { status: 204, reason: String(r.headers['x-nobid-reason']) };
  expect(r.status).toBe(200);
  const bid = r.json().seatbid[0].bid[0];
  return { status: 200, cid: bid.cid, price: bid.price };
}
const uid = (id: string): User => ({ buyeruid: id });

describe('audience API and bids (memory store)', () => {
  it('PUT creates (201) and updates (200) segment metadata; GET one and the list show it with approximateSize', async () => {
    const created = await admin('PUT', '/api/v1/audiences/crm-vip', JSON.stringify({ name: 'CRM VIPs', advertiserId: 'acme', ttlSeconds: 86_400 }));
    expect(created.status).toBe(201);
    const c = created.json();
    expect(c).toMatchObject({ id: 'crm-vip', name: 'CRM VIPs', advertiserId: 'acme', ttlSeconds: 86_400, approximateSize: 0 });
    expect(Date.parse(c.createdAt)).not.toBeNaN();

    const updated = await admin('PUT', '/api/v1/audiences/crm-vip', JSON.stringify({ name: 'VIPs' }));
    expect(updated.status).toBe(200);
    expect(updated.json()).toEqual({ ...c, name: 'VIPs' }); // the rest is kept, createdAt included

    const one = await admin('GET', '/api/v1/audiences/crm-vip');
    expect(one.status).toBe(200);
    expect(one.json()).toEqual({ ...c, name: 'VIPs' });
    const list = (await admin('GET', '/api/v1/audiences')).json();
    expect(list.segments).toEqual([{ ...c, name: 'VIPs' }]);

    const defaults = await admin('PUT', '/api/v1/audiences/plain', '');
    expect(defaults.status).toBe(201);
    expect(defaults.json()).toMatchObject({ id: 'plain', name: 'plain', ttlSeconds: 30 * 24 * 3600, approximateSize: 0 });
    expect((await admin('GET', '/api/v1/audiences/nope')).status).toBe(404);
  });

  it('refuses bad metadata with field-level 400s', async () => {
    const cases: [string, string, string][] = [
      [JSON.stringify({ name: 'x', colour: 'red' }), '/colour', 'unknown_field'],
      [JSON.stringify({ ttlSeconds: 10 }), '/ttlSeconds', 'minimum'],
      [JSON.stringify({ ttlSeconds: 500 * 24 * 3600 }), '/ttlSeconds', 'maximum'],
      [JSON.stringify({ ttlSeconds: 3600.5 }), '/ttlSeconds', 'type'],
      [JSON.stringify({ ttlSeconds: '1d' }), '/ttlSeconds', 'type'],
      [JSON.stringify({ name: '' }), '/name', 'minLength'],
      [JSON.stringify({ advertiserId: 'has space' }), '/advertiserId', 'pattern'],
    ];
    for (const [body, path, code] of cases) {
      const r = await admin('PUT', '/api/v1/audiences/meta-test', body);
      expect(r.status, body).toBe(400);
      const err = r.json();
      expect(err.code).toBe('validation_failed');
      expect(err.errors, body).toContainEqual(expect.objectContaining({ path, code }));
    }
    const two = await admin('PUT', '/api/v1/audiences/meta-test', JSON.stringify({ colour: 'red', ttlSeconds: 1 }));
    expect(two.json().errors.map((e: { path: string }) => e.path).sort()).toEqual(['/colour', '/ttlSeconds']);
    expect((await admin('PUT', '/api/v1/audiences/meta-test', '{"name":')).json().code).toBe('bad_json');
    const badId = await admin('PUT', '/api/v1/audiences/bad!id', JSON.stringify({ name: 'x' }));
    expect(badId.status).toBe(400);
    expect(badId.json().code).toBe('invalid_id');
    expect((await admin('GET', '/api/v1/audiences/meta-test')).status).toBe(404); // nothing was created
  });

  it('uploads CSV and NDJSON (segment auto-created), and bids follow: include, VIP multiplier, exclude', async () => {
    const csv = [
      'user_id,id_type,segments,ttl',
      'alice,uid,crm-vip,',
      'bob,uid,,',
      'carol,uid,,3600',
      'uidapi.com:ABC,eid,,',
      'dave,bogus,,',
      'eve,uid,no-such-segment,',
    ].join('\r\n');
    const up = await upload('crm-customers', csv, 'text/csv', '?name=CRM%20customers&advertiserId=acme&uploadId=csv-1');
    expect(up.status).toBe(200);
    const p = up.json();
    expect(p).toMatchObject({ uploadId: 'csv-1', segmentId: 'crm-customers', format: 'csv', state: 'done', lines: 7, accepted: 4, rejected: 2 });
    expect(p.errors).toEqual([
      { line: 6, message: expect.stringMatching(/unknown id type "bogus"/) },
      { line: 7, message: expect.stringMatching(/unknown segment "no-such-segment"/) },
    ]);

    const seg = await admin('GET', '/api/v1/audiences/crm-customers');
    expect(seg.status).toBe(200);
    expect(seg.json()).toMatchObject({ id: 'crm-customers', name: 'CRM customers', advertiserId: 'acme', approximateSize: 4 });

    const nd = await upload(
      'crm-churned',
      '{"user_id":"carol","id_type":"uid"}\n{"user_id":"frank","id_type":"uid","segments":["crm-vip"]}\n{"user_id":"x"}\n',
      'application/x-ndjson; charset=utf-8',
    );
    expect(nd.status).toBe(200);
    expect(nd.json()).toMatchObject({ format: 'ndjson', state: 'done', lines: 3, accepted: 2, rejected: 1, errors: [{ line: 3 }] });
    expect(typeof nd.json().uploadId).toBe('string');

    const sizes = Object.fromEntries(
      (await admin('GET', '/api/v1/audiences')).json().segments.map((s: { id: string; approximateSize: number }) => [s.id, s.approximateSize]),
    );
    expect(sizes).toMatchObject({ 'crm-customers': 4, 'crm-vip': 2, 'crm-churned': 2 });

    expect(await bidFor(uid('alice'))).toEqual({ status: 200, cid: 'crm', price: 3 }); // 2 × 1.5 (VIP)
    expect(await bidFor(uid('bob'))).toEqual({ status: 200, cid: 'crm', price: 2 });
    expect(await bidFor({ eids: [{ source: 'UIDAPI.com', uids: [{ id: 'ABC' }] }] })).toEqual({ status: 200, cid: 'crm', price: 2 });
    expect((await bidFor(uid('carol'))).status).toBe(204); // excluded (churned)
    expect((await bidFor(uid('frank'))).status).toBe(204); // churned VIP, not a customer
    expect((await bidFor(uid('zed'))).status).toBe(204); // unknown
    expect((await bidFor({})).status).toBe(204); // no ids at all
  });

  it('DELETE /api/v1/users/{idType}/{userId}/segments forgets one user', async () => {
    const r = await admin('DELETE', '/api/v1/users/uid/bob/segments');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ key: 'uid:bob', removed: true });
    expect((await bidFor(uid('bob'))).status).toBe(204);
    expect((await admin('DELETE', '/api/v1/users/uid/bob/segments')).status).toBe(404);
    const eid = await admin('DELETE', '/api/v1/users/eid/uidapi.com%3AABC/segments');
    expect(eid.json()).toEqual({ key: 'eid:uidapi.com:ABC', removed: true });
    expect((await bidFor({ eids: [{ source: 'uidapi.com', uids: [{ id: 'ABC' }] }] })).status).toBe(204);
    expect((await admin('DELETE', '/api/v1/users/cookie/bob/segments')).status).toBe(400);
    const malformed = await admin('DELETE', '/api/v1/users/uid/%E0%A4%A/segments'); // bad percent-encoding
    expect(malformed.status).toBe(400);
    expect(malformed.json().code).toBe('invalid_user');
    expect(await bidFor(uid('alice'))).toEqual({ status: 200, cid: 'crm', price: 3 }); // others untouched
  });

  it('DELETE /api/v1/audiences/{segmentId} drops a segment and its campaign stops bidding for its users', async () => {
    const r = await admin('DELETE', '/api/v1/audiences/crm-customers');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ id: 'crm-customers', dropped: true });
    expect(await bidFor(uid('alice'))).toMatchObject({ status: 204, reason: 'no_campaign' });
    expect((await admin('GET', '/api/v1/audiences/crm-customers')).status).toBe(404);
    expect((await admin('DELETE', '/api/v1/audiences/crm-customers')).status).toBe(404);
    const ids = (await admin('GET', '/api/v1/audiences')).json().segments.map((s: { id: string }) => s.id);
    expect(ids).not.toContain('crm-customers');
    expect(ids).toContain('crm-vip');

    // Re-created empty: the old members do not come back with it.
    expect((await admin('PUT', '/api/v1/audiences/crm-customers', '{}')).status).toBe(201);
    expect((await bidFor(uid('alice'))).status).toBe(204);
    expect((await admin('GET', '/api/v1/audiences/crm-customers')).json().approximateSize).toBe(0);
  });

  it('415 for other content types, 400 for a bad segment id; neither creates a segment', async () => {
    for (const type of ['application/json', 'text/xml', 'application/octet-stream']) {
      const r = await upload('never-made', 'alice,uid\n', type);
      expect(r.status, type).toBe(415);
      expect(r.json().code).toBe('unsupported_media_type');
    }
    const bad = await upload('bad!seg', 'alice,uid\n', 'text/csv');
    expect(bad.status).toBe(400);
    expect((await admin('GET', '/api/v1/audiences/never-made')).status).toBe(404);
    expect((await admin('GET', '/api/v1/audience-uploads/nope')).status).toBe(404);
  });

  it('a 100,000-row upload streams in chunks with progress, while bids keep being answered', async () => {
    const ROWS = 100_000;
    const lines = ['user_id,id_type'];
    for (let i = 0; i < ROWS; i++) lines.push(i % 25_000 === 7 ? `bulk-${i},nope` : `bulk-${i},uid`);
    const body = Buffer.from(lines.join('\n') + '\n');
    const half = body.indexOf('\nbulk-60000,') + 1; // row 60,000 and later arrive in the second half

    const stream = openUpload(bidder.adminPort, '/api/v1/audiences/bulk/members?uploadId=big-1', 'text/csv', body.length);

    // Bid traffic for the whole upload: 4 workers, sequential requests each, bounded.
    let uploading = true;
    const statuses = new Map<number, number>();
    let answered = 0;
    const worker = async (w: number) => {
      for (let i = 0; uploading && i < 5_000; i++) {
        const r = await bidder.post('/bid', bidRequest(uid(`bulk-${(w * 7919 + i * 104_729) % ROWS}`)));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        answered++;
      }
    };
    const traffic = Promise.all([0, 1, 2, 3].map(worker));

    const CHUNK = 16 * 1024;
    for (let off = 0; off < half; off += CHUNK) await stream.write(body.subarray(off, Math.min(off + CHUNK, half)));

    // Part-way: the upload is running, its first rows are already biddable, later rows are not yet.
    let progress: { state: string; lines: number; accepted: number; rejected: number } | undefined;
    for (let i = 0; i < 500; i++) {
      const r = await admin('GET', '/api/v1/audience-uploads/big-1');
      if (r.status === 200) {
        progress = r.json();
        if (progress!.accepted >= 55_000) break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(progress).toMatchObject({ state: 'running', segmentId: 'bulk' });
    expect(progress!.accepted).toBeGreaterThanOrEqual(55_000);
    expect(progress!.accepted).toBeLessThan(60_000);
    expect(progress!.lines).toBeLessThanOrEqual(60_001);
    expect(progress!.rejected).toBe(3); // bad rows 7, 25,007 and 50,007
    const answeredMidway = answered;
    expect(await bidFor(uid('bulk-100'))).toEqual({ status: 200, cid: 'bulk', price: 1 });
    expect((await bidFor(uid('bulk-99999'))).status).toBe(204);
    const listed = (await admin('GET', '/api/v1/audience-uploads')).json().uploads;
    expect(listed.find((u: { uploadId: string }) => u.uploadId === 'big-1')).toMatchObject({ state: 'running' });

    for (let off = half; off < body.length; off += CHUNK) await stream.write(body.subarray(off, Math.min(off + CHUNK, body.length)));
    const done = await stream.end();
    uploading = false;
    await traffic;

    expect(done.status).toBe(200);
    const final = done.json();
    expect(final).toMatchObject({ uploadId: 'big-1', state: 'done', lines: ROWS + 1, accepted: ROWS - 4, rejected: 4, bytes: body.length });
    expect(final.errors.map((e: { line: number }) => e.line)).toEqual([9, 25_009, 50_009, 75_009]);

    // Bids were answered all along, none with an error.
    expect(answered).toBeGreaterThan(answeredMidway);
    expect(answered).toBeGreaterThan(0);
    expect([...statuses.keys()].every((s) => s === 200 || s === 204), JSON.stringify([...statuses])).toBe(true);

    const after = await admin('GET', '/api/v1/audience-uploads/big-1');
    expect(after.json()).toMatchObject({ state: 'done', accepted: ROWS - 4, rejected: 4 });
    expect(typeof after.json().finishedAt).toBe('string');
    expect(await bidFor(uid('bulk-99999'))).toEqual({ status: 200, cid: 'bulk', price: 1 });
    expect((await bidFor(uid('bulk-7'))).status).toBe(204); // its row was rejected
    const size = (await admin('GET', '/api/v1/audiences/bulk')).json().approximateSize;
    expect(size).toBe(ROWS - 4);
    const metrics = await bidder.metricsText();
    expect(metrics).toMatch(/audience_upload_rows_total\{result="accepted"\} (\d+)/);
    expect(Number(/audience_upload_rows_total\{result="accepted"\} (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(ROWS - 4);
  });
});

/** An upload whose body the test writes chunk by chunk (with a Content-Length), honouring backpressure. */
function openUpload(port: number, path: string, contentType: string, length: number) {
  const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': contentType, 'content-length': String(length) } });
  const response = new Promise<HttpResult>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text: buf.toString('utf8'), json: () => JSON.parse(buf.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.setTimeout(30_000, () => req.destroy(new Error('upload timed out')));
  return {
    async write(chunk: Buffer): Promise<void> {
      if (!req.write(chunk)) await once(req, 'drain');
    },
    end(): Promise<HttpResult> {
      req.end();
      return response;
    },
  };
}
