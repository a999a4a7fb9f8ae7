/**
 * The protobuf codec alone: proto/openrtb.proto has the public field numbers; every field kind decodes
 * to its OpenRTB JSON form; bytes written with a Google-style schema (bool flags, enums, oneofs,
 * request_native) read the same; `ext` is rebuilt where JSON has it (Ext.json, typed Ext fields,
 * exchange extensions declared beside the schema); the bidder's view of a protobuf request equals its
 * view of the same JSON; responses decode with the Google-style schema; hostile bytes are refused,
 * never thrown.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { OpenRtbProtobuf, defaultProtoDir, isRefusal, openRtbProtobuf, type ProtobufRefusal } from '../../src/openrtb/protobuf-codec.js';
import { parseBidRequest } from '../../src/openrtb/parse-request.js';
import type { BidRequestView } from '../../src/openrtb/request-view.js';

const FIXTURES = new URL('../fixtures/protobuf/', import.meta.url).pathname;
const codec = openRtbProtobuf();
const google = new protobuf.Root().loadSync(join(FIXTURES, 'google-style.proto'), { keepCase: true });
const G = (name: string) => google.lookupType(`com.google.openrtb.${name}`);

/** openrtb.proto plus the exchange extension fixture, loaded the way the bidder loads proto/. */
const extDir = mkdtempSync(join(tmpdir(), 'openrtb-proto-'));
copyFileSync(join(defaultProtoDir(), 'openrtb.proto'), join(extDir, 'openrtb.proto'));
copyFileSync(join(FIXTURES, 'exchange-ext.proto'), join(extDir, 'exchange-ext.proto'));
const withExt = OpenRtbProtobuf.fromDir(extDir);
afterAll(() => rmSync(extDir, { recursive: true, force: true }));

type Doc = Record<string, any>;
const doc = (bytes: Uint8Array, c = codec): Doc => {
  const d = c.decodeRequestDocument(bytes);
  if (isRefusal(d)) throw new Error(`refused: ${d.message}`);
  return d.doc;
};
const refusal = (bytes: Uint8Array): ProtobufRefusal => {
  const v = codec.parseBidRequest(bytes);
  if (!isRefusal(v)) throw new Error('expected a refusal');
  return v;
};
const W = () => protobuf.Writer.create();
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const tag = (field: number, wire: number) => (field << 3) | wire;

