/**
 * Bad input through the real server: every malformed, oversized, mis-encoded or hostile request
 * gets a fast, clear 4xx (or a 204 where the parser accepts it), never a 5xx, a hang or a crash,
 * and every refusal is counted by reason. All traffic stays on 127.0.0.1 and every loop is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { httpRequest, startBidder, type HttpResult, type TestBidder } from '../helpers/bidder.js';
import { readIdentity } from '../../src/events/bid-identity.js';
import { metric } from '../helpers/notice-kit.js';

let main: TestBidder; // defaults: 256 KiB body limit, no debug header
let debug: TestBidder; // DEBUG_NOBID=1
let small: TestBidder; // BODY_LIMIT_BYTES=2048

const DEFAULT_LIMIT = 256 * 1024;
const SMALL_LIMIT = 2048;

beforeAll(async () => {
  [main, debug, small] = await Promise.all([
    startBidder({ configDir: 'config' }),
    startBidder({ configDir: 'config', env: { DEBUG_NOBID: '1' } }),
    startBidder({ configDir: 'config', env: { BODY_LIMIT_BYTES: String(SMALL_LIMIT) } }),
  ]);
});
afterAll(() => {
  main?.close();
  debug?.close();
  small?.close();
});

/** A request the demo config bids on (Acme run of network, 300x250). */
const bannerRequest = (over: Record<string, unknown> = {}) => ({
  id: 'req-1',
  imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
  site: { domain: 'news.example', page: 'https://news.example/a' },
  device: { ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 2 },
  ...over,
});
/** A request nothing in the demo config fits: a valid no-bid. */
const noFitRequest = (over: Record<string, unknown> = {}) => bannerRequest({ imp: [{ id: '1', banner: { w: 1, h: 1 } }], ...over });

/** Runs `fn` and returns how much each named series grew meanwhile. */
async function deltas<T>(
  b: TestBidder,
  series: Record<string, [string, Record<string, string>]>,
  fn: () => Promise<T>,
): Promise<{ result: T; d: Record<string, number> }> {
  const before = await b.metricsText();
  const result = await fn();
  const after = await b.metricsText();
  const d: Record<string, number> = {};
  for (const [key, [name, labels]] of Object.entries(series)) d[key] = metric(after, name, labels) - metric(before, name, labels);
  return { result, d };
}

const rejected = (reason: string, exchange = 'default'): [string, Record<string, string>] => [
  'bidder_rejected_requests_total',
  { exchange, reason },
];
const outcome = (o: string, exchange = 'default'): [string, Record<string, string>] => ['bidder_bid_requests_total', { exchange, outcome: o }];
const noBidReason = (reason: string): [string, Record<string, string>] => ['bidder_no_bids_total', { exchange: 'default', reason }];

function expectShortTextReason(r: HttpResult, pattern: RegExp): void {
  expect(r.headers['content-type']).toBe('text/plain');
  expect(r.text.length).toBeGreaterThan(0);
  expect(r.text.length).toBeLessThan(120);
  expect(r.text).not.toMatch(/[\r\n]/);
  expect(r.text).toMatch(pattern);
}

// ---------------------------------------------------------------------------------------------
// Raw sockets, for what an HTTP client library will not send.

interface RawResult {
  /** Everything the server sent. */
  data: Buffer;
  /** The server closed (or reset) the connection before we gave up waiting. */
  closed: boolean;
  status: number | undefined;
  ms: number;
}

/**
 * Opens a connection, writes `parts` in order (a number pauses that many ms), then waits until
 * the server closes, a complete response has arrived (`untilResponse`), or `waitMs` passes.
 */
function raw(
  port: number,
  parts: (string | Buffer | number)[],
  opts: { waitMs?: number; untilResponse?: boolean; untilResponses?: number; destroyAfterWrite?: boolean } = {},
): Promise<RawResult> {
  const wanted = opts.untilResponses ?? (opts.untilResponse ? 1 : 0);
  const waitMs = opts.waitMs ?? 2000;
  return new Promise((resolve) => {
    const start = performance.now();
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect(port, '127.0.0.1');
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'));
      resolve({ data, closed, status: m ? Number(m[1]) : undefined, ms: performance.now() - start });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (d) => {
      chunks.push(d);
      if (wanted && completeResponses(Buffer.concat(chunks)) >= wanted) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', async () => {
      for (const p of parts) {
        if (settled) return;
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else socket.write(p);
      }
      if (opts.destroyAfterWrite) finish(true);
    });
  });
}

