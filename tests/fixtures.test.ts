/**
 * OpenRTB fixtures, run through the real HTTP server (the way Prebid Server keeps one JSON file
 * per case). Each file under tests/fixtures/openrtb/{exemplary,supplemental,invalid}/ holds:
 *
 *   description  what the case proves
 *   campaigns    a config bundle, or `{ "base": "<name>", ...extra }`: the shared bundle
 *                tests/fixtures/openrtb/bundles/<name>.json with the extra exchanges,
 *                advertisers and campaigns appended (and any other key replaced)
 *   exchange     optional: posts to /bid/<exchange> instead of /bid
 *   request      the OpenRTB body (an object; a string is sent as raw bytes)
 *   expect       { status: 200, bids: [{ impid, crid, price, cid?, dealid?, w?, h?, mtype?, dur?, adomain? }],
 *                  cur?, version? }
 *              | { status: 204, reason: "<no-bid reason>" }
 *              | { status: 400, error?: "<substring of the error message>" }
 *
 * Bids are matched per impid: every bid must be listed and none may be extra. `dealid` is always
 * compared (absent in the fixture = must be absent in the bid); a listed field set to null must be
 * absent in the bid. Every 200 answer must also pass the independent conformance checker
 * (tests/conformance/check-bid.ts). exemplary/ holds realistic requests that double as documentation and benchmark
 * input, supplemental/ edge cases (each positive with its negative twin), invalid/ requests refused with 400.
 */
import { readdirSync, readFileSync } from 'node:fs';
import uws from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, validBundle, type HttpResult } from './helpers/bidder.js';
import { buildSnapshot, SnapshotRef } from '../src/campaigns/snapshot.js';
import { loadSettings } from '../src/config/settings.js';
import { BidderMetrics } from '../src/metrics/bidder-metrics.js';
import { registerBidRoutes } from '../src/http/bid-route.js';
import { listenExclusive, type Listening } from '../src/http/listen.js';
import { NoticeSigner, parseSigningKeys } from '../src/events/notice-signer.js';
import type { ConfigBundle } from '../src/campaigns/schema.js';
import { NO_BID_REASONS } from '../src/bidding/no-bid-reason.js';
import { checkBid } from './conformance/check-bid.js';

const ROOT = new URL('./fixtures/openrtb/', import.meta.url);
const KINDS = ['exemplary', 'supplemental', 'invalid'] as const;
type Kind = (typeof KINDS)[number];

interface ExpectedBid {
  impid: string;
  crid: string;
  price: number;
  cid?: string;
  dealid?: string;
  w?: number | null;
  h?: number | null;
  mtype?: number | null;
  dur?: number | null;
  adomain?: string[];
}

type Expectation =
  | { status: 200; bids: ExpectedBid[]; cur?: string; version?: string }
  | { status: 204; reason: string }
  | { status: 400; error?: string };

interface Fixture {
  description: string;
  campaigns: ConfigBundle | ({ base: string } & ConfigBundle);
  exchange?: string;
  request: unknown;
  expect: Expectation;
}

const FIXTURE_KEYS = new Set(['description', 'campaigns', 'exchange', 'request', 'expect']);
const BID_KEYS = new Set(['impid', 'crid', 'price', 'cid', 'dealid', 'w', 'h', 'mtype', 'dur', 'adomain']);
const EXPECT_KEYS: Record<number, Set<string>> = {
  200: new Set(['status', 'bids', 'cur', 'version']),
  204: new Set(['status', 'reason']),
  400: new Set(['status', 'error']),
};

const readJson = (url: URL): any => JSON.parse(readFileSync(url, 'utf8'));

/** A fixture with a typo would silently prove less: refuse unknown keys and missing required ones. */
function checkShape(name: string, f: any): Fixture {
  const fail = (msg: string): never => {
    throw new Error(`${name}: ${msg}`);
  };
  for (const k of Object.keys(f)) if (!FIXTURE_KEYS.has(k)) fail(`unknown key "${k}"`);
  if (typeof f.description !== 'string' || f.description.length < 10) fail('needs a description');
  if (typeof f.campaigns !== 'object' || f.campaigns === null) fail('needs campaigns');
  if (f.request === undefined) fail('needs a request');
  if (f.exchange !== undefined && typeof f.exchange !== 'string') fail('exchange must be a string');
  const e = f.expect;
  if (!e || !EXPECT_KEYS[e.status]) fail('expect.status must be 200, 204 or 400');
  for (const k of Object.keys(e)) if (!EXPECT_KEYS[e.status].has(k)) fail(`unknown key expect.${k}`);
  if (e.status === 200) {
    if (!Array.isArray(e.bids) || e.bids.length === 0) fail('a 200 needs bids');
    for (const b of e.bids) {
      for (const k of Object.keys(b)) if (!BID_KEYS.has(k)) fail(`unknown bid key "${k}"`);
      if (typeof b.impid !== 'string' || typeof b.crid !== 'string' || typeof b.price !== 'number')
        fail('every expected bid needs impid, crid and price');
    }
  }
  if (e.status === 204 && !(NO_BID_REASONS as readonly string[]).includes(e.reason)) fail(`unknown no-bid reason "${e.reason}"`);
  return f as Fixture;
}

const LIST_KEYS = ['exchanges', 'advertisers', 'campaigns'] as const;

