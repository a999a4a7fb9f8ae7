/**
 * Round trip over the shared corpus: every valid request goes JSON → protobuf (as an exchange would
 * encode it) → POST application/x-protobuf to a real bidder → protobuf BidResponse → JSON, and gets
 * the same answer as the same request posted as JSON: same status, same no-bid reason, and the same
 * bids (imp, price, creative, campaign, deal, adomain, categories, attributes, size, markup type,
 * duration, markup and notice URLs up to the bid's own id and signature).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, type HttpResult, type TestBidder } from '../helpers/bidder.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { isRefusal, openRtbProtobuf } from '../../src/openrtb/protobuf-codec.js';
import { loadCorpus, type CorpusBody } from '../conformance/corpus.js';

const bundle = JSON.parse(readFileSync(new URL('../fixtures/conformance-campaigns.json', import.meta.url), 'utf8')) as ConfigBundle;
const NOTICE_BASE = 'https://notice.conformance.example';
const codec = openRtbProtobuf();

interface Outcome {
  readonly body: CorpusBody;
  readonly dropped: readonly string[];
  readonly json: HttpResult;
  readonly pb: HttpResult;
}

const requests = loadCorpus().bodies.filter((b) => b.kind === 'request');
const outcomes: Outcome[] = [];
let bidder: TestBidder;

/** Posts until the answer is not a deadline no-bid (a loaded machine can miss a short tmax). */
async function post(body: string | Buffer, headers: Record<string, string>): Promise<HttpResult> {
  let r = await bidder.post('/bid', body, headers);
  for (let i = 0; i < 3 && r.headers['x-nobid-reason'] === 'deadline'; i++) r = await bidder.post('/bid', body, headers);
  return r;
}

beforeAll(async () => {
  bidder = await startBidder({ bundle, env: { DEBUG_NOBID: '1', NOTICE_BASE_URL: NOTICE_BASE } });
  const queue = [...requests];
  const worker = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) {
      const { bytes, dropped } = codec.encodeBidRequest(b.doc as Record<string, unknown>);
      const json = await post(b.text, {});
      const pb = await post(Buffer.from(bytes), { 'content-type': 'application/x-protobuf' });
      outcomes.push({ body: b, dropped, json, pb });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  outcomes.sort((a, b) => (a.body.name < b.body.name ? -1 : 1));
  const count = (pick: (o: Outcome) => HttpResult, s: number) => outcomes.filter((o) => pick(o).status === s).length;
  const bids = (pick: (o: Outcome) => unknown[]) => outcomes.reduce((n, o) => n + pick(o).length, 0);
  console.log(
    `protobuf round trip: requests=${outcomes.length} | JSON: 200s=${count((o) => o.json, 200)} 204s=${count((o) => o.json, 204)} 400s=${count((o) => o.json, 400)} bids=${bids((o) => jsonBids(o.json))} | ` +
      `protobuf: 200s=${count((o) => o.pb, 200)} 204s=${count((o) => o.pb, 204)} 400s=${count((o) => o.pb, 400)} bids=${bids((o) => pbBids(o.pb))} | ` +
      `requests with JSON members the schema has no place for: ${outcomes.filter((o) => o.dropped.length).length}`,
  );
}, 120_000);
afterAll(() => bidder?.close());

function jsonBids(r: HttpResult): any[] {
  return r.status === 200 ? (r.json().seatbid ?? []).flatMap((s: any) => s.bid.map((b: any) => ({ seat: s.seat, ...b }))) : [];
}

function pbResponse(r: HttpResult): any {
  const d = codec.decodeBidResponse(r.body);
  if (isRefusal(d)) throw new Error(`the protobuf answer does not decode: ${d.message}`);
  return d.doc;
}

function pbBids(r: HttpResult): any[] {
  return r.status === 200 ? (pbResponse(r).seatbid ?? []).flatMap((s: any) => s.bid.map((b: any) => ({ seat: s.seat, ...b }))) : [];
}