/** How many complete responses (all with Content-Length, as uWS writes them) `buf` holds. */
function completeResponses(buf: Buffer): number {
  const text = buf.toString('latin1');
  let n = 0;
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return n;
    const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(at, end));
    const next = end + 4 + (m ? Number(m[1]) : 0);
    if (buf.length < next) return n;
    n++;
    at = next;
  }
}

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
const post = (path: string, headers: Record<string, string | number>) =>
  head([`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]);
const chunk = (data: string | Buffer) => Buffer.concat([Buffer.from(`${Buffer.byteLength(data).toString(16)}\r\n`), Buffer.from(data), Buffer.from('\r\n')]);

/** A JSON request body of exactly `size` bytes, padded in ext. */
function bodyOfSize(size: number, base: object = noFitRequest()): string {
  const empty = JSON.stringify({ ...base, ext: { pad: '' } });
  const pad = size - Buffer.byteLength(empty);
  if (pad < 0) throw new Error('base request is larger than the wanted size');
  const body = JSON.stringify({ ...base, ext: { pad: 'x'.repeat(pad) } });
  expect(Buffer.byteLength(body)).toBe(size);
  return body;
}

// ---------------------------------------------------------------------------------------------

describe('malformed and ill-typed bodies get 400 with a short reason, counted by reason', () => {
  const deep = (n: number) => `{"id":"x","imp":[{"id":"1"}],"ext":{"a":${'['.repeat(n)}${']'.repeat(n)}}}`;
  const cases: [string, string | Buffer, string, RegExp][] = [
    ['malformed JSON', '{"id":"x","imp":[{"id":"1"}', 'bad_json', /not valid JSON/],
    ['trailing garbage', '{"id":"x","imp":[{"id":"1"}]} extra', 'bad_json', /not valid JSON/],
    ['whitespace only', '   \n ', 'bad_json', /not valid JSON/],
    ['invalid UTF-8 bytes', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'bad_json', /not valid JSON/],
    ['id is a number', JSON.stringify(bannerRequest({ id: 42 })), 'bad_id', /^id /],
    ['id is empty', JSON.stringify(bannerRequest({ id: '' })), 'bad_id', /^id /],
    ['id missing', JSON.stringify({ imp: [{ id: '1', banner: { w: 300, h: 250 } }] }), 'bad_id', /^id /],
    ['imp is an object', JSON.stringify(bannerRequest({ imp: { id: '1', banner: { w: 300, h: 250 } } })), 'bad_imp', /^imp /],
    ['imp missing', JSON.stringify({ id: 'x', site: { domain: 'a.example' } }), 'bad_imp', /^imp /],
    ['imp empty', JSON.stringify(bannerRequest({ imp: [] })), 'bad_imp', /^imp /],
    ['imp[0] is a string', JSON.stringify(bannerRequest({ imp: ['1'] })), 'bad_imp', /^imp\[0\]/],
    ['imp[0].id missing', JSON.stringify(bannerRequest({ imp: [{ banner: { w: 300, h: 250 } }] })), 'bad_imp', /^imp\[0\]\.id/],
    ['imp ids repeated', JSON.stringify(bannerRequest({ imp: [{ id: '1' }, { id: '1' }] })), 'bad_imp', /not unique/],
    ['bidfloor is a string', JSON.stringify(bannerRequest({ imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: '0.5' }] })), 'bad_field', /^imp\[0\]\.bidfloor /],
    ['bidfloor is negative', JSON.stringify(bannerRequest({ imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: -1 }] })), 'bad_field', /^imp\[0\]\.bidfloor /],
    ['bcat is not an array', JSON.stringify(bannerRequest({ bcat: 'IAB25' })), 'bad_field', /^bcat /],
    ['bcat holds a number', JSON.stringify(bannerRequest({ bcat: ['IAB25', 7] })), 'bad_field', /^bcat\[1\]/],
    ['banner.format is not an array', JSON.stringify(bannerRequest({ imp: [{ id: '1', banner: { format: { w: 300, h: 250 } } }] })), 'bad_field', /^imp\[0\]\.banner\.format /],
    ['banner.w is a string', JSON.stringify(bannerRequest({ imp: [{ id: '1', banner: { w: '300', h: 250 } }] })), 'bad_field', /^imp\[0\]\.banner\.w /],
    ['tmax is a string', JSON.stringify(bannerRequest({ tmax: '120' })), 'bad_field', /^tmax /],
    ['empty body', '', 'empty_body', /empty/],
    ['null', 'null', 'not_object', /must be a JSON object/],
    ['a JSON array', JSON.stringify([bannerRequest()]), 'not_object', /must be a JSON object/],
    ['a JSON string', '"req-1"', 'not_object', /must be a JSON object/],
    ['100k levels of nesting in ext', deep(100_000), 'too_deep', /nested deeper than 64/],
  ];

  it.each(cases)('%s', async (_name, body, reason, message) => {
    const { result: r, d } = await deltas(main, { reason: rejected(reason), invalid: outcome('invalid'), bid: outcome('bid') }, () =>
      main.post('/bid', body),
    );
    expect(r.status).toBe(400);
    expectShortTextReason(r, message);
    expect(d).toEqual({ reason: 1, invalid: 1, bid: 0 });
  });

  it('answers the 100k-level body fast (a cheap scan, no recursion)', async () => {
    const body = deep(100_000);
    expect(Buffer.byteLength(body)).toBeLessThan(DEFAULT_LIMIT);
    const start = performance.now();
    const r = await main.post('/bid', body);
    expect(r.status).toBe(400);
    expect(performance.now() - start).toBeLessThan(500);
  });

  it('never answers 5xx or hangs for random bodies (fuzz over the real server)', async () => {
    const bodies = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.record({ id: fc.jsonValue({ maxDepth: 1 }), imp: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    );
    const before = await main.metricsText();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const r = await main.post('/bid', body);
        sent++;
        expect([200, 204, 400]).toContain(r.status);
        if (r.status === 400) expectShortTextReason(r, /./);
      }),
      { numRuns: 60 },
    );
    const after = await main.metricsText();
    expect(metric(after, 'bidder_bid_requests_total', { exchange: 'default', outcome: 'error' })).toBe(
      metric(before, 'bidder_bid_requests_total', { exchange: 'default', outcome: 'error' }),
    );
    expect(sent).toBeGreaterThanOrEqual(60);
  });
});

describe('body size limits', () => {
  it('answers a Content-Length over the limit with 413 at once, without waiting for the body', async () => {
    const { result: r, d } = await deltas(main, { tooLarge: rejected('body_too_large') }, () =>
      raw(main.port, [post('/bid', { 'Content-Type': 'application/json', 'Content-Length': DEFAULT_LIMIT + 1 })]),
    );
    expect(r.status).toBe(413);
    expect(r.data.toString('latin1')).toMatch(/\r\n\r\nbody too large$/);
    expect(r.closed).toBe(true); // the rest of the body is not read: the connection is closed
    expect(r.ms).toBeLessThan(1000);
    expect(d.tooLarge).toBe(1);
  });

  it('answers a huge Content-Length with 413; one past what uWS parses is dropped at once, unanswered', async () => {
    const huge = await raw(main.port, [post('/bid', { 'Content-Length': 999_999_999 })]);
    expect(huge.status).toBe(413);
    expect(huge.closed).toBe(true);
    // uWS refuses lengths of 2^31-1 and more (and non-numeric ones) itself, before any handler runs:
    // the connection is closed without a response. Prompt, and never a 5xx.
    for (const length of [2 ** 31, 10 * 1024 ** 3, '99999999999999999999', '1e6', '-5']) {
      const r = await raw(main.port, [post('/bid', { 'Content-Length': length })]);
      expect(r.closed).toBe(true);
      expect(r.ms).toBeLessThan(1000);
      expect(r.status === undefined || r.status === 400 || r.status === 413).toBe(true);
    }
  });

  it('answers a chunked body (no Content-Length) that grows past the limit with 413', async () => {
    const { result: r, d } = await deltas(small, { tooLarge: rejected('body_too_large') }, () =>
      raw(small.port, [
        post('/bid', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }),
        chunk(`{"id":"x","imp":[{"id":"1"}],"ext":"${'x'.repeat(1500)}`),
        20,
        chunk('y'.repeat(1000)),
        // Never terminated: the server must not wait for the end of a body it will refuse anyway.
      ]),
    );
    expect(r.status).toBe(413);
    expect(r.closed).toBe(true);
    expect(d.tooLarge).toBe(1);
  });

  it('accepts a body of exactly BODY_LIMIT_BYTES, with Content-Length and chunked, and refuses one byte more', async () => {
    const exact = bodyOfSize(SMALL_LIMIT);
    const over = bodyOfSize(SMALL_LIMIT + 1);
    const ok = await small.post('/bid', exact);
    expect(ok.status).toBe(204);
    const bids = await small.post('/bid', bodyOfSize(SMALL_LIMIT, bannerRequest()));
    expect(bids.status).toBe(200);
    expect(bids.json().id).toBe('req-1');

    const tooBig = await raw(small.port, [post('/bid', { 'Content-Length': SMALL_LIMIT + 1 }), over]);
    expect(tooBig.status).toBe(413);

    const half = SMALL_LIMIT / 2;
    const chunkedOk = await raw(
      small.port,
      [post('/bid', { 'Transfer-Encoding': 'chunked' }), chunk(exact.slice(0, half)), 10, chunk(exact.slice(half)), '0\r\n\r\n'],
      { untilResponse: true },
    );
    expect(chunkedOk.status).toBe(204);
    const chunkedOver = await raw(small.port, [post('/bid', { 'Transfer-Encoding': 'chunked' }), chunk(over.slice(0, half)), 10, chunk(over.slice(half)), '0\r\n\r\n']);
    expect(chunkedOver.status).toBe(413);
  });

  it('the default limit accepts a 200 KB request', async () => {
    const r = await main.post('/bid', bodyOfSize(200 * 1024, bannerRequest()));
    expect(r.status).toBe(200);
  });
});

