/**
 * The OpenRTB fixtures of tests/fixtures/openrtb/ (format: its README) as data: read, their config
 * bundles resolved, and their seeds (segments, frequency counts, budgets) written to the stores
 * through the stores' own interfaces. The fixture runner (tests/fixtures.test.ts) and the
 * benchmarks' request mix (bench/hot-path.ts, bench/run.ts) both read fixtures here, so the bench
 * sends what the fixtures describe.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import type { Snapshot } from '../../src/campaigns/snapshot.js';
import type { SegmentStore } from '../../src/audiences/segment-store.js';
import { bucketOf, WINDOWS, type FrequencyStore, type FrequencyWindow } from '../../src/money/frequency-store.js';
import { userHash } from '../../src/money/frequency.js';
import type { BudgetStore } from '../../src/money/budget-store.js';
import { accountsOf, dayOf } from '../../src/money/accounts.js';

export const FIXTURE_KINDS = ['exemplary', 'supplemental', 'invalid'] as const;
export type FixtureKind = (typeof FIXTURE_KINDS)[number];

/** The user `user` (a segment-store key) is in `segments` (segments not yet defined are created). */
export interface SegmentSeed {
  readonly user: string;
  readonly segments: readonly string[];
}

/** `user` (the request's first user key) already saw the campaign, creative or advertiser `count` times in `window`. */
export interface FrequencySeed {
  readonly user: string;
  readonly window: FrequencyWindow;
  readonly campaign?: string;
  readonly creative?: string;
  readonly advertiser?: string;
  readonly count: number;
}

/** What is left of each of the campaign's money budgets (daily, total), in the campaign's currency: 0 = spent out. */
export interface BudgetSeed {
  readonly campaign: string;
  readonly remaining: number;
}

export interface FixtureSeed {
  readonly segments?: readonly SegmentSeed[];
  readonly frequency?: readonly FrequencySeed[];
  readonly budgets?: readonly BudgetSeed[];
}

export interface Fixture {
  readonly description: string;
  readonly campaigns: ConfigBundle | ({ base: string } & ConfigBundle);
  readonly exchange?: string;
  readonly seed?: FixtureSeed;
  readonly request: unknown;
  readonly expect: { readonly status: number } & Record<string, unknown>;
}

/** tests/fixtures/openrtb/ of this checkout, from bench/scenario/ or its build in dist/bench/scenario/. */
export const FIXTURES_DIR = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++, dir = dirname(dir)) {
    const candidate = join(dir, 'tests', 'fixtures', 'openrtb');
    if (existsSync(candidate)) return candidate;
  }
  return join(process.cwd(), 'tests', 'fixtures', 'openrtb');
})();

const readJson = (path: string): any => JSON.parse(readFileSync(path, 'utf8'));

/** The fixture files of one kind, sorted by name, unchecked (the runner checks their shape). */
export function readFixtures(kind: FixtureKind): [string, unknown][] {
  const dir = join(FIXTURES_DIR, kind);
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => [n, readJson(join(dir, n))]);
}

export const BUNDLE_LISTS = ['exchanges', 'advertisers', 'campaigns'] as const;

/** The fixture's bundle: its own, or the shared `bundles/<base>.json` with its lists appended (any other key replaced). */
export function resolveBundle(f: Pick<Fixture, 'campaigns'>): ConfigBundle {
  const { base, ...extra } = f.campaigns as { base?: string } & ConfigBundle;
  if (base === undefined) return extra;
  const bundle: ConfigBundle = readJson(join(FIXTURES_DIR, 'bundles', `${base}.json`));
  const merged: Record<string, unknown> = { ...bundle, ...extra };
  for (const key of BUNDLE_LISTS) merged[key] = [...(bundle[key] ?? []), ...(extra[key] ?? [])];
  return merged as ConfigBundle;
}

