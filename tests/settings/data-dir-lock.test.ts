/**
 * One bidder process per DATA_DIR: the lock file against live, dead and remote holders (with a pid
 * check and a clock given to it), and two real bidder processes on one DATA_DIR.
 */
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirInUse, DataDirLock, LOCK_FILE } from '../../src/settings/data-dir-lock.js';
import { BidderProcess } from '../helpers/bidder-process.js';
import { TempDirs } from '../helpers/temp-dirs.js';

let dir: string;
const locks: DataDirLock[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lock-'));
});
afterEach(async () => {
  for (const l of locks.splice(0)) l.release();
  await rm(dir, { recursive: true, force: true });
});

const holderFile = (pid: number, host: string) => `${JSON.stringify({ pid, host, startedAt: '2026-01-01T00:00:00.000Z' })}\n`;
async function acquire(opts: Parameters<typeof DataDirLock.acquire>[1] = {}): Promise<DataDirLock> {
  const lock = await DataDirLock.acquire(dir, { host: 'here', ...opts });
  locks.push(lock);
  return lock;
}

describe('DataDirLock', () => {
  it('is taken in an empty (or missing) directory and removed on release', async () => {
    const sub = join(dir, 'not', 'yet');
    const lock = await DataDirLock.acquire(sub, { pid: 4242, host: 'here' });
    const held = JSON.parse(await readFile(join(sub, LOCK_FILE), 'utf8'));
    expect(held).toMatchObject({ pid: 4242, host: 'here' });
    lock.release();
    await expect(readFile(join(sub, LOCK_FILE))).rejects.toThrow(/ENOENT/);
    lock.release(); // twice is fine
  });

  it('refuses while a live process on this host holds it, naming it', async () => {
    await acquire({ pid: 111 });
    const err = await DataDirLock.acquire(dir, { pid: 222, host: 'here', isAlive: (p) => p === 111 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirInUse);
    expect((err as Error).message).toMatch(/in use by another bidder \(pid 111 on here, started /);
  });

  it('takes over a lock whose process is gone, with a warning', async () => {
    await writeFile(join(dir, LOCK_FILE), holderFile(111, 'here'));
    const logs: string[] = [];
    await acquire({ pid: 222, isAlive: () => false, log: (_l, msg) => logs.push(msg) });
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).pid).toBe(222);
    expect(logs).toEqual(['taking over a DATA_DIR lock left by a bidder that is gone']);
  });

  it('takes over its own pid (a restarted container is pid 1 again)', async () => {
    await writeFile(join(dir, LOCK_FILE), holderFile(1, 'here'));
    await acquire({ pid: 1, isAlive: () => true });
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).startedAt).not.toBe('2026-01-01T00:00:00.000Z');
  });

  it('another host: refused while the lock is touched, taken over once it is stale', async () => {
    await writeFile(join(dir, LOCK_FILE), holderFile(111, 'there'));
    const now = Date.now();
    await expect(DataDirLock.acquire(dir, { pid: 222, host: 'here', isAlive: () => false, now: () => now })).rejects.toBeInstanceOf(DataDirInUse);
    await expect(DataDirLock.acquire(dir, { pid: 222, host: 'here', isAlive: () => false, now: () => now + 29_000 })).rejects.toBeInstanceOf(DataDirInUse);
    await acquire({ pid: 222, isAlive: () => false, now: () => now + 31_000 });
  });

  it('a live pid whose lock went untouched is a reused pid, not a holder', async () => {
    await writeFile(join(dir, LOCK_FILE), holderFile(111, 'here'));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, LOCK_FILE), old, old);
    await acquire({ pid: 222, isAlive: () => true });
  });

  it('the holder keeps it fresh, and release leaves a lock that is not its own', async () => {
    const lock = await acquire({ pid: 111, touchMs: 20 });
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, LOCK_FILE), old, old);
    await new Promise((r) => setTimeout(r, 100));
    await expect(DataDirLock.acquire(dir, { pid: 222, host: 'there' })).rejects.toBeInstanceOf(DataDirInUse);
    await writeFile(join(dir, LOCK_FILE), holderFile(333, 'here')); // someone else's now
    lock.release();
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).pid).toBe(333);
  });

  it('an unreadable lock file is judged by its age', async () => {
    await writeFile(join(dir, LOCK_FILE), '');
    await expect(DataDirLock.acquire(dir, { pid: 222, host: 'here' })).rejects.toBeInstanceOf(DataDirInUse);
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, LOCK_FILE), old, old);
    await acquire({ pid: 222 });
  });
});

describe('two bidder processes on one DATA_DIR', () => {
  const temp = new TempDirs();
  afterAll(() => temp.removeAll());

  it('the second refuses to start and the first keeps serving; after a kill, the next one takes the lock over', async () => {
    const dataDir = await temp.make('shared-data');
    const first = await BidderProcess.start({ CONFIG_DIR: 'config', DATA_DIR: dataDir });
    try {
      const second = await BidderProcess.start({ CONFIG_DIR: 'config', DATA_DIR: dataDir }).catch((e: Error) => e);
      expect(second).toBeInstanceOf(Error);
      expect((second as Error).message).toMatch(/bidder exited at start-up \(1\)/);
      expect((second as Error).message).toContain(`DATA_DIR ${dataDir} is in use by another bidder (pid ${first.child.pid} on `);
      expect((await first.get('/readyz', true)).status).toBe(200);
      first.kill();
      await first.exited;
      const third = await BidderProcess.start({ CONFIG_DIR: 'config', DATA_DIR: dataDir });
      expect(third.logs).toContain('taking over a DATA_DIR lock left by a bidder that is gone');
      expect(await third.terminate()).toEqual({ code: 0, signal: null });
      await expect(readFile(join(dataDir, LOCK_FILE))).rejects.toThrow(/ENOENT/); // removed at exit
    } finally {
      first.kill();
    }
  }, 60_000);
});
