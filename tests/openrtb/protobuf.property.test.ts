/**
 * Properties of the protobuf codec: decoding arbitrary or damaged bytes never throws (it refuses or
 * gives a view), and any request built from OpenRTB's fields gets the same view, or the same
 * refusal, as JSON and as protobuf.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRefusal, openRtbProtobuf } from '../../src/openrtb/protobuf-codec.js';
import { parseBidRequest } from '../../src/openrtb/parse-request.js';

const codec = openRtbProtobuf();

const seed = codec.encodeBidRequest({
  id: 'seed',
  imp: [
    { id: '1', banner: { format: [{ w: 300, h: 250 }], battr: [1, 2] }, bidfloor: 0.2, pmp: { deals: [{ id: 'd', wseat: ['a'] }] } },
    { id: '2', native: { request: { ver: '1.2', assets: [{ id: 1, required: 1, title: { len: 25 } }] } } },
  ],
  site: { domain: 'a.example', publisher: { id: 'p' } },
  device: { ua: 'ua', geo: { country: 'USA' } },
  user: { ext: { consent: 'c', eids: [{ source: 's', uids: [{ id: 'u' }] }] } },
  regs: { ext: { gdpr: 1, other: { x: [1, 2] } } },
}).bytes;

const neverThrows = (bytes: Uint8Array) => {
  const r = codec.parseBidRequest(bytes);
  // Either a refusal with a reason, or a view with an id and imps.
  if (isRefusal(r)) expect(typeof r.message).toBe('string');
  else expect(r.imps.length).toBeGreaterThan(0);
};

describe('decoding never throws', () => {
  it('on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), neverThrows), { numRuns: 2000 });
  });

  it('on a valid request with bytes changed, inserted or removed', () => {
    const edit = fc.oneof(
      fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        const b = Array.from(seed);
        for (const e of edits) {
          const at = e.at % (b.length + 1);
          if (e.op === 'set' && at < b.length) b[at] = e.byte;
          else if (e.op === 'insert') b.splice(at, 0, e.byte);
          else if (e.op === 'delete') b.splice(at, 1);
        }
        neverThrows(Uint8Array.from(b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('JSON and protobuf give the same view', () => {
  const str = fc.string({ minLength: 0, maxLength: 8 });
  /** Mostly what the parser accepts, now and then what it refuses. */
  const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 19 }, { arbitrary: bad, weight: 1 });
  const size = mostly(fc.integer({ min: 0, max: 1000 }), fc.constant(-2));
  const floor = mostly(fc.double({ min: 0, max: 10, noNaN: true }), fc.constant(-1));
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const ints = fc.array(fc.integer({ min: -1, max: 20 }), { maxLength: 4 });
  const strs = fc.array(str, { maxLength: 3 });
  const cur = mostly(fc.constantFrom('USD', 'EUR', 'GBP'), fc.constantFrom('eur', ''));
  const banner = fc.record(
    { w: maybe(size), h: maybe(size), format: maybe(fc.array(fc.record({ w: maybe(size), h: maybe(size) }, { requiredKeys: [] }), { maxLength: 3 })), battr: maybe(ints), wmax: maybe(size), hmin: maybe(size) },
    { requiredKeys: [] },
  );
  const video = fc.record(
    { mimes: maybe(strs), minduration: maybe(size), maxduration: maybe(size), protocols: maybe(ints), protocol: maybe(fc.integer({ min: 0, max: 10 })), rqddurs: maybe(ints), w: maybe(size), h: maybe(size) },
    { requiredKeys: [] },
  );
  const deal = fc.record(
    { id: mostly(fc.constantFrom('d1', 'd2'), fc.constant('')), bidfloor: maybe(floor), bidfloorcur: maybe(cur), wseat: maybe(strs), wadomain: maybe(strs) },
    { requiredKeys: ['id'] },
  );
  const imp = fc.record(
    {
      id: mostly(fc.constant('?'), fc.constantFrom('', '1')), // '?': numbered below
      banner: maybe(banner),
      video: maybe(video),
      // Audio has no single `protocol` in OpenRTB (the JSON parser reads one anyway); a protobuf exchange cannot send it.
      audio: maybe(video.map(({ w: _w, h: _h, protocol: _p, ...a }) => a)),
      native: maybe(fc.record({ request: fc.oneof(fc.constant('{"assets":[{"id":1,"title":{"len":9}}]}'), fc.constant({ assets: [{ id: 1, required: 1, data: { type: 2 } }] })), battr: maybe(ints) }, { requiredKeys: ['request'] })),
      bidfloor: maybe(floor),
      bidfloorcur: maybe(cur),
      secure: maybe(fc.integer({ min: 0, max: 2 })),
      pmp: maybe(fc.record({ private_auction: maybe(fc.integer({ min: 0, max: 1 })), deals: maybe(fc.array(deal, { maxLength: 2 })) }, { requiredKeys: [] })),
    },
    { requiredKeys: ['id'] },
  );
  const geo = fc.record({ country: maybe(fc.constantFrom('USA', 'DE', 'fra', 'XX')), region: maybe(str), city: maybe(str) }, { requiredKeys: [] });
  const request = fc.record(
    {
      id: mostly(fc.constant('r'), str),
      imp: mostly(fc.array(imp, { minLength: 1, maxLength: 3 }), fc.array(imp, { maxLength: 0 })).map((imps) => imps.map((m, i) => (m.id === '?' ? { ...m, id: String(i + 1) } : m))),
      tmax: maybe(fc.integer({ min: -5, max: 500 })),
      test: maybe(fc.integer({ min: 0, max: 1 })),
      at: maybe(fc.integer({ min: 1, max: 3 })),
      cur: maybe(fc.array(cur, { maxLength: 2 })),
      bcat: maybe(strs),
      badv: maybe(strs),
      wseat: maybe(strs),
      site: maybe(fc.record({ domain: maybe(str), page: maybe(fc.constantFrom('https://www.a.example/x', 'nope')), cat: maybe(strs), publisher: maybe(fc.record({ id: str })) }, { requiredKeys: [] })),
      app: maybe(fc.record({ bundle: maybe(str), cat: maybe(strs) }, { requiredKeys: [] })),
      device: maybe(fc.record({ ua: maybe(str), ip: maybe(str), devicetype: maybe(fc.integer({ min: 0, max: 8 })), os: maybe(str), ifa: maybe(str), lmt: maybe(fc.integer({ min: 0, max: 1 })), geo: maybe(geo) }, { requiredKeys: [] })),
      user: maybe(fc.record({ id: maybe(str), buyeruid: maybe(str), geo: maybe(geo), consent: maybe(str), ext: maybe(fc.record({ consent: maybe(str), eids: maybe(fc.array(fc.record({ source: str, uids: fc.array(fc.record({ id: str, atype: maybe(fc.integer({ min: 1, max: 3 })) }), { maxLength: 2 }) }), { maxLength: 2 })) }, { requiredKeys: [] })) }, { requiredKeys: [] })),
      regs: maybe(fc.record({ coppa: maybe(fc.integer({ min: 0, max: 1 })), gdpr: maybe(fc.integer({ min: 0, max: 1 })), us_privacy: maybe(str), ext: maybe(fc.record({ gdpr: maybe(fc.oneof(fc.integer({ min: 0, max: 1 }), fc.constant('1'))), us_privacy: maybe(str), anything: maybe(fc.jsonValue({ maxDepth: 2 })) }, { requiredKeys: [] })) }, { requiredKeys: [] })),
    },
    { requiredKeys: ['id', 'imp'] },
  );

  it('for any request made of OpenRTB fields, valid or not', () => {
    let valid = 0;
    let refused = 0;
    fc.assert(
      fc.property(request, (raw) => {
        const json = JSON.parse(JSON.stringify(raw)); // undefined members gone, as on the wire
        const { bytes, dropped } = codec.encodeBidRequest(json);
        expect(dropped).toEqual([]);
        const fromJson = parseBidRequest(JSON.stringify(json));
        const fromProtobuf = codec.parseBidRequest(bytes);
        // Empty arrays have no presence in protobuf; the bidder reads them as absent too, but the view keeps them.
        expect(normalize(fromProtobuf)).toEqual(normalize(fromJson));
        if (isRefusal(fromJson)) refused++;
        else valid++;
      }),
      { numRuns: 400 },
    );
    // Both kinds were exercised (about 40% of the requests are valid).
    expect(valid).toBeGreaterThan(120);
    expect(refused).toBeGreaterThan(20);
  });
});

/** The view with empty arrays removed and Native requests as objects (protobuf may carry either form). */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(normalize);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const n = k === 'request' && typeof x === 'string' ? JSON.parse(x) : normalize(x);
    if (n !== undefined) out[k] = n;
  }
  return out;
}