function resolveBundle(f: Fixture): ConfigBundle {
  const { base, ...extra } = f.campaigns as { base?: string } & ConfigBundle;
  if (base === undefined) return extra;
  const bundle: ConfigBundle = readJson(new URL(`bundles/${base}.json`, ROOT));
  const merged: Record<string, unknown> = { ...bundle, ...extra };
  for (const key of LIST_KEYS) merged[key] = [...(bundle[key] ?? []), ...(extra[key] ?? [])];
  return merged as ConfigBundle;
}

function loadKind(kind: Kind): [string, Fixture][] {
  const dir = new URL(`${kind}/`, ROOT);
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => [n, checkShape(`${kind}/${n}`, readJson(new URL(n, dir)))]);
}

/** A bid as the fixture sees it: the listed fields, with `dealid` always present, absent → null. */
function project(bid: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = bid[k] === undefined ? null : bid[k];
  return out;
}

/**
 * The real bid routes on a real uWS listener, as tests/helpers/bidder.ts builds them, but with the
 * route's injectable clock frozen: fixtures carry realistic tmax values (120 ms...) and a loaded test
 * machine must not turn a fixture into a `deadline` no-bid. Deadlines are not what fixtures prove.
 */
let server: Listening;
const snapshots = new SnapshotRef(buildSnapshot(validBundle({}), 0));
beforeAll(async () => {
  const settings = loadSettings({ HOST: '127.0.0.1', PORT: '0', ADMIN_PORT: '0', INSTANCE_ID: 'fixtures', DEBUG_NOBID: '1' });
  const app = uws.App();
  const signer = new NoticeSigner(parseSigningKeys('fixtures:0123456789abcdef0123456789abcdef'));
  registerBidRoutes(app, { settings, snapshots, metrics: new BidderMetrics({ defaultMetrics: false }), signer, clock: () => 0 });
  server = await listenExclusive(app, '127.0.0.1', 0);
});
afterAll(() => server?.close());

let version = 0;
async function run(f: Fixture): Promise<void> {
  const bundle = resolveBundle(f);
  snapshots.swap(buildSnapshot(validBundle(bundle), ++version));
  const path = f.exchange === undefined ? '/bid' : `/bid/${f.exchange}`;
  const body = typeof f.request === 'string' ? f.request : JSON.stringify(f.request);
  const res: HttpResult = await httpRequest(server.port, 'POST', path, body);
  const e = f.expect;
  const seen = `got ${res.status} ${res.headers['x-nobid-reason'] ?? ''} ${res.status === 200 ? '' : res.text}`;
  expect(res.status, seen).toBe(e.status);

  if (e.status === 204) {
    expect(res.headers['x-nobid-reason']).toBe(e.reason);
    expect(res.body.length).toBe(0);
  } else if (e.status === 400) {
    if (e.error !== undefined) expect(res.text).toContain(e.error);
  } else {
    const doc = res.json();
    expect(doc.id).toBe((f.request as { id: string }).id);
    if (e.cur !== undefined) expect(doc.cur).toBe(e.cur);
    if (e.version !== undefined) expect(res.headers['x-openrtb-version']).toBe(e.version);
    const bids: Record<string, unknown>[] = doc.seatbid.flatMap((s: { bid: unknown[] }) => s.bid);
    const byImp = new Map(bids.map((b) => [b.impid as string, b]));
    expect(byImp.size, 'one bid per imp').toBe(bids.length);
    expect([...byImp.keys()].sort()).toEqual(e.bids.map((b) => b.impid).sort());
    for (const want of e.bids) {
      const keys = [...new Set([...Object.keys(want), 'dealid'])];
      expect(project(byImp.get(want.impid)!, keys), `imp ${want.impid}`).toEqual(project(want as never, keys));
    }
    // And the independent checker (tests/conformance) finds nothing wrong with the answer.
    const spoken = res.headers['x-openrtb-version'] === '2.5' ? '2.5' : '2.6';
    expect(checkBid(f.request, doc, { currencies: { base: bundle.currencies?.base ?? 'USD', rates: bundle.currencies?.rates ?? {} }, version: spoken })).toEqual([]);
  }
}

const fixtures = Object.fromEntries(KINDS.map((k) => [k, loadKind(k)])) as Record<Kind, [string, Fixture][]>;

for (const kind of KINDS) {
  describe(kind, () => {
    it('has fixtures', () => {
      expect(fixtures[kind].length).toBeGreaterThan(0);
    });
    for (const [name, f] of fixtures[kind]) it(`${name}: ${f.description}`, () => run(f));
  });
}

describe('fixture set', () => {
  it('invalid fixtures expect 400 and the others do not', () => {
    for (const [name, f] of fixtures.invalid) expect(f.expect.status, name).toBe(400);
    for (const [name, f] of [...fixtures.exemplary, ...fixtures.supplemental]) expect(f.expect.status, name).not.toBe(400);
  });

  it('exemplary fixtures all bid (they document what a bid looks like)', () => {
    for (const [name, f] of fixtures.exemplary) expect(f.expect.status, name).toBe(200);
  });

  it('every shared bundle is used and valid', () => {
    const used = new Set(
      KINDS.flatMap((k) => fixtures[k].map(([, f]) => (f.campaigns as { base?: string }).base)).filter(Boolean),
    );
    const names = readdirSync(new URL('bundles/', ROOT)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
    for (const n of names) {
      expect(used.has(n), `bundle ${n} is unused`).toBe(true);
      expect(() => validBundle(readJson(new URL(`bundles/${n}.json`, ROOT)))).not.toThrow();
    }
  });
});
