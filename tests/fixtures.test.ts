/**
 * OpenRTB fixtures, run through the real HTTP server (the way Prebid Server keeps one JSON file
 * per case). Each file under tests/fixtures/openrtb/{exemplary,supplemental,invalid}/ holds:
 *
 *   description  what the case proves
 *   campaigns    a config bundle, or `{ "base": "<name>", ...extra }`: the shared bundle
 *                tests/fixtures/openrtb/bundles/<name>.json with the extra exchanges,
 *                advertisers and campaigns appended (and any other key replaced)
 *   exchange     optional: posts to /bid/<exchange> instead of /bid
 *   seed         optional: what the stores hold before the request, written through their interfaces
 *                (bench/scenario/fixtures.ts): { segments?: [{ user, segments }],
 *                frequency?: [{ user, window, campaign | creative | advertiser, count }],
 *                budgets?: [{ campaign, remaining }] } (tests/fixtures/openrtb/README.md)
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
 * A fixture with a seed runs on a bid route of its own, with fresh in-process stores (segments,
 * frequency counters, budgets) seeded before the request, and must fail without its seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import uws from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, validBundle, type HttpResult } from './helpers/bidder.js';
import { buildSnapshot, SnapshotRef } from '../src/campaigns/snapshot.js';
import { loadSettings } from '../src/settings/settings.js';
import { BidderMetrics } from '../src/metrics/bidder-metrics.js';
import { registerBidRoutes } from '../src/http/bid-route.js';
import { listenExclusive, type Listening } from '../src/http/listen.js';
import { NoticeSigner, parseSigningKeys } from '../src/events/notice-signer.js';
import type { ConfigBundle } from '../src/campaigns/schema.js';
import { NO_BID_REASONS } from '../src/bidding/no-bid-reason.js';
import { checkBid } from './conformance/check-bid.js';
import { FIXTURE_KINDS, readFixtures, resolveBundle, seedStores, type FixtureSeed } from '../bench/scenario/fixtures.js';
import { MemorySegmentStore } from '../src/audiences/memory-segment-store.js';
import { AudienceService } from '../src/audiences/audience-service.js';
import { AudienceMetrics } from '../src/metrics/audience-metrics.js';
import { MemoryFrequencyStore } from '../src/money/frequency-store.js';
import { FrequencyService } from '../src/money/frequency.js';
import { MemoryBudgetStore } from '../src/money/memory-budget-store.js';
import { BudgetLedger } from '../src/money/budget-ledger.js';

const ROOT = new URL('./fixtures/openrtb/', import.meta.url);
const KINDS = FIXTURE_KINDS;
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
  seed?: FixtureSeed;
  request: unknown;
  expect: Expectation;
}

const FIXTURE_KEYS = new Set(['description', 'campaigns', 'exchange', 'seed', 'request', 'expect']);
const SEED_KEYS: Record<string, Set<string>> = {
  segments: new Set(['user', 'segments']),
  frequency: new Set(['user', 'window', 'campaign', 'creative', 'advertiser', 'count']),
  budgets: new Set(['campaign', 'remaining']),
};
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
  if (f.seed !== undefined) {
    if (typeof f.seed !== 'object' || f.seed === null || Object.keys(f.seed).length === 0) fail('seed must be an object that seeds something');
    for (const [part, rows] of Object.entries(f.seed)) {
      if (!SEED_KEYS[part]) fail(`unknown key seed.${part}`);
      if (!Array.isArray(rows) || rows.length === 0) fail(`seed.${part} must be a non-empty array`);
      for (const row of rows as object[]) for (const k of Object.keys(row)) if (!SEED_KEYS[part].has(k)) fail(`unknown key seed.${part}[].${k}`);
    }
  }
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

function loadKind(kind: Kind): [string, Fixture][] {
  return readFixtures(kind).map(([n, f]) => [n, checkShape(`${kind}/${n}`, f)]);
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
const settings = loadSettings({ HOST: '127.0.0.1', PORT: '0', ADMIN_PORT: '0', INSTANCE_ID: 'fixtures', DEBUG_NOBID: '1' });
const signer = new NoticeSigner(parseSigningKeys('fixtures:0123456789abcdef0123456789abcdef'));
beforeAll(async () => {
  const app = uws.App();
  registerBidRoutes(app, { settings, snapshots, metrics: new BidderMetrics({ defaultMetrics: false }), signer, clock: () => 0 });
  server = await listenExclusive(app, '127.0.0.1', 0);
});
afterAll(() => server?.close());

/**
 * A bid route of its own for a fixture with a seed: the bundle's snapshot, fresh in-process
 * segment, frequency and budget stores with the seed written into them, the audience registry
 * read and the budget leases taken, as a bid thread would have them before the request.
 */
