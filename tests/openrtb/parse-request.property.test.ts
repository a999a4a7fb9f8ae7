/**
 * Property tests for the bid request parser: whatever bytes arrive, `parseBidRequest` answers
 * (a view or a bounded refusal) and never throws; well-formed requests always parse; wrong types
 * in the fields that constrain bidding are refused with the right reason; and the cheap
 * pre-parse depth scan agrees with the real nesting depth of what JSON.parse builds.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { INVALID_REASONS, isInvalid, parseBidRequest, viewFromDocument, type InvalidRequest } from '../../src/openrtb/parse-request.js';
import { exceedsJsonDepth } from '../../src/openrtb/json-depth.js';
import type { BidRequestView } from '../../src/openrtb/request-view.js';

const RUNS = { numRuns: 300 };

/** The contract every answer meets: a view with the request id, or a known reason and a short one-line message. */
function checkAnswer(r: BidRequestView | InvalidRequest): void {
  expect(r).toBeTypeOf('object');
  expect(r).not.toBeNull();
  if (isInvalid(r)) {
    expect(INVALID_REASONS).toContain(r.invalid);
    expect(r.message).toBeTypeOf('string');
    expect(r.message.length).toBeGreaterThan(0);
    expect(r.message.length).toBeLessThanOrEqual(200);
    expect(r.message).not.toMatch(/[\r\n]/);
  } else {
    expect(typeof r.id).toBe('string');
    expect(r.id.length).toBeGreaterThan(0);
    expect(Array.isArray(r.imps)).toBe(true);
    expect(r.imps.length).toBeGreaterThan(0);
  }
}

/** Parses without letting an exception escape into fast-check's shrinking as something else. */
function parseNoThrow(body: Buffer | string, maxDepth?: number): BidRequestView | InvalidRequest {
  let r: BidRequestView | InvalidRequest | undefined;
  expect(() => (r = parseBidRequest(body, maxDepth))).not.toThrow();
  checkAnswer(r!);
  return r!;
}

// ---------------------------------------------------------------------------------------------
// Generators of well-formed requests.

const idString = fc.string({ minLength: 1, maxLength: 40 });
const iso4217 = fc.constantFrom('USD', 'EUR', 'GBP', 'JPY', 'CAD');
const dim = fc.integer({ min: 0, max: 2000 });
const smallInts = fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 5 });
const strings = fc.array(fc.string({ maxLength: 12 }), { maxLength: 5 });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const banner = fc.record(
  {
    w: dim,
    h: dim,
    format: fc.array(fc.record({ w: dim, h: dim }), { maxLength: 4 }),
    battr: smallInts,
  },
  { requiredKeys: [] },
);
const video = fc.record(
  {
    mimes: fc.array(fc.constantFrom('video/mp4', 'video/webm', 'application/javascript'), { maxLength: 3 }),
    minduration: fc.integer({ min: 0, max: 30 }),
    maxduration: fc.integer({ min: 0, max: 120 }),
    protocols: smallInts,
    protocol: fc.integer({ min: 1, max: 10 }),
    rqddurs: smallInts,
    w: dim,
    h: dim,
    battr: smallInts,
  },
  { requiredKeys: [] },
);
const audio = fc.record(
  { mimes: fc.array(fc.constantFrom('audio/mp4', 'audio/mpeg'), { maxLength: 2 }), maxduration: fc.integer({ min: 0, max: 60 }), protocols: smallInts },
  { requiredKeys: [] },
);
const native = fc.record(
  {
    request: fc.oneof(
      fc.constant('{"ver":"1.2","assets":[{"id":1,"required":1,"title":{"len":90}}]}'),
      fc.string({ maxLength: 30 }),
      fc.record({ assets: fc.constant([{ id: 1, img: { type: 3, w: 1200, h: 627 } }]) }),
    ),
    ver: fc.constant('1.2'),
    battr: smallInts,
  },
  { requiredKeys: ['request'] },
);
const deal = fc.record(
  {
    id: idString,
    bidfloor: fc.double({ min: 0, max: 100, noNaN: true }),
    bidfloorcur: iso4217,
    wseat: strings,
    wadomain: strings,
  },
  { requiredKeys: ['id'] },
);