describe('the schema', () => {
  it('gives the public OpenRTB protobuf field numbers', () => {
    // [message, field, number] as in the IAB's 2.6 schema and Google's openrtb.proto.
    const table: [string, string, number][] = [
      ['BidRequest', 'id', 1], ['BidRequest', 'imp', 2], ['BidRequest', 'site', 3], ['BidRequest', 'app', 4], ['BidRequest', 'device', 5],
      ['BidRequest', 'user', 6], ['BidRequest', 'at', 7], ['BidRequest', 'tmax', 8], ['BidRequest', 'wseat', 9], ['BidRequest', 'cur', 11],
      ['BidRequest', 'bcat', 12], ['BidRequest', 'badv', 13], ['BidRequest', 'regs', 14], ['BidRequest', 'test', 15], ['BidRequest', 'bapp', 16],
      ['BidRequest', 'bseat', 17], ['BidRequest', 'source', 19], ['BidRequest', 'dooh', 22], ['BidRequest', 'ext', 99],
      ['BidRequest.Imp', 'banner', 2], ['BidRequest.Imp', 'video', 3], ['BidRequest.Imp', 'bidfloor', 8], ['BidRequest.Imp', 'bidfloorcur', 9],
      ['BidRequest.Imp', 'pmp', 11], ['BidRequest.Imp', 'secure', 12], ['BidRequest.Imp', 'native', 13], ['BidRequest.Imp', 'audio', 15],
      ['BidRequest.Banner', 'w', 1], ['BidRequest.Banner', 'h', 2], ['BidRequest.Banner', 'battr', 6], ['BidRequest.Banner', 'wmax', 11],
      ['BidRequest.Banner', 'hmin', 14], ['BidRequest.Banner', 'format', 15], ['BidRequest.Format', 'w', 1], ['BidRequest.Format', 'h', 2],
      ['BidRequest.Video', 'mimes', 1], ['BidRequest.Video', 'minduration', 3], ['BidRequest.Video', 'maxduration', 4], ['BidRequest.Video', 'protocol', 5],
      ['BidRequest.Video', 'w', 6], ['BidRequest.Video', 'h', 7], ['BidRequest.Video', 'battr', 10], ['BidRequest.Video', 'protocols', 21],
      ['BidRequest.Video', 'rqddurs', 32], ['BidRequest.Video', 'plcmt', 35], ['BidRequest.Audio', 'minduration', 2], ['BidRequest.Audio', 'protocols', 4],
      ['BidRequest.Audio', 'battr', 7], ['BidRequest.Audio', 'rqddurs', 26], ['BidRequest.Native', 'request', 1], ['BidRequest.Native', 'battr', 4],
      ['BidRequest.Native', 'request_native', 50], ['BidRequest.Pmp', 'private_auction', 1], ['BidRequest.Pmp', 'deals', 2],
      ['BidRequest.Deal', 'id', 1], ['BidRequest.Deal', 'bidfloor', 2], ['BidRequest.Deal', 'bidfloorcur', 3], ['BidRequest.Deal', 'wseat', 4],
      ['BidRequest.Deal', 'wadomain', 5], ['BidRequest.Site', 'domain', 3], ['BidRequest.Site', 'cat', 4], ['BidRequest.Site', 'page', 7],
      ['BidRequest.Site', 'publisher', 11], ['BidRequest.Site', 'content', 12], ['BidRequest.App', 'bundle', 8], ['BidRequest.Publisher', 'id', 1],
      ['BidRequest.Content', 'cat', 7], ['BidRequest.Device', 'ua', 2], ['BidRequest.Device', 'ip', 3], ['BidRequest.Device', 'geo', 4],
      ['BidRequest.Device', 'ipv6', 9], ['BidRequest.Device', 'os', 14], ['BidRequest.Device', 'devicetype', 18], ['BidRequest.Device', 'ifa', 20],
      ['BidRequest.Device', 'lmt', 23], ['BidRequest.Geo', 'country', 3], ['BidRequest.Geo', 'region', 4], ['BidRequest.Geo', 'city', 7],
      ['BidRequest.User', 'id', 1], ['BidRequest.User', 'buyeruid', 2], ['BidRequest.User', 'geo', 7], ['BidRequest.User', 'data', 8],
      ['BidRequest.User', 'consent', 10], ['BidRequest.User', 'eids', 11], ['BidRequest.User.Ext', 'consent', 1], ['BidRequest.User.Ext', 'eids', 2],
      ['BidRequest.EID', 'source', 1], ['BidRequest.EID', 'uids', 2], ['BidRequest.EID.UID', 'id', 1], ['BidRequest.EID.UID', 'atype', 2],
      ['BidRequest.Data', 'segment', 3], ['BidRequest.Segment', 'id', 1], ['BidRequest.Regs', 'coppa', 1], ['BidRequest.Regs', 'gpp', 2],
      ['BidRequest.Regs', 'gpp_sid', 3], ['BidRequest.Regs', 'gdpr', 4], ['BidRequest.Regs', 'us_privacy', 5], ['BidRequest.Regs.Ext', 'gdpr', 1],
      ['BidRequest.Regs.Ext', 'us_privacy', 2], ['BidRequest.Source', 'tid', 2], ['BidRequest.Source', 'schain', 4], ['BidRequest.Source.Ext', 'schain', 1],
      ['BidRequest.SupplyChain', 'complete', 1], ['BidRequest.SupplyChain', 'nodes', 2], ['BidRequest.SupplyChainNode', 'asi', 1],
      ['BidRequest.SupplyChainNode', 'hp', 6], ['NativeRequest', 'assets', 6], ['NativeRequest.Asset', 'required', 2], ['NativeRequest.Asset', 'img', 4],
      ['BidResponse', 'id', 1], ['BidResponse', 'seatbid', 2], ['BidResponse', 'cur', 4], ['BidResponse.SeatBid', 'bid', 1], ['BidResponse.SeatBid', 'seat', 2],
      ['BidResponse.Bid', 'id', 1], ['BidResponse.Bid', 'impid', 2], ['BidResponse.Bid', 'price', 3], ['BidResponse.Bid', 'adid', 4], ['BidResponse.Bid', 'nurl', 5],
      ['BidResponse.Bid', 'adm', 6], ['BidResponse.Bid', 'adomain', 7], ['BidResponse.Bid', 'cid', 9], ['BidResponse.Bid', 'crid', 10], ['BidResponse.Bid', 'attr', 11],
      ['BidResponse.Bid', 'dealid', 13], ['BidResponse.Bid', 'bundle', 14], ['BidResponse.Bid', 'cat', 15], ['BidResponse.Bid', 'w', 16], ['BidResponse.Bid', 'h', 17],
      ['BidResponse.Bid', 'burl', 22], ['BidResponse.Bid', 'lurl', 23], ['BidResponse.Bid', 'dur', 32], ['BidResponse.Bid', 'mtype', 33],
    ];
    const wrong = table.filter(([msg, field, id]) => codec.root.lookupType(`com.iabtechlab.openrtb.v2.${msg}`).fields[field]?.id !== id);
    expect(wrong).toEqual([]);
  });

  it('is compiled once and shared', () => {
    expect(openRtbProtobuf()).toBe(codec);
  });
});

