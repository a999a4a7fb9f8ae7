/**
 * The one-pass reader (readBidRequest) against the general path (parseBidRequest: JSON.parse and
 * the view): for every body, the same view, or the same refusal (reason and message). Bodies come
 * from the shared OpenRTB corpus, the fixtures, the bench's request mix, generated requests, and
 * those bodies mutated and truncated byte by byte. The tokenizer is also checked on its own
 * against JSON.parse for arbitrary JSON values and arbitrary bytes.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseBidRequest } from '../../src/openrtb/parse-request.js';
import { readBidRequest, readerFallbacks } from '../../src/openrtb/read-request.js';
import { JsonCursor } from '../../src/openrtb/json-cursor.js';
import { loadCorpus } from '../conformance/corpus.js';
import { buildRequestMix } from '../../bench/scenario/requests.js';

/** The reader and the general path agree on this body (toStrictEqual: -0, undefined members and array holes count). */
function agree(body: Buffer, maxDepth = 64): void {
  const general = parseBidRequest(body, maxDepth);
  const read = readBidRequest(body, maxDepth);
  expect(read).toStrictEqual(general);
  // Object.is on numbers that toStrictEqual may not tell apart
  if (!('invalid' in read) && !('invalid' in general)) for (let i = 0; i < read.imps.length; i++) expect(Object.is(read.imps[i].bidFloor, general.imps[i].bidFloor)).toBe(true);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

const corpus = loadCorpus();
const fixtureBodies: Buffer[] = [];
for (const file of filesUnder(join(__dirname, '..', 'fixtures', 'openrtb'))) {
  const text = readFileSync(file, 'utf8');
  fixtureBodies.push(Buffer.from(text));
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    continue;
  }
  const request = (doc as { request?: unknown }).request;
  if (typeof request === 'string') fixtureBodies.push(Buffer.from(request));
  else if (request !== undefined) {
    fixtureBodies.push(Buffer.from(JSON.stringify(request)));
    fixtureBodies.push(Buffer.from(JSON.stringify(request, null, 2)));
  }
}
const mixBodies = buildRequestMix('reader', 300, 1000).bodies;

