/**
 * `npm run bench`: builds a realistic scenario and benchmarks the bidder against it.
 *
 *   1. scenario: N campaigns with mixed targeting (a generated config dir), a request mix shaped like
 *      ../shared/openrtb-corpus, M users with segments (uploaded through the audience API), and the
 *      exemplary fixtures without a seed (their campaigns in the config dir, their requests in the mix;
 *      the bidder's in-process stores cannot be seeded from here: npm run bench:hot-path has them all);
 *   2. ceiling: a bare uWebSockets.js server that only parses the requests, driven flat out;
 *   3. the bidder (a child process): floors calibrated to a 20-40 % bid rate, then a fixed-rate run,
 *      a ramp that finds where latency breaks, and a closed-loop run at saturation;
 *   4. optionally the same for another git revision (--compare), in the same run;
 *   5. the report: bench/results/<stamp>.{json,md,svg} and latest.{json,md,svg}.
 *
 * Every child process is stopped at the end, on failure and on Ctrl-C.
 */
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_EXCHANGES, writeScenarioConfig } from './scenario/campaigns.js';
import { exemplaryMix, fixtureAdditions } from './scenario/fixtures.js';
import { buildRequestMix, describeMix, floorMedians, setFloorScale, type RequestMix } from './scenario/requests.js';
import { uploadUsers } from './scenario/users.js';
import { addStatusCounts, drive, fmtInt, newStatusCounts, type DriveTarget, type Pacer, type PhaseResult, type PhaseSpec } from './driver.js';
import { BidderProcess } from './bidder-process.js';
import { quantilesBetween } from './bidder-latency.js';
import { answerFixtures, calibrateFloors, measureBidRate } from './calibrate.js';
import { killAllNow, stopAll, stopChild } from './processes.js';
import { startCeiling } from './ceiling.js';
import { phaseJson, writeReport, type BenchReport, type BidderRun, type PhaseJson } from './report.js';
import { buildWorktree, checkoutWorktree, gitInfo, type Worktree } from './compare.js';
import { clickhouseBackend, redisBackend, type Backend } from './backends.js';
import { firstNormal, normalP99, recoveredAfter, RECOVERY_S } from './overload.js';
import { isRunning } from './processes.js';
import { fdLimit, fdsNeeded, trickle } from './slow-clients.js';
import { PROTOBUF_TYPE, protobufBodies } from './protobuf-bodies.js';
import { cpuMeter, cpuRatio, type CpuCost } from './cpu.js';
import { wrkAvailable, wrkRun } from './wrk.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const REPO = resolve(HERE, '..', '..');

const HELP = `npm run bench -- [options]

  --duration <s>          total measuring time, split over ceiling, fixed rate, ramp, saturation (default 60)
  --campaigns <n>         campaigns in the scenario, 1 to 10000 (default 1000)
  --users <n>             users with segments uploaded before the runs (default 1000000)
  --requests <n>          distinct bid requests in the mix (default 3000)
  --rate <req/s>          rate of the fixed-rate run (default 1000)
  --connections <n>       connections of the closed-loop runs (ceiling, saturation) (default 32)
  --workers <n>           the bidder's WORKERS (default 1)
  --slo-ms <ms>           p99 objective a ramp step must meet (default 50)
  --segment-store <s>     memory (default) or redis (REDIS_URL, or a local redis-server)
  --event-store <s>       chdb (default) or clickhouse (CLICKHOUSE_URL, or a local clickhouse-server)
  --compare <git-rev>     also benchmark that revision (built in a temporary git worktree)
  --floor-scale <x>       skip calibration and multiply every floor by x
  --seed <s>              scenario seed (default 1)
  --out <dir>             where reports go (default bench/results)
  --keep-temp             keep the temporary directory (config, data, logs)
  --protobuf              send the requests as protobuf (application/x-protobuf), to the ceiling server too
  --pacer <p>             open-loop pacing: smooth (default: requests evenly spaced, latency from
                          when each was due) or autocannon (its per-connection budget per second:
                          bursts; the pacing of runs before this option)
  --driver <d>            closed-loop runs (ceiling, saturation) by autocannon (default) or wrk
                          (Debian's /usr/bin/wrk with bench/wrk/mix.lua: a fraction of autocannon's CPU)
  --profile               write V8 CPU profiles of the bidder (every thread) to <out>/profiles/ (open in Chrome DevTools)
  --overload <s>          after saturation, offer twice the capacity for <s> s, then 80 % for 30 s (0: off; default 0)
  --slow-clients <n>      after the other phases, --rate req/s for 15 s alone, then for 15 s with <n> more
                          connections trickling a body at 1 byte/s (0: off; default 0; needs ulimit -n > 2n + 1000)
`;

class Cancelled extends Error {}

/** Seconds of each slow-clients phase (alone, then beside the tricklers). */
const SLOW_PHASE_S = 15;