/** Where a fixture's seed goes: the stores the bid route reads (absent: that part of a seed is refused). */
export interface SeedStores {
  readonly segments?: SegmentStore;
  readonly frequency?: FrequencyStore;
  readonly budgets?: BudgetStore;
}

/** A day: seeded memberships outlive any run. */
const SEGMENT_SEED_TTL_SEC = 86_400;

/**
 * Writes the seed into the stores, as uploads, impression notices and spend would, against the
 * campaigns of `snap` (an unknown campaign, creative or advertiser, or a budget seed for a campaign
 * without a money budget, throws: a typo must not make a fixture prove less). Afterwards the
 * caller refreshes what caches the stores: the audience registry, the budget ledger's leases.
 */
export async function seedStores(seed: FixtureSeed, stores: SeedStores, snap: Snapshot, nowMs: number): Promise<void> {
  const need = <T>(store: T | undefined, what: string): T => {
    if (store === undefined) throw new Error(`a ${what} seed needs a ${what} store`);
    return store;
  };
  for (const s of seed.segments ?? []) await seedSegments(need(stores.segments, 'segments'), s, nowMs);
  for (const s of seed.frequency ?? []) await seedFrequency(need(stores.frequency, 'frequency'), s, snap, nowMs);
  for (const s of seed.budgets ?? []) await seedBudget(need(stores.budgets, 'budgets'), s, snap, nowMs);
}

async function seedSegments(store: SegmentStore, s: SegmentSeed, nowMs: number): Promise<void> {
  for (const id of s.segments)
    if ((await store.getSegment(id)) === undefined) await store.putSegment({ id, name: id, ttlSeconds: SEGMENT_SEED_TTL_SEC, createdAt: new Date(nowMs).toISOString() });
  await store.addMemberships([{ key: s.user, segments: s.segments, expiresAt: Math.floor(nowMs / 1000) + SEGMENT_SEED_TTL_SEC }]);
}

/** The counter's field as the frequency store keys it (`c:`, `cr:`, `a:` and the id). */
function frequencyField(s: FrequencySeed, snap: Snapshot): string {
  const campaigns = [...snap.index.anyById.values()];
  const named = [s.campaign, s.creative, s.advertiser].filter((x) => x !== undefined);
  if (named.length !== 1) throw new Error('a frequency seed names exactly one of campaign, creative, advertiser');
  if (s.campaign !== undefined && snap.index.anyById.has(s.campaign)) return `c:${s.campaign}`;
  if (s.creative !== undefined && campaigns.some((c) => [c.banners, c.videos, c.audios, c.natives].some((list) => list.some((cr) => cr.id === s.creative)))) return `cr:${s.creative}`;
  if (s.advertiser !== undefined && campaigns.some((c) => c.advertiserId === s.advertiser)) return `a:${s.advertiser}`;
  throw new Error(`frequency seed: no campaign, creative or advertiser "${named[0]}"`);
}

async function seedFrequency(store: FrequencyStore, s: FrequencySeed, snap: Snapshot, nowMs: number): Promise<void> {
  if (!WINDOWS.includes(s.window)) throw new Error(`frequency seed: unknown window "${s.window}"`);
  if (!(Number.isInteger(s.count) && s.count > 0)) throw new Error('frequency seed: count is a positive integer');
  const hit = { fields: [frequencyField(s, snap)], buckets: [{ window: s.window, bucket: bucketOf(s.window, Math.floor(nowMs / 1000)) }] };
  const user = userHash([s.user])!;
  for (let i = 0; i < s.count; i++) await store.record(user, hit);
}

async function seedBudget(store: BudgetStore, s: BudgetSeed, snap: Snapshot, nowMs: number): Promise<void> {
  const c = snap.index.anyById.get(s.campaign);
  if (c === undefined) throw new Error(`budget seed: no campaign "${s.campaign}"`);
  if (!(s.remaining >= 0)) throw new Error('budget seed: remaining is a number ≥ 0');
  const accounts = accountsOf(c, dayOf(nowMs)).filter((a) => a.owner === 'campaign' && a.unit === 'money');
  if (accounts.length === 0) throw new Error(`budget seed: campaign "${s.campaign}" has no money budget`);
  for (const a of accounts) {
    const spent = Math.max(0, a.limit - Math.round(s.remaining * 1e6));
    await store.recordSpend(`fixture-seed:${a.account}:${nowMs}`, [{ account: a.account, amount: spent, ttlSec: a.ttlSec }], 60);
  }
}

