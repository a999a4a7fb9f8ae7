/**
 * `npm run bench:scaling`: what going from few campaigns to many costs in throughput, measured so
 * that the VM's drift does not decide the answer. One bidder per campaign count (each with its own
 * scenario, the same users and request mix, floors calibrated per scenario to a bid rate of 30 %)
 * is started and kept running; then, round after round, the bare ceiling server and each bidder
 * are driven flat out (closed loop, as `npm run bench` drives saturation) one after the other, the
 * bidders in the opposite order every other round.
 * Each round gives every count a ratio to that round's ceiling; the cost of the largest count is
 * 1 - its ratio / the smallest count's ratio, per round, and the report gives the median and the
 * spread. Results: <out>/scaling-<stamp>.json and scaling-latest.json.
 *
 *   npm run bench:scaling -- [--counts 10,10000] [--rounds 5] [--seconds 8] [--users 100000]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeScenarioConfig } from './scenario/campaigns.js';
import { buildRequestMix, setFloorScale } from './scenario/requests.js';
import { uploadUsers } from './scenario/users.js';
import { drive, fmtInt, type DriveTarget } from './driver.js';
import { BidderProcess } from './bidder-process.js';
import { calibrateFloors } from './calibrate.js';
import { killAllNow, stopAll, stopChild } from './processes.js';
import { startCeiling } from './ceiling.js';
import { intOption } from './options.js';
import { median } from './stats.js';

const HELP = `npm run bench:scaling -- [options]

  --counts <a,b,...>   campaign counts, smallest first (default 10,10000)
  --rounds <n>         measuring rounds (default 5)
  --seconds <s>        closed-loop seconds per server per round (default 8)
  --users <n>          users uploaded to every bidder (default 100000)
  --requests <n>       distinct requests in the mix (default 3000)
  --connections <n>    closed-loop connections (default 32)
  --seed <s>           scenario seed (default 1)
  --out <dir>          where the report goes (default bench/results)
`;

interface Options {
  counts: number[];
  rounds: number;
  seconds: number;
  users: number;
  requests: number;
  connections: number;
  seed: string;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      counts: { type: 'string' },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      users: { type: 'string' },
      requests: { type: 'string' },
      connections: { type: 'string' },
      seed: { type: 'string' },
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
  const counts = (values.counts ?? '10,10000').split(',').map((c) => int('counts', c.trim(), 0, 1, 10_000));
  if (counts.length < 2 || counts.some((c, i) => i > 0 && c <= counts[i - 1])) throw new Error('--counts needs two or more counts, smallest first');
  return {
    counts,
    rounds: int('rounds', values.rounds, 5, 1, 100),
    seconds: int('seconds', values.seconds, 8, 1, 600),
    users: int('users', values.users, 100_000, 0, 10_000_000),
    requests: int('requests', values.requests, 3000, 10, 100_000),
    connections: int('connections', values.connections, 32, 1, 1024),
    seed: values.seed ?? '1',
    out: resolve(values.out ?? 'bench/results'),
  };
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'); // from dist/bench

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  process.on('SIGINT', () => {
    killAllNow();
    process.exit(130);
  });
  const tmp = await mkdtemp(join(tmpdir(), 'rtb-scaling-'));
  const startedAt = new Date();
  let keepTemp = false;
  try {
    const mix = buildRequestMix(opts.seed, opts.requests, opts.users);
    const bidders: { campaigns: number; bidder: BidderProcess; floorScale: number; bidRate: number }[] = [];
    for (const count of opts.counts) {
      const configDir = join(tmp, `config-${count}`);
      await writeScenarioConfig(configDir, { seed: opts.seed, campaigns: count });
      say(`[${fmtInt(count)} campaigns] starting the bidder`);
      const bidder = await BidderProcess.start({ buildDir: REPO, configDir, dataDir: join(tmp, `data-${count}`), logFile: join(tmp, `bidder-${count}.log`) });
      if (opts.users > 0) await uploadUsers(bidder.adminPort, opts.users);
      // A narrow band around 30 %: what bidding costs must not differ between the counts compared.
      const cal = await calibrateFloors(mix, bidder.port, { low: 0.27, high: 0.33, target: 0.3 });
      say(`[${fmtInt(count)} campaigns] floor scale ${cal.floor_scale.toFixed(3)}, bid rate ${(cal.bid_rate * 100).toFixed(1)} %`);
      bidders.push({ campaigns: count, bidder, floorScale: cal.floor_scale, bidRate: cal.bid_rate });
    }
    const ceiling = await startCeiling(join(tmp, 'ceiling.log'));
    /** Requests per second answered flat out; for a bidder, less those it shed or timed out (cheap 204s would flatter it), as `npm run bench` counts. */
    const flatOut = async (url: string, label: string, seconds: number, bidder?: BidderProcess) => {
      const before = bidder ? await bidder.missed() : undefined;
      const r = await drive({ url, bodies: mix.bodies, tmax: mix.tmax } satisfies DriveTarget, { name: label, label, mode: 'closed', connections: opts.connections, durationS: seconds });
      if (!bidder || !before || r.requests === 0) return r.qps;
      await new Promise((done) => setTimeout(done, 200)); // answers in flight reach the counters
      const after = await bidder.missed();
      const wasted = Math.min(r.requests, after.timeouts - before.timeouts + after.shed - before.shed);
      return Math.round((r.qps * (r.requests - wasted)) / r.requests);
    };
    // Warm up every server (JIT, the driver's too) before the first round; not recorded.
    await flatOut(`http://127.0.0.1:${ceiling.port}/bid`, 'warm-up ceiling', 2);
    for (const b of bidders) {
      setFloorScale(mix, b.floorScale);
      await flatOut(b.bidder.bidUrl, `warm-up ${b.campaigns}`, 2, b.bidder);
    }
    const rounds: { ceiling_qps: number; qps: number[]; ratios: number[]; cost: number }[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const ceilingQps = await flatOut(`http://127.0.0.1:${ceiling.port}/bid`, `round ${r + 1} ceiling`, opts.seconds);
      const qps: number[] = new Array(bidders.length);
      // Every other round the other way round, so neither count always runs right after the ceiling.
      for (let k = 0; k < bidders.length; k++) {
        const i = r % 2 === 0 ? k : bidders.length - 1 - k;
        const b = bidders[i];
        setFloorScale(mix, b.floorScale);
        qps[i] = await flatOut(b.bidder.bidUrl, `round ${r + 1} ${b.campaigns} campaigns`, opts.seconds, b.bidder);
      }
      const ratios = qps.map((q) => round4(q / ceilingQps));
      const cost = round4(1 - ratios[ratios.length - 1] / ratios[0]);
      rounds.push({ ceiling_qps: ceilingQps, qps, ratios, cost });
      say(`round ${r + 1}: ceiling ${fmtInt(ceilingQps)} req/s; ` + bidders.map((b, i) => `${fmtInt(b.campaigns)} campaigns ${fmtInt(qps[i])} (${ratios[i].toFixed(3)})`).join(', ') + `; cost ${(cost * 100).toFixed(1)} %`);
    }
    await stopChild(ceiling.child, 5_000);
    for (const b of bidders) await b.bidder.stop();

    const costs = rounds.map((r) => r.cost);
    const report = {
      counts: opts.counts,
      /** Median over rounds of 1 - ratio(largest count) / ratio(smallest count). */
      cost_median: round4(median(costs)),
      cost_min: Math.min(...costs),
      cost_max: Math.max(...costs),
      ratio_median: opts.counts.map((_, i) => round4(median(rounds.map((r) => r.ratios[i])))),
      bid_rate: bidders.map((b) => round4(b.bidRate)),
      floor_scale: bidders.map((b) => b.floorScale),
      rounds,
      options: opts,
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version },
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
    };
    await mkdir(opts.out, { recursive: true });
    const json = JSON.stringify(report, null, 2) + '\n';
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
    await writeFile(join(opts.out, `scaling-${stamp}.json`), json);
    await writeFile(join(opts.out, 'scaling-latest.json'), json);
    process.stdout.write(
      `\n${fmtInt(opts.counts[0])} → ${fmtInt(opts.counts[opts.counts.length - 1])} campaigns costs ${(report.cost_median * 100).toFixed(1)} % of the ratio to the ceiling ` +
        `(median of ${rounds.length} rounds; ${(report.cost_min * 100).toFixed(1)} to ${(report.cost_max * 100).toFixed(1)} %)\n` +
        `median ratios: ${opts.counts.map((c, i) => `${fmtInt(c)}: ${report.ratio_median[i].toFixed(3)}`).join(', ')}; bid rates ${report.bid_rate.map((b) => `${(b * 100).toFixed(1)} %`).join(', ')}\n` +
        `report: ${join(opts.out, `scaling-${stamp}.json`)}\n`,
    );
    return 0;
  } catch (e) {
    say(`scaling benchmark failed: ${(e as Error).stack ?? e}`);
    say(`temporary files (config, data, logs) kept in ${tmp}`);
    keepTemp = true;
    return 1;
  } finally {
    await stopAll(10_000);
    if (!keepTemp) await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

process.exitCode = await main();