describe('content encodings', () => {
  it('a gzip request gets the same answer as the plain one', async () => {
    const body = JSON.stringify(bannerRequest());
    const plain = await main.post('/bid', body);
    const zipped = await main.post('/bid', gzipSync(body), { 'Content-Encoding': 'gzip' });
    expect(plain.status).toBe(200);
    expect(zipped.status).toBe(200);
    // Equal but for what is unique to each bid: its id, and the signed identity in its URLs.
    const strip = (r: HttpResult) => {
      let text = r.text;
      for (const sb of r.json().seatbid) for (const b of sb.bid) text = text.split(b.id).join('<bid-id>');
      return JSON.parse(text.replace(/([?&;]t=)\d+/g, '$1<t>').replace(/([?&;]s=)[\w.-]+/g, '$1<sig>'));
    };
    expect(strip(zipped)).toEqual(strip(plain));

    const noBidPlain = await main.post('/bid', JSON.stringify(noFitRequest()));
    const noBidZipped = await main.post('/bid', gzipSync(JSON.stringify(noFitRequest())), { 'Content-Encoding': 'GZIP' });
    expect([noBidPlain.status, noBidZipped.status]).toEqual([204, 204]);

    const badPlain = await main.post('/bid', '{"id":1}');
    const badZipped = await main.post('/bid', gzipSync('{"id":1}'), { 'Content-Encoding': 'gzip' });
    expect([badPlain.status, badPlain.text]).toEqual([badZipped.status, badZipped.text]);
  });

  it('refuses a gzip bomb (small compressed, over the limit inflated) with 413', async () => {
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(DEFAULT_LIMIT);
    const { result: r, d } = await deltas(main, { tooLarge: rejected('body_too_large') }, () =>
      main.post('/bid', bomb, { 'Content-Encoding': 'gzip' }),
    );
    expect(r.status).toBe(413);
    expectShortTextReason(r, /too large after decompression/);
    expect(d.tooLarge).toBe(1);
  });

  it('the inflated size counts against BODY_LIMIT_BYTES exactly', async () => {
    const exact = bodyOfSize(SMALL_LIMIT);
    expect((await small.post('/bid', gzipSync(exact), { 'Content-Encoding': 'gzip' })).status).toBe(204);
    expect((await small.post('/bid', gzipSync(bodyOfSize(SMALL_LIMIT + 1)), { 'Content-Encoding': 'gzip' })).status).toBe(413);
  });

  it('refuses corrupt and truncated gzip with 400', async () => {
    const good = gzipSync(JSON.stringify(bannerRequest()));
    const corrupt = Buffer.from(good);
    corrupt.fill(0x55, 12, 40);
    for (const body of [Buffer.from('this is not gzip'), corrupt, good.subarray(0, good.length - 12), good.subarray(0, 5)]) {
      const { result: r, d } = await deltas(main, { badGzip: rejected('bad_gzip') }, () => main.post('/bid', body, { 'Content-Encoding': 'gzip' }));
      expect(r.status).toBe(400);
      expectShortTextReason(r, /not valid gzip/);
      expect(d.badGzip).toBe(1);
    }
  });

  it('refuses an unsupported content-encoding with 415, and keeps the connection usable', async () => {
    const body = JSON.stringify(bannerRequest());
    for (const enc of ['br', 'deflate', 'gzip, br', 'x-custom']) {
      const { result: r, d } = await deltas(main, { enc: rejected('unsupported_encoding') }, () => main.post('/bid', body, { 'Content-Encoding': enc }));
      expect(r.status).toBe(415);
      expectShortTextReason(r, /unsupported content-encoding/);
      expect(d.enc).toBe(1);
    }
    // identity is no encoding at all.
    expect((await main.post('/bid', body, { 'Content-Encoding': 'identity' })).status).toBe(200);
    // The refused body was consumed, so a request pipelined behind it on the same connection is answered.
    const pipelined = await raw(
      main.port,
      [post('/bid', { 'Content-Encoding': 'br', 'Content-Length': Buffer.byteLength(body) }) + body + post('/bid', { 'Content-Length': Buffer.byteLength(body) }) + body],
      { untilResponses: 2 },
    );
    const text = pipelined.data.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 415/);
    expect(text).toMatch(/HTTP\/1\.1 200 OK[\s\S]*"id":"req-1"/);
  });

  it('refuses octet-stream bodies with 415 (an exchange must enable them as protobuf)', async () => {
    const { result: r, d } = await deltas(main, { mt: rejected('unsupported_media_type') }, () =>
      main.post('/bid', Buffer.from([8, 1, 2, 3]), { 'Content-Type': 'application/octet-stream' }),
    );
    expect(r.status).toBe(415);
    expectShortTextReason(r, /octet-stream is not enabled/);
    expect(d.mt).toBe(1);
  });

  it('refuses protobuf bodies that do not decode with 400 bad_protobuf', async () => {
    const { result: r, d } = await deltas(main, { bp: rejected('bad_protobuf') }, () =>
      main.post('/bid', Buffer.from([8, 1, 2, 3]), { 'Content-Type': 'application/x-protobuf' }),
    );
    expect(r.status).toBe(400);
    expectShortTextReason(r, /not a valid protobuf/);
    expect(d.bp).toBe(1);
  });

  it('gzips the response when Accept-Encoding allows gzip, and only then', async () => {
    const body = JSON.stringify(bannerRequest());
    const zipped = await main.post('/bid', body, { 'Accept-Encoding': 'gzip, deflate' });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body[0]).toBe(0x1f);
    expect(zipped.body[1]).toBe(0x8b);
    const unzipped = JSON.parse(gunzipSync(zipped.body).toString('utf8'));
    expect(unzipped.id).toBe('req-1');
    expect(unzipped.seatbid[0].bid[0].impid).toBe('1');

    for (const headers of [{}, { 'Accept-Encoding': 'identity' }, { 'Accept-Encoding': 'br' }, { 'Accept-Encoding': 'gzip;q=0' }] as Record<string, string>[]) {
      const r = await main.post('/bid', body, headers);
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.json().id).toBe('req-1');
    }
  });
});