describe('decoding', () => {
  it('turns every field kind into its OpenRTB JSON form', () => {
    const w = W();
    w.uint32(tag(1, LEN)).string('req-1'); // string
    w.uint32(tag(8, VARINT)).int32(120); // int32
    w.uint32(tag(15, VARINT)).int32(1); // flag (bool in the public schemas)
    w.uint32(tag(7, VARINT)).int32(1); // enum (AuctionType)
    w.uint32(tag(12, LEN)).string('IAB25'); // repeated string, element by element
    w.uint32(tag(12, LEN)).string('IAB26');
    const imp = W();
    imp.uint32(tag(1, LEN)).string('1');
    imp.uint32(tag(8, I64)).double(0.35); // double
    imp.uint32(tag(12, VARINT)).int32(1);
    const banner = W();
    banner.uint32(tag(1, VARINT)).int32(300);
    banner.uint32(tag(2, VARINT)).int32(250);
    banner.uint32(tag(6, LEN)).fork().int32(1).int32(3).ldelim(); // packed repeated int32
    banner.uint32(tag(6, VARINT)).int32(9); // and an unpacked element of the same field
    const fmt = W().uint32(tag(1, VARINT)).int32(728).uint32(tag(2, VARINT)).int32(90).finish();
    banner.uint32(tag(15, LEN)).bytes(fmt); // repeated message
    imp.uint32(tag(2, LEN)).bytes(banner.finish()); // nested message
    w.uint32(tag(2, LEN)).bytes(imp.finish());
    const geo = W().uint32(tag(10, VARINT)).int32(-300).finish(); // negative int32 (a 10-byte varint)
    w.uint32(tag(5, LEN)).bytes(W().uint32(tag(4, LEN)).bytes(geo).finish());

    expect(doc(w.finish())).toEqual({
      id: 'req-1',
      tmax: 120,
      test: 1,
      at: 1,
      bcat: ['IAB25', 'IAB26'],
      imp: [{ id: '1', bidfloor: 0.35, secure: 1, banner: { w: 300, h: 250, battr: [1, 3, 9], format: [{ w: 728, h: 90 }] } }],
      device: { geo: { utcoffset: -300 } },
    });
  });

  it('leaves out what was not on the wire (no schema defaults, no empty arrays)', () => {
    const d = doc(codec.encodeBidRequest({ id: 'r', imp: [{ id: '1' }] }).bytes);
    expect(d).toEqual({ id: 'r', imp: [{ id: '1' }] });
    // An explicit zero is kept (proto2 presence), as JSON would have it.
    expect(doc(codec.encodeBidRequest({ id: 'r', imp: [{ id: '1', bidfloor: 0 }], tmax: 0 }).bytes)).toEqual({ id: 'r', tmax: 0, imp: [{ id: '1', bidfloor: 0 }] });
  });

  it('reads bytes written with a Google-style schema: bool flags, enums, oneofs, request_native', () => {
    const nativeRequest = { ver: '1.2', assets: [{ id: 1, required: true, title: { len: 90 } }, { id: 2, img: { type: 3, w: 1200, h: 627 } }] };
    const g = {
      id: 'g-1',
      imp: [
        { id: '1', banner: { w: 300, h: 250, battr: [1, 8] }, bidfloor: 1.5, bidfloorcur: 'EUR', secure: true, pmp: { private_auction: true, deals: [{ id: 'd1', bidfloor: 2, wseat: ['s'] }] } },
        { id: '2', video: { mimes: ['video/mp4'], minduration: 5, maxduration: 30, protocols: [2, 3, 7], w: 640, h: 360 } },
        { id: '3', native: { request_native: nativeRequest, ver: '1.2' } },
      ],
      site: { domain: 'news.example', cat: ['IAB12'], page: 'https://news.example/a', publisher: { id: 'p1' } },
      device: { geo: { country: 'USA', region: 'CA' }, lmt: false, ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 2, os: 'iOS' },
      regs: { coppa: false, gdpr: true, us_privacy: '1YNN' },
      user: { buyeruid: 'b-1', consent: 'CONSENT', eids: [{ source: 'id5-sync.com', uids: [{ id: 'ID5', atype: 1 }] }] },
      at: 1,
      tmax: 150,
      cur: ['USD', 'EUR'],
      test: true,
    };
    const type = G('BidRequest');
    const bytes = type.encode(type.fromObject(g)).finish();
    const d = doc(bytes);
    expect(d).toEqual({
      ...g,
      test: 1,
      imp: [
        { ...g.imp[0], secure: 1, pmp: { private_auction: 1, deals: [{ id: 'd1', bidfloor: 2, wseat: ['s'] }] } },
        g.imp[1],
        { id: '3', native: { request: { ver: '1.2', assets: [{ id: 1, required: 1, title: { len: 90 } }, { id: 2, img: { type: 3, w: 1200, h: 627 } }] }, ver: '1.2' } },
      ],
      device: { ...g.device, lmt: 0 },
      regs: { coppa: 0, gdpr: 1, us_privacy: '1YNN' },
    });
    // And the bidder sees what it sees in the same request as JSON.
    const view = codec.parseBidRequest(bytes) as BidRequestView;
    expect(isRefusal(view)).toBe(false);
    expect(view).toEqual(parseBidRequest(JSON.stringify(d)));
    expect(view.imps[0].secure).toBe(true);
    expect(view.imps[0].privateAuction).toBe(true);
    expect(view.gdpr).toBe(1);
  });

  it('skips exchange extensions it has no declaration for', () => {
    const type = G('BidRequest');
    const m = type.fromObject({ id: 'x', imp: [{ id: '1', banner: { w: 1, h: 1 }, '.com.google.openrtb.imp_ext': { billing_id: ['123'], is_app: true } }] });
    expect(doc(type.encode(m).finish())).toEqual({ id: 'x', imp: [{ id: '1', banner: { w: 1, h: 1 } }] });
  });

  it('prefers the Native request text when both request and request_native are sent', () => {
    const w = W().uint32(tag(1, LEN)).string('r');
    const native = W().uint32(tag(1, LEN)).string('{"assets":[]}').uint32(tag(50, LEN)).bytes(W().uint32(tag(1, LEN)).string('1.2').finish()).finish();
    w.uint32(tag(2, LEN)).bytes(W().uint32(tag(1, LEN)).string('1').uint32(tag(13, LEN)).bytes(native).finish());
    expect(doc(w.finish()).imp[0].native).toEqual({ request: '{"assets":[]}' });
  });
});

