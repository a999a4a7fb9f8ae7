/**
 * `npm run bench:cpu -- --base <build dir>`: the CPU a bid costs in this build and in another
 * one, measured side by side so that a noisy, shared machine does not decide the answer. Both
 * bidders get the same scenario and floors (calibrated on this build) and are kept running; then,
 * round after round, each is driven for `--seconds` (closed loop by wrk, or open loop at `--rate`
 * with the evenly paced sender), the order swapped every other round. Per run: the bidder's CPU per
 * answered request from /proc (all threads, and its main thread, the bid thread with WORKERS=1),
 * per round the ratio of this build's to the base's. The medians go to stdout, every round to
 * `<out>/cpu-ab-latest.json`.
 *
 *   npm run bench:cpu -- --base /path/to/other/checkout [--rounds 6] [--seconds 8] [--rate 0]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeScenarioConfig } from './scenario/campaigns.js';
import { buildRequestMix, setFloorScale, type RequestMix } from './scenario/requests.js';
import { uploadUsers } from './scenario/users.js';
import { drive, type PhaseResult } from './driver.js';
import { wrkAvailable, wrkRun } from './wrk.js';
import { BidderProcess } from './bidder-process.js';
import { calibrateFloors } from './calibrate.js';
import { clockTicks, parseProcStat, processCpuSeconds } from './cpu.js';
import { killAllNow, stopAll } from './processes.js';
import { intOption } from './options.js';
import { median } from './stats.js';

const HELP = `npm run bench:cpu -- [options]

  --base <dir>         another built checkout (holding dist/src/main.js) to compare with (default: none)
  --rounds <n>         measuring rounds (default 6)
  --seconds <s>        seconds per bidder per round (default 8)
  --rate <req/s>       open loop at this rate (evenly paced); 0: closed loop by wrk (default 0)
  --connections <n>    closed-loop connections (default 32)
  --campaigns <n>      campaigns in the scenario (default 1000)
  --users <n>          users uploaded to each bidder (default 100000)
  --requests <n>       distinct requests in the mix (default 3000)
  --node-flags <f>     node flags for this build's bidder only (e.g. a V8 flag against the same build as --base)
  --profile            run the bidders under node --cpu-prof (profiles in <out>/cpu-ab-profiles/)
  --out <dir>          where the report goes (default bench/results)
`;

interface Options {
  base?: string;
  rounds: number;
  seconds: number;
  rate: number;
  connections: number;
  campaigns: number;
  users: number;
  requests: number;
  nodeFlags: string[];
  profile: boolean;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      rate: { type: 'string' },
      connections: { type: 'string' },
      campaigns: { type: 'string' },
      users: { type: 'string' },
      requests: { type: 'string' },
      'node-flags': { type: 'string' },
      profile: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const int = intOption;
  return {
    base: values.base === undefined ? undefined : resolve(values.base),
    rounds: int('rounds', values.rounds, 6, 1, 100),
    seconds: int('seconds', values.seconds, 8, 1, 600),
    rate: int('rate', values.rate, 0, 0, 1_000_000),
    connections: int('connections', values.connections, 32, 1, 1024),
    campaigns: int('campaigns', values.campaigns, 1000, 1, 10_000),
    users: int('users', values.users, 100_000, 0, 10_000_000),
    requests: int('requests', values.requests, 3000, 10, 100_000),
    nodeFlags: (values['node-flags'] ?? '').split(' ').filter(Boolean),
    profile: values.profile === true,
    out: resolve(values.out ?? 'bench/results'),
  };
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'); // from dist/bench

const round2 = (x: number) => Math.round(x * 100) / 100;

/** CPU seconds of a process's main thread (the bid thread with WORKERS=1). */
function mainThreadCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8')) / clockTicks();
  } catch {
    return undefined;
  }
}

/** CPU seconds by thread name (V8's GC helpers, libuv's pool, the embedded store's threads, ...). */
function cpuSecondsByThreadName(pid: number | undefined): Map<string, number> {
  const by = new Map<string, number>();
  if (pid === undefined) return by;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return by;
  }
  for (const tid of tids) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/[0-9]+$/, '#');
      by.set(name, (by.get(name) ?? 0) + parseProcStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')) / clockTicks());
    } catch {
      // the thread ended meanwhile
    }
  }
  return by;
}

interface Run {
  qps: number;
  answered: number;
  /** µs of CPU per answered request: all threads, and the main thread alone. */
  cpu_us: number;
  main_us: number;
  /** µs per answered request by thread name. */
  threads_us: Record<string, number>;
  bid_rate: number;
}

