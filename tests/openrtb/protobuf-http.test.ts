/**
 * The bid endpoint with protobuf bodies, through a real server: which content types select protobuf,
 * the per-exchange `protobuf.octetStream` option, answers in kind (content type, gzip), and refusals
 * (malformed bytes are a counted 400 bad_protobuf, never a 5xx).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, type TestBidder } from '../helpers/bidder.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { isRefusal, openRtbProtobuf } from '../../src/openrtb/protobuf-codec.js';

const conformance = JSON.parse(readFileSync(new URL('../fixtures/conformance-campaigns.json', import.meta.url), 'utf8')) as ConfigBundle;
const bundle: ConfigBundle = {
  ...conformance,
  exchanges: [...conformance.exchanges!, { id: 'octet', seat: 'Agency1', currency: 'USD', protobuf: { octetStream: true } }],
};
const codec = openRtbProtobuf();
let bidder: TestBidder;

beforeAll(async () => {
  bidder = await startBidder({ bundle, env: { DEBUG_NOBID: '1' } });
});
afterAll(() => bidder?.close());

/** A 300x250 banner the conformance campaigns bid on. */
const banner = {
  id: 'pb-1',
  imp: [{ id: '1', banner: { w: 300, h: 250 } }],
  site: { domain: 'news.example', page: 'https://news.example/a' },
  device: { ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 2 },
};
const bytes = (doc: object) => Buffer.from(codec.encodeBidRequest(doc as Record<string, unknown>).bytes);

function decoded(body: Buffer): any {
  const d = codec.decodeBidResponse(body);
  if (isRefusal(d)) throw new Error('not a BidResponse');
  return d.doc;
}

async function counter(reason: string, exchange = 'corpus-26'): Promise<number> {
  const line = (await bidder.metricsText()).split('\n').find((l) => l.startsWith(`bidder_rejected_requests_total{exchange="${exchange}",reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('content types', () => {
  it('answers a protobuf request in protobuf, whatever protobuf media type names it', async () => {
    const json = await bidder.post('/bid', banner);
    expect(json.status).toBe(200);
    for (const type of ['application/x-protobuf', 'application/protobuf', 'application/vnd.google.protobuf; proto=BidRequest', 'Application/X-Protobuf']) {
      const r = await bidder.post('/bid', bytes(banner), { 'content-type': type });
      expect(r.status, type).toBe(200);
      expect(r.headers['content-type'], type).toBe('application/x-protobuf');
      expect(r.headers['x-openrtb-version']).toBe('2.6');
      const resp = decoded(r.body);
      expect(resp.id).toBe('pb-1');
      expect(resp.seatbid[0].bid.map((b: any) => [b.impid, b.crid, b.price])).toEqual(json.json().seatbid[0].bid.map((b: any) => [b.impid, b.crid, b.price]));
    }
  });

  it('refuses application/octet-stream with 415 unless the exchange reads it as protobuf', async () => {
    const before = await counter('unsupported_media_type');
    const r = await bidder.post('/bid', bytes(banner), { 'content-type': 'application/octet-stream' });
    expect(r.status).toBe(415);
    expect(r.text).toMatch(/octet-stream is not enabled for this exchange/);
    expect(await counter('unsupported_media_type')).toBe(before + 1);

    const ok = await bidder.post('/bid/octet', bytes(banner), { 'content-type': 'application/octet-stream' });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('application/octet-stream');
    expect(decoded(ok.body).seatbid[0].bid[0].impid).toBe('1');
    // x-protobuf and JSON still work there, each answered in kind.
    expect((await bidder.post('/bid/octet', bytes(banner), { 'content-type': 'application/x-protobuf' })).headers['content-type']).toBe('application/x-protobuf');
    const json = await bidder.post('/bid/octet', banner);
    expect(json.headers['content-type']).toBe('application/json');
    expect(json.json().id).toBe('pb-1');
  });

  it('takes gzip bodies and answers gzip when asked', async () => {
    const r = await bidder.post('/bid', gzipSync(bytes(banner)), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
      'accept-encoding': 'gzip',
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(r.headers['content-type']).toBe('application/x-protobuf');
    expect(decoded(gunzipSync(r.body)).seatbid[0].bid[0].impid).toBe('1');
  });

  it('answers a protobuf no-bid with an empty 204, as for JSON', async () => {
    const r = await bidder.post('/bid', bytes({ ...banner, imp: [{ id: '1', banner: { w: 1, h: 1 } }] }), { 'content-type': 'application/x-protobuf' });
    expect(r.status).toBe(204);
    expect(r.body.length).toBe(0);
    expect(r.headers['x-nobid-reason']).toBeDefined();
  });
});

describe('refusals', () => {
  it('refuses malformed bytes with a counted 400 bad_protobuf', async () => {
    const before = await counter('bad_protobuf');
    for (const body of [Buffer.from([0x0a, 0x10, 0x61]), Buffer.from('{"id":"json sent as protobuf"}'), Buffer.from([0xff, 0xff, 0xff])]) {
      const r = await bidder.post('/bid', body, { 'content-type': 'application/x-protobuf' });
      expect(r.status).toBe(400);
      expect(r.headers['content-type']).toBe('text/plain');
      expect(r.text).toMatch(/^body is not a valid protobuf BidRequest: /);
    }
    expect(await counter('bad_protobuf')).toBe(before + 3);
  });

  it('refuses a decodable request for the same reasons as JSON', async () => {
    const empty = await bidder.post('/bid', Buffer.alloc(0), { 'content-type': 'application/x-protobuf' });
    expect([empty.status, empty.text]).toEqual([400, 'empty body']);
    const noId = await bidder.post('/bid', bytes({ imp: [{ id: '1' }] }), { 'content-type': 'application/x-protobuf' });
    expect([noId.status, noId.text]).toEqual([400, 'id must be a non-empty string']);
    const badFloor = await bidder.post('/bid', bytes({ id: 'r', imp: [{ id: '1', bidfloorcur: 'euro' }] }), { 'content-type': 'application/x-protobuf' });
    expect(badFloor.status).toBe(400);
    expect(badFloor.text).toBe('imp[0].bidfloorcur must be an ISO-4217 code');
  });

  it('refuses gzip that is not gzip before looking at the protobuf', async () => {
    const r = await bidder.post('/bid', bytes(banner), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(r.status).toBe(400);
    expect(r.text).toBe('body is not valid gzip');
  });
});
