/**
 * `node dist/bench/hot-path.js` end to end, tiny: it writes its medians as JSON to --out (so the
 * real bench/results/hot-path-latest.json is never overwritten). Needs the build.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const HOT_PATH = join(process.cwd(), 'dist', 'bench', 'hot-path.js');

describe.skipIf(!existsSync(HOT_PATH))('npm run bench:hot-path (tiny run)', () => {
  it('writes the medians of every stage, the scenario, the route-to-parse ratio and (--alloc) the bytes allocated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hot-path-e2e-'));
    try {
      const out = join(dir, 'hot.json');
      await promisify(execFile)(process.execPath, [HOT_PATH, '--campaigns', '20', '--users', '2000', '--requests', '100', '--rounds', '3', '--alloc', '--out', out], { timeout: 120_000 });
      const r = JSON.parse(await readFile(out, 'utf8'));
      for (const k of ['json_parse_us', 'view_us', 'decide_us', 'route_us']) expect(r[k], k).toBeGreaterThan(0);
      // Each stage does what the one before it does and more; a parse alone allocates its document.
      const a = r.alloc_bytes;
      expect(a.json_parse).toBeGreaterThan(100);
      expect(a.view).toBeGreaterThan(100);
      expect(a.decide).toBeGreaterThan(a.view);
      expect(a.route).toBeGreaterThan(a.decide);
      expect(a.route_sites.length).toBeGreaterThan(3);
      for (const s of a.route_sites) {
        expect(s.site).toMatch(/\S+ \S+/);
        expect(s.bytes).toBeLessThanOrEqual(a.route);
      }
      expect(r.campaigns).toBe(20);
      expect(r.users).toBe(2000);
      expect(r.requests).toBe(100);
      expect(r.route_over_json_parse).toBeCloseTo(r.route_us / r.json_parse_us, 1);
      expect(r.bid_rate).toBeGreaterThan(0);
      expect(r.events_logged).toBeGreaterThan(0);
      // The exemplary fixtures are in the mix, answered with their status; the seeded ones (a capped
      // user, a spent-out campaign) with their fixture's bids, which they get only when seeded.
      expect(r.fixture_requests).toBeGreaterThanOrEqual(10);
      expect(r.fixtures_status_as_expected).toBe(r.fixture_requests);
      expect(r.fixtures_other_bids).not.toContain('frequency-capped-user.json');
      expect(r.fixtures_other_bids).not.toContain('budget-spent-out.json');
      expect(r.fixtures_as_expected).toBe(r.fixture_requests - r.fixtures_other_bids.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('writes only the stage measured under --only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hot-path-e2e-'));
    try {
      const out = join(dir, 'hot.json');
      await promisify(execFile)(process.execPath, [HOT_PATH, '--campaigns', '5', '--users', '100', '--requests', '50', '--rounds', '2', '--only', 'json', '--out', out], { timeout: 120_000 });
      const r = JSON.parse(await readFile(out, 'utf8'));
      expect(r.json_parse_us).toBeGreaterThan(0);
      expect(r.route_us).toBeNull();
      expect(r.route_over_json_parse).toBeNull();
      expect(r.alloc_bytes).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