const impBody = fc.record(
  {
    banner,
    video,
    audio,
    native,
    bidfloor: fc.double({ min: 0, max: 1000, noNaN: true }),
    bidfloorcur: iso4217,
    secure: fc.constantFrom(0, 1),
    tagid: fc.string({ maxLength: 10 }),
    pmp: fc.record({ private_auction: fc.constantFrom(0, 1), deals: fc.array(deal, { maxLength: 3 }) }, { requiredKeys: [] }),
    ext: fc.jsonValue({ maxDepth: 3 }),
  },
  { requiredKeys: [] },
);

const geo = fc.record(
  {
    country: fc.constantFrom('US', 'USA', 'DEU', 'fr', 'XX', ''),
    region: fc.constantFrom('CA', 'US-NY', 'BY', ''),
    city: fc.string({ maxLength: 12 }),
    lat: fc.double({ min: -90, max: 90, noNaN: true }),
  },
  { requiredKeys: [] },
);
const device = fc.record(
  {
    ua: fc.string({ maxLength: 60 }),
    ip: fc.ipV4(),
    ipv6: fc.ipV6(),
    devicetype: fc.integer({ min: 1, max: 8 }),
    os: fc.constantFrom('iOS', 'Android', 'Windows'),
    ifa: fc.uuid(),
    lmt: fc.constantFrom(0, 1),
    geo,
  },
  { requiredKeys: [] },
);
const inventory = fc.record(
  {
    id: fc.string({ maxLength: 10 }),
    domain: fc.domain(),
    page: fc.webUrl(),
    bundle: fc.string({ maxLength: 20 }),
    cat: fc.array(fc.constantFrom('IAB1', 'IAB1-2', 'IAB25-3', 'IAB9'), { maxLength: 3 }),
    publisher: fc.record({ id: fc.string({ maxLength: 10 }) }),
  },
  { requiredKeys: [] },
);

/** A request the parser must accept: ids present and unique, every strict field well typed. */
const wellFormedRequest = fc
  .record(
    {
      id: fc.string({ minLength: 1, maxLength: 256 }),
      impIds: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 256 }), { minLength: 1, maxLength: 8 }),
      impBodies: fc.array(impBody, { minLength: 8, maxLength: 8 }),
      channel: fc.constantFrom('site', 'app', 'dooh', 'none'),
      inventory,
      rest: fc.record(
        {
          tmax: fc.integer({ min: 0, max: 5000 }),
          test: fc.constantFrom(0, 1),
          at: fc.constantFrom(1, 2),
          cur: fc.array(iso4217, { maxLength: 3 }),
          bcat: strings,
          badv: strings,
          bapp: strings,
          wseat: strings,
          bseat: strings,
          device,
          user: fc.record({ id: fc.string({ maxLength: 10 }), buyeruid: fc.string({ maxLength: 10 }), consent: fc.string({ maxLength: 10 }) }, { requiredKeys: [] }),
          regs: fc.record({ coppa: fc.constantFrom(0, 1), gdpr: fc.constantFrom(0, 1), us_privacy: fc.constant('1YNN') }, { requiredKeys: [] }),
          source: fc.record({ tid: fc.uuid(), schain: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
          ext: fc.jsonValue({ maxDepth: 4 }),
        },
        { requiredKeys: [] },
      ),
    },
  )
  .map(({ id, impIds, impBodies, channel, inventory, rest }) => {
    const req: Record<string, unknown> = { id, imp: impIds.map((impId, i) => ({ ...impBodies[i], id: impId })), ...rest };
    if (channel !== 'none') req[channel] = inventory;
    return req;
  });

// ---------------------------------------------------------------------------------------------

describe('parseBidRequest never throws and answers within its contract', () => {
  it('for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parseNoThrow(s)), RUNS);
  });

  it('for arbitrary full-unicode strings (lone surrogates included)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => void parseNoThrow(s)), RUNS);
  });

  it('for arbitrary bytes, as a Buffer', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => void parseNoThrow(Buffer.from(bytes))), RUNS);
  });

  it('for JSON-ish text built from the structural characters', () => {
    const token = fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', 'null', '1', '"id"', '"imp"', ' ', '\\u0000', 'tru');
    fc.assert(fc.property(fc.array(token, { maxLength: 120 }), (tokens) => void parseNoThrow(tokens.join(''))), RUNS);
  });

  it('for arbitrary JSON values, as text and as bytes', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 10 }), (v, maxDepth) => {
        const text = JSON.stringify(v);
        const a = parseNoThrow(text, maxDepth);
        const b = parseNoThrow(Buffer.from(text, 'utf8'), maxDepth);
        expect(b).toEqual(a);
        // A JSON value that is not an object can never be a request.
        if (typeof v !== 'object' || v === null || Array.isArray(v)) expect(isInvalid(a) && a.invalid).toMatch(/^(not_object|too_deep)$/);
      }),
      RUNS,
    );
  });

  it('for arbitrary JavaScript values handed to viewFromDocument', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withBigInt: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withNullPrototype: true }), (v) => {
        let r: BidRequestView | InvalidRequest | undefined;
        expect(() => (r = viewFromDocument(v))).not.toThrow();
        checkAnswer(r!);
      }),
      RUNS,
    );
  });

  it('for objects that look like requests but have random ids and imps', () => {
    const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined));
    fc.assert(
      fc.property(anyValue, fc.oneof(anyValue, fc.array(anyValue, { maxLength: 4 })), (id, imp) => {
        const doc = JSON.stringify({ id, imp });
        parseNoThrow(doc);
      }),
      RUNS,
    );
  });
});

