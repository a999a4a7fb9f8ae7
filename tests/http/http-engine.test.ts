/**
 * The bidder says which HTTP engine serves it: the uWebSockets.js native binary, or its JavaScript
 * fallback (no binary for this Node version; forced here with UWS_USE_FALLBACK=1): in the start line,
 * with a warning for the fallback, and as bidder_http_engine{engine} in /metrics.
 * Requires the build (`npx tsc -p tsconfig.build.json`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BidderProcess } from '../helpers/bidder-process.js';

function startLine(logs: string): Record<string, unknown> {
  const line = logs.split('\n').find((l) => l.includes('"msg":"bidder listening"'));
  expect(line, logs).toBeDefined();
  return JSON.parse(line!) as Record<string, unknown>;
}

describe('HTTP engine', () => {
  let bidder: BidderProcess | undefined;
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'engine-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    bidder?.kill();
    bidder = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('names uWebSockets.js in the start line and /metrics, without a warning', async () => {
    bidder = await BidderProcess.start({ DATA_DIR: dataDir() }, 30_000);
    await expect.poll(() => bidder!.logs.includes('bidder listening'), { timeout: 5_000 }).toBe(true);
    expect(startLine(bidder.logs).httpEngine).toBe('uws');
    expect(bidder.logs).not.toContain('JavaScript fallback');
    const metrics = await bidder.get('/metrics', true);
    expect(metrics.body.toString()).toMatch(/^bidder_http_engine\{engine="uws"\} 1$/m);
    expect(metrics.body.toString()).not.toMatch(/engine="fallback"/);
  }, 60_000);

  it('names the fallback, warns, and shows it in /metrics when no native binary is used', async () => {
    bidder = await BidderProcess.start({ DATA_DIR: dataDir(), UWS_USE_FALLBACK: '1' }, 30_000);
    await expect.poll(() => bidder!.logs.includes('bidder listening'), { timeout: 5_000 }).toBe(true);
    expect(startLine(bidder.logs).httpEngine).toBe('fallback');
    const warning = bidder.logs.split('\n').find((l) => l.includes('JavaScript fallback'));
    expect(warning && JSON.parse(warning)).toMatchObject({ level: 'warn', forced: true });
    const metrics = await bidder.get('/metrics', true);
    expect(metrics.body.toString()).toMatch(/^bidder_http_engine\{engine="fallback"\} 1$/m);
    // No bid request here: the fallback does not implement every call the bid path makes (an answer
    // without a body, as a shed request, throws "Not implemented" in it and ends the process), which is why it is never to be run.
  }, 60_000);
});