/** Our notice URLs carry the bid's own id and signature; keep their type and exchange, drop the rest. */
const NOTICE_URL = /https:\/\/notice\.conformance\.example\/notice\/([a-z]+)\/([a-z0-9_-]+)\?[^"'\s<>\\]*/g;
const noticeless = (s: unknown) => (typeof s === 'string' ? s.replace(NOTICE_URL, 'NOTICE/$1/$2') : s);

/** A bid with what differs between two answers to the same request (the bid id, the signed URLs' tokens) normalised. */
function comparable(b: any): Record<string, unknown> {
  const { id, nurl, burl, lurl, adm, ...rest } = b;
  expect(typeof id).toBe('string');
  return { ...rest, nurl: noticeless(nurl), burl: noticeless(burl), lurl: noticeless(lurl), adm: noticeless(adm) };
}

const describeRes = (r: HttpResult) => `${r.status}${r.headers['x-nobid-reason'] ? ` (${r.headers['x-nobid-reason']})` : ''}${r.status >= 400 ? `: ${r.text.slice(0, 100)}` : ''}`;

describe('every valid corpus request, JSON and protobuf', () => {
  it('is answered alike: same status and no-bid reason', () => {
    const bad = outcomes
      .filter((o) => o.json.status !== 400)
      .filter((o) => o.pb.status !== o.json.status || o.pb.headers['x-nobid-reason'] !== o.json.headers['x-nobid-reason'])
      .map((o) => `${o.body.name}: JSON ${describeRes(o.json)}, protobuf ${describeRes(o.pb)}`);
    expect(bad).toEqual([]);
  });

  it('gets the same bids', () => {
    const bad: string[] = [];
    let compared = 0;
    for (const o of outcomes.filter((o) => o.json.status === 200 && o.pb.status === 200)) {
      expect(o.pb.headers['content-type']).toBe('application/x-protobuf');
      expect(o.pb.headers['x-openrtb-version']).toBe(o.json.headers['x-openrtb-version']);
      const j = o.json.json();
      const p = pbResponse(o.pb);
      if (p.id !== j.id || p.cur !== j.cur) bad.push(`${o.body.name}: response id/cur ${p.id}/${p.cur} vs ${j.id}/${j.cur}`);
      const jb = jsonBids(o.json).map(comparable);
      const pbb = pbBids(o.pb).map(comparable);
      compared += jb.length;
      try {
        expect(pbb).toEqual(jb);
      } catch (e) {
        bad.push(`${o.body.name}: ${(e as Error).message.slice(0, 400)}`);
      }
    }
    expect(bad).toEqual([]);
    // The comparison covers a real share of the corpus: every media type, deals, several currencies.
    expect(compared).toBeGreaterThanOrEqual(180);
    const all = outcomes.flatMap((o) => pbBids(o.pb));
    expect(new Set(all.map((b) => b.mtype))).toEqual(new Set([1, 2, 3, 4]));
    expect(all.filter((b) => b.dealid).length).toBeGreaterThanOrEqual(10);
    expect(new Set(outcomes.filter((o) => o.pb.status === 200).map((o) => pbResponse(o.pb).cur)).size).toBeGreaterThanOrEqual(2);
  });

  it('differs only where JSON refuses the request: what makes it invalid has no place in protobuf', () => {
    const refused = outcomes.filter((o) => o.json.status === 400);
    for (const o of refused) {
      expect(o.dropped.length, `${o.body.name}: JSON says ${o.json.text}`).toBeGreaterThan(0);
      expect(o.pb.status, o.body.name).toBeLessThan(500);
    }
    // Today these are the prebid-server-java fixtures whose tmax is a JSON-Unit placeholder string.
    expect(refused.map((o) => o.dropped.join(','))).toEqual(refused.map(() => 'tmax (wrong type)'));
  });

  it('never gets a 5xx', () => {
    expect(outcomes.filter((o) => o.pb.status >= 500).map((o) => `${o.body.name}: ${describeRes(o.pb)}`)).toEqual([]);
  });
});
