/**
 * A fuzz test of the bid port over real HTTP: requests from the shared OpenRTB corpus, mutated
 * (types swapped, huge and odd numbers, huge arrays, deep nesting, duplicate and prototype keys,
 * truncation, invalid UTF-8; some sent gzipped, some as protobuf with flipped or cut bytes), posted
 * to a bidder on the conformance bundle (which bids on most corpus requests, so mutations reach
 * decide() and the response builder, not only the parser). Every answer must come within
 * MAX_ANSWER_MS with one of the statuses the README lists (never a 5xx), and afterwards the bidder
 * must still bid, count no handler error (`outcome="error"`: a throw caught and answered 204) and
 * have left Object.prototype alone.
 *
 * The default run is a few hundred cases; `FUZZ_RUNS=100000 npx vitest run tests/http/fuzz.test.ts`
 * runs longer, and `FUZZ_SEED=<seed>` replays the run a failure printed.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startBidder, type TestBidder } from '../helpers/bidder.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { openRtbProtobuf } from '../../src/openrtb/protobuf-codec.js';
import { loadCorpus } from '../conformance/corpus.js';

const RUNS = Number(process.env.FUZZ_RUNS) || 300;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** Generous for a loaded 2-core machine: a sound answer takes a few ms. */
const MAX_ANSWER_MS = Number(process.env.FUZZ_MAX_MS) || 1_000;
const BODY_LIMIT = 256 * 1024;
const ANSWERS = new Set([200, 204, 400, 413, 415]);

const bundle = JSON.parse(readFileSync(new URL('../fixtures/conformance-campaigns.json', import.meta.url), 'utf8')) as ConfigBundle;
const requests = loadCorpus().bodies.filter((b) => b.kind === 'request');
const codec = openRtbProtobuf();

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every path in the tree (the root is []), in document order. */
function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], [...at, k], out);
  return out;
}

/** A copy of `doc` with the value at `path` replaced by `f(old)`. */
function replaceAt(doc: Json, path: Path, f: (old: Json) => Json): Json {
  if (path.length === 0) return f(doc);
  const [head, ...rest] = path;
  if (Array.isArray(doc)) return doc.map((x, i) => (i === head ? replaceAt(x, rest, f) : x));
  const o = doc as { [k: string]: Json };
  return Object.fromEntries(Object.keys(o).map((k) => [k, k === head ? replaceAt(o[k], rest, f) : o[k]]));
}

/** Numbers JSON.stringify cannot write, put in as text: stand-ins replaced after serialising. */
const RAW_NUMBERS = ['1' + '7'.repeat(399), '-' + '9'.repeat(400), '1e400', '-1e400', '1e-400', '0.' + '0'.repeat(398) + '1', '-0', '1E+308', '123456789012345678901234567890'];
const rawMark = (i: number) => `@@raw${i}@@`;

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(1e308, -1e308, 2 ** 53 + 1, -(2 ** 53) - 1, Number.MAX_VALUE, Number.MIN_VALUE, 0, -1, 0.5, 4294967296, 2 ** 31, -(2 ** 31) - 1),
  fc.integer({ min: 0, max: RAW_NUMBERS.length - 1 }).map(rawMark),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom<Json>('', ' ', '0', '1e308', 'NaN', 'null', 'true', '__proto__', '\u0000', '\ud800', '\udfff\ud800', 'é'.repeat(50), 'x'.repeat(5000)),
  fc.string({ maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant<Json>([]),
  fc.constant<Json>({}),
);

/** A JSON value of another kind, or an odd one of the same. */
const swapped: fc.Arbitrary<Json> = fc.oneof(scalar, fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>);

/** Structural mutations of the parsed request. */
type TreeMutation = (doc: Json) => Json;
const pick = <T,>(list: readonly T[], r: number) => list[Math.floor(r * list.length) % list.length];

const treeMutation: fc.Arbitrary<TreeMutation> = fc.oneof(
  // Type swaps and odd numbers anywhere (the root, imp, ids, floors, sizes, ...).
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), swapped).map(([r, v]) => (doc: Json) => replaceAt(doc, pick(paths(doc), r), () => v)),
  // A huge array: the value repeated, or many small items, bounded so the body stays near the limit.
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 100, max: 20_000 }), fc.boolean()).map(([r, n, copies]) => (doc: Json) => {
    const at = pick(paths(doc), r);
    return replaceAt(doc, at, (old) => {
      const size = JSON.stringify(old)?.length ?? 4;
      const count = copies ? Math.max(1, Math.min(n, Math.floor(BODY_LIMIT / (size + 1)))) : n;
      return Array.from({ length: count }, (_, i) => (copies ? old : i % 2 ? i : `v${i}`));
    });
  }),
  // Deep nesting around MAX_JSON_DEPTH (64) and far beyond it (the deepest as text: JSON.stringify would overflow the stack).
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(30, 60, 63, 64, 65, 100, 1_000), fc.boolean()).map(([r, depth, arrays]) => (doc: Json) =>
    replaceAt(doc, pick(paths(doc), r), (old) => {
      let v = old;
      for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
      return v;
    }),
  ),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(10_000, 100_000)).map(([r, depth]) => (doc: Json) => replaceAt(doc, pick(paths(doc), r), () => `@@deep${depth}@@`)),
  // An imp whose every object field is swapped at once.
  fc.tuple(fc.integer({ min: 0, max: 9 }), swapped).map(([i, v]) => (doc: Json) => {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return doc;
    const imps = doc.imp;
    if (!Array.isArray(imps) || imps.length === 0) return doc;
    const imp = imps[i % imps.length];
    if (imp === null || typeof imp !== 'object' || Array.isArray(imp)) return doc;
    return replaceAt(doc, ['imp', i % imps.length], () => Object.fromEntries(Object.keys(imp).map((k) => [k, v])));
  }),
);

