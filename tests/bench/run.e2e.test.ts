/**
 * `node dist/bench/run.js` end to end, tiny: 50 campaigns, 2,000 users, ~6 s of load. It writes
 * latest.json (to a temp --out, so a real report in bench/results is never overwritten) with the
 * contract keys, and leaves no process behind. Ctrl-C stops it and its bidder.
 * Needs the build (npm test builds dist first). About 15-25 s on a busy 2-core machine.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN = join(process.cwd(), 'dist', 'bench', 'run.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function start(args: string[]) {
  // No load shedding in the bidder it starts (the bench passes the environment on): on a test machine
  // busy with other suites the event loop lags past SHED_LAG_MS now and then, and a run that sheds
  // everything would report qps 0. This test is about the pipeline and the report, not shedding.
  const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHED_LAG_MS: '0' } });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => ({ stdout, stderr }) };
}

describe.skipIf(!existsSync(RUN))('npm run bench (tiny run)', () => {
  it('writes latest.json with the contract keys and stops its processes', async () => {
    const out = await mkdtemp(join(tmpdir(), 'bench-e2e-'));
    try {
      const run = start(['--duration', '6', '--campaigns', '50', '--users', '2000', '--requests', '500', '--out', out]);
      const code = await run.exited;
      expect(code, run.out().stderr.slice(-3_000)).toBe(0);
      const r = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8'));
      for (const key of ['qps', 'p50_ms', 'p99_ms', 'ceiling_qps', 'ratio_to_ceiling', 'campaigns', 'users']) expect(typeof r[key], key).toBe('number');
      expect(r.qps).toBeGreaterThan(0);
      expect(r.ceiling_qps).toBeGreaterThan(0);
      expect(r.campaigns).toBe(50);
      expect(r.users).toBe(2_000);
      expect(r.status_counts['200']).toBeGreaterThan(0);
      expect(r.status_counts['204']).toBeGreaterThan(0);
      expect(r.status_counts['5xx']).toBe(0);
      // CPU per answer, the bidder's over the bare server's at the same open-loop rate, with the driver's beside.
      expect(r.cpu_us.rate).toBe(1000);
      expect(r.cpu_us.bidder).toBeGreaterThan(0);
      expect(r.cpu_us.ceiling).toBeGreaterThan(0);
      expect(r.cpu_us.driver_bidder).toBeGreaterThan(0);
      expect(r.cpu_us.driver_ceiling).toBeGreaterThan(0);
      expect(r.cpu_ratio).toBeCloseTo(r.cpu_us.bidder / r.cpu_us.ceiling, 1);
      expect(r.main.cpu_ratio).toBe(r.cpu_ratio);
      expect(r.ceiling_fixed.mode).toBe('open');
      expect(r.ceiling_fixed.target_rate).toBe(1000);
      expect(r.cpu_us.bidder_saturation).toBeGreaterThan(0);
      expect(r.cpu_us.ceiling_saturation).toBeGreaterThan(0);
      expect(r.cpu_us.driver_saturation).toBeGreaterThan(0);
      // The run at 80 % of saturation, open loop, with its own latencies.
      expect(r.at_80pct.rate).toBe(Math.round(0.8 * r.qps));
      expect(r.at_80pct.qps).toBeGreaterThan(0);
      expect(r.at_80pct.p99_ms).toBeGreaterThan(0);
      expect(r.main.phases.at_80.mode).toBe('open');
      const md = await readFile(join(out, 'latest.md'), 'utf8');
      expect(md).toContain('80 % of saturation');
      // The bidder's own latency beside the sender's, for every bidder phase (not the bare ceiling).
      expect(r.at_80pct.bidder_own_p99_ms).toBe(r.main.phases.at_80.bidder_own_ms.p99);
      for (const p of [r.main.phases.fixed, r.main.phases.saturation, r.main.phases.at_80]) {
        expect(p.bidder_own_ms.p50, p.name).toBeGreaterThan(0);
        expect(p.bidder_own_ms.p99, p.name).toBeGreaterThanOrEqual(p.bidder_own_ms.p50);
      }
      expect(r.ceiling.bidder_own_ms).toBeUndefined();
      expect(md).toContain("the bidder's own p50 / p99 at 80 %");
      expect(r.main.setup.upload.accepted).toBe(2_000);
      // The exemplary fixtures without a seed are in the mix, each answered with its fixture's status.
      expect(r.scenario.mix.fixtures).toBeGreaterThanOrEqual(8);
      expect(r.main.setup.fixtures.requests).toBe(r.scenario.mix.fixtures);
      expect(r.main.setup.fixtures.status_as_expected).toBe(r.main.setup.fixtures.requests);
      expect(existsSync(join(out, 'latest.md'))).toBe(true);
      expect((await readFile(join(out, 'latest.svg'), 'utf8')).startsWith('<svg')).toBe(true);
      expect(alive(r.main.setup.pid)).toBe(false);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);

  it('stops the bidder and exits 130 on Ctrl-C', async () => {
    const out = await mkdtemp(join(tmpdir(), 'bench-e2e-'));
    try {
      const run = start(['--duration', '8', '--campaigns', '20', '--users', '100', '--requests', '200', '--out', out]);
      let pid = 0;
      for (let i = 0; i < 600 && !pid; i++) {
        const m = /ready in [\d.]+ s \(pid (\d+)/.exec(run.out().stderr);
        if (m) pid = Number(m[1]);
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(pid, run.out().stderr).toBeGreaterThan(0);
      expect(alive(pid)).toBe(true);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(130);
      expect(alive(pid)).toBe(false);
      expect(existsSync(join(out, 'latest.json'))).toBe(false);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});