interface Options {
  duration: number;
  campaigns: number;
  users: number;
  requests: number;
  rate: number;
  connections: number;
  workers: number;
  sloMs: number;
  segmentStore: 'memory' | 'redis';
  eventStore: 'chdb' | 'clickhouse';
  compare?: string;
  floorScale?: number;
  seed: string;
  out: string;
  keepTemp: boolean;
  overloadS: number;
  slowClients: number;
  protobuf: boolean;
  profile: boolean;
  pacer: Pacer;
  driver: 'autocannon' | 'wrk';
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      campaigns: { type: 'string' },
      users: { type: 'string' },
      requests: { type: 'string' },
      rate: { type: 'string' },
      connections: { type: 'string' },
      workers: { type: 'string' },
      'slo-ms': { type: 'string' },
      'segment-store': { type: 'string' },
      'event-store': { type: 'string' },
      compare: { type: 'string' },
      'floor-scale': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'keep-temp': { type: 'boolean' },
      overload: { type: 'string' },
      'slow-clients': { type: 'string' },
      protobuf: { type: 'boolean' },
      profile: { type: 'boolean' },
      pacer: { type: 'string' },
      driver: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const num = (name: string, raw: string | undefined, def: number, min: number, max: number, integer = true): number => {
    if (raw === undefined) return def;
    const n = Number(raw.replace(/[_,]/g, ''));
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    return n;
  };
  const segmentStore = values['segment-store'] ?? 'memory';
  if (segmentStore !== 'memory' && segmentStore !== 'redis') throw new UsageError('--segment-store is memory or redis');
  const pacer = values.pacer ?? 'smooth';
  if (pacer !== 'smooth' && pacer !== 'autocannon') throw new UsageError('--pacer is smooth or autocannon');
  const driver = values.driver ?? 'autocannon';
  if (driver !== 'autocannon' && driver !== 'wrk') throw new UsageError('--driver is autocannon or wrk');
  if (driver === 'wrk' && !wrkAvailable()) throw new UsageError('--driver wrk needs /usr/bin/wrk (apt-get install wrk)');
  if (driver === 'wrk' && values.protobuf) throw new UsageError('--driver wrk sends JSON bodies only (not with --protobuf)');
  const eventStore = values['event-store'] ?? 'chdb';
  if (eventStore !== 'chdb' && eventStore !== 'clickhouse') throw new UsageError('--event-store is chdb or clickhouse');
  return {
    duration: num('duration', values.duration, 60, 4, 24 * 3600, false),
    campaigns: num('campaigns', values.campaigns, 1_000, 1, 10_000),
    users: num('users', values.users, 1_000_000, 0, 50_000_000),
    requests: num('requests', values.requests, 3_000, 10, 1_000_000),
    rate: num('rate', values.rate, 1_000, 1, 10_000_000),
    connections: num('connections', values.connections, 32, 1, 4_096),
    workers: num('workers', values.workers, 1, 1, 256),
    sloMs: num('slo-ms', values['slo-ms'], 50, 0.1, 60_000, false),
    segmentStore,
    eventStore,
    compare: values.compare,
    floorScale: values['floor-scale'] === undefined ? undefined : num('floor-scale', values['floor-scale'], 1, 0.0001, 10_000, false),
    seed: values.seed ?? '1',
    out: resolve(values.out ?? join(REPO, 'bench', 'results')),
    keepTemp: values['keep-temp'] ?? false,
    overloadS: num('overload', values.overload, 0, 0, 24 * 3600),
    slowClients: num('slow-clients', values['slow-clients'], 0, 0, 100_000),
    protobuf: values.protobuf ?? false,
    profile: values.profile ?? false,
    pacer,
    driver,
  };
}

class UsageError extends Error {}

// ---------------------------------------------------------------- run state, cleanup, Ctrl-C

let cancelled = false;
/** Who drives the closed-loop runs (--driver). */
let closedLoopDriver: Options['driver'] = 'autocannon';
const cleanups: (() => Promise<void>)[] = [];
const say = (line: string) => process.stderr.write(`${line}\n`);
const checkCancelled = () => {
  if (cancelled) throw new Cancelled('cancelled');
};

function onSignal(signal: string): void {
  if (cancelled) {
    say(`\n${signal} again: killing everything now`);
    killAllNow();
    process.exit(130);
  }
  cancelled = true;
  say(`\n${signal}: stopping the run and its processes (again to kill at once)`);
}

// ---------------------------------------------------------------- phases

interface Plan {
  warmupS: number;
  ceilingS: number;
  fixedS: number;
  rampSteps: number;
  rampStepS: number;
  saturationS: number;
  at80S: number;
}

function plan(duration: number): Plan {
  const rampBudget = Math.max(3, duration * 0.4);
  const rampSteps = Math.max(3, Math.min(8, Math.floor(rampBudget / 3)));
  return {
    warmupS: Math.max(1, Math.round(duration * 0.03)),
    ceilingS: Math.max(1, Math.round(duration * 0.15)),
    fixedS: Math.max(1, Math.round(duration * 0.15)),
    rampSteps,
    rampStepS: Math.max(1, Math.round(rampBudget / rampSteps)),
    saturationS: Math.max(1, Math.round(duration * 0.2)),
    at80S: Math.max(1, Math.round(duration * 0.1)),
  };
}

interface Measured {
  result: PhaseResult;
  json: PhaseJson;
}

/** A phase by the open-loop pacer or autocannon, or under `--driver wrk` a closed-loop one by wrk. */
function driveWith(target: DriveTarget, spec: PhaseSpec, hooks: Parameters<typeof drive>[2]): Promise<PhaseResult> {
  return spec.mode === 'closed' && closedLoopDriver === 'wrk' ? wrkRun(target, spec, hooks) : drive(target, spec, hooks);
}

/**
 * Also meters the CPU of the server (`cpuPid`, else the bidder) and of the driver over the drive
 * alone, per answered request, into the phase's `cpu`.
 */