describe('readBidRequest gives what JSON.parse + view give', () => {
  it('for every body of the shared corpus (requests, other JSON, and the files that are not JSON)', () => {
    expect(corpus.bodies.length).toBeGreaterThan(100);
    let views = 0;
    for (const b of corpus.bodies) {
      const body = Buffer.from(b.text);
      agree(body);
      if (!('invalid' in readBidRequest(body))) views++;
    }
    expect(views).toBeGreaterThan(50);
  });

  it('for every request of the fixtures (exemplary, supplemental, invalid), compact and indented', () => {
    expect(fixtureBodies.length).toBeGreaterThan(300);
    for (const body of fixtureBodies) agree(body);
  });

  it("for the bench's request mix, without falling back", () => {
    const before = { ...readerFallbacks };
    for (const body of mixBodies) agree(body);
    expect(readerFallbacks).toEqual(before);
  });

  it('for every truncation of some requests', () => {
    const some = [...mixBodies.slice(0, 3), ...fixtureBodies.slice(0, 3)];
    for (const body of some) for (let n = 0; n <= body.length; n++) agree(body.subarray(0, n));
  });

  it('for bodies with one byte changed, inserted or removed', () => {
    const bodies = [...mixBodies.slice(0, 50), ...fixtureBodies];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bodies.length - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('set', 'insert', 'delete'),
        fc.oneof(fc.constantFrom(...Buffer.from('{}[],:"\\/ 0123456789-+.eEtrufalsn\t\n\r\u0001')), fc.integer({ min: 0, max: 255 })),
        (which, where, how, byte) => {
          const body = bodies[which];
          const at = Math.floor(where * body.length);
          const mutated =
            how === 'set'
              ? Buffer.concat([body.subarray(0, at), Buffer.from([byte]), body.subarray(at + 1)])
              : how === 'insert'
                ? Buffer.concat([body.subarray(0, at), Buffer.from([byte]), body.subarray(at)])
                : Buffer.concat([body.subarray(0, at), body.subarray(at + 1)]);
          agree(mutated);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('for generated requests with every field the view reads, of the right type or not, duplicated, escaped, re-spaced', () => {
    fc.assert(
      fc.property(requestDoc, fc.constantFrom(0, 1, 2), fc.boolean(), fc.boolean(), fc.option(fc.tuple(fc.nat(), anyValue)), (doc, indent, escapeSlashes, escapeKeys, dupe) => {
        let text = JSON.stringify(doc, null, indent);
        if (escapeSlashes) text = text.replace(/\//g, '\\/');
        if (escapeKeys) text = text.replace(/"id":/g, '"\\u0069d":').replace(/"domain":/g, '"d\\u006fmain":');
        const keys = Object.keys(doc);
        // An earlier member of the same name, which JSON.parse overrides with the later one.
        if (dupe !== null && keys.length > 0) text = `{${JSON.stringify(keys[dupe[0] % keys.length])}:${JSON.stringify(dupe[1])},${text.slice(1)}`;
        agree(Buffer.from(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('for duplicate keys (JSON.parse keeps the last), escaped keys and unicode', () => {
    const bodies = [
      '{"id":"a","id":"b","imp":[{"id":"1","banner":{"w":300,"h":250}}]}',
      '{"id":"a","imp":[{"id":"1","banner":{"w":300,"h":250}}],"site":{"domain":"x.com"},"site":"gone"}',
      '{"id":"a","imp":[{"id":"1","bidfloor":"bad","bidfloor":1.5}]}',
      '{"\\u0069d":"a","imp":[{"id":"1"}]}',
      '{"id":"\\u00e9t\\u00e9 \\ud83d\\ude00 \\ud800","imp":[{"id":"1"}],"device":{"ua":"Mozilla\\/5.0 \\"x\\""}}',
      '{"id":"été 😀","imp":[{"id":"1"}],"site":{"domain":"WWW.Exämple.com"}}',
      '{"id":"a","imp":[{"id":"1","bidfloor":-0,"bidfloorcur":"EUR"}],"tmax":1e2}',
      '{"id":"a","imp":[{"id":"1","bidfloor":1.0000000000000002e-7}],"tmax":12345678901234567890}',
      '{"id":"a","imp":[{"id":"1","bidfloor":1E400}]}',
      '{"id":"a","imp":[{"id":"1"}],"user":{"ext":{"eids":[{"source":"x","uids":[{"id":"1"}]}],"consent":"c"}},"source":{"ext":{"schain":{"ver":"1.0"}}}}',
      '{"id":"a","imp":[{"id":"1","native":{"request":{"ver":"1.2","assets":[]}}}],"regs":{"ext":{"gdpr":1,"gpp_sid":[2,"x"]}}}',
      '  \r\n\t{"id":"a","imp":[{"id":"1"}]}\n ',
      '{"id":"a","imp":[{"id":"1"}]} x',
      '\ufeff{"id":"a","imp":[{"id":"1"}]}',
      '{"id":"a","imp":[{"id":"1"}],}',
      '{"id":"a","imp":[{"id":"1",}]}',
      '{"id":"a","imp":[{"id":"01"}]}',
      '{"id":"a","imp":[{"id":"1","bidfloor":01}]}',
      '{"id":"a","imp":[{"id":"1","bidfloor":1.}]}',
      '{"id":"a","imp":[{"id":"1","bidfloor":.5}]}',
      '{"id":"a","imp":[{"id":"1","bidfloor":+1}]}',
      '{"id":"a","imp":[{"id":"1","bidfloor":1e}]}',
      '{"id":"a\tb","imp":[{"id":"1"}]}',
      '{"id":"a\\x","imp":[{"id":"1"}]}',
      '{"id":"a\\u12","imp":[{"id":"1"}]}',
      '{"id":"a","imp":[{"id":"1"}],"ext":[tru]}',
      '{"id":"a","imp":[{"id":"1"}],"ext":nul}',
      '[{"id":"a","imp":[{"id":"1"}]}]',
      '"text"',
      '',
      ' ',
    ];
    for (const b of bodies) agree(Buffer.from(b));
    // Bytes that are not UTF-8 inside strings decode to U+FFFD on both paths.
    agree(Buffer.concat([Buffer.from('{"id":"a'), Buffer.from([0xe2, 0x82]), Buffer.from('","imp":[{"id":"1"}],"site":{"domain":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}}')]));
  });

  it('for nesting at, and one over, the depth limit', () => {
    for (const limit of [3, 4, 5, 64]) {
      for (let depth = 1; depth <= limit + 1; depth++) {
        const inner = '['.repeat(depth) + ']'.repeat(depth);
        agree(Buffer.from(`{"id":"a","imp":[{"id":"1"}],"ext":${inner}}`), limit);
        agree(Buffer.from(`{"id":"a","imp":[{"id":"1"}],"ext":${'['.repeat(depth)}`), limit);
      }
    }
  });
});

describe('JsonCursor', () => {
  /** Through value(): what JSON.parse gives, or a stop where JSON.parse throws. */
  function viaCursor(body: Buffer): { ok: true; value: unknown } | { ok: false } {
    const c = new JsonCursor();
    c.reset(body, 1000);
    try {
      const value = c.list();
      c.finish();
      return { ok: true, value };
    } catch {
      return { ok: false };
    }
  }
  function viaJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
    try {
      return { ok: true, value: JSON.parse(body.toString('utf8')) };
    } catch {
      return { ok: false };
    }
  }

  it('reads any JSON value as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 1, 2), (v, indent) => {
        const body = Buffer.from(JSON.stringify(v, null, indent) ?? 'null');
        expect(viaCursor(body)).toStrictEqual(viaJson(body));
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts exactly what JSON.parse accepts, for arbitrary and near-JSON bytes', () => {
    const jsonish = fc.array(fc.constantFrom(...'{}[],:" \\/u0123456789abcdefABCDEF-+.eEtrulsn\t\n\r'.split('')), { maxLength: 30 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)), jsonish.map((s) => Buffer.from(s))), (body) => {
        expect(viaCursor(body).ok).toBe(viaJson(body).ok);
        if (viaJson(body).ok) expect(viaCursor(body)).toStrictEqual(viaJson(body));
      }),
      { numRuns: 5000 },
    );
  });

  it('reads numbers as JSON.parse does (exponents, -0, long integers, long fractions)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.bigInt().map((b) => b.toString()), fc.stringMatching(/^-?(0|[1-9]\d{0,25})(\.\d{1,25})?([eE][+-]?\d{1,3})?$/)), (n) => {
        const text = typeof n === 'string' ? n : JSON.stringify(n);
        const body = Buffer.from(`[${text}]`);
        const a = viaCursor(body);
        const b = viaJson(body);
        expect(a).toStrictEqual(b);
        if (a.ok && b.ok) expect(Object.is((a.value as number[])[0], (b.value as number[])[0])).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads strings as JSON.parse does, whatever their bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        const body = Buffer.concat([Buffer.from('["'), Buffer.from(bytes), Buffer.from('"]')]);
        expect(viaCursor(body)).toStrictEqual(viaJson(body));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const body = Buffer.from(JSON.stringify([s]));
        expect(viaCursor(body)).toStrictEqual(viaJson(body));
      }),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Generated requests: every member the view reads, usually of the right type, sometimes not.

const anyValue = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -0, 1, -1, 1.5, '', 'x', [], {}, ['a'], [1, 2], [1, 'a']) },
);
const sometimes = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 8, arbitrary: arb }, { weight: 1, arbitrary: anyValue });
const text = fc.oneof(fc.constantFrom('US', 'usa', 'GB', 'www.Example.com', 'http://news.example/a?b', 'iOS', 'IAB1-2', 'IAB3', 'USD', 'EUR', 'Mozilla/5.0'), fc.string({ maxLength: 12 }));
const num = fc.oneof(fc.integer({ min: -5, max: 3000 }), fc.double({ min: -1, max: 100, noNaN: true }), fc.constantFrom(-0, 1e21, 2 ** 53 + 2));
const strs = fc.array(text, { maxLength: 4 });
const nums = fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 4 });
const rec = (fields: { [k: string]: fc.Arbitrary<unknown> }) => fc.record(Object.fromEntries(Object.entries(fields).map(([k, a]) => [k, sometimes(a)])), { requiredKeys: [] });

