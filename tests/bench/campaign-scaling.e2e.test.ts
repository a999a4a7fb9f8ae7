/**
 * `node dist/bench/campaign-scaling.js` end to end, tiny: 5 and 50 campaigns, 200 users, two rounds
 * of one second per server. It writes scaling-latest.json (to a temp --out) whose cost is what its
 * rounds say, and refuses counts that are not increasing. Needs the build (npm test builds dist).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN = join(process.cwd(), 'dist', 'bench', 'campaign-scaling.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // No load shedding (see run.e2e.test.ts): a busy test machine would otherwise shed whole rounds.
  const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHED_LAG_MS: '0' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

describe.skipIf(!existsSync(RUN))('npm run bench:scaling (tiny run)', () => {
  it('measures every count against the ceiling, round by round, and reports the median cost', async () => {
    const out = await mkdtemp(join(tmpdir(), 'scaling-e2e-'));
    try {
      const r = await run(['--counts', '5,50', '--rounds', '2', '--seconds', '1', '--users', '200', '--requests', '200', '--out', out]);
      expect(r.code, r.stderr.slice(-3_000)).toBe(0);
      const rep = JSON.parse(await readFile(join(out, 'scaling-latest.json'), 'utf8'));
      expect(rep.counts).toEqual([5, 50]);
      expect(rep.rounds).toHaveLength(2);
      for (const round of rep.rounds) {
        expect(round.ceiling_qps).toBeGreaterThan(0);
        expect(round.qps).toHaveLength(2);
        for (let i = 0; i < 2; i++) expect(round.ratios[i]).toBeCloseTo(round.qps[i] / round.ceiling_qps, 3);
        expect(round.cost).toBeCloseTo(1 - round.ratios[1] / round.ratios[0], 3);
      }
      expect(rep.cost_median).toBeCloseTo(median(rep.rounds.map((x: { cost: number }) => x.cost)), 3); // the report rounds to 4 places
      for (const b of rep.bid_rate) expect(b).toBeGreaterThan(0.1);
      expect(r.stdout).toMatch(/5 → 50 campaigns costs -?[\d.]+ %/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses counts that are not increasing, with exit code 2', async () => {
    const r = await run(['--counts', '50,5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('smallest first');
  });
});
