/**
 * `npm run bench:hot-path`: the bid route's JavaScript alone, in one thread, without sockets.
 *
 * The scenario of `npm run bench` (campaigns, users in the in-process segment store, the request
 * mix with floors scaled to a 20-40 % bid rate) is built in this process, with the exemplary
 * fixtures (tests/fixtures/openrtb/exemplary/) in it: their campaigns added to the scenario's,
 * their requests to the mix, their seeds (frequency counts, budgets, segments) written into the
 * stores; the bench reports how many of them got the answer their fixture expects. The bid route is
 * registered on a stand-in for the uWS app and each request body is handed to it as uWS would
 * (headers, one data chunk), with budgets, frequency caps, the bid log and metrics all on. The
 * answers are counted, not sent.
 *
 * It reports microseconds per request (median of rounds) for the whole route and for its stages
 * measured alone (parse; parse + decide), so a change to the hot path can be judged in seconds
 * and its CPU profile read without the noise of sockets and a load generator. The medians also go
 * to bench/results/hot-path-latest.json (`--out`): json_parse_us, view_us, decide_us, route_us,
 * and route_over_json_parse (the issue's target: at most 3 with 1,000 campaigns).
 *
 *   npm run bench:hot-path -- --campaigns 1000 --users 1000000
 *   node --cpu-prof dist/bench/hot-path.js --rounds 20
 */
import { parseArgs } from 'node:util';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { writeScenarioConfig } from './scenario/campaigns.js';
import { searchFloorScale, type CalibrationStep } from './calibrate.js';
import { buildRequestMix, setFloorScale } from './scenario/requests.js';
import { answeredAsExpected, exemplaryMix, fixtureAdditions, type FixtureRequest } from './scenario/fixtures.js';
import { buildRoute, routeModules, type Handler } from './route-build.js';
import { allocationsOf, type AllocationSite } from './allocations.js';
import { loadBundleFromDir } from '../src/campaigns/load-bundle.js';
import { userKeys } from '../src/audiences/identity.js';
import { readBidRequest } from '../src/openrtb/read-request.js';
import { isRefusal } from '../src/openrtb/protobuf-codec.js';
import { decideFor } from '../src/bidding/bidder.js';
import type { ConfigBundle } from '../src/campaigns/schema.js';
import { OutcomeModelsRef } from '../src/models/outcome-models.js';
import { tableOf, type WeightTable } from '../src/models/model-table.js';
import { Rng } from '../src/simulator/rng.js';
import { privacyOutcome } from '../src/privacy/privacy-outcome.js';

const HELP = `npm run bench:hot-path -- [options]

  --campaigns <n>   campaigns in the scenario (default 1000)
  --users <n>       users with segments in the in-process store (default 1000000)
  --requests <n>    distinct requests in the mix (default 3000)
  --rounds <n>      passes over the mix per measurement (default 15)
  --floor-scale <x> floors multiplier (default: the one giving a 20-40 % bid rate)
  --seed <s>        scenario seed (default 1)
  --only <stage>    measure one stage only (json, parse, decide, route), e.g. under --cpu-prof
  --out <file>      where the medians go as JSON (default bench/results/hot-path-latest.json)
  --clock <c>       wall (default) or cpu: this process's CPU time (user + system), so time spent
                    waiting for a core on a loaded machine is not counted (for A/B runs on shared machines)
  --fixtures <f>    the exemplary fixtures in the mix: all (default), unseeded (leaves out those
                    with a seed: the capped user's campaign is what turns on frequency lookups for
                    every request with a user), or none (the mix of revisions before fixtures joined it)
  --gap-us <µs>     sleep this long after each request (the thread really sleeps, as a bidder
                    does between requests at a low rate): each request then starts with caches
                    gone cold; use with --clock cpu (default 0: back to back)
  --base <dir>      another built checkout (dist/src there): its bid route is built over the same
                    scenario in this process and measured round after round with this one, the
                    order swapped every round (the whole route only; per-round ratios reported)
  --goals <share>   this share of the campaigns on cpc and cpa goals (alternately), priced from
                    ready outcome models (2^18-slot prior, a 2^12-slot table per goal campaign)
  --alloc           also the bytes each stage allocates per request (V8's sampling heap profiler,
                    collected objects included, over two passes of the mix after the timed rounds)
                    and the route's largest allocation sites: a figure that does not drift with
                    the machine's load, and what the garbage collector's time follows
`;