const geo = rec({ country: text, region: text, city: text, zip: text, lat: num, lon: num, type: num, metro: text });
const durfloors = fc.array(rec({ mindur: num, maxdur: num, bidfloor: num }), { maxLength: 3 });
const media = rec({
  mimes: strs,
  minduration: num,
  maxduration: num,
  rqddurs: nums,
  protocols: nums,
  protocol: num,
  battr: nums,
  w: num,
  h: num,
  mincpmpersec: num,
  durfloors,
  plcmt: num,
  ext: anyValue,
});
const deal = rec({ id: text, bidfloor: num, bidfloorcur: fc.constantFrom('USD', 'EUR', 'usd'), mincpmpersec: num, durfloors, wseat: strs, wadomain: strs });
const imp = rec({
  id: fc.constantFrom('1', '2', '3', ''),
  banner: rec({ w: num, h: num, format: fc.array(rec({ w: num, h: num }), { maxLength: 3 }), wmin: num, wmax: num, hmin: num, hmax: num, battr: nums }),
  video: media,
  audio: media,
  native: rec({ request: fc.oneof(text, fc.constant({ ver: '1.2', assets: [] })), battr: nums }),
  bidfloor: num,
  bidfloorcur: fc.constantFrom('USD', 'EUR', 'usd'),
  secure: num,
  pmp: rec({ private_auction: num, deals: fc.array(deal, { maxLength: 3 }) }),
  tagid: text,
});
const inventory = rec({
  id: text,
  domain: text,
  page: text,
  bundle: text,
  publisher: rec({ id: text, name: text }),
  content: rec({ cat: strs, cattax: num, title: text }),
  cattax: fc.constantFrom(1, 2, null),
  cat: strs,
  pagecat: strs,
  sectioncat: strs,
});
const requestDoc = fc.record(
  {
    id: sometimes(text),
    imp: sometimes(fc.array(imp, { minLength: 1, maxLength: 3 })),
    tmax: sometimes(num),
    site: inventory,
    app: inventory,
    dooh: inventory,
    cattax: sometimes(fc.constantFrom(1, 2)),
    device: rec({
      geo,
      langb: text,
      language: text,
      devicetype: num,
      os: text,
      make: text,
      model: text,
      carrier: text,
      connectiontype: num,
      ua: text,
      ip: text,
      ipv6: text,
      lmt: num,
      ifa: text,
    }),
    user: rec({ id: text, buyeruid: text, consent: text, eids: anyValue, geo, ext: rec({ consent: text, eids: anyValue }) }),
    regs: rec({ gdpr: num, us_privacy: text, gpp: text, gpp_sid: nums, coppa: num, ext: rec({ gdpr: num, us_privacy: text, gpp: text, gpp_sid: nums }) }),
    source: rec({ tid: text, schain: anyValue, ext: rec({ schain: anyValue }) }),
    test: sometimes(num),
    at: sometimes(num),
    cur: sometimes(strs),
    bcat: sometimes(strs),
    badv: sometimes(strs),
    bapp: sometimes(strs),
    wseat: sometimes(strs),
    bseat: sometimes(strs),
    ext: anyValue,
  },
  { requiredKeys: ['id', 'imp'] },
);
