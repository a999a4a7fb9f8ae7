/**
 * `npm run bench:audiences`: rule audiences at scale, both ways they are kept fresh.
 *
 * 1. Materialisation: N events (default 10,000,000; pixels, impressions, clicks and conversions of
 *    many advertisers and users over 60 days, from a seeded generator) are loaded into the event
 *    store (chDB in this process by default, or a ClickHouse server with --clickhouse) through its
 *    ordinary insert, then the scheduled rebuild (rule-rebuild.ts RuleRebuilder, one full pass)
 *    materialises every advertiser's rule audiences into the in-process segment store. Reported:
 *    load time, rebuild time, events/s of each, peak RSS of the process (chDB included), members.
 *    Correctness: for a sample of users (every user with --check-every 1) the expected membership
 *    of every rule is computed from the generated events and compared with the store.
 * 2. The online path: the cost of one pixel or notice event (rule-audiences.ts RuleAudiences.learn,
 *    with the store write) with 20, 200 and 2,000 live rules (10 rules per advertiser, so more rules
 *    means more advertisers, as in a shared bidder).
 *
 * Results: <out>/audiences-<stamp>.json and audiences-latest.json.
 *
 *   npm run bench:audiences -- [--events 10000000] [--users N] [--advertisers 20] [--online-rules 20,200,2000]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { ChdbStore } from '../src/events/chdb-store.js';
import { ClickHouseStore } from '../src/events/clickhouse-store.js';
import type { EventStore } from '../src/events/event-store.js';
import { migrate } from '../src/events/migrate.js';
import { UserKeyer } from '../src/events/user-key.js';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS } from '../src/audiences/audience-service.js';
import { MemorySegmentStore } from '../src/audiences/memory-segment-store.js';
import { eventKey, RuleAudiences, type RuleEvent } from '../src/audiences/rule-audiences.js';
import { RuleRebuilder } from '../src/audiences/rule-rebuild.js';
import type { AudienceRule, SegmentMeta } from '../src/audiences/segment-store.js';
import { AudienceMetrics } from '../src/metrics/audience-metrics.js';
import { userHash } from '../src/money/frequency.js';

const HELP = `npm run bench:audiences -- [options]

  --events <n>          events loaded and materialised (default 10000000)
  --users <n>           distinct users (default events / 10)
  --advertisers <n>     advertisers, 3 rule audiences each (default 20)
  --days <n>            days of history (default 60)
  --batch <n>           rows per insert (default 100000)
  --check-every <n>     check the membership of every n-th user (default 1 up to 1,000,000 events, else 1000)
  --online-rules <list> live rule counts for the online path (default 20,200,2000)
  --online-events <n>   events per online measurement (default 20000)
  --skip-load           only the online path
  --clickhouse <url>    a ClickHouse server instead of chDB in this process
  --seed <n>            generator seed (default 1)
  --out <dir>           where the report goes (default bench/results)
`;

const DAY = 86_400;
const KEY_SECRET = 'bench-audiences-user-key-secret';

export interface AudienceBenchOptions {
  events: number;
  users: number;
  advertisers: number;
  days: number;
  batch: number;
  checkEvery: number;
  onlineRules: number[];
  onlineEvents: number;
  skipLoad: boolean;
  clickhouse?: string;
  seed: number;
  /** The rebuild's "now" (unix seconds); the generator spreads events over the days before it. */
  nowSec: number;
}

export interface OnlineResult {
  rules: number;
  advertisers: number;
  /** Microseconds per event, the store write included (mean over the run). */
  pixel_us: number;
  notice_us: number;
  /** Memberships the run's events wrote (a sanity check that the rules matched). */
  members: number;
}

export interface AudienceBenchReport {
  started: string;
  engine: string;
  events: number;
  users: number;
  advertisers: number;
  rules: number;
  load?: { seconds: number; events_per_s: number; rss_mb: number };
  rebuild?: { seconds: number; events_per_s: number; members: number; removed: number; rss_mb: number; per_rule: { segment: string; members: number }[] };
  check?: { users: number; memberships: number; mismatches: number };
  peak_rss_mb: number;
  online: OnlineResult[];
}

/** mulberry32: small, fast, seeded. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Kind = 'visit' | 'product_view' | 'add_to_cart' | 'purchase' | 'impression' | 'click' | 'conversion';
/** The event mix: cumulative shares. */
const MIX: [Kind, number][] = [
  ['visit', 0.35], ['product_view', 0.55], ['add_to_cart', 0.65], ['purchase', 0.7],
  ['impression', 0.9], ['click', 0.98], ['conversion', 1],
];
const NOTICE_TABLE: Partial<Record<Kind, string>> = { impression: 'impressions', click: 'clicks', conversion: 'conversions' };