/** Text mutations of the serialised request (what JSON.stringify cannot produce). */
type TextMutation = (text: string) => string;
const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  // Duplicate keys: an existing key written once more before itself, with another value (the last one wins in JSON.parse).
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), swapped).map(([r, v]) => (text: string) => {
    const keys = [...text.matchAll(/"([A-Za-z_]\w*)":/g)];
    if (!keys.length) return text;
    const m = pick(keys, r);
    return `${text.slice(0, m.index)}"${m[1]}":${JSON.stringify(v)},${text.slice(m.index)}`;
  }),
  // Prototype keys in some object, as first or last member.
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'), fc.constantFrom('{"polluted":true,"imp":[]}', '{"prototype":{"polluted":true}}', 'null', '1', '"x"', '[]'))
    .map(([r, key, value]) => (text: string) => {
      const opens = [...text.matchAll(/\{(?=")/g)];
      if (!opens.length) return `{"${key}":${value},${text.slice(1)}`;
      const at = pick(opens, r).index! + 1;
      return `${text.slice(0, at)}"${key}":${value},${text.slice(at)}`;
    }),
  // Truncation at any offset.
  fc.double({ min: 0, max: 1, noNaN: true }).map((r) => (text: string) => text.slice(0, Math.floor(r * text.length))),
);

/** Byte mutations of the final body: invalid UTF-8 (stray continuation bytes, overlong forms, encoded surrogates, 0xFF). */
const INVALID_UTF8 = [[0x80], [0xbf], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xff], [0xfe, 0xff], [0xc3], [0xf4, 0x90, 0x80, 0x80]];
type ByteMutation = (body: Buffer) => Buffer;
const byteMutation: fc.Arbitrary<ByteMutation> = fc
  .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: INVALID_UTF8.length - 1 }), fc.boolean())
  .map(([r, i, inString]) => (body: Buffer) => {
    // Inside a string (after an opening quote) the parser sees it as text; elsewhere, as a stray byte.
    let at = Math.floor(r * body.length);
    if (inString) {
      const q = body.indexOf(0x22, at);
      if (q >= 0) at = q + 1;
    }
    return Buffer.concat([body.subarray(0, at), Buffer.from(INVALID_UTF8[i]), body.subarray(at)]);
  });

interface Case {
  readonly request: number;
  readonly tree: TreeMutation[];
  readonly text: TextMutation[];
  readonly bytes: ByteMutation[];
  readonly framing: 'json' | 'gzip' | 'protobuf';
  readonly exchange: '/bid' | '/bid/corpus-25';
}

const cases: fc.Arbitrary<Case> = fc.record({
  request: fc.integer({ min: 0, max: requests.length - 1 }),
  tree: fc.array(treeMutation, { minLength: 0, maxLength: 3 }),
  text: fc.array(textMutation, { minLength: 0, maxLength: 2 }),
  bytes: fc.array(byteMutation, { minLength: 0, maxLength: 2 }),
  framing: fc.constantFrom('json', 'json', 'json', 'gzip', 'protobuf'),
  exchange: fc.constantFrom('/bid', '/bid/corpus-25'),
});