describe('well-formed requests always parse', () => {
  it('to a view with the same id and imp ids, in order', () => {
    fc.assert(
      fc.property(wellFormedRequest, (req) => {
        const r = parseNoThrow(JSON.stringify(req));
        if (isInvalid(r)) throw new Error(`refused (${r.invalid}: ${r.message}) ${JSON.stringify(req).slice(0, 400)}`);
        expect(r.id).toBe(req.id);
        expect(r.imps.map((i) => i.id)).toEqual((req.imp as { id: string }[]).map((i) => i.id));
        const first = (req.imp as Record<string, unknown>[])[0];
        expect(r.imps[0].bidFloor).toBe(first.bidfloor ?? 0);
        expect(r.imps[0].bidFloorCur).toBe(first.bidfloorcur ?? 'USD');
        expect(r.tmax).toBe((req as { tmax?: number }).tmax);
      }),
      RUNS,
    );
  });

  it('from bytes exactly as from text', () => {
    fc.assert(
      fc.property(wellFormedRequest, (req) => {
        const text = JSON.stringify(req);
        expect(parseBidRequest(Buffer.from(text, 'utf8'))).toEqual(parseBidRequest(text));
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Mutations: one field of a valid request replaced by a value of another type.

type Path = (string | number)[];

function pathsOf(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (typeof v === 'object' && v !== null) {
    for (const [k, child] of Array.isArray(v) ? v.entries() : Object.entries(v)) {
      const p = [...prefix, k];
      out.push(p);
      pathsOf(child, p, out);
    }
  }
  return out;
}

function setAt(doc: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node = copy;
  for (let i = 0; i < path.length - 1; i++) node = node[path[i]] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

/** Values of every JSON type, and the odd ones exchanges really send. */
const wrongValue = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-1, 0, 1.5, 1e308, -0),
  fc.string({ maxLength: 10 }),
  fc.constantFrom('', '1', '0.5', 'USD', '[]'),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

describe('mutated valid requests', () => {
  it('never throw, whatever field is replaced by whatever value', () => {
    fc.assert(
      fc.property(
        wellFormedRequest.chain((req) => {
          const paths = pathsOf(req);
          return fc.tuple(fc.constant(req), fc.constantFrom(...paths), wrongValue);
        }),
        ([req, path, value]) => void parseNoThrow(JSON.stringify(setAt(req, path, value))),
      ),
      { numRuns: 500 },
    );
  });

  const isNonNegNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  const isNonNegInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  const absent = (v: unknown) => v === undefined || v === null;
  const isStringArray = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const isIntArray = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isInteger(x));
  const isId = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 256;
  const isPlainObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

  const isDim = (v: unknown) => absent(v) || isNonNegInt(v);
  /** An imp with only the keys the parser requires: judged exactly; anything richer is left to the other rows. */
  const plainImp = (v: unknown): boolean | undefined =>
    !isPlainObject(v) ? false : !isId((v as { id?: unknown }).id) ? false : Object.keys(v as object).every((k) => k === 'id') ? true : undefined;

  /**
   * The fields that constrain what we may bid: a wrong type is refused with exactly this reason.
   * `accepts` answers true (must parse), false (must be refused) or undefined (not judged here).
   */
  const strict: { path: Path; accepts: (v: unknown) => boolean | undefined; reason: string }[] = [
    { path: ['id'], accepts: isId, reason: 'bad_id' },
    {
      path: ['imp'],
      accepts: (v) => {
        if (!Array.isArray(v) || v.length === 0 || v.length > 100) return false;
        const each = v.map(plainImp);
        if (each.includes(false)) return false;
        if (each.includes(undefined)) return undefined;
        return new Set(v.map((x) => x.id)).size === v.length;
      },
      reason: 'bad_imp',
    },
    // imp[1] has id "2": a plain imp with another id is fine, with "2" it is a duplicate.
    { path: ['imp', 0], accepts: (v) => (plainImp(v) === true ? (v as { id: string }).id !== '2' : plainImp(v)), reason: 'bad_imp' },
    { path: ['imp', 0, 'id'], accepts: (v) => isId(v) && v !== '2', reason: 'bad_imp' },
    { path: ['imp', 0, 'bidfloor'], accepts: (v) => absent(v) || isNonNegNumber(v), reason: 'bad_field' },
    { path: ['imp', 0, 'bidfloorcur'], accepts: (v) => v === undefined || v === null || (typeof v === 'string' && /^[A-Z]{3}$/.test(v)), reason: 'bad_field' },
    { path: ['tmax'], accepts: (v) => absent(v) || isNonNegInt(v), reason: 'bad_field' },
    { path: ['bcat'], accepts: (v) => absent(v) || isStringArray(v), reason: 'bad_field' },
    { path: ['badv'], accepts: (v) => absent(v) || isStringArray(v), reason: 'bad_field' },
    { path: ['bapp'], accepts: (v) => absent(v) || isStringArray(v), reason: 'bad_field' },
    { path: ['bseat'], accepts: (v) => absent(v) || isStringArray(v), reason: 'bad_field' },
    { path: ['wseat'], accepts: (v) => absent(v) || isStringArray(v), reason: 'bad_field' },
    { path: ['cur'], accepts: (v) => absent(v) || isStringArray(v), reason: 'bad_field' },
    {
      path: ['imp', 0, 'banner'],
      accepts: (v) => (absent(v) ? true : !isPlainObject(v) ? false : Object.keys(v as object).length === 0 ? true : undefined),
      reason: 'bad_field',
    },
    {
      path: ['imp', 0, 'banner', 'format'],
      accepts: (v) =>
        absent(v) ||
        (Array.isArray(v) && v.every((f) => absent(f) || (isPlainObject(f) && isDim(f.w) && isDim(f.h)))),
      reason: 'bad_field',
    },
    { path: ['imp', 0, 'banner', 'w'], accepts: isDim, reason: 'bad_field' },
    { path: ['imp', 0, 'banner', 'battr'], accepts: (v) => absent(v) || isIntArray(v), reason: 'bad_field' },
    {
      path: ['imp', 0, 'video'],
      accepts: (v) => (absent(v) ? true : !isPlainObject(v) ? false : Object.keys(v as object).length === 0 ? true : undefined),
      reason: 'bad_field',
    },
    { path: ['imp', 0, 'video', 'mimes'], accepts: (v) => absent(v) || isStringArray(v), reason: 'bad_field' },
    { path: ['imp', 0, 'video', 'maxduration'], accepts: isDim, reason: 'bad_field' },
    {
      path: ['imp', 0, 'pmp'],
      accepts: (v) => (absent(v) ? true : !isPlainObject(v) ? false : Object.keys(v as object).length === 0 ? true : undefined),
      reason: 'bad_field',
    },
  ];

  /** A fixed base request where every strict path exists, so each mutation lands where intended. */
  const base = {
    id: 'req-1',
    tmax: 120,
    cur: ['USD'],
    bcat: ['IAB25'],
    badv: ['bad.example'],
    bapp: [],
    bseat: [],
    wseat: [],
    imp: [
      { id: '1', banner: { w: 300, h: 250, format: [], battr: [1] }, video: { mimes: ['video/mp4'], maxduration: 30 }, bidfloor: 0.5, bidfloorcur: 'USD', pmp: { deals: [] } },
      { id: '2', native: { request: '{}' } },
    ],
    site: { domain: 'news.example' },
  };

  it.each(strict.map((s) => [s.path.join('.'), s] as const))('%s: wrong types are refused, right types accepted', (_name, s) => {
    expect(isInvalid(parseBidRequest(JSON.stringify(base)))).toBe(false);
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(wrongValue, (value) => {
        const r = parseNoThrow(JSON.stringify(setAt(base, s.path, value)));
        // JSON has no -0 and no non-finite numbers: judge the value as it arrives.
        const sent = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
        const verdict = s.accepts(sent);
        if (verdict === undefined) return;
        if (verdict) {
          accepted++;
          if (isInvalid(r)) throw new Error(`${s.path.join('.')}=${JSON.stringify(value)} refused: ${r.invalid} ${r.message}`);
        } else {
          refused++;
          expect(isInvalid(r), `${s.path.join('.')}=${JSON.stringify(value)} must be refused`).toBe(true);
          expect((r as InvalidRequest).invalid).toBe(s.reason);
        }
      }),
      { numRuns: 150 },
    );
    // Both sides were exercised (a whole imp list or imp is rarely generated valid; the base request covers that side).
    expect(refused).toBeGreaterThan(20);
    if (!['imp', 'imp.0'].includes(s.path.join('.'))) expect(accepted).toBeGreaterThan(5);
    expect(accepted + refused).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------------------------------------
// The depth scan against a reference.

/** Nesting depth of a parsed JSON value: scalars 0, `[]` and `{}` 1, each level of containers one more. */
function referenceDepth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let max = 0;
  for (const child of Array.isArray(v) ? v : Object.values(v)) max = Math.max(max, referenceDepth(child));
  return max + 1;
}

/** Strings full of the characters a naive scanner would miscount. */
const trickyString = fc.string({
  unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '"]', '\\\\', 'a', ' ', 'é', '😀', '\n', '\u2028', '\u0000'),
  maxLength: 12,
});
const trickyLeaf = fc.oneof(trickyString, fc.integer(), fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }));

/** JSON values with a chosen nesting depth, built as a chain of containers with tricky siblings. */
const nested = fc
  .tuple(
    fc.integer({ min: 0, max: 90 }),
    fc.array(fc.tuple(fc.boolean(), trickyString, fc.array(trickyLeaf, { maxLength: 2 })), { minLength: 90, maxLength: 90 }),
    fc.jsonValue({ maxDepth: 3 }),
  )
  .map(([depth, layers, core]) => {
    let v: unknown = core;
    for (let i = 0; i < depth; i++) {
      const [asArray, key, siblings] = layers[i];
      v = asArray ? [...siblings, v] : Object.fromEntries([...siblings.map((s, j) => [`${key}${j}`, s]), [key, v]]);
    }
    return v;
  });

describe('exceedsJsonDepth', () => {
  /** The text and its UTF-8 bytes (scanned by a different loop) must get the same answer. */
  const exceeds = (text: string, maxDepth: number): boolean => {
    const answer = exceedsJsonDepth(text, maxDepth);
    expect(exceedsJsonDepth(Buffer.from(text, 'utf8'), maxDepth)).toBe(answer);
    return answer;
  };

  it('agrees with the depth of the parsed value, on text and bytes, compact and indented', () => {
    fc.assert(
      fc.property(nested, fc.integer({ min: 1, max: 100 }), fc.constantFrom(undefined, 1, '\t'), (v, maxDepth, indent) => {
        const text = JSON.stringify(v, null, indent);
        const depth = referenceDepth(JSON.parse(text));
        expect(exceeds(text, maxDepth)).toBe(depth > maxDepth);
        expect(exceedsJsonDepth(Buffer.from(text, 'utf8'), maxDepth)).toBe(depth > maxDepth);
      }),
      { numRuns: 400 },
    );
  });

  it('agrees exactly at the limit', () => {
    fc.assert(
      fc.property(nested, (v) => {
        const text = JSON.stringify(v);
        const depth = referenceDepth(v);
        if (depth === 0) return;
        expect(exceeds(text, depth)).toBe(false);
        expect(exceeds(text, depth - 1)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('agrees for arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (v, maxDepth) => {
        const text = JSON.stringify(v);
        expect(exceeds(text, maxDepth)).toBe(referenceDepth(JSON.parse(text)) > maxDepth);
      }),
      RUNS,
    );
  });

  it('is not fooled by brackets and escaped quotes inside strings', () => {
    expect(exceeds(JSON.stringify({ a: '[[[[[[[[[[{{{{{{{{' }), 2)).toBe(false);
    expect(exceeds(JSON.stringify({ a: 'x\\"[[[[[[[[[[' }), 1)).toBe(false);
    expect(exceeds(JSON.stringify({ a: 'x\\' , b: [[[]]] }), 3)).toBe(true);
    expect(exceeds(JSON.stringify({ a: 'x\\' , b: [[[]]] }), 4)).toBe(false);
    expect(exceeds('{"a":"\\\\"}', 1)).toBe(false);
    expect(exceeds('{"a":"\\\\","b":[[]]}', 2)).toBe(true);
  });

  it('refuses absurd nesting quickly, and parseBidRequest says too_deep', () => {
    const depth = 100_000;
    const body = `{"id":"x","imp":[{"id":"1"}],"ext":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const start = performance.now();
    const r = parseBidRequest(Buffer.from(body), 64);
    expect(performance.now() - start).toBeLessThan(100);
    expect(r).toEqual({ invalid: 'too_deep', message: expect.stringContaining('64') });
    // Exactly at the limit is fine, one more is not (the request object itself is level 1).
    const at = (n: number) => `{"id":"x","imp":[{"id":"1"}],"ext":${'['.repeat(n)}${']'.repeat(n)}}`;
    expect(isInvalid(parseBidRequest(at(63), 64))).toBe(false);
    expect(parseBidRequest(at(64), 64)).toMatchObject({ invalid: 'too_deep' });
  });
});

describe('refusal messages', () => {
  const base = () => ({ id: 'r1', imp: [{ id: '1', banner: { w: 300, h: 250 } }, { id: '2', banner: { format: [{ w: 300, h: 250 }] } }] });
  const refuse = (mutate: (r: any) => void): InvalidRequest => {
    const r = base();
    mutate(r);
    const out = parseBidRequest(Buffer.from(JSON.stringify(r)));
    if (!isInvalid(out)) throw new Error('not refused');
    return out;
  };

  it('name the exact field, however deep (paths are built only when a request is refused)', () => {
    expect(refuse((r) => (r.imp[1].banner.format[0].w = -1))).toEqual({ invalid: 'bad_field', message: 'imp[1].banner.format[0].w must be a non-negative integer' });
    expect(refuse((r) => (r.imp[0].bidfloorcur = 'usd'))).toEqual({ invalid: 'bad_field', message: 'imp[0].bidfloorcur must be an ISO-4217 code' });
    expect(refuse((r) => (r.imp[1].pmp = { deals: [{ id: 'd1' }, { id: 'd2', bidfloor: 'x' }] }))).toEqual({
      invalid: 'bad_field',
      message: 'imp[1].pmp.deals[1].bidfloor must be a non-negative number',
    });
    expect(refuse((r) => (r.imp[0].video = { mimes: ['video/mp4', 7] }))).toEqual({ invalid: 'bad_field', message: 'imp[0].video.mimes[1] must be a string' });
    expect(refuse((r) => (r.bcat = 'IAB1'))).toEqual({ invalid: 'bad_field', message: 'bcat must be an array of strings' });
  });

  it('do not change what is accepted: a request that parses once parses again with the same view', () => {
    const ok = parseBidRequest(Buffer.from(JSON.stringify(base())));
    expect(isInvalid(ok)).toBe(false);
    refuse((r) => (r.imp[0].banner.h = 1.5)); // a refusal in between must leave no state behind
    expect(parseBidRequest(Buffer.from(JSON.stringify(base())))).toEqual(ok);
  });
});

describe('category taxonomies (OpenRTB 2.6 cattax)', () => {
  const cattax = fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant(1), fc.constant(2), fc.integer(), fc.string({ maxLength: 3 }), fc.double());
  const readable = (v: unknown) => v === undefined || v === null || v === 1;

  it('only IAB content categories 1.0 (cattax 1, or none) are read; other lists are left out and flagged', () => {
    fc.assert(
      fc.property(cattax, cattax, cattax, fc.boolean(), fc.boolean(), (req, site, content, siteCats, contentCats) => {
        const doc = {
          id: 'r',
          imp: [{ id: '1', banner: { w: 300, h: 250 } }],
          bcat: ['IAB25'],
          site: { domain: 'a.example', ...(siteCats ? { cat: ['IAB12-1'] } : {}), cattax: site, content: { ...(contentCats ? { cat: ['IAB17'] } : {}), cattax: content } },
          cattax: req,
        };
        const view = viewFromDocument(doc);
        if (isInvalid(view)) throw new Error(view.message);
        expect(view.bcatKnown).toBe(readable(req));
        expect(view.bcat).toEqual(['IAB25']); // kept as sent either way
        const want = [...(siteCats && readable(site) ? ['IAB12-1', 'IAB12'] : []), ...(contentCats && readable(content) ? ['IAB17'] : [])];
        expect(view.categories).toEqual(want);
        expect(view.categoriesKnown).toBe((!siteCats || readable(site)) && (!contentCats || readable(content)));
      }),
      { numRuns: 300 },
    );
  });
});