async function measure(target: DriveTarget, spec: PhaseSpec, bidder?: BidderProcess, extra: Partial<PhaseJson> = {}, cpuPid?: number): Promise<Measured> {
  checkCancelled();
  const before = bidder ? await bidder.missed() : undefined;
  bidder?.rss.resetPeak();
  const meter = cpuMeter(cpuPid ?? bidder?.pid);
  const result = await driveWith(target, spec, {
    status: bidder ? () => `  rss ${bidder.rss.last} MB` : undefined,
    cancelled: () => cancelled,
  });
  const cpu = meter(result.status_counts['200'] + result.status_counts['204'], result.driver_cpu_s);
  checkCancelled();
  const json = phaseJson(result, { goodput_qps: result.qps, ...extra, ...(cpu ? { cpu } : {}) });
  if (bidder) {
    // Let answers in flight land in the counters before reading them.
    await new Promise((r) => setTimeout(r, 200));
    const after = await bidder.missed();
    json.bidder_timeouts = Math.max(0, after.timeouts - before!.timeouts);
    json.bidder_shed = Math.max(0, after.shed - before!.shed);
    const own = quantilesBetween(before!.durations, after.durations, [0.5, 0.99]);
    if (own) json.bidder_own_ms = { p50: own[0], p99: own[1] };
    const wasted = Math.min(result.requests, json.bidder_timeouts + json.bidder_shed);
    json.goodput_qps = result.requests ? Math.round((result.qps * (result.requests - wasted)) / result.requests) : 0;
    json.rss_peak_mb = bidder.rss.peak;
  }
  say(
    `  → ${spec.name}: ${fmtInt(result.qps)} req/s, p50 ${result.latency.p50_ms} ms, p99 ${result.latency.p99_ms} ms, max ${result.latency.max_ms} ms, ` +
      `200 ${fmtInt(result.status_counts['200'])} / 204 ${fmtInt(result.status_counts['204'])}` +
      (result.status_counts['4xx'] + result.status_counts['5xx'] + result.status_counts.errors + result.status_counts.timeouts
        ? ` / 4xx ${result.status_counts['4xx']} / 5xx ${result.status_counts['5xx']} / errors ${result.status_counts.errors} / timeouts ${result.status_counts.timeouts}`
        : '') +
      (json.bidder_shed ? `, ${fmtInt(json.bidder_shed)} shed` : '') +
      (json.bidder_timeouts ? `, ${fmtInt(json.bidder_timeouts)} bidder timeouts` : '') +
      (json.bidder_own_ms ? `; the bidder's own p50 ${json.bidder_own_ms.p50} ms, p99 ${json.bidder_own_ms.p99} ms` : '') +
      (json.rss_peak_mb ? `, rss peak ${json.rss_peak_mb} MB` : '') +
      (cpu ? `; CPU per answer: server ${cpu.server_us ?? '?'} µs, driver ${cpu.driver_us} µs` : ''),
  );
  return { result, json };
}

/** A ramp step passes when it kept up with its rate, met the p99 objective and lost (almost) nothing. */
function stepPasses(p: PhaseJson, sloMs: number): boolean {
  const lost = p.status_counts['5xx'] + p.status_counts.errors + p.status_counts.timeouts + (p.bidder_timeouts ?? 0) + (p.bidder_shed ?? 0) + p.deadline_misses_client;
  return p.qps >= 0.9 * (p.target_rate ?? 0) && p.latency.p99_ms <= sloMs && lost <= 0.01 * Math.max(1, p.requests);
}

interface BuildContext {
  opts: Options;
  tmp: string;
  configDir: string;
  mix: RequestMix;
  ceilingQps: number;
  plan: Plan;
  redis?: Backend;
  clickhouse?: Backend;
  /** Set by the first build's calibration; later builds reuse it so every build sees the same requests. */
  floorScale?: number;
  /** The bare server's CPU per request at the fixed rate (open loop), the denominator of `cpu_ratio`. */
  ceilingCpu?: CpuCost;
}