/** The body and headers a case posts. */
function build(c: Case): { body: Buffer; headers: Record<string, string> } {
  let doc = requests[c.request].doc as Json;
  for (const m of c.tree) doc = m(doc);
  if (c.framing === 'protobuf') {
    // Encoded from the mutated tree where it still encodes (protobuf has no place for most mutations), then bytes cut or flipped.
    let bytes: Buffer;
    try {
      bytes = Buffer.from(codec.encodeBidRequest(doc as Record<string, unknown>).bytes);
    } catch {
      bytes = Buffer.from(codec.encodeBidRequest(requests[c.request].doc as Record<string, unknown>).bytes);
    }
    for (const m of c.bytes) bytes = m(bytes);
    if (c.text.length) bytes = bytes.subarray(0, Math.floor(bytes.length * ((c.request % 10) / 10)));
    return { body: bytes, headers: { 'content-type': 'application/x-protobuf' } };
  }
  let text = JSON.stringify(doc) ?? 'null';
  for (const m of c.text) text = m(text);
  text = text.replace(/"@@raw(\d+)@@"/g, (_, i: string) => RAW_NUMBERS[Number(i)]);
  // Only the first deep value is expanded (an array of copies of it would not fit in a string).
  let deep = 0;
  text = text.replace(/"@@deep(\d+)@@"/g, (_, n: string) => (deep++ ? '0' : `${'['.repeat(Number(n))}0${']'.repeat(Number(n))}`));
  let body: Buffer = Buffer.from(text, 'utf8');
  for (const m of c.bytes) body = m(body);
  if (c.framing === 'gzip') return { body: gzipSync(body), headers: { 'content-encoding': 'gzip' } };
  return { body, headers: {} };
}

/** A counter summed over every series that has `label` (all exchanges). */
const total = (text: string, name: string, label: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

let bidder: TestBidder;
const warnings: string[] = [];
const onWarning = (w: Error) => void (String(w.message).includes('bid handler error') && warnings.push(w.message));

beforeAll(async () => {
  bidder = await startBidder({ bundle, env: { DEBUG_NOBID: '1', NOTICE_BASE_URL: 'https://notice.conformance.example' } });
  process.on('warning', onWarning);
});
afterAll(() => {
  process.off('warning', onWarning);
  bidder?.close();
});

describe('fuzzing the bid port with mutated corpus requests', () => {
  it(
    `${RUNS} cases: no 5xx, an answer within ${MAX_ANSWER_MS} ms, no handler error, the bidder still bids`,
    async () => {
      expect(requests.length).toBeGreaterThan(200);
      const statuses: Record<number, number> = {};
      let slowest = 0;
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const { body, headers } = build(c);
          const t0 = performance.now();
          const r = await bidder.post(c.exchange, body, headers);
          const ms = performance.now() - t0;
          slowest = Math.max(slowest, ms);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          if (!ANSWERS.has(r.status)) throw new Error(`answered ${r.status}: ${r.text.slice(0, 200)}`);
          if (ms > MAX_ANSWER_MS) throw new Error(`answered in ${ms.toFixed(0)} ms (${body.length} bytes)`);
          if (warnings.length) throw new Error(`handler error: ${warnings[0]}`);
          if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('Object.prototype was polluted');
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      console.log(`fuzz: ${RUNS} cases, answers ${JSON.stringify(statuses)}, slowest ${slowest.toFixed(0)} ms`);
      // Both kinds of answer were reached: the mutations are not all refused by the parser.
      expect(statuses[400]).toBeGreaterThan(0);
      expect((statuses[200] ?? 0) + (statuses[204] ?? 0)).toBeGreaterThan(0);

      const text = await bidder.metricsText();
      expect(total(text, 'bidder_bid_requests_total', 'outcome="invalid"')).toBe(statuses[400] + (statuses[413] ?? 0) + (statuses[415] ?? 0));
      expect(total(text, 'bidder_bid_requests_total', 'outcome="error"')).toBe(0);
      expect(total(text, 'bidder_no_bids_total', 'reason="internal_error"')).toBe(0);
      expect(Object.prototype).not.toHaveProperty('polluted');
      // Still up, and still bidding on an unmutated request.
      const ok = await bidder.post('/bid', requests.find((b) => b.name.includes('banner'))?.text ?? requests[0].text);
      expect([200, 204]).toContain(ok.status);
      let bids = 0;
      for (const b of requests.slice(0, 40)) if ((await bidder.post('/bid', b.text)).status === 200) bids++;
      expect(bids).toBeGreaterThan(0);
    },
    Math.max(60_000, RUNS * 200),
  );
});