/** Each advertiser's three rule audiences. */
export function advertiserRules(advertiserId: string): SegmentMeta[] {
  const meta = (suffix: string, rule: AudienceRule): SegmentMeta => ({
    id: `${advertiserId}-${suffix}`, name: `${advertiserId} ${suffix}`, advertiserId, ttlSeconds: rule.lookbackDays * DAY,
    createdAt: new Date(0).toISOString(), rule,
  });
  return [
    meta('visited-not-bought', { source: 'pixel', events: ['visit', 'product_view'], excludeEvents: ['purchase'], lookbackDays: 30 }),
    meta('cart', { source: 'pixel', events: ['add_to_cart'], lookbackDays: 7 }),
    meta('clickers', { source: 'notices', events: ['click'], excludeEvents: ['conversion'], lookbackDays: 14 }),
  ];
}

/** What the sampled users did: per (advertiser, user, kind), the last time (unix seconds). */
class Truth {
  private readonly last = new Map<string, number>();
  note(advertiser: number, user: number, kind: Kind, time: number): void {
    const k = `${advertiser}/${user}/${kind}`;
    if ((this.last.get(k) ?? 0) < time) this.last.set(k, time);
  }
  lastOf(advertiser: number, user: number, kinds: readonly string[]): number {
    let t = 0;
    for (const kind of kinds) t = Math.max(t, this.last.get(`${advertiser}/${user}/${kind}`) ?? 0);
    return t;
  }
}