/** Just enough of uWS's request and response for the bid route. */
class FakeExchange {
  status = '';
  /** The body of the last answer (empty for a 204). */
  answer = '';
  answers = { '200': 0, '204': 0, other: 0 };
  private body: ArrayBuffer = new ArrayBuffer(0);
  private readonly headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': '0' };
  readonly req = { getHeader: (h: string) => this.headers[h] ?? '', getParameter: () => undefined } as unknown as HttpRequest;
  readonly res: HttpResponse;
  constructor() {
    const ex = this;
    const res = {
      writeStatus(s: string) {
        ex.status = s;
        return res;
      },
      writeHeader() {
        return res;
      },
      end(body?: string | Uint8Array) {
        ex.answer = body === undefined ? '' : String(body);
        ex.count();
        return res;
      },
      endWithoutBody() {
        ex.answer = '';
        ex.count();
        return res;
      },
      cork(cb: () => void) {
        cb();
        return res;
      },
      onAborted() {
        return res;
      },
      onData(cb: (chunk: ArrayBuffer, last: boolean) => void) {
        cb(ex.body, true);
      },
    };
    this.res = res as unknown as HttpResponse;
  }
  /** Requests answered since `answers` was last reset. */
  get answered(): number {
    return this.answers['200'] + this.answers['204'] + this.answers.other;
  }
  /**
   * Hands `body` to the route and resolves once it is answered. A request whose lookups go to a
   * store (frequency counters not cached) is answered in a later microtask: it is waited for
   * before the next is handed over, as requests arrive apart, so none runs into its deadline
   * behind thousands handed over at once. Undefined: answered at once (nothing to await).
   */
  send(handler: Handler, body: Buffer): Promise<void> | undefined {
    const n = this.answered + 1;
    this.set(body);
    handler(this.res, this.req);
    return this.answered >= n ? undefined : this.answeredBy(n);
  }
  private async answeredBy(n: number): Promise<void> {
    const giveUp = performance.now() + 10_000;
    while (this.answered < n && performance.now() < giveUp) await new Promise((r) => setImmediate(r));
  }
  /**
   * uWS hands the route a view of its receive buffer, without a copy (valid during the callback,
   * where the route copies it out). So each body's ArrayBuffer and Content-Length are made once
   * and handed over again on every pass: a copy per request here would be the bench's cost, not the
   * bidder's (it was about 7 % of the route's samples before).
   */
  set(body: Buffer): void {
    let h = this.handed.get(body);
    if (h === undefined) {
      h = { body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer, length: String(body.byteLength) };
      this.handed.set(body, h);
    }
    this.body = h.body;
    this.headers['content-length'] = h.length;
  }
  private readonly handed = new WeakMap<Buffer, { body: ArrayBuffer; length: string }>();
  private count(): void {
    const k = this.status.slice(0, 3);
    if (k === '200' || k === '204') this.answers[k]++;
    else this.answers.other++;
  }
}

/**
 * Puts every 1/share-th campaign on a goal (cpc and cpa in turn, the target set so that a 0.3 % CTR
 * and a 5 % CVR are worth its base bid) and returns ready models of the production sizes: weights
 * around the logit of those rates, with noise, so prices spread as trained ones do.
 */