describe('no-bids', () => {
  it('are 204 with an empty body and the protocol version header, and no reason header by default', async () => {
    for (const accept of [{}, { 'Accept-Encoding': 'gzip' }] as Record<string, string>[]) {
      const r = await main.post('/bid', noFitRequest(), accept);
      expect(r.status).toBe(204);
      expect(r.body.length).toBe(0);
      expect(r.headers['content-length'] ?? '0').toBe('0');
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.headers['x-openrtb-version']).toBe('2.6');
      expect(r.headers['x-nobid-reason']).toBeUndefined();
    }
    const v25 = await main.post('/bid/openx-like', noFitRequest());
    expect(v25.status).toBe(204);
    expect(v25.headers['x-openrtb-version']).toBe('2.5');
  });

  it('carry x-nobid-reason with DEBUG_NOBID', async () => {
    const r = await debug.post('/bid', noFitRequest());
    expect(r.status).toBe(204);
    expect(r.body.length).toBe(0);
    expect(r.headers['x-openrtb-version']).toBe('2.6');
    expect(r.headers['x-nobid-reason']).toBe('no_campaign');
    const seat = await debug.post('/bid', bannerRequest({ bseat: ['dsp-seat-1'] }));
    expect(seat.status).toBe(204);
    expect(seat.headers['x-nobid-reason']).toBe('seat_blocked');
    // A bid carries no reason.
    const bid = await debug.post('/bid', bannerRequest());
    expect(bid.status).toBe(200);
    expect(bid.headers['x-nobid-reason']).toBeUndefined();
  });

  it('tmax 5 is below the network allowance: an immediate 204 "deadline", counted as a timeout', async () => {
    const series = { timeout: outcome('timeout'), deadline: noBidReason('deadline'), bid: outcome('bid') };
    const start = performance.now();
    const { result: r, d } = await deltas(debug, series, () => debug.post('/bid', bannerRequest({ tmax: 5 })));
    expect(performance.now() - start).toBeLessThan(1000);
    expect(r.status).toBe(204);
    expect(r.body.length).toBe(0);
    expect(r.headers['x-nobid-reason']).toBe('deadline');
    expect(d).toEqual({ timeout: 1, deadline: 1, bid: 0 });

    const plain = await deltas(main, series, () => main.post('/bid', bannerRequest({ tmax: 5 })));
    expect(plain.result.status).toBe(204);
    expect(plain.result.headers['x-nobid-reason']).toBeUndefined();
    expect(plain.d).toEqual({ timeout: 1, deadline: 1, bid: 0 });

    // The same request with a workable tmax bids.
    expect((await debug.post('/bid', bannerRequest({ tmax: 120 }))).status).toBe(200);
  });
});