const rssMb = () => Math.round(process.memoryUsage().rss / 1_048_576);
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function openStore(o: AudienceBenchOptions): Promise<{ events: EventStore; engine: string; dispose: () => Promise<void> }> {
  if (o.clickhouse) {
    const events = await ClickHouseStore.open(o.clickhouse);
    return { events, engine: 'clickhouse', dispose: () => events.close() };
  }
  const dir = await mkdtemp(join(tmpdir(), 'bench-audiences-'));
  const events = await ChdbStore.open(join(dir, 'data'), { database: 'bench' });
  return {
    events,
    engine: 'chdb',
    dispose: async () => {
      await events.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Loads the generated events; returns what the sampled users did. */
async function load(events: EventStore, o: AudienceBenchOptions, pixelKeys: string[], noticeKeys: string[]): Promise<Truth> {
  const random = rng(o.seed);
  const truth = new Truth();
  const tables = new Map<string, Record<string, unknown>[]>();
  const flush = async (all: boolean) => {
    for (const [table, rows] of tables)
      if (rows.length > 0 && (all || rows.length >= o.batch)) {
        tables.set(table, []);
        await events.insert(table, rows);
      }
  };
  const push = (table: string, row: Record<string, unknown>) => {
    let rows = tables.get(table);
    if (!rows) tables.set(table, (rows = []));
    rows.push(row);
  };
  for (let i = 0; i < o.events; i++) {
    const r = random();
    const kind = MIX.find(([, share]) => r < share)![0];
    // Skewed: a few users are seen often, most rarely; advertisers likewise.
    const user = Math.floor(o.users * random() ** 2);
    const advertiser = Math.floor(o.advertisers * random() ** 1.5);
    const time = o.nowSec - Math.floor(random() * o.days * DAY);
    if (user % o.checkEvery === 0) truth.note(advertiser, user, kind, time);
    const common = {
      event_id: `${kind}:${i}`, type: kind in NOTICE_TABLE ? kind : 'pixel', event_time: time, exchange: 'ex1',
      advertiser_id: `adv${advertiser}`, bid_id: `b${i}`, request_id: '', imp_id: '1', deal_id: '',
    };
    const table = NOTICE_TABLE[kind];
    if (table === undefined)
      push('pixels', {
        ...common, campaign_id: '', creative_id: '', event_name: kind, user_key: pixelKeys[user],
        value_base: kind === 'purchase' ? 25 : 0, currency: kind === 'purchase' ? 'USD' : '', item: '',
      });
    else
      push(table, {
        ...common, campaign_id: `c${advertiser}`, creative_id: 'cr', user_key: noticeKeys[user],
        ...(kind === 'conversion' ? { order_id: `o${i}`, value_base: 10, currency: 'USD' } : {}),
      });
    if ((i & 0x3fff) === 0) await flush(false);
  }
  await flush(true);
  return truth;
}

/** Compares the store with the membership expected of every sampled user. */
async function check(store: MemorySegmentStore, o: AudienceBenchOptions, truth: Truth, pixelKeys: string[], noticeKeys: string[]) {
  let users = 0;
  let memberships = 0;
  let mismatches = 0;
  for (let user = 0; user < o.users; user += o.checkEvery) {
    users++;
    const [p, n] = store.lookupNow([eventKey(pixelKeys[user]), eventKey(noticeKeys[user])]);
    const have = new Set([...(p ?? []), ...(n ?? [])].map((m) => m.segment));
    for (let a = 0; a < o.advertisers; a++)
      for (const meta of advertiserRules(`adv${a}`)) {
        const rule = meta.rule!;
        const from = o.nowSec - rule.lookbackDays * DAY;
        const expected = truth.lastOf(a, user, rule.events) >= from && truth.lastOf(a, user, rule.excludeEvents ?? []) < from;
        if (expected) memberships++;
        if (expected !== have.has(meta.id)) mismatches++;
      }
  }
  return { users, memberships, mismatches };
}

/** The online path with `ruleCount` live rules: mean µs per pixel and per notice event, the store write included. */
async function online(ruleCount: number, eventsPerRun: number, seed: number): Promise<OnlineResult> {
  const store = new MemorySegmentStore();
  const audiences = new AudienceService(store, new AudienceMetrics(new Registry()), DEFAULT_AUDIENCE_SETTINGS);
  const perAdvertiser = 10;
  const advertisers = Math.max(1, Math.ceil(ruleCount / perAdvertiser));
  const names = ['visit', 'product_view', 'add_to_cart', 'purchase', 'signup'];
  let made = 0;
  for (let a = 0; a < advertisers && made < ruleCount; a++)
    for (let j = 0; j < perAdvertiser && made < ruleCount; j++, made++) {
      const notices = j % 3 === 2;
      const rule: AudienceRule = notices
        ? { source: 'notices', events: [j % 2 ? 'click' : 'impression'], excludeEvents: ['conversion'], lookbackDays: 7 + j, campaignIds: j % 4 === 0 ? [`c${a}`] : undefined }
        : { source: 'pixel', events: [names[j % 3], names[(j + 1) % 3]], excludeEvents: ['purchase'], lookbackDays: 7 + j };
      await store.putSegment({ id: `adv${a}-r${j}`, name: `r${j}`, advertiserId: `adv${a}`, ttlSeconds: rule.lookbackDays * DAY, createdAt: new Date(0).toISOString(), rule });
    }
  await audiences.refreshRegistry(true);
  const rules = new RuleAudiences(audiences);
  const random = rng(seed);
  const nowSec = Math.floor(Date.now() / 1000);
  const run = async (source: RuleEvent['source']): Promise<number> => {
    const kinds = source === 'pixel' ? names : ['impression', 'click', 'conversion'];
    const sample: RuleEvent[] = [];
    for (let i = 0; i < eventsPerRun; i++) {
      const a = Math.floor(random() * advertisers);
      sample.push({ source, advertiserId: `adv${a}`, event: kinds[Math.floor(random() * kinds.length)], campaignId: source === 'notices' ? `c${a}` : undefined, userKey: `u${source}${Math.floor(random() * 50_000)}`, nowSec });
    }
    const pending: unknown[] = [];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < sample.length; i++) {
      pending.push(rules.learn(sample[i]));
      if (pending.length === 1_000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await new Promise((r) => setImmediate(r)); // writes started in the background settle too
    return Number(process.hrtime.bigint() - t0) / 1_000 / sample.length;
  };
  await run('pixel'); // warm up
  const pixel_us = await run('pixel');
  const notice_us = await run('notices');
  return { rules: made, advertisers, pixel_us: Math.round(pixel_us * 100) / 100, notice_us: Math.round(notice_us * 100) / 100, members: store.userCount };
}

export async function runAudienceBench(o: AudienceBenchOptions, say: (line: string) => void = () => {}): Promise<AudienceBenchReport> {
  const report: AudienceBenchReport = {
    started: new Date().toISOString(), engine: o.clickhouse ? 'clickhouse' : 'chdb', events: o.events, users: o.users,
    advertisers: o.advertisers, rules: o.advertisers * 3, peak_rss_mb: 0, online: [],
  };
  if (!o.skipLoad) {
    const keyer = new UserKeyer(KEY_SECRET);
    const pixelKeys: string[] = new Array(o.users);
    const noticeKeys: string[] = new Array(o.users);
    for (let u = 0; u < o.users; u++) {
      const uid = `benchuser${u}`;
      pixelKeys[u] = keyer.key(uid);
      noticeKeys[u] = keyer.key(userHash([`uid:${uid}`])!);
    }
    const { events, engine, dispose } = await openStore(o);
    report.engine = engine;
    try {
      await migrate(events);
      let t0 = performance.now();
      const truth = await load(events, o, pixelKeys, noticeKeys);
      let seconds = (performance.now() - t0) / 1000;
      report.load = { seconds: round(seconds), events_per_s: Math.round(o.events / seconds), rss_mb: rssMb() };
      say(`load: ${fmt(o.events)} events in ${report.load.seconds} s (${fmt(report.load.events_per_s)} events/s), RSS ${report.load.rss_mb} MB`);

      const store = new MemorySegmentStore(() => o.nowSec);
      const audiences = new AudienceService(store, new AudienceMetrics(new Registry()), DEFAULT_AUDIENCE_SETTINGS);
      for (let a = 0; a < o.advertisers; a++) for (const meta of advertiserRules(`adv${a}`)) await store.putSegment(meta);
      await audiences.refreshRegistry(true);
      const rebuilder = new RuleRebuilder(events, audiences, 3_600_000, 5_000, () => o.nowSec * 1000);
      t0 = performance.now();
      const results = await rebuilder.tick();
      seconds = (performance.now() - t0) / 1000;
      const members = results.reduce((s, r) => s + r.members, 0);
      report.rebuild = {
        seconds: round(seconds), events_per_s: Math.round(o.events / seconds), members, removed: results.reduce((s, r) => s + r.removed, 0),
        rss_mb: rssMb(), per_rule: results.map((r) => ({ segment: r.segment, members: r.members })),
      };
      say(`rebuild: ${report.rules} rules in ${report.rebuild.seconds} s (${fmt(report.rebuild.events_per_s)} events/s), ${fmt(members)} memberships, RSS ${report.rebuild.rss_mb} MB`);
      report.check = await check(store, o, truth, pixelKeys, noticeKeys);
      say(`check: ${fmt(report.check.users)} users, ${fmt(report.check.memberships)} expected memberships, ${report.check.mismatches} mismatches`);
    } finally {
      await dispose();
    }
  }
  for (const count of o.onlineRules) {
    const r = await online(count, o.onlineEvents, o.seed);
    report.online.push(r);
    say(`online: ${fmt(r.rules)} rules (${r.advertisers} advertisers): ${r.pixel_us} µs per pixel event, ${r.notice_us} µs per notice event`);
  }
  report.peak_rss_mb = peakRssMb();
  say(`peak RSS ${report.peak_rss_mb} MB`);
  return report;
}

const round = (x: number) => Math.round(x * 100) / 100;
const fmt = (n: number) => n.toLocaleString('en-US');

function parse(argv: string[]): { options: AudienceBenchOptions; out: string } | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string' }, users: { type: 'string' }, advertisers: { type: 'string' }, days: { type: 'string' },
      batch: { type: 'string' }, 'check-every': { type: 'string' }, 'online-rules': { type: 'string' }, 'online-events': { type: 'string' },
      'skip-load': { type: 'boolean' }, clickhouse: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return undefined;
  const int = (v: string | undefined, d: number, name: string) => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const events = int(values.events, 10_000_000, 'events');
  const options: AudienceBenchOptions = {
    events,
    users: int(values.users, Math.max(1, Math.floor(events / 10)), 'users'),
    advertisers: int(values.advertisers, 20, 'advertisers'),
    days: int(values.days, 60, 'days'),
    batch: int(values.batch, 100_000, 'batch'),
    checkEvery: int(values['check-every'], events <= 1_000_000 ? 1 : 1000, 'check-every'),
    onlineRules: (values['online-rules'] ?? '20,200,2000').split(',').map((s) => int(s, 0, 'online-rules')),
    onlineEvents: int(values['online-events'], 20_000, 'online-events'),
    skipLoad: values['skip-load'] ?? false,
    clickhouse: values.clickhouse,
    seed: int(values.seed, 1, 'seed'),
    nowSec: Math.floor(Date.now() / 1000),
  };
  return { options, out: resolve(values.out ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results')) };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (!parsed) return void process.stdout.write(HELP);
  const { options, out } = parsed;
  const report = await runAudienceBench(options, (line) => process.stdout.write(`${line}\n`));
  await mkdir(out, { recursive: true });
  const text = JSON.stringify(report, null, 2) + '\n';
  await writeFile(join(out, `audiences-${report.started.replace(/[:.]/g, '-')}.json`), text);
  await writeFile(join(out, 'audiences-latest.json'), text);
  process.stdout.write(`wrote ${join(out, 'audiences-latest.json')}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