async function measure(b: BidderProcess, mix: RequestMix, o: Options, label: string): Promise<Run> {
  const target = { url: b.bidUrl, bodies: mix.bodies, tmax: mix.tmax };
  const all0 = processCpuSeconds(b.pid) ?? NaN;
  const main0 = mainThreadCpuSeconds(b.pid) ?? NaN;
  const threads0 = cpuSecondsByThreadName(b.pid);
  const quiet = { write: () => {} };
  const r: PhaseResult =
    o.rate > 0
      ? await drive(target, { name: label, label, mode: 'open', rate: o.rate, durationS: o.seconds }, quiet)
      : await wrkRun(target, { name: label, label, mode: 'closed', connections: o.connections, durationS: o.seconds }, quiet);
  const all1 = processCpuSeconds(b.pid) ?? NaN;
  const main1 = mainThreadCpuSeconds(b.pid) ?? NaN;
  const threads1 = cpuSecondsByThreadName(b.pid);
  const answered = Math.max(1, r.status_counts['200'] + r.status_counts['204']);
  const threads_us: Record<string, number> = {};
  for (const [name, s1] of threads1) {
    const us = round2(((s1 - (threads0.get(name) ?? 0)) / answered) * 1e6);
    if (us >= 0.5) threads_us[name] = us;
  }
  return {
    qps: r.qps,
    answered,
    cpu_us: round2(((all1 - all0) / answered) * 1e6),
    main_us: round2(((main1 - main0) / answered) * 1e6),
    threads_us,
    bid_rate: r.bid_rate,
  };
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (o.rate === 0 && !wrkAvailable()) {
    say('closed loop needs /usr/bin/wrk: install it, or give --rate');
    return 2;
  }
  process.on('SIGINT', () => {
    killAllNow();
    process.exit(130);
  });
  const tmp = await mkdtemp(join(tmpdir(), 'rtb-cpu-ab-'));
  const startedAt = new Date();
  try {
    const mix = buildRequestMix('1', o.requests, o.users);
    const configDir = join(tmp, 'config');
    await writeScenarioConfig(configDir, { seed: '1', campaigns: o.campaigns });
    const builds = [{ name: 'this', dir: REPO }, ...(o.base === undefined ? [] : [{ name: 'base', dir: o.base }])];
    const profileDir = join(o.out, 'cpu-ab-profiles');
    if (o.profile) await mkdir(profileDir, { recursive: true });
    const bidders: BidderProcess[] = [];
    for (const b of builds) {
      say(`[${b.name}] starting the bidder of ${b.dir}`);
      const nodeArgs = [
        ...(b.name === 'this' ? o.nodeFlags : []),
        ...(o.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${b.name}-${Date.now()}.cpuprofile`] : []),
      ];
      // No load shedding: a shed request is a cheap 204 that would flatter the CPU per answer.
      const env = { SHED_LAG_MS: '0' };
      const bidder = await BidderProcess.start({ buildDir: b.dir, configDir, dataDir: join(tmp, `data-${b.name}`), logFile: join(tmp, `${b.name}.log`), nodeArgs, env });
      if (o.users > 0) await uploadUsers(bidder.adminPort, o.users);
      bidders.push(bidder);
    }
    const cal = await calibrateFloors(mix, bidders[0].port, { low: 0.27, high: 0.33, target: 0.3 });
    setFloorScale(mix, cal.floor_scale);
    say(`floor scale ${cal.floor_scale.toFixed(3)}, bid rate ${(cal.bid_rate * 100).toFixed(1)} %`);
    for (let i = 0; i < bidders.length; i++) await measure(bidders[i], mix, { ...o, seconds: 3 }, `warm-up ${builds[i].name}`);
    const rounds: { load: number; runs: Run[]; ratio?: number; main_ratio?: number }[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const runs: Run[] = new Array(bidders.length);
      for (let k = 0; k < bidders.length; k++) {
        const i = r % 2 === 0 ? k : bidders.length - 1 - k;
        runs[i] = await measure(bidders[i], mix, o, `round ${r + 1} ${builds[i].name}`);
      }
      const round: (typeof rounds)[number] = { load: round2(loadavg()[0]), runs };
      if (runs.length > 1) {
        round.ratio = round2((runs[0].cpu_us / runs[1].cpu_us) * 100) / 100;
        round.main_ratio = round2((runs[0].main_us / runs[1].main_us) * 100) / 100;
      }
      rounds.push(round);
      say(
        `round ${r + 1} (load ${round.load}): ` +
          runs.map((x, i) => `${builds[i].name} ${x.qps} req/s, ${x.cpu_us} µs (main ${x.main_us}), bids ${(x.bid_rate * 100).toFixed(1)} %`).join('; ') +
          (round.ratio === undefined ? '' : `; ratio ${round.ratio} (main ${round.main_ratio})`),
      );
    }
    for (const b of bidders) await b.stop();
    const threadNames = [...new Set(rounds.flatMap((r) => r.runs.flatMap((x) => Object.keys(x.threads_us))))];
    const summary = builds.map((b, i) => ({
      build: b.dir,
      threads_us: Object.fromEntries(threadNames.map((n) => [n, round2(median(rounds.map((r) => r.runs[i].threads_us[n] ?? 0)))])),
      cpu_us: round2(median(rounds.map((r) => r.runs[i].cpu_us))),
      main_us: round2(median(rounds.map((r) => r.runs[i].main_us))),
      qps: Math.round(median(rounds.map((r) => r.runs[i].qps))),
    }));
    const ratios = rounds.flatMap((r) => (r.ratio === undefined ? [] : [r.ratio]));
    const mainRatios = rounds.flatMap((r) => (r.main_ratio === undefined ? [] : [r.main_ratio]));
    const report = {
      summary,
      ratio_median: ratios.length ? median(ratios) : null,
      ratio_range: ratios.length ? [Math.min(...ratios), Math.max(...ratios)] : null,
      main_ratio_median: mainRatios.length ? median(mainRatios) : null,
      rounds,
      options: o,
      floor_scale: cal.floor_scale,
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
    };
    await mkdir(o.out, { recursive: true });
    await writeFile(join(o.out, 'cpu-ab-latest.json'), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(
      summary
        .map((s, i) => `${builds[i].name}: ${s.cpu_us} µs of CPU per answer (main thread ${s.main_us}), ${s.qps} req/s (medians of ${rounds.length} rounds); by thread ${JSON.stringify(s.threads_us)}`)
        .join('\n') +
        (report.ratio_median === null ? '' : `\nthis / base: ${report.ratio_median} (per round ${report.ratio_range![0]} to ${report.ratio_range![1]}; main thread ${report.main_ratio_median})`) +
        '\n',
    );
    return 0;
  } catch (e) {
    say(`cpu-ab failed: ${(e as Error).stack ?? e}`);
    return 1;
  } finally {
    await stopAll(10_000);
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

process.exitCode = await main();