/** One exemplary fixture's request as benchmark input. */
export interface FixtureRequest {
  readonly name: string;
  readonly body: Buffer;
  /** The request's tmax in ms (the bidder's default 100 when it has none). */
  readonly tmax: number;
  readonly seed: FixtureSeed | undefined;
  /** What the fixture expects: the status, and for a 200 the creative of each bid. */
  readonly status: number;
  readonly crids: readonly string[];
}

/** The exemplary fixtures as benchmark input: the campaigns they bid with, and their requests. */
export interface FixtureMix {
  /** The exchanges, advertisers and campaigns of their bundles (each once). */
  readonly bundle: Required<Pick<ConfigBundle, 'exchanges' | 'advertisers' | 'campaigns'>>;
  readonly requests: readonly FixtureRequest[];
}

/**
 * The exemplary fixtures that post to the default exchange (the benchmarks' drivers post every
 * request to one URL; `legacy-25-eur` posts to `/bid/legacy` and is left out). `seeded: false`
 * leaves out those with a seed too, for a bidder whose stores the bench cannot reach (bench/run.ts).
 */
export function exemplaryMix(o: { seeded: boolean }): FixtureMix {
  const bundle: FixtureMix['bundle'] = { exchanges: [], advertisers: [], campaigns: [] };
  const requests: FixtureRequest[] = [];
  for (const [name, f] of readFixtures('exemplary') as [string, Fixture][]) {
    if (f.exchange !== undefined || (f.seed !== undefined && !o.seeded)) continue;
    const resolved = resolveBundle(f);
    for (const key of BUNDLE_LISTS) for (const item of resolved[key] ?? []) if (!(bundle[key] as { id: string }[]).some((x) => x.id === item.id)) (bundle[key] as object[]).push(item);
    const request = f.request as { tmax?: number };
    const bids = (f.expect.bids ?? []) as { crid: string }[];
    requests.push({ name, body: Buffer.from(JSON.stringify(f.request)), tmax: request.tmax ?? 100, seed: f.seed, status: f.expect.status, crids: bids.map((b) => b.crid) });
  }
  return { bundle, requests };
}

/**
 * What of the fixtures' bundle a scenario bundle lacks: exchanges it does not have (by id; the
 * scenario's own keep their settings), and every advertiser and campaign (an id the scenario
 * already uses throws: a fixture campaign must not silently go missing).
 */
export function fixtureAdditions(scenario: ConfigBundle, fixtures: FixtureMix['bundle']): FixtureMix['bundle'] {
  const ids = (list: readonly { id: string }[] | undefined) => new Set((list ?? []).map((x) => x.id));
  const taken = { advertisers: ids(scenario.advertisers), campaigns: ids(scenario.campaigns) };
  for (const key of ['advertisers', 'campaigns'] as const)
    for (const item of fixtures[key]) if (taken[key].has(item.id)) throw new Error(`fixture ${key}: "${item.id}" is taken by the scenario`);
  const exchanges = ids(scenario.exchanges);
  return { exchanges: fixtures.exchanges.filter((e) => !exchanges.has(e.id)), advertisers: fixtures.advertisers, campaigns: fixtures.campaigns };
}

/** Whether an answer is what the fixture expects: its status and, for a bid, each expected creative. */
export function answeredAsExpected(r: FixtureRequest, status: number, body: string): boolean {
  if (status !== r.status) return false;
  return r.crids.every((crid) => body.includes(`"crid":${JSON.stringify(crid)}`));
}
