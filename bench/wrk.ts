/**
 * `--driver wrk`: the closed-loop runs (ceiling, saturation) driven by Debian's wrk (C, one thread,
 * bench/wrk/mix.lua sending the request mix) instead of autocannon, which spends a whole core at
 * these rates: the ceiling then says more about the server than about the driver.
 *
 * wrk runs under a shell that prints its own /proc stat after waiting for it: the shell's cutime and
 * cstime (fields 16 and 17) are then wrk's CPU, all threads, exactly, so the driver's CPU per
 * request is reported as it is for the in-process drivers.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from './histogram.js';
import { clockTicks } from './cpu.js';
import { newStatusCounts, type DriveHooks, type DriveTarget, type PhaseResult, type PhaseSpec } from './driver.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench (or bench/, under the tests)
export const WRK = '/usr/bin/wrk';
/** The script stays in bench/wrk/ (the build does not copy it). */
export const WRK_SCRIPT = [resolve(HERE, '..', '..', 'bench', 'wrk', 'mix.lua'), join(HERE, 'wrk', 'mix.lua')].find((p) => existsSync(p)) ?? join(HERE, 'wrk', 'mix.lua');

export function wrkAvailable(): boolean {
  return existsSync(WRK) && existsSync(WRK_SCRIPT);
}

/** What mix.lua prints at the end. */
export interface WrkOutput {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  c200: number;
  c204: number;
  c4xx: number;
  c5xx: number;
  other: number;
  max_us: number;
  quantiles_us: number[];
}

/** cutime + cstime (children waited for) in clock ticks, from the text of /proc/<pid>/stat. */
export function childTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[13]) + Number(rest[14]);
}

/** The phase as the other drivers report it; the histogram is rebuilt from wrk's 999 quantiles. */
export function wrkPhase(spec: PhaseSpec, connections: number, w: WrkOutput, driverCpuS: number | undefined): PhaseResult {
  const status = newStatusCounts();
  status['200'] = w.c200;
  status['204'] = w.c204;
  status['4xx'] = w.c4xx;
  status['5xx'] = w.c5xx;
  status.other = w.other;
  status.errors = w.connect + w.read + w.write;
  status.timeouts = w.timeout;
  const hist = new LatencyHistogram();
  for (const q of w.quantiles_us) hist.recordUs(q);
  hist.recordUs(w.max_us);
  // Each quantile stands for a thousandth of the answers.
  const scale = w.requests / Math.max(1, hist.count);
  for (let i = 0; i < hist.counts.length; i++) hist.counts[i] *= scale;
  hist.sumUs *= scale;
  hist.count = w.requests;
  const seconds = w.duration_us / 1e6;
  const answered = w.c200 + w.c204;
  return {
    name: spec.name,
    mode: spec.mode,
    target_rate: null,
    connections,
    duration_s: Math.round(seconds * 100) / 100,
    requests: w.requests,
    qps: Math.round(w.requests / Math.max(0.001, seconds)),
    latency: hist.summary(),
    status_counts: status,
    bid_rate: answered ? Math.round((10_000 * w.c200) / answered) / 10_000 : 0,
    deadline_misses_client: 0, // wrk does not say which body an answer was for
    series: [],
    histogram: hist,
    ...(driverCpuS === undefined ? {} : { driver_cpu_s: driverCpuS }),
  };
}

/** A closed-loop phase under wrk. Bodies must be one line each (JSON; not protobuf). */
export async function wrkRun(target: DriveTarget, spec: PhaseSpec, hooks: DriveHooks = {}): Promise<PhaseResult> {
  if (spec.mode !== 'closed') throw new Error('wrk drives closed-loop phases only');
  const write = hooks.write ?? ((l: string) => process.stderr.write(l));
  const dir = await mkdtemp(join(tmpdir(), 'bench-wrk-'));
  try {
    const bodiesFile = join(dir, 'bodies.txt');
    for (const b of target.bodies) if (b.includes(10)) throw new Error('wrk sends one body a line: a body holds a newline');
    await writeFile(bodiesFile, Buffer.concat(target.bodies.flatMap((b) => [b, Buffer.from('\n')])));
    const url = new URL(target.url);
    const connections = spec.connections ?? 32;
    const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(spec.durationS))}s`, '--timeout', '5s', '-s', WRK_SCRIPT, `${url.protocol}//${url.host}`, '--', bodiesFile, url.pathname, target.contentType ?? 'application/json'];
    const child = spawn('/bin/sh', ['-c', 'wrk_bin=$1; shift; "$wrk_bin" "$@"; rc=$?; echo "WRK_STAT $(cat /proc/$$/stat)"; exit $rc', 'sh', WRK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const started = Date.now();
    const ticker = setInterval(() => {
      write(`  ${spec.label.padEnd(26)} ${String(Math.round((Date.now() - started) / 1000)).padStart(3)}/${Math.ceil(spec.durationS)}s  (wrk)${hooks.status ? `  ${hooks.status()}` : ''}\n`);
      if (hooks.cancelled?.()) child.kill('SIGINT');
    }, 1000);
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    clearInterval(ticker);
    const m = /WRK_RESULT (\{.*\})/.exec(out);
    if (code !== 0 || !m) throw new Error(`wrk failed (exit ${code}): ${(err || out).slice(-500)}`);
    const stat = /WRK_STAT (.*)/.exec(out);
    const driverCpuS = stat ? childTicks(stat[1]) / clockTicks() : undefined;
    return wrkPhase(spec, connections, JSON.parse(m[1]) as WrkOutput, driverCpuS);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