describe('odd but valid input', () => {
  it('bids when ids hold lone surrogates (valid JSON escapes), instead of throwing while building notice URLs', async () => {
    const body = JSON.stringify(bannerRequest({ imp: [{ id: 'IMP', banner: { w: 300, h: 250 } }] }))
      .replace('"req-1"', '"req-\\ud800"')
      .replace('"IMP"', '"imp-\\udc00x"');
    const { result: r, d } = await deltas(main, { error: outcome('error'), bid: outcome('bid') }, () => main.post('/bid', body));
    expect(r.status).toBe(200);
    const json = r.json();
    expect(json.id).toBe('req-\ud800');
    expect(json.seatbid[0].bid[0].impid).toBe('imp-\udc00x');
    const burl = new URL(json.seatbid[0].bid[0].burl);
    expect(burl.pathname).toBe('/notice/billing/default');
    // The notice still verifies: the signed payload and the URL agree on the (replaced) surrogates.
    const identity = readIdentity(burl.searchParams, 'default', main.signer);
    expect(identity).toMatchObject({ requestId: 'req-\ufffd', impId: 'imp-\ufffdx', campaignId: 'cmp-acme-ron' });
    expect(d).toEqual({ error: 0, bid: 1 });
  });

  it('a field given twice goes the general way (JSON.parse keeps the last) and shows in bidder_request_reader_fallbacks_total', async () => {
    const fallback = (reason: string): [string, Record<string, string>] => ['bidder_request_reader_fallbacks_total', { reason }];
    // The last "device" is the one JSON.parse keeps: the bid's notice carries it, as without the duplicate.
    const body = JSON.stringify(bannerRequest()).replace('"device":', '"device":{"ua":"first"},"device":');
    const { result: r, d } = await deltas(main, { duplicate: fallback('duplicate_key'), syntax: fallback('syntax') }, async () => [
      await main.post('/bid', body),
      await main.post('/bid', '{"id":"x","imp":[}'),
    ]);
    expect(r.map((x) => x.status)).toEqual([200, 400]);
    expect(d).toEqual({ duplicate: 1, syntax: 1 });
  });

  it('the admin API answers a malformed percent-encoding in a path with 400, and keeps running', async () => {
    for (const userId of ['%ZZ', '%E0%A4%A', '%']) {
      const r = await httpRequest(main.adminPort, 'DELETE', `/api/v1/users/ifa/${userId}/segments`);
      expect(r.status).toBe(400);
    }
    expect((await main.get('/healthz')).status).toBe(200);
    expect((await main.post('/bid', bannerRequest())).status).toBe(200);
  });

  it('an unknown exchange is 404 and counted under exchange "unknown"', async () => {
    const { result: r, d } = await deltas(main, { unknown: rejected('unknown_exchange', 'unknown') }, () => main.post('/bid/nope', bannerRequest()));
    expect(r.status).toBe(404);
    expect(d.unknown).toBe(1);
  });
});