describe('ext', () => {
  it('rebuilds ext where JSON has it: the JSON text, typed fields over it, exchange extensions beside them', () => {
    const json = {
      id: 'r',
      imp: [{ id: '1', ext: { gpid: '/1234/home', prebid: { bidder: { x: 1 } }, skadn: { version: '2.0', skadnetids: ['a'] } } }],
      regs: { ext: { gdpr: 1, us_privacy: '1YNN', gpc: '1', custom: [1, 2] } },
      user: { ext: { consent: 'C', eids: [{ source: 's.com', uids: [{ id: 'u', atype: 3, ext: { stype: 'ppuid' } }] }], data: { foo: 'bar' } } },
      source: { ext: { schain: { ver: '1.0', complete: 1, nodes: [{ asi: 'a.com', sid: '1', hp: 1, ext: { k: 'v' } }] } } },
      ext: { prebid: { debug: true }, n: 1.5 },
    };
    const { bytes, dropped } = codec.encodeBidRequest(json);
    expect(dropped).toEqual([]);
    // The typed fields really went into their places (not all into Ext.json).
    const raw = codec.bidRequest.decode(bytes) as any;
    expect(raw.regs.ext.gdpr).toBe(1);
    expect(raw.user.ext.eids[0].uids[0].atype).toBe(3);
    expect(raw.source.ext.schain.nodes[0].asi).toBe('a.com');
    expect(JSON.parse(raw.regs.ext.json)).toEqual({ custom: [1, 2] });
    expect(doc(bytes)).toEqual(json);
    expect(codec.parseBidRequest(bytes)).toEqual(parseBidRequest(JSON.stringify(json)));
  });

  it('keeps an ext value in the JSON text when it does not fit the typed field', () => {
    const json = { id: 'r', imp: [{ id: '1' }], regs: { ext: { gdpr: '1', us_privacy: 5 } }, user: { ext: { eids: [{ source: 's', uids: [] }], consent: null } } };
    const { bytes } = codec.encodeBidRequest(json);
    const raw = codec.bidRequest.decode(bytes) as any;
    expect(raw.regs.ext.gdpr).toBe(0); // the prototype default: not on the wire
    expect(Object.prototype.hasOwnProperty.call(raw.regs.ext, 'gdpr')).toBe(false);
    expect(doc(bytes)).toEqual(json);
  });

  it('lets the typed field win over the same member in the JSON text', () => {
    const ext = W().uint32(tag(499, LEN)).string('{"gdpr":0,"other":true}').uint32(tag(1, VARINT)).int32(1).finish();
    const regs = W().uint32(tag(99, LEN)).bytes(ext).finish();
    const bytes = W().uint32(tag(1, LEN)).string('r').uint32(tag(14, LEN)).bytes(regs).finish();
    expect(doc(bytes).regs).toEqual({ ext: { gdpr: 1, other: true } });
    // Whichever order they come in.
    const ext2 = W().uint32(tag(1, VARINT)).int32(1).uint32(tag(499, LEN)).string('{"gdpr":0}').finish();
    const bytes2 = W().uint32(tag(1, LEN)).string('r').uint32(tag(14, LEN)).bytes(W().uint32(tag(99, LEN)).bytes(ext2).finish()).finish();
    expect(doc(bytes2).regs).toEqual({ ext: { gdpr: 1 } });
  });

  it('puts declared exchange extensions under their names: 64-bit integers, bytes and bools as JSON would carry them', () => {
    const imp = withExt.root.lookupType('com.iabtechlab.openrtb.v2.BidRequest.Imp');
    const regsExt = withExt.root.lookupType('com.iabtechlab.openrtb.v2.BidRequest.Regs.Ext');
    const impBytes = imp.encode(
      imp.fromObject({ id: '1', ext: { gpid: 'g' }, '.acme.exchange.imp_ext': { billing_id: ['42', '9007199254740993'], is_app: true, token: 'AAEC', big: '18446744073709551615' } }),
    ).finish();
    const regsBytes = W().uint32(tag(99, LEN)).bytes(regsExt.encode(regsExt.fromObject({ gdpr: 1, '.acme.exchange.acme_flag': 'on', json: '{"x":1}' })).finish()).finish();
    const bytes = W().uint32(tag(1, LEN)).string('r').uint32(tag(2, LEN)).bytes(impBytes).uint32(tag(14, LEN)).bytes(regsBytes).finish();
    const d = doc(bytes, withExt);
    expect(d.imp[0]).toEqual({
      id: '1',
      ext: { gpid: 'g', imp_ext: { billing_id: [42, '9007199254740993'], is_app: true, token: 'AAEC', big: '18446744073709551615' } },
    });
    expect(d.regs).toEqual({ ext: { x: 1, gdpr: 1, acme_flag: 'on' } });
    // Without the declaration the same bytes still decode; the extensions are skipped.
    expect(doc(bytes).imp[0]).toEqual({ id: '1', ext: { gpid: 'g' } });
    expect(doc(bytes).regs).toEqual({ ext: { x: 1, gdpr: 1 } });
  });

  it('reads map fields of extensions as plain objects, a __proto__ key as data', () => {
    const siteExt = withExt.root.lookupType('com.iabtechlab.openrtb.v2.BidRequest.Site.Ext');
    const labels = withExt.root.lookupType('acme.exchange.Labels');
    const entry = (k: string, v: string) => W().uint32(tag(1, LEN)).string(k).uint32(tag(2, LEN)).string(v).finish();
    const labelBytes = W().uint32(tag(1, LEN)).bytes(entry('__proto__', 'x')).uint32(tag(1, LEN)).bytes(entry('tier', 'gold')).finish();
    expect((labels.decode(labelBytes) as any).labels.tier).toBe('gold');
    const ext = W().uint32(tag(3002, LEN)).bytes(labelBytes).finish();
    expect(Object.keys(siteExt.decode(ext))).toContain('.acme.exchange.acme_labels');
    const bytes = W().uint32(tag(1, LEN)).string('r').uint32(tag(3, LEN)).bytes(W().uint32(tag(99, LEN)).bytes(ext).finish()).finish();
    const got = doc(bytes, withExt).site.ext.acme_labels.labels;
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(Object.keys(got).sort()).toEqual(['__proto__', 'tier']);
    expect(got.tier).toBe('gold');
    expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toBe('x');
  });

  it('reads a Google-style extension message declared against our Imp', () => {
    const type = G('BidRequest');
    const bytes = type.encode(type.fromObject({ id: 'x', imp: [{ id: '1', '.com.google.openrtb.imp_ext': { billing_id: ['123', '456'], is_app: true } }] })).finish();
    expect(doc(bytes, withExt).imp[0]).toEqual({ id: '1', ext: { imp_ext: { billing_id: [123, 456], is_app: true } } });
  });

  it('refuses an ext JSON text that is not a JSON object, or nests too deep', () => {
    const withExtJson = (text: string) => {
      const ext = W().uint32(tag(499, LEN)).string(text).finish();
      return W().uint32(tag(1, LEN)).string('r').uint32(tag(99, LEN)).bytes(ext).finish();
    };
    expect(refusal(withExtJson('{"a":'))).toEqual({ invalid: 'bad_protobuf', message: 'ext json is not valid JSON' });
    expect(refusal(withExtJson('[1,2]'))).toEqual({ invalid: 'bad_protobuf', message: 'ext json is not a JSON object' });
    expect(refusal(withExtJson('"x"')).invalid).toBe('bad_protobuf');
    expect(refusal(withExtJson('{"a":'.repeat(100) + '1' + '}'.repeat(100))).message).toMatch(/nested deeper than 64/);
    expect(doc(withExtJson('{}'))).toEqual({ id: 'r', ext: {} });
  });
});