async function benchBuild(ctx: BuildContext, label: string, buildDir: string, rev: string): Promise<BidderRun> {
  const { opts, mix } = ctx;
  const setup: Record<string, unknown> = { build: buildDir === REPO ? 'working tree' : buildDir, rev };
  say(`\n[${label}] starting the bidder (${rev})`);
  const t0 = Date.now();
  const logFile = join(ctx.tmp, `bidder-${label.replace(/[^a-z0-9]+/gi, '-')}.log`);
  const bidder = await BidderProcess.start({
    buildDir,
    configDir: ctx.configDir,
    dataDir: join(ctx.tmp, `data-${label.replace(/[^a-z0-9]+/gi, '-')}`),
    logFile,
    redisUrl: ctx.redis?.url,
    clickhouseUrl: ctx.clickhouse?.url,
    env: { WORKERS: String(opts.workers) },
    nodeArgs: opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(opts.out, 'profiles')}`] : [],
  });
  cleanups.push(() => bidder.stop());
  setup.pid = bidder.pid;
  setup.start_s = (Date.now() - t0) / 1000;
  setup.rss_after_start_mb = bidder.rss.sample();
  say(`[${label}] ready in ${setup.start_s} s (pid ${bidder.pid}, rss ${setup.rss_after_start_mb} MB); log: ${logFile}`);

  // Users.
  checkCancelled();
  if (opts.users > 0) {
    say(`[${label}] uploading ${fmtInt(opts.users)} users with segments`);
    let lastPrint = 0;
    try {
      const up = await uploadUsers(bidder.adminPort, opts.users, (rows) => {
        if (Date.now() - lastPrint > 2_000) {
          lastPrint = Date.now();
          say(`  uploading users ${fmtInt(rows)} / ${fmtInt(opts.users)}  rss ${bidder.rss.sample()} MB`);
        }
      }, () => cancelled);
      setup.upload = { accepted: up.accepted, rejected: up.rejected, seconds: up.seconds, rows_per_s: Math.round(up.users / Math.max(0.001, up.seconds)) };
      say(`[${label}] users: ${fmtInt(up.accepted)} accepted, ${fmtInt(up.rejected)} rejected in ${up.seconds.toFixed(1)} s`);
      if (up.rejected) setup.upload_errors = up.errors.slice(0, 5);
    } catch (e) {
      checkCancelled();
      if (label === 'working tree') throw e;
      setup.upload = { failed: (e as Error).message }; // an older revision without the audience API
      say(`[${label}] user upload failed (${(e as Error).message}); benchmarking without users`);
    }
  }
  checkCancelled();

  // Floors.
  let calibrated = false;
  if (ctx.floorScale === undefined) {
    if (opts.floorScale !== undefined) {
      ctx.floorScale = opts.floorScale;
      setup.calibration = { floor_scale: opts.floorScale, skipped: true };
    } else {
      say(`[${label}] calibrating floors to a 20-40 % bid rate`);
      const cal = await calibrateFloors(mix, bidder.port, {
        onStep: (s) => say(`  floor scale ${s.floor_scale.toFixed(3)} → bid rate ${(s.bid_rate * 100).toFixed(1)} % (${s.seconds.toFixed(1)} s) ${JSON.stringify(s.statuses)}`),
        cancelled: () => cancelled,
      });
      ctx.floorScale = cal.floor_scale;
      setup.calibration = cal;
      calibrated = true;
      if (!cal.in_band) say(`[${label}] warning: calibration ended at ${(cal.bid_rate * 100).toFixed(1)} %, outside 20-40 %`);
    }
  }
  if (mix.floorScale !== ctx.floorScale) setFloorScale(mix, ctx.floorScale);
  if (!calibrated) {
    // A later build (--compare) reuses the calibrated floors; one pass over the mix warms it up
    // as calibration warmed the first, and gives its bid rate on the same requests.
    const warm = await measureBidRate(mix, bidder.port, 16);
    setup.warm_up = warm;
    say(`[${label}] warm-up pass: bid rate ${(warm.bid_rate * 100).toFixed(1)} % at floor scale ${warm.floor_scale}`);
  }
  if (mix.fixtures.length > 0) {
    const fx = await answerFixtures(mix, bidder.port);
    setup.fixtures = fx;
    say(`[${label}] exemplary fixtures: ${fx.status_as_expected} of ${fx.requests} answered with their status, ${fx.as_expected} with their bids${fx.other_bids.length ? ` (other bids: ${fx.other_bids.join(', ')})` : ''}`);
  }
  checkCancelled();
  const rssAfterSetup = bidder.rss.sample() ?? 0;
  bidder.rss.resetPeak();
  // Floors are calibrated over JSON (the same requests); --protobuf then sends them as protobuf.
  const target: DriveTarget = opts.protobuf
    ? { url: bidder.bidUrl, bodies: protobufBodies(mix.bodies), tmax: mix.tmax, contentType: PROTOBUF_TYPE }
    : { url: bidder.bidUrl, bodies: mix.bodies, tmax: mix.tmax };
  const P = ctx.plan;

  // Fixed rate.
  say(`[${label}] fixed rate: ${fmtInt(opts.rate)} req/s for ${P.fixedS} s`);
  const fixed = await measure(target, { name: 'fixed', label: `fixed ${fmtInt(opts.rate)}/s`, mode: 'open', rate: opts.rate, durationS: P.fixedS, pacer: opts.pacer }, bidder, {}, bidder.pid);

  // Ramp: climb geometrically from 4 % of the ceiling towards it; after the first step that fails,
  // bisect between the last good rate and the first bad one with the steps left.
  say(`[${label}] ramp: up to ${P.rampSteps} steps of ${P.rampStepS} s (p99 objective ${opts.sloMs} ms)`);
  const ramp: PhaseJson[] = [];
  const lo = Math.max(50, ctx.ceilingQps * 0.04);
  const factor = Math.pow(Math.max(ctx.ceilingQps, lo * 2) / lo, 1 / Math.max(1, P.rampSteps - 1));
  let pass: number | undefined;
  let fail: number | undefined;
  let rate = lo;
  for (let s = 0; s < P.rampSteps; s++) {
    const r = Math.round(rate);
    const m = await measure(target, { name: `ramp-${s + 1}`, label: `ramp ${s + 1}/${P.rampSteps} @ ${fmtInt(r)}/s`, mode: 'open', rate: r, durationS: P.rampStepS, pacer: opts.pacer }, bidder);
    const ok = stepPasses(m.json, opts.sloMs);
    m.json.ok = ok;
    ramp.push(m.json);
    if (ok) pass = Math.max(pass ?? 0, r);
    else fail = Math.min(fail ?? Infinity, r);
    if (fail === undefined) rate = r * factor;
    else if (pass === undefined) rate = r / 3;
    else if (fail / pass < 1.08) break;
    else rate = Math.sqrt(pass * fail);
    if (rate < 10) break;
  }
  ramp.sort((a, b) => (a.target_rate ?? 0) - (b.target_rate ?? 0));
  const sustainable = ramp.filter((p) => p.ok).reduce<number | null>((m, p) => Math.max(m ?? 0, p.qps), null);

  // Saturation: closed loop, driven like the ceiling.
  say(`[${label}] saturation: closed loop, ${opts.connections} connections for ${P.saturationS} s`);
  const saturation = await measure(
    target,
    { name: 'saturation', label: `saturation (${opts.connections} conns)`, mode: 'closed', connections: opts.connections, durationS: P.saturationS },
    bidder,
  );

  // 80 % of saturation, open loop and evenly paced: the latency with a fifth of the capacity spare.
  const capacity = saturation.json.goodput_qps ?? saturation.result.qps;
  const at80Rate = Math.max(1, Math.round(0.8 * capacity));
  say(`[${label}] 80 % of saturation: ${fmtInt(at80Rate)} req/s for ${P.at80S} s`);
  const at80 = await measure(target, { name: 'at-80', label: `80 % ${fmtInt(at80Rate)}/s`, mode: 'open', rate: at80Rate, durationS: P.at80S, pacer: opts.pacer }, bidder);

  // Overload: twice the capacity, then 80 % of it (bench/overload.ts).
  let overload: BidderRun['overload'];
  if (opts.overloadS > 0) {
    const high = Math.max(1, Math.round(2 * capacity));
    const low = Math.max(1, Math.round(0.8 * capacity));
    say(`[${label}] overload: ${fmtInt(high)} req/s (2 × ${fmtInt(capacity)}) for ${opts.overloadS} s, then ${fmtInt(low)} req/s (80 %) for ${RECOVERY_S} s`);
    const over = await measure(target, { name: 'overload', label: `overload ${fmtInt(high)}/s`, mode: 'open', rate: high, durationS: opts.overloadS, pacer: opts.pacer }, bidder);
    const rec = await measure(target, { name: 'recovery', label: `recovery ${fmtInt(low)}/s`, mode: 'open', rate: low, durationS: RECOVERY_S, pacer: opts.pacer }, bidder);
    const normal = normalP99(ramp, capacity, opts.sloMs);
    overload = {
      capacity_qps: capacity,
      overload: over.json,
      recovery: rec.json,
      normal_p99_ms: normal,
      recovered_after_s: recoveredAfter(rec.json.series, normal),
      first_normal_s: firstNormal(rec.json.series, normal),
      shed_share: over.json.requests ? Math.round(((over.json.bidder_shed ?? 0) / over.json.requests) * 10_000) / 10_000 : 0,
      survived: isRunning(bidder.child),
      late_share: over.json.requests ? Math.round((over.json.deadline_misses_client / over.json.requests) * 10_000) / 10_000 : 0,
    };
    say(
      `[${label}] overload: p99 ${over.result.latency.p99_ms} ms, ${(overload.shed_share * 100).toFixed(1)} % shed, ${(overload.late_share * 100).toFixed(1)} % later than tmax; ` +
        `first second under ${normal} ms p99: ${overload.first_normal_s ?? 'none'}; under it for good ${overload.recovered_after_s === null ? 'not within the recovery phase' : `after ${overload.recovered_after_s} s`}`,
    );
  }

  // Slow clients: the fixed rate alone, then beside <n> tricklers (bench/slow-clients.ts).
  let slowClients: BidderRun['slow_clients'];
  if (opts.slowClients > 0) {
    const S = SLOW_PHASE_S;
    say(`[${label}] slow clients: ${fmtInt(opts.rate)} req/s for ${S} s alone, then for ${S} s beside ${fmtInt(opts.slowClients)} connections trickling a body at 1 byte/s`);
    const alone = await measure(target, { name: 'slow-base', label: `${fmtInt(opts.rate)}/s alone`, mode: 'open', rate: opts.rate, durationS: S, pacer: opts.pacer }, bidder);
    const tricklers = trickle(bidder.port, '/bid', mix.bodies[0].toString(), opts.slowClients);
    say(`  ${fmtInt(await tricklers.ready)} trickling connections open`);
    let beside;
    let counts;
    try {
      beside = await measure(target, { name: 'slow-clients', label: `${fmtInt(opts.rate)}/s + ${fmtInt(opts.slowClients)} slow`, mode: 'open', rate: opts.rate, durationS: S, pacer: opts.pacer }, bidder);
    } finally {
      counts = await tricklers.stop();
    }
    const normalShare = (p: PhaseJson) =>
      p.requests ? Math.round(((p.status_counts['200'] + p.status_counts['204'] - (p.bidder_shed ?? 0)) / p.requests) * 10_000) / 10_000 : 0;
    slowClients = {
      connections: opts.slowClients,
      alone: alone.json,
      beside: beside.json,
      normal_share_alone: normalShare(alone.json),
      normal_share: normalShare(beside.json),
      bidder_own_p99_ms_alone: alone.json.bidder_own_ms?.p99 ?? null,
      bidder_own_p99_ms: beside.json.bidder_own_ms?.p99 ?? null,
      tricklers: counts,
    };
    say(
      `[${label}] slow clients: ${(slowClients.normal_share * 100).toFixed(2)} % answered normally beside them (${(slowClients.normal_share_alone * 100).toFixed(2)} % alone); ` +
        `the bidder's own p99 ${slowClients.bidder_own_p99_ms} ms (${slowClients.bidder_own_p99_ms_alone} ms alone); tricklers: ${JSON.stringify(counts)}`,
    );
  }

  const phases = [
    fixed.json,
    ...ramp,
    saturation.json,
    at80.json,
    ...(overload ? [overload.overload, overload.recovery] : []),
    ...(slowClients ? [slowClients.alone, slowClients.beside] : []),
  ];
  let status = newStatusCounts();
  for (const p of phases) status = addStatusCounts(status, p.status_counts);
  const answered = status['200'] + status['204'];
  const rssPeak = Math.max(...phases.map((p) => p.rss_peak_mb ?? 0));
  const rssEnd = bidder.rss.sample() ?? 0;
  setup.metrics_excerpt = pickMetrics(await bidder.metrics());
  say(`[${label}] stopping the bidder`);
  await bidder.stop();
  return {
    label,
    rev,
    qps: saturation.json.goodput_qps ?? saturation.result.qps,
    answered_qps: saturation.result.qps,
    p50_ms: saturation.result.latency.p50_ms,
    p90_ms: saturation.result.latency.p90_ms,
    p99_ms: saturation.result.latency.p99_ms,
    max_ms: saturation.result.latency.max_ms,
    ratio_to_ceiling: ctx.ceilingQps ? Math.round(((saturation.json.goodput_qps ?? saturation.result.qps) / ctx.ceilingQps) * 10_000) / 10_000 : 0,
    cpu_ratio: cpuRatio(fixed.json.cpu, ctx.ceilingCpu),
    sustainable_qps: sustainable,
    status_counts: status,
    deadline_misses: {
      bidder_timeouts: phases.reduce((s, p) => s + (p.bidder_timeouts ?? 0), 0),
      bidder_shed: phases.reduce((s, p) => s + (p.bidder_shed ?? 0), 0),
      client_late: phases.reduce((s, p) => s + p.deadline_misses_client, 0),
    },
    rss_mb: { after_setup: rssAfterSetup, peak: rssPeak, end: rssEnd },
    bid_rate: answered ? Math.round((status['200'] / answered) * 10_000) / 10_000 : 0,
    setup,
    phases: { fixed: fixed.json, ramp, saturation: saturation.json, at_80: at80.json },
    ...(overload ? { overload } : {}),
    ...(slowClients ? { slow_clients: slowClients } : {}),
  };
}