describe('hostile traffic', () => {
  it('survives a burst of raw garbage, truncated bodies and aborted connections, then answers correctly', async () => {
    const valid = JSON.stringify(bannerRequest({ id: 'after-garbage' }));
    const garbage: [(string | Buffer | number)[], { destroyAfterWrite?: boolean; waitMs?: number }][] = [
      [['GARBAGE\r\n\r\n'], {}],
      [['\x00\x01\x02\x03\xff\xfe\r\n\r\n'], {}],
      [[Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))], {}],
      [['POST /bid HTTP/9.9\r\nHost: x\r\n\r\n'], {}],
      [['POST /bid HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n'], {}],
      [['POST /bid HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'], {}],
      [['POST /bid HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n0123456789'], {}],
      [['POST /bid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'], {}],
      [['POST /bid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n'], {}],
      [[`POST /bid HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`], {}],
      [['POST /bid HTTP/1.1\r\nHost: x\r\nNoColonHeader\r\n\r\n'], {}],
      [['POST /bid HTTP/1.1\r\nHo'], { destroyAfterWrite: true }],
      // Truncated bodies: fewer bytes than announced, then the client goes away.
      [[post('/bid', { 'Content-Length': 500 }), valid.slice(0, 100)], { destroyAfterWrite: true }],
      [[post('/bid', { 'Content-Length': 500, 'Content-Encoding': 'gzip' }), gzipSync(valid).subarray(0, 30)], { destroyAfterWrite: true }],
      [[post('/bid', { 'Transfer-Encoding': 'chunked' }), chunk(valid.slice(0, 50))], { destroyAfterWrite: true }],
      // Aborted mid-body after a pause, so the server has started reading.
      [[post('/bid', { 'Content-Length': Buffer.byteLength(valid) }), valid.slice(0, 40), 20], { destroyAfterWrite: true }],
      [[post('/bid', { 'Content-Length': 200_000 }), 'x'.repeat(100_000), 10], { destroyAfterWrite: true }],
      // Truncated body, client stays but stops sending.
      [[post('/bid', { 'Content-Length': 500 }), valid.slice(0, 100)], { waitMs: 100 }],
    ];
    const rounds = 3;
    const results: RawResult[] = [];
    for (let round = 0; round < rounds; round++) {
      results.push(...(await Promise.all(garbage.map(([parts, opts]) => raw(main.port, parts, { waitMs: 300, ...opts })))));
    }
    // Whatever the server said to garbage, it was never a 5xx.
    for (const r of results) if (r.status !== undefined) expect(r.status).toBeLessThan(500);

    const ok = await main.post('/bid', valid);
    expect(ok.status).toBe(200);
    expect(ok.json().id).toBe('after-garbage');
    expect(ok.json().seatbid[0].bid[0].impid).toBe('1');
    // And over a fresh raw connection too (the agent above may reuse a pooled one).
    const rawOk = await raw(main.port, [post('/bid', { 'Content-Length': Buffer.byteLength(valid) }), valid], { untilResponse: true });
    expect(rawOk.status).toBe(200);
    expect(rawOk.data.toString('utf8')).toContain('"id":"after-garbage"');
    const health = await main.get('/healthz');
    expect(health.status).toBe(200);
  });
});