async function seededRoute(bundle: ConfigBundle, seed: FixtureSeed): Promise<{ port: number; close(): Promise<void> }> {
  const routeSnapshots = new SnapshotRef(buildSnapshot(validBundle(bundle), 1));
  const metrics = new BidderMetrics({ defaultMetrics: false });
  const segmentStore = new MemorySegmentStore();
  const frequencyStore = new MemoryFrequencyStore();
  const budgetStore = new MemoryBudgetStore();
  await seedStores(seed, { segments: segmentStore, frequency: frequencyStore, budgets: budgetStore }, routeSnapshots.current, Date.now());
  const audiences = new AudienceService(segmentStore, new AudienceMetrics(metrics.registry));
  await audiences.refreshRegistry(true);
  const money = new BudgetLedger({
    holder: 'fixtures-0',
    store: budgetStore,
    snapshots: routeSnapshots,
    sliceFraction: 0.01,
    renewMs: 60_000,
    holdMs: 60_000,
    leaseTtlMs: 60_000,
    staleMs: 60_000,
    eventTtlSec: 3600,
  });
  await money.renew();
  const frequency = new FrequencyService(frequencyStore, { cacheTtlMs: 0, holdMs: 0, maxUsers: 100 });
  const app = uws.App();
  registerBidRoutes(app, { settings, snapshots: routeSnapshots, metrics, signer, clock: () => 0, audiences, frequency, money });
  const listening = await listenExclusive(app, '127.0.0.1', 0);
  return {
    port: listening.port,
    async close() {
      listening.close();
      await Promise.all([audiences.close(), money.stop()]);
    },
  };
}

let version = 0;
/** The fixture's request through the bid route: the shared one, or one seeded with `seed`. */
async function post(f: Fixture, seed: FixtureSeed | undefined): Promise<HttpResult> {
  const bundle = resolveBundle(f);
  const path = f.exchange === undefined ? '/bid' : `/bid/${f.exchange}`;
  const body = typeof f.request === 'string' ? f.request : JSON.stringify(f.request);
  if (seed === undefined) {
    snapshots.swap(buildSnapshot(validBundle(bundle), ++version));
    return httpRequest(server.port, 'POST', path, body);
  }
  const route = await seededRoute(bundle, seed);
  try {
    return await httpRequest(route.port, 'POST', path, body);
  } finally {
    await route.close();
  }
}

const run = async (f: Fixture): Promise<void> => check(f, await post(f, f.seed));

/** Throws (an assertion error) when the answer is not what the fixture expects. */
function check(f: Fixture, res: HttpResult): void {
  const bundle = resolveBundle(f);
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

  it('every seeded exemplary fixture fails without its seed (it shows what the seed changes)', async () => {
    const seeded = fixtures.exemplary.filter(([, f]) => f.seed !== undefined);
    expect(seeded.length).toBeGreaterThan(0);
    for (const [name, f] of seeded) {
      const res = await post(f, {});
      expect(() => check(f, res), `${name} passes with empty stores`).toThrow();
    }
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