function withGoals(bundle: ConfigBundle, share: number): OutcomeModelsRef {
  const rng = new Rng('hot-path-models');
  const table = (bits: number, mean: number) => {
    const w = new Float32Array(1 << bits);
    for (let i = 0; i < w.length; i++) w[i] = mean + (rng.next() - 0.5) * 0.2;
    return tableOf(w, 100_000, 1_000);
  };
  const every = Math.max(1, Math.round(1 / share));
  const clicks = new Map<string, WeightTable>();
  const conversions = new Map<string, WeightTable>();
  (bundle.campaigns ?? []).forEach((c, i) => {
    if (i % every !== 0) return;
    const cpc = (i / every) % 2 === 0;
    c.goal = { type: cpc ? 'cpc' : 'cpa', target: cpc ? c.bid.base / 1000 / 0.003 : c.bid.base / 1000 / 0.003 / 0.05, explore: 0.02 };
    clicks.set(c.id, table(12, 0));
    conversions.set(c.id, table(12, 0));
  });
  // About 15 features a candidate: weights of logit(rate) / 15 give about the rate.
  const family = (rate: number, campaigns: Map<string, WeightTable>) => ({ prior: table(18, Math.log(rate / (1 - rate)) / 15), campaigns, ready: true });
  return new OutcomeModelsRef({ version: 1, click: family(0.003, clicks), conversion: family(0.05, conversions), values: new Map(), record: false });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      campaigns: { type: 'string' },
      users: { type: 'string' },
      requests: { type: 'string' },
      rounds: { type: 'string' },
      'floor-scale': { type: 'string' },
      seed: { type: 'string' },
      only: { type: 'string' },
      goals: { type: 'string' },
      fixtures: { type: 'string' },
      out: { type: 'string' },
      clock: { type: 'string' },
      'gap-us': { type: 'string' },
      alloc: { type: 'boolean' },
      base: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (values.clock !== undefined && values.clock !== 'wall' && values.clock !== 'cpu') throw new Error('--clock is wall or cpu');
  if (values.clock === 'cpu') clockNs = cpuNs;
  const fixtureChoice = values.fixtures ?? 'all';
  if (!['all', 'unseeded', 'none'].includes(fixtureChoice)) throw new Error('--fixtures is all, unseeded or none');
  const campaigns = Number(values.campaigns ?? 1000);
  const users = Number(values.users ?? 1_000_000);
  const requests = Number(values.requests ?? 3000);
  const rounds = Number(values.rounds ?? 15);
  const gapUs = Number(values['gap-us'] ?? 0);
  if (!(gapUs >= 0)) throw new Error('--gap-us is a number of microseconds');
  if (gapUs > 0 && values.clock !== 'cpu') throw new Error('--gap-us needs --clock cpu (the wall clock would count the sleeps)');
  const gap = gapUs > 0 ? () => Atomics.wait(sleepCell, 0, 0, gapUs / 1000) : () => {};
  const seed = values.seed ?? '1';
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const startedAt = new Date().toISOString();

  const tmp = await mkdtemp(join(tmpdir(), 'dsp-hot-path-'));
  try {
    await writeScenarioConfig(tmp, { seed, campaigns });
    const bundle = await loadBundleFromDir(tmp);
    const goals = Number(values.goals ?? 0);
    const models = goals > 0 ? withGoals(bundle, goals) : undefined;
    const fixtures = fixtureChoice === 'none' ? { bundle: { exchanges: [], advertisers: [], campaigns: [] }, requests: [] } : exemplaryMix({ seeded: fixtureChoice === 'all' });
    const added = fixtureAdditions(bundle, fixtures.bundle);
    for (const key of ['exchanges', 'advertisers', 'campaigns'] as const) (bundle[key] as object[]).push(...added[key]);
    const scenario = { bundle, dir: tmp, users, fixtures: fixtures.requests, models, say };
    const mine = await buildRoute(await routeModules(), scenario);
    const { handler, snap, settings, audiences, sink } = mine;
    // --base: the other build's route, over the same scenario and requests, in this process.
    const other = values.base !== undefined ? await buildRoute(await routeModules(resolve(values.base)), scenario) : undefined;

    const mix = buildRequestMix(seed, requests, users, fixtures.requests);
    const fake = new FakeExchange();
    /** One fixture's request alone, its answer awaited (lookups may answer later): the status, and whether it is all its fixture expects. */
    const fixtureAnswered = async (f: FixtureRequest): Promise<{ status: boolean; all: boolean }> => {
      await fake.send(handler, f.body);
      const status = Number(fake.status.slice(0, 3));
      return { status: status === f.status, all: answeredAsExpected(f, status, fake.answer) };
    };
    /** Every body once through the route: the bid share at the current floor scale. */
    const measure = async (): Promise<CalibrationStep> => {
      const t0 = performance.now();
      fake.answers = { '200': 0, '204': 0, other: 0 };
      for (const b of mix.bodies) {
        const pending = fake.send(handler, b);
        if (pending !== undefined) await pending;
      }
      const a = fake.answers;
      return { floor_scale: mix.floorScale, bid_rate: a['200'] / Math.max(1, a['200'] + a['204']), statuses: { ...a }, seconds: (performance.now() - t0) / 1000 };
    };
    if (values['floor-scale'] !== undefined) setFloorScale(mix, Number(values['floor-scale']));
    else await searchFloorScale(mix, measure); // as the bench calibrates, through the same route
    const scale = mix.floorScale;
    const bodies = mix.bodies;
    // The fixtures' campaigns face the scenario's here: one of those may outbid them (a bid all the same).
    const wrongStatus: string[] = [];
    const otherBids: string[] = [];
    for (const f of fixtures.requests) {
      const got = await fixtureAnswered(f);
      if (!got.status) wrongStatus.push(f.name);
      else if (!got.all) otherBids.push(f.name);
    }

    /** Every body through the route, each answered (frequency lookups may answer a little later) before the next. */
    const routeOf = (f: FakeExchange, h: Handler) => async () => {
      for (const b of bodies) {
        const pending = f.send(h, b);
        if (pending !== undefined) await pending;
        gap();
      }
    };
    const route = routeOf(fake, handler);
    const fakeBase = new FakeExchange();
    const routeBase = other === undefined ? undefined : routeOf(fakeBase, other.handler);
    const parseOnly = () => {
      for (const b of bodies) {
        readBidRequest(b, settings.maxJsonDepth);
        gap();
      }
    };
    const parseDecide = () => {
      const nowMs = Date.now();
      for (const b of bodies) {
        const req = readBidRequest(b, settings.maxJsonDepth);
        if (isRefusal(req)) continue;
        const privacy = privacyOutcome(req, settings);
        const a = privacy.userData ? audiences.resolve(userKeys(req, 'default'), 10) : undefined;
        decideFor(req, snap, snap.defaultExchange, nowMs, a instanceof Promise || a === undefined ? undefined : a, undefined, undefined, models?.current);
        gap();
      }
    };
    const jsonParse = () => {
      for (const b of bodies) {
        JSON.parse(b.toString('utf8'));
        gap();
      }
    };
    // Warm up (JIT, caches), then measure the stages interleaved so drift hits them alike.
    for (let i = 0; i < 3; i++) {
      await route();
      await routeBase?.();
      parseDecide();
      parseOnly();
      jsonParse();
    }
    fake.answers = { '200': 0, '204': 0, other: 0 };
    fakeBase.answers = { '200': 0, '204': 0, other: 0 };
    const baseTimes: number[] = [];
    const times: Record<string, number[]> = { 'JSON.parse (the ceiling server parses this)': [], 'parse (view)': [], 'parse + audience + decide': [], 'whole route': [] };
    const only = values.only;
    if (only !== undefined && !['json', 'parse', 'decide', 'route'].includes(only)) throw new Error('--only is json, parse, decide or route');
    for (let r = 0; r < rounds; r++) {
      if (only === undefined || only === 'json') times['JSON.parse (the ceiling server parses this)'].push(perRequest(jsonParse, bodies.length));
      if (only === undefined || only === 'parse') times['parse (view)'].push(perRequest(parseOnly, bodies.length));
      if (only === undefined || only === 'decide') times['parse + audience + decide'].push(perRequest(parseDecide, bodies.length));
      if (routeBase !== undefined) {
        // Both builds' routes, back to back, the order swapped every round.
        const first = r % 2 === 0 ? route : routeBase;
        const a = await perRequestAsync(first, bodies.length);
        const b = await perRequestAsync(first === route ? routeBase : route, bodies.length);
        times['whole route'].push(first === route ? a : b);
        baseTimes.push(first === route ? b : a);
      } else if (only === undefined || only === 'route') times['whole route'].push(await perRequestAsync(route, bodies.length));
    }
    for (const k of Object.keys(times)) if (times[k].length === 0) delete times[k];
    const a = fake.answers;
    // --alloc: after the timed rounds (the sampling would slow them), bytes per request by stage.
    let alloc: { json_parse: number; view: number; decide: number; route: number; route_sites: AllocationSite[] } | null = null;
    if (values.alloc) {
      const passes = 2;
      const perReq = (bytes: number) => Math.round(bytes / (passes * bodies.length));
      const twice = (f: () => void) => () => {
        for (let i = 0; i < passes; i++) f();
      };
      const routeAlloc = await allocationsOf(async () => {
        for (let i = 0; i < passes; i++) await route();
      });
      alloc = {
        json_parse: perReq((await allocationsOf(twice(jsonParse))).bytes),
        view: perReq((await allocationsOf(twice(parseOnly))).bytes),
        decide: perReq((await allocationsOf(twice(parseDecide))).bytes),
        route: perReq(routeAlloc.bytes),
        route_sites: routeAlloc.bySite.slice(0, 12).map((x) => ({ site: x.site, bytes: perReq(x.bytes) })),
      };
    }
    const answered = a['200'] + a['204'] + a.other;
    say('');
    process.stdout.write(
      `${campaigns.toLocaleString('en')} campaigns, ${users.toLocaleString('en')} users, ${bodies.length} requests (${mix.fixtures.length} of them exemplary fixtures) × ${rounds} rounds; floor scale ${scale.toFixed(3)}; ` +
        `bid rate ${((100 * a['200']) / Math.max(1, answered)).toFixed(1)} % (other answers: ${a.other}); events logged ${sink.events}\n` +
        `exemplary fixtures: ${mix.fixtures.length - wrongStatus.length} of ${mix.fixtures.length} answered with their status${wrongStatus.length ? ` (not: ${wrongStatus.join(', ')})` : ''}, ` +
        `${mix.fixtures.length - wrongStatus.length - otherBids.length} with their bids${otherBids.length ? ` (other bids, where the scenario's campaigns compete: ${otherBids.join(', ')})` : ''}\n\n` +
        `| stage | µs per request (median) | min |\n|---|---:|---:|\n` +
        Object.entries(times)
          .map(([k, xs]) => `| ${k} | ${median(xs).toFixed(2)} | ${Math.min(...xs).toFixed(2)} |`)
          .join('\n') +
        '\n' +
        (alloc === null
          ? ''
          : `\n| stage | bytes allocated per request |\n|---|---:|\n` +
            `| JSON.parse | ${alloc.json_parse} |\n| parse (view) | ${alloc.view} |\n| parse + audience + decide | ${alloc.decide} |\n| whole route | ${alloc.route} |\n\n` +
            `the route's largest allocation sites (bytes per request):\n` +
            alloc.route_sites.map((x) => `  ${String(x.bytes).padStart(6)}  ${x.site}`).join('\n') +
            '\n'),
    );
    const med = (k: string) => (times[k] ? round2(median(times[k])) : null);
    const result = {
      json_parse_us: med('JSON.parse (the ceiling server parses this)'),
      view_us: med('parse (view)'),
      decide_us: med('parse + audience + decide'),
      route_us: med('whole route'),
      route_over_json_parse: null as number | null,
      campaigns,
      users,
      requests: mix.generated.length,
      fixture_requests: mix.fixtures.length,
      fixtures_status_as_expected: mix.fixtures.length - wrongStatus.length,
      fixtures_as_expected: mix.fixtures.length - wrongStatus.length - otherBids.length,
      fixtures_other_bids: otherBids,
      rounds,
      goals,
      fixtures: fixtureChoice,
      clock: values.clock ?? 'wall',
      gap_us: gapUs,
      floor_scale: round2(scale),
      bid_rate: Math.round((a['200'] / Math.max(1, answered)) * 10_000) / 10_000,
      events_logged: sink.events,
      alloc_bytes: alloc,
      started_at: startedAt,
      machine: { cpus: cpus().length, node: process.version, loadavg: loadavg().map((x) => round2(x)) },
    };
    if (result.route_us !== null && result.json_parse_us) result.route_over_json_parse = round2(result.route_us / result.json_parse_us);
    if (other !== undefined) {
      const ratios = times['whole route'].map((t, i) => t / baseTimes[i]);
      const fb = fakeBase.answers;
      const compare = {
        base: other.root,
        route_us: round2(median(times['whole route'])),
        route_us_base: round2(median(baseTimes)),
        ratio_median: Math.round(median(ratios) * 1000) / 1000,
        ratio_min: Math.round(Math.min(...ratios) * 1000) / 1000,
        ratio_max: Math.round(Math.max(...ratios) * 1000) / 1000,
        bid_rate_base: Math.round((fb['200'] / Math.max(1, fb['200'] + fb['204'] + fb.other)) * 10_000) / 10_000,
        rounds: ratios.length,
      };
      (result as typeof result & { compare?: typeof compare }).compare = compare;
      process.stdout.write(
        `\nwhole route, interleaved in this process: this build ${compare.route_us} µs, ${other.root} ${compare.route_us_base} µs; ` +
          `per-round ratio (this / base) median ${compare.ratio_median} (${compare.ratio_min}-${compare.ratio_max}) over ${compare.rounds} rounds; ` +
          `bid rate ${(100 * result.bid_rate).toFixed(1)} % against ${(100 * compare.bid_rate_base).toFixed(1)} %\n`,
      );
    }
    const out = resolve(values.out ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', 'hot-path-latest.json'));
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(result, null, 2) + '\n');
    say(`medians written to ${out}`);
    await audiences.close();
    await other?.audiences.close();
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const wallNs = () => process.hrtime.bigint();
/** This process's CPU time (user + system; microsecond resolution), in ns. */
const cpuNs = () => {
  const u = process.cpuUsage();
  return BigInt(u.user + u.system) * 1000n;
};
let clockNs = wallNs;
/** Atomics.wait on it sleeps the thread (--gap-us). */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function perRequest(run: () => void, n: number): number {
  const t0 = clockNs();
  run();
  return Number(clockNs() - t0) / 1000 / n;
}

async function perRequestAsync(run: () => Promise<void>, n: number): Promise<number> {
  const t0 = clockNs();
  await run();
  return Number(clockNs() - t0) / 1000 / n;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