describe('the same request as JSON and as protobuf', () => {
  const rich = {
    id: 'rich-1',
    tmax: 180,
    test: 0,
    at: 1,
    cur: ['EUR', 'USD'],
    bcat: ['IAB25', 'IAB7-39'],
    badv: ['ford.com'],
    bapp: ['com.foo.mygame'],
    wseat: ['Agency1'],
    bseat: ['Agency9'],
    imp: [
      {
        id: '1',
        banner: { format: [{ w: 300, h: 250 }, { w: 320, h: 50 }], battr: [1, 3], w: 300, h: 250 },
        bidfloor: 0.5,
        bidfloorcur: 'EUR',
        secure: 1,
        pmp: { private_auction: 1, deals: [{ id: 'deal-1', bidfloor: 2.5, bidfloorcur: 'USD', wseat: ['Agency1'], wadomain: ['acme.com'] }] },
      },
      { id: '2', video: { mimes: ['video/mp4'], minduration: 5, maxduration: 30, protocols: [2, 3], protocol: 7, rqddurs: [15, 30], battr: [16], w: 640, h: 480 } },
      { id: '3', audio: { mimes: ['audio/mp4'], minduration: 10, maxduration: 30, protocols: [9] } },
      { id: '4', native: { request: '{"ver":"1.2","assets":[{"id":1,"required":1,"title":{"len":90}}]}', ver: '1.2', battr: [2] } },
      { id: '5', banner: { wmin: 100, wmax: 400, hmin: 50, hmax: 300 } },
    ],
    site: {
      page: 'https://www.news.example:8443/story?x=1',
      cat: ['IAB12'],
      pagecat: ['IAB12-1'],
      sectioncat: ['IAB12-2'],
      publisher: { id: 'pub-1' },
      content: { cat: ['IAB17'] },
    },
    device: { ua: 'Mozilla/5.0 (iPhone)', ip: '203.0.113.5', ipv6: '2001:db8::1', devicetype: 4, os: 'iOS', ifa: 'AAAA-BBBB', lmt: 0, geo: { country: 'DE', region: 'BE', city: 'Berlin', lat: 52.5 } },
    user: { id: 'xu-1', buyeruid: 'bu-1', geo: { country: 'FRA' }, ext: { consent: 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA', eids: [{ source: 'ID5-sync.com', uids: [{ id: 'id5-x', atype: 1 }] }] } },
    regs: { coppa: 0, ext: { gdpr: 1, us_privacy: '1YNN' } },
    source: { tid: 't', ext: { schain: { ver: '1.0', complete: 1, nodes: [{ asi: 'ssp.example', sid: '42', hp: 1 }] } } },
  };

  it('gives the bidder the same view, field for field', () => {
    const { bytes, dropped } = codec.encodeBidRequest(rich);
    expect(dropped).toEqual([]);
    const view = codec.parseBidRequest(bytes);
    expect(isRefusal(view)).toBe(false);
    expect(view).toEqual(parseBidRequest(JSON.stringify(rich)));
    expect(doc(bytes)).toEqual(rich);
  });

  it('carries the 2.6 category taxonomies (cattax) to the same view', () => {
    const v26 = { ...rich, cattax: 2, site: { ...rich.site, cattax: 1, content: { cat: ['379'], cattax: 2 } } };
    const { bytes, dropped } = codec.encodeBidRequest(v26);
    expect(dropped).toEqual([]);
    const view = codec.parseBidRequest(bytes);
    if (isRefusal(view)) throw new Error(view.message);
    expect(view).toEqual(parseBidRequest(JSON.stringify(v26)));
    expect(view.bcatKnown).toBe(false);
    expect(view.categoriesKnown).toBe(false);
    expect(view.categories).toEqual(['IAB12', 'IAB12-1', 'IAB12-2']); // the site's 1.0 codes, not the content's 2.0 one
  });

  it('refuses what JSON refuses, with the same reason', () => {
    const cases: Doc[] = [
      { imp: [{ id: '1' }] }, // no id
      { id: 'r' }, // no imp
      { id: 'r', imp: [{ id: '1' }, { id: '1' }] }, // duplicate imp ids
      { id: 'r', imp: [{ id: '1', bidfloorcur: 'euro' }] },
      { id: 'r', imp: [{ id: '1', banner: { w: -300, h: 250 } }] },
      { id: 'r', imp: [{ id: '1', bidfloor: -1 }] },
      { id: 'r', imp: [{ id: '1', pmp: { deals: [{ bidfloor: 1 }] } }] }, // deal without id
      { id: 'r', tmax: -5, imp: [{ id: '1' }] },
    ];
    for (const c of cases) {
      const json = parseBidRequest(JSON.stringify(c)) as ProtobufRefusal;
      expect(json.invalid, JSON.stringify(c)).toBeDefined();
      expect(codec.parseBidRequest(codec.encodeBidRequest(c).bytes), JSON.stringify(c)).toEqual(json);
    }
    expect(codec.parseBidRequest(new Uint8Array(0))).toEqual({ invalid: 'empty_body', message: 'empty body' });
  });

  it('refuses a NaN or infinite floor, which only protobuf can carry', () => {
    for (const floor of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const imp = W().uint32(tag(1, LEN)).string('1').uint32(tag(8, I64)).double(floor).finish();
      const bytes = W().uint32(tag(1, LEN)).string('r').uint32(tag(2, LEN)).bytes(imp).finish();
      expect(refusal(bytes)).toEqual({ invalid: 'bad_field', message: 'imp[0].bidfloor must be a non-negative number' });
    }
  });
});

describe('encoding JSON as an exchange would', () => {
  it('reports what has no place in the schema or the wrong type, and keeps the rest', () => {
    const { bytes, dropped } = codec.encodeBidRequest({
      id: 'r',
      tmax: '${json-unit.any-number}',
      debug: 1,
      imp: [{ id: '1', banner: { w: 300, h: 250, foo: 'bar' }, video: { companionad: { banner: [] } } }],
      bseat: null,
      ext: 'not an object',
    });
    expect(dropped.sort()).toEqual(
      [
        'tmax (wrong type)',
        'debug (not in the schema)',
        'imp[0].banner.foo (not in the schema)',
        'imp[0].video.companionad (wrong type)',
        'bseat (null)',
        'ext (ext is not an object)',
      ].sort(),
    );
    expect(doc(bytes)).toEqual({ id: 'r', imp: [{ id: '1', banner: { w: 300, h: 250 }, video: {} }] });
  });

  it('sends a Native request object as request_native when it fits exactly, else as its JSON text', () => {
    const fits = { ver: '1.2', assets: [{ id: 1, required: 1, img: { type: 3, w: 300, h: 250 } }] };
    const wrapped = { native: fits };
    const a = codec.encodeBidRequest({ id: 'r', imp: [{ id: '1', native: { request: fits } }] }).bytes;
    expect((codec.bidRequest.decode(a) as any).imp[0].native.request_native.assets[0].img.w).toBe(300);
    expect(doc(a).imp[0].native.request).toEqual(fits);
    const b = codec.encodeBidRequest({ id: 'r', imp: [{ id: '1', native: { request: wrapped } }] }).bytes;
    expect(doc(b).imp[0].native.request).toBe(JSON.stringify(wrapped));
  });
});

describe('responses', () => {
  const response = {
    id: 'req-1',
    cur: 'USD',
    seatbid: [
      {
        seat: 'Agency1',
        bid: [
          {
            id: 'b1',
            impid: '1',
            price: 1.23,
            adid: 'cr-1',
            crid: 'cr-1',
            cid: 'camp-1',
            adomain: ['acme.com'],
            cat: ['IAB2'],
            attr: [1, 3],
            w: 300,
            h: 250,
            dealid: 'deal-1',
            mtype: 1,
            dur: undefined,
            adm: '<a href="https://acme.example">ad</a>',
            nurl: 'https://n.example/win?p=${AUCTION_PRICE}',
            burl: 'https://n.example/bill',
            lurl: 'https://n.example/loss',
          },
        ],
      },
    ],
  };

  it('encodes the JSON BidResponse object and decodes back to it', () => {
    const bytes = codec.encodeBidResponse(response);
    const back = codec.decodeBidResponse(bytes);
    expect(back).toEqual({ doc: JSON.parse(JSON.stringify(response)) });
  });

  it('reads with a Google-style schema (mtype as its enum, adm in its oneof)', () => {
    const g = G('BidResponse').decode(codec.encodeBidResponse(response));
    const o = G('BidResponse').toObject(g, { enums: Number, longs: Number }) as any;
    expect(o.id).toBe('req-1');
    expect(o.seatbid[0].seat).toBe('Agency1');
    expect(o.seatbid[0].bid[0]).toMatchObject({ id: 'b1', impid: '1', price: 1.23, crid: 'cr-1', adomain: ['acme.com'], attr: [1, 3], dealid: 'deal-1', mtype: 1, adm: response.seatbid[0].bid[0].adm });
  });
});

describe('hostile bytes', () => {
  const valid = codec.encodeBidRequest({ id: 'r', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'a.example' } }).bytes;

  it('refuses malformed messages with bad_protobuf', () => {
    const cases: [string, Uint8Array][] = [
      ['an 11-byte varint', Uint8Array.from([tag(8, VARINT), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
      ['a length past the end', Uint8Array.from([tag(1, LEN), 0x10, 0x61])],
      ['a huge length', Uint8Array.from([tag(1, LEN), 0xff, 0xff, 0xff, 0xff, 0x07])],
      ['a negative length', Uint8Array.from([tag(1, LEN), 0xff, 0xff, 0xff, 0xff, 0x0f])],
      ['a truncated varint', Uint8Array.from([tag(8, VARINT), 0x80])],
      ['a truncated double', Uint8Array.from([(8 << 3) | I64, 0x00, 0x00])],
      ['an unmatched end group', Uint8Array.from([(5 << 3) | 4])],
      ['an unknown wire type', Uint8Array.from([(5 << 3) | 7, 0x00])],
      ['field number zero', Uint8Array.from([0x00, 0x01])],
      ['a nested message overrunning its parent', Uint8Array.from([tag(2, LEN), 0x02, tag(1, LEN), 0x05, 0x61])],
      ['groups nested past the recursion limit', Uint8Array.from([...Array(200).fill((200 << 3) | 3)])],
      ['well-formed groups nested past the recursion limit', nestedGroups(150)],
    ];
    for (const [what, bytes] of cases) {
      const r = codec.parseBidRequest(bytes);
      expect(isRefusal(r), what).toBe(true);
      expect((r as ProtobufRefusal).invalid, what).toBe('bad_protobuf');
      expect((r as ProtobufRefusal).message.length, what).toBeLessThanOrEqual(200);
    }
  });

  it('skips unknown groups nested within the limit', () => {
    expect(doc(nestedGroups(20))).toEqual({ id: 'r' });
  });

  it('never throws on any truncation of a valid request', () => {
    for (let n = 0; n < valid.length; n++) expect(() => codec.parseBidRequest(valid.subarray(0, n))).not.toThrow();
    // Some truncations still form a message (up to a field boundary); the full one is a request.
    expect(isRefusal(codec.parseBidRequest(valid))).toBe(false);
    expect(codec.parseBidRequest(valid.subarray(0, valid.length - 1))).toMatchObject({ invalid: 'bad_protobuf' });
  });

  it('reads a field sent with the wrong wire type as unknown (skipped), then judges the request as JSON would', () => {
    // id (a string) sent as a varint: skipped, so the request has no id.
    const bytes = Uint8Array.from([tag(1, VARINT), 0x05, ...valid.subarray(valid.indexOf(tag(2, LEN)))]);
    expect(refusal(bytes)).toEqual({ invalid: 'bad_id', message: 'id must be a non-empty string' });
  });
});

/**
 * A request whose unknown field 300 is a group nested `depth` deep (well formed: every start has its
 * end). The schema itself nests only a few levels, so unknown groups are how bytes can nest deeply.
 */
function nestedGroups(depth: number): Uint8Array {
  const start = Array(depth).fill((300 << 3) | 3);
  const end = Array(depth).fill((300 << 3) | 4);
  return Uint8Array.from([tag(1, LEN), 0x01, 0x72, ...start, ...end]);
}
