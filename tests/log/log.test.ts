/**
 * Structured logs (src/log.ts, pino): JSON lines with a level label and an ISO time, LOG_LEVEL, secrets
 * redacted, asynchronous destinations; and the built bidder logging through them with bid worker
 * threads (WORKERS=2): its start line, a worker's own last line before it dies, LOG_LEVEL honoured in
 * every thread, and a bad LOG_LEVEL refused at start.
 * The process tests require the build (`npx tsc -p tsconfig.build.json`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, logDestinations, REDACT_PATHS } from '../../src/log.js';
import { logLevelFrom } from '../../src/settings/log-level.js';
import { BidderProcess, MAIN, TEST_ADMIN_KEY } from '../helpers/bidder-process.js';
import { httpRequest } from '../helpers/bidder.js';

function memory(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('log lines', () => {
  it('are JSON with a level label, an ISO time and the message, at or above the level', () => {
    const m = memory();
    const logger = createLogger('info', m.stream);
    logger.debug({ a: 1 }, 'not written');
    logger.info({ a: 1 }, 'hello');
    logger.warn('careful');
    const [info, warn] = m.lines();
    expect(m.lines()).toHaveLength(2);
    expect(info).toMatchObject({ level: 'info', msg: 'hello', a: 1 });
    expect(new Date(info.time as string).toISOString()).toBe(info.time);
    expect(info).not.toHaveProperty('pid');
    expect(warn).toMatchObject({ level: 'warn', msg: 'careful' });
  });

  it('redact keys, cookies and authorization, at the top level, one level down and under headers', () => {
    const m = memory();
    createLogger('info', m.stream).info(
      {
        authorization: 'Bearer dsp_abc_secret',
        key: 'dsp_abc_secret',
        request: { cookie: 'uid=1', headers: { authorization: 'Bearer x', 'set-cookie': 'uid=2' }, path: '/api/v1/keys' },
        headers: { cookie: 'uid=3', Authorization: 'Bearer y' },
        store: { password: 'p', url: 'redis://redis:6379' },
      },
      'a request',
    );
    const line = m.lines()[0] as Record<string, any>;
    const text = JSON.stringify(line);
    for (const secret of ['dsp_abc_secret', 'uid=1', 'uid=2', 'uid=3', 'Bearer x', 'Bearer y', '"p"']) expect(text).not.toContain(secret);
    expect(line.authorization).toBe('[redacted]');
    expect(line.request.headers['set-cookie']).toBe('[redacted]');
    // What is not secret stays.
    expect(line.request.path).toBe('/api/v1/keys');
    expect(line.store.url).toBe('redis://redis:6379');
    expect(REDACT_PATHS).toContain('*.headers.authorization');
  });

  it('LOG_LEVEL: the levels pino knows, case-insensitive, info by default; anything else refused', () => {
    expect(logLevelFrom({})).toBe('info');
    expect(logLevelFrom({ LOG_LEVEL: 'DEBUG' })).toBe('debug');
    expect(logLevelFrom({ LOG_LEVEL: 'silent' })).toBe('silent');
    expect(() => logLevelFrom({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL must be one of/);
  });

  it('log() writes the message first, then the fields; info to stdout, warnings to stderr; all of it before exit', () => {
    const script = `import('./dist/src/log.js').then((m) => {
      m.log('info', 'configuration reloaded', { version: 2, key: 'dsp_secret' });
      m.log('warn', 'careful', { n: 1 });
      for (let i = 0; i < 2000; i++) m.log('info', 'line', { i });
      process.exit(0);
    })`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toMatch(/^\{"level":"info","time":"[^"]+","msg":"configuration reloaded","version":2,"key":"\[redacted\]"\}$/);
    // Buffered lines are flushed at process.exit: none is lost.
    expect(out).toHaveLength(2001);
    expect(JSON.parse(out[2000])).toMatchObject({ msg: 'line', i: 1999 });
    expect(JSON.parse(r.stderr.trim())).toMatchObject({ level: 'warn', msg: 'careful', n: 1 });
  });

  it('are written through asynchronous destinations (never a synchronous write from a log call)', () => {
    const destinations = logDestinations() as unknown as { sync: boolean; fd: number }[];
    expect(destinations.map((d) => [d.fd, d.sync])).toEqual([
      [1, false],
      [2, false],
    ]);
  });
});

describe('the bidder logging with worker threads (WORKERS=2)', () => {
  let bidder: BidderProcess | undefined;
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'log-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    await bidder?.terminate();
    bidder = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const lines = () =>
    bidder!.logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('starts, logs from the main thread and from a worker thread before it dies, and stops cleanly', async () => {
    bidder = await BidderProcess.start({ DATA_DIR: dataDir(), WORKERS: '2', BIDDER_TEST_HOOKS: '1' }, 30_000);
    await expect.poll(() => lines().some((l) => l.msg === 'bidder listening'), { timeout: 5_000 }).toBe(true);
    const start = lines().find((l) => l.msg === 'bidder listening')!;
    expect(start).toMatchObject({ level: 'info', workers: 2 });
    // A key given in DSP_ADMIN_KEY is never printed (only a generated one is, once).
    expect(bidder.logs).not.toContain(TEST_ADMIN_KEY);
    const r = await httpRequest(bidder.adminPort, 'POST', '/debug/workers/1/crash', '', { authorization: `Bearer ${TEST_ADMIN_KEY}` });
    expect(r.status).toBe(202);
    // The worker's own line (written in its thread, flushed before it exits), then the main thread's.
    await expect.poll(() => lines().some((l) => String(l.msg).startsWith('bid worker failed')), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => lines().some((l) => String(l.msg).startsWith('bid worker exited')), { timeout: 10_000 }).toBe(true);
    const failed = lines().find((l) => String(l.msg).startsWith('bid worker failed'))!;
    expect(failed).toMatchObject({ level: 'error', worker: 1 });
    expect(await bidder.terminate()).toMatchObject({ code: 0 });
    expect(lines().some((l) => l.msg === 'stopping')).toBe(true);
  }, 60_000);

  it('LOG_LEVEL=warn leaves out info lines in every thread', async () => {
    bidder = await BidderProcess.start({ DATA_DIR: dataDir(), WORKERS: '2', LOG_LEVEL: 'warn' }, 30_000);
    const r = await bidder.get('/readyz', true);
    expect(r.status).toBe(200);
    expect(await bidder.terminate()).toMatchObject({ code: 0 });
    expect(lines().filter((l) => l.level === 'info')).toEqual([]);
    // NOTICE_BASE_URL is http here: that warning still shows.
    expect(lines().some((l) => l.level === 'warn')).toBe(true);
  }, 60_000);

  it('a LOG_LEVEL it does not know refuses the start, naming the variable', () => {
    const r = spawnSync(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, LOG_LEVEL: 'verbose', DATA_DIR: dataDir(), PORT: '0', ADMIN_PORT: '0', HOST: '127.0.0.1' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/LOG_LEVEL/);
  }, 40_000);
});