/** A few bidder counters worth keeping with the report (no-bid reasons, audience lookups, events). */
function pickMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!/^(bidder_bid_requests_total|bidder_no_bids_total|audience_store_lookups_total|audience_cache_lookups_total|events_dropped_total|bidder_campaigns_live)\b/.test(line)) continue;
    const m = /^(\S+)\s+([-+0-9.eE]+)$/.exec(line);
    if (m && Number(m[2]) !== 0) out[m[1]] = Number(m[2]);
  }
  return out;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
    if (opts.slowClients > 0 && !(fdLimit() >= fdsNeeded(opts.slowClients)))
      throw new UsageError(
        `--slow-clients ${opts.slowClients} needs a file descriptor limit of at least ${fdsNeeded(opts.slowClients)} (ulimit -n is ${fdLimit()}): raise it (ulimit -n ${fdsNeeded(opts.slowClients)}) and run again`,
      );
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  closedLoopDriver = opts.driver;
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('exit', killAllNow);

  const startedAt = new Date();
  const load0 = loadavg();
  const tmp = await mkdtemp(join(tmpdir(), 'rtb-bench-'));
  const notes: string[] = [];
  let worktree: Worktree | undefined;
  let keepTemp = opts.keepTemp;
  try {
    const P = plan(opts.duration);
    const git = await gitInfo(REPO);
    say(`rtb-bidder benchmark: ${fmtInt(opts.campaigns)} campaigns, ${fmtInt(opts.users)} users, ${fmtInt(opts.requests)} distinct requests, ~${opts.duration} s of load per build`);
    say(`  ${cpus().length} CPUs, load average ${load0.map((x) => x.toFixed(2)).join(' ')}, ${fmtInt(freemem() / 2 ** 20)} MB free; temp ${tmp}`);
    if (load0[0] > cpus().length * 0.75) notes.push(`The machine was busy at the start (load average ${load0[0].toFixed(2)} on ${cpus().length} CPUs): absolute figures are low; compare ratios.`);

    // Scenario.
    const t0 = Date.now();
    const configDir = join(tmp, 'config');
    const written = await writeScenarioConfig(configDir, { seed: opts.seed, campaigns: opts.campaigns });
    // The bidder's config loader refuses an advertiser or campaign id the scenario already uses.
    const fixtures = exemplaryMix({ seeded: false });
    await writeFile(join(configDir, 'fixtures.json'), JSON.stringify(fixtureAdditions({ exchanges: BENCH_EXCHANGES.exchanges }, fixtures.bundle)));
    const mix = buildRequestMix(opts.seed, opts.requests, opts.users, fixtures.requests);
    const mixInfo = describeMix(mix);
    say(
      `scenario: ${written.campaigns} campaigns in ${written.files} files and ${fixtures.bundle.campaigns.length} of the exemplary fixtures; ` +
        `${mix.bodies.length} requests (${mix.fixtures.length} of them the fixtures'; generated ones avg ${mixInfo.avg_body_bytes} B) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    // Backends.
    const ctx: BuildContext = { opts, tmp, configDir, mix, ceilingQps: 0, plan: P };
    if (opts.segmentStore === 'redis') {
      ctx.redis = await redisBackend(tmp, join(tmp, 'redis.log'));
      say(`segment store: Redis at ${ctx.redis.url}${ctx.redis.local ? ' (local, started for this run)' : ''}`);
    }
    if (opts.eventStore === 'clickhouse') {
      ctx.clickhouse = await clickhouseBackend(tmp, join(tmp, 'clickhouse.log'));
      say(`event store: ClickHouse at ${ctx.clickhouse.url.replace(/\/\/[^@]*@/, '//')}${ctx.clickhouse.local ? ' (local, started for this run)' : ''}`);
    }

    // The other revision is built first, so a broken build fails before any measuring.
    if (opts.compare) {
      say(`building ${opts.compare} in a temporary worktree`);
      worktree = await checkoutWorktree(REPO, opts.compare, join(tmp, 'compare'));
      cleanups.push(() => worktree!.remove());
      const warning = await buildWorktree(REPO, worktree);
      if (warning) {
        say(`warning: ${warning}`);
        notes.push(`The --compare revision built with ${warning.slice(0, 300)}`);
      }
    }
    checkCancelled();

    // Ceiling: the bare server, driven like the bidder's saturation run (requests at the generated floors).
    say(`\n[ceiling] bare uWebSockets.js server (parse + 204), closed loop, ${opts.connections} connections for ${P.ceilingS} s`);
    const { child: ceilingChild, port: ceilingPort } = await startCeiling(join(tmp, 'ceiling.log'), opts.protobuf);
    const ceilingTarget: DriveTarget = opts.protobuf
      ? { url: `http://127.0.0.1:${ceilingPort}/bid`, bodies: protobufBodies(mix.bodies), tmax: mix.tmax, contentType: PROTOBUF_TYPE }
      : { url: `http://127.0.0.1:${ceilingPort}/bid`, bodies: mix.bodies, tmax: mix.tmax };
    // Warm up (JIT of the server and of the driver) before measuring; not recorded.
    await driveWith(ceilingTarget, { name: 'warm-up', label: 'warm-up', mode: 'closed', connections: opts.connections, durationS: P.warmupS }, { cancelled: () => cancelled });
    checkCancelled();
    const ceiling = await measure(
      ceilingTarget,
      { name: 'ceiling', label: `ceiling (${opts.connections} conns)`, mode: 'closed', connections: opts.connections, durationS: P.ceilingS },
      undefined,
      {},
      ceilingChild.pid,
    );
    // The same server at the bidder's fixed rate, open loop, for its CPU per request: the bidder's
    // over this is `cpu_ratio`, which (unlike the closed-loop ratio) does not depend on the driver.
    const ceilingFixed = await measure(
      ceilingTarget,
      { name: 'ceiling-fixed', label: `ceiling fixed ${fmtInt(opts.rate)}/s`, mode: 'open', rate: opts.rate, durationS: P.fixedS, pacer: opts.pacer },
      undefined,
      {},
      ceilingChild.pid,
    );
    ctx.ceilingCpu = ceilingFixed.json.cpu;
    await stopChild(ceilingChild, 5_000);
    ctx.ceilingQps = ceiling.result.qps;
    if (ceiling.result.status_counts['204'] !== ceiling.result.requests) notes.push('The ceiling server did not answer every request with 204: check the request mix.');

    // The builds.
    const main = await benchBuild(ctx, 'working tree', REPO, `${git.rev}${git.dirty ? '+dirty' : ''}`);
    const compare = worktree ? await benchBuild(ctx, `rev ${opts.compare}`, worktree.dir, worktree.commit) : undefined;

    if (main.sustainable_qps !== null && opts.rate > main.sustainable_qps)
      notes.push(`The fixed rate (${fmtInt(opts.rate)} req/s) is above the sustainable rate the ramp found (${fmtInt(main.sustainable_qps)} req/s): its latencies are those of an overloaded bidder.`);
    if (main.status_counts['4xx'] || main.status_counts['5xx']) notes.push('Some requests were answered 4xx/5xx: see the phases table.');
    notes.push(
      '`qps` is the saturation throughput (closed loop, driven exactly like the ceiling); `ratio_to_ceiling` divides it by the ceiling. ' +
        'Top-level `p50_ms`/`p90_ms`/`p99_ms`/`max_ms` are from the fixed-rate run; latencies at saturation are in `main.phases.saturation`.',
      opts.pacer === 'autocannon'
        ? 'Open-loop runs spread the rate over 10 autocannon instances started 100 ms apart; autocannon paces each connection per second, so load still comes in short bursts.'
        : 'Open-loop runs are paced evenly (request i is due at start + i / rate, sent on a 1 ms tick) and latency counts from the due tick, so a bidder that falls behind is charged for its queue.',
      '`at_80pct` is an open-loop run at 80 % of the saturation throughput: the latency with a fifth of the capacity spare.',
    );

    const finishedAt = new Date();
    const fixedLat = main.phases.fixed.latency;
    const at80 = main.phases.at_80!;
    const report: BenchReport = {
      qps: main.qps,
      p50_ms: fixedLat.p50_ms,
      p99_ms: fixedLat.p99_ms,
      ceiling_qps: ctx.ceilingQps,
      ratio_to_ceiling: main.ratio_to_ceiling,
      cpu_ratio: main.cpu_ratio ?? null,
      cpu_us: {
        rate: opts.rate,
        bidder: main.phases.fixed.cpu?.server_us ?? null,
        ceiling: ctx.ceilingCpu?.server_us ?? null,
        driver_bidder: main.phases.fixed.cpu?.driver_us ?? null,
        driver_ceiling: ctx.ceilingCpu?.driver_us ?? null,
        bidder_saturation: main.phases.saturation.cpu?.server_us ?? null,
        ceiling_saturation: ceiling.json.cpu?.server_us ?? null,
        driver_saturation: main.phases.saturation.cpu?.driver_us ?? null,
      },
      campaigns: opts.campaigns,
      users: opts.users,
      status_counts: main.status_counts,
      p90_ms: fixedLat.p90_ms,
      max_ms: fixedLat.max_ms,
      sustainable_qps: main.sustainable_qps,
      fixed_rate: { rate: opts.rate, qps: main.phases.fixed.qps, p50_ms: fixedLat.p50_ms, p90_ms: fixedLat.p90_ms, p99_ms: fixedLat.p99_ms, max_ms: fixedLat.max_ms },
      at_80pct: {
        rate: at80.target_rate ?? 0,
        qps: at80.qps,
        p50_ms: at80.latency.p50_ms,
        p90_ms: at80.latency.p90_ms,
        p99_ms: at80.latency.p99_ms,
        max_ms: at80.latency.max_ms,
        ...(at80.bidder_own_ms ? { bidder_own_p99_ms: at80.bidder_own_ms.p99 } : {}),
      },
      deadline_misses: main.deadline_misses,
      rss_mb: main.rss_mb,
      bid_rate: main.bid_rate,
      schema: 1,
      started_at: startedAt.toISOString(),
      finished_at: finishedAt.toISOString(),
      duration_s: Math.round((finishedAt.getTime() - startedAt.getTime()) / 100) / 10,
      git,
      machine: {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        mem_mb: Math.round(totalmem() / 2 ** 20),
        loadavg_start: load0.map((x) => Math.round(x * 100) / 100),
        loadavg_end: loadavg().map((x) => Math.round(x * 100) / 100),
      },
      options: {
        duration: opts.duration,
        campaigns: opts.campaigns,
        users: opts.users,
        requests: opts.requests,
        rate: opts.rate,
        connections: opts.connections,
        workers: opts.workers,
        slo_ms: opts.sloMs,
        segment_store: opts.segmentStore,
        event_store: opts.eventStore,
        protocol: opts.protobuf ? 'protobuf' : 'json',
        driver: opts.driver,
        pacer: opts.pacer,
        overload_s: opts.overloadS,
        slow_clients: opts.slowClients,
        compare: opts.compare ?? null,
        seed: opts.seed,
        plan: P,
      },
      scenario: {
        campaigns: written.campaigns,
        config_files: written.files,
        users: opts.users,
        requests_distinct: mix.bodies.length,
        floor_scale: ctx.floorScale,
        median_floor_usd_cpm: floorMedians(mix),
        mix: mixInfo,
        segment_store: ctx.redis ? { kind: 'redis', local: ctx.redis.local } : { kind: 'memory' },
        event_store: ctx.clickhouse ? { kind: 'clickhouse', local: ctx.clickhouse.local } : { kind: 'chdb' },
      },
      ceiling: ceiling.json,
      ceiling_fixed: ceilingFixed.json,
      main,
      ...(compare ? { compare } : {}),
      notes,
    };
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-').replace(/Z$/, '') + (compare ? `-vs-${worktree!.commit}` : '');
    const files = await writeReport(report, opts.out, stamp);

    process.stdout.write(
      `\nthroughput at saturation: ${fmtInt(main.qps)} req/s = ${main.ratio_to_ceiling.toFixed(3)} of the ceiling (${fmtInt(ctx.ceilingQps)} req/s)\n` +
        `sustainable rate (p99 ≤ ${opts.sloMs} ms): ${main.sustainable_qps === null ? 'below the first ramp step' : `${fmtInt(main.sustainable_qps)} req/s`}\n` +
        `latency at ${fmtInt(opts.rate)} req/s: p50 ${fixedLat.p50_ms} ms, p90 ${fixedLat.p90_ms} ms, p99 ${fixedLat.p99_ms} ms, max ${fixedLat.max_ms} ms\n` +
        `latency at 80 % of saturation (${fmtInt(at80.target_rate ?? 0)} req/s): p50 ${at80.latency.p50_ms} ms, p90 ${at80.latency.p90_ms} ms, p99 ${at80.latency.p99_ms} ms, max ${at80.latency.max_ms} ms\n` +
        `status: 200 ${fmtInt(main.status_counts['200'])}, 204 ${fmtInt(main.status_counts['204'])}, 4xx ${main.status_counts['4xx']}, 5xx ${main.status_counts['5xx']}, errors ${main.status_counts.errors}, timeouts ${main.status_counts.timeouts}; ` +
        `bid rate ${(main.bid_rate * 100).toFixed(1)} %; deadline misses: ${main.deadline_misses.bidder_timeouts} bidder timeouts, ${main.deadline_misses.bidder_shed} shed, ${main.deadline_misses.client_late} late answers\n` +
        `bidder RSS: ${main.rss_mb.after_setup} MB after setup, peak ${main.rss_mb.peak} MB\n` +
        (compare
          ? `${compare.label}: ${fmtInt(compare.qps)} req/s = ${compare.ratio_to_ceiling.toFixed(3)} of the ceiling; p99 at ${fmtInt(opts.rate)} req/s ${compare.phases.fixed.latency.p99_ms} ms, at 80 % of its saturation ${compare.phases.at_80?.latency.p99_ms} ms\n`
          : '') +
        `report: ${files.md}\n        ${files.json}\n        ${files.svg}\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof Cancelled) {
      say('benchmark cancelled; no report written');
      return 130;
    }
    say(`benchmark failed: ${(e as Error).stack ?? e}`);
    await printLogTails(tmp);
    keepTemp = true;
    return 1;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await stopAll(10_000);
    if (keepTemp) say(`temporary files (config, data, logs) kept in ${tmp}`);
    else await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function printLogTails(tmp: string): Promise<void> {
  for (const name of ['bidder-working-tree.log', 'ceiling.log']) {
    try {
      const text = await readFile(join(tmp, name), 'utf8');
      const tail = text.trim().split('\n').slice(-15).join('\n');
      if (tail) say(`--- last lines of ${name}:\n${tail}`);
    } catch {
      // no such log
    }
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    say(String((e as Error)?.stack ?? e));
    killAllNow();
    process.exit(1);
  },
);
