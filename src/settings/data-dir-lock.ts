/**
 * One bidder process per DATA_DIR. The event spool, the embedded chDB, the user table and the
 * notice key under it belong to one process: a second one on the same directory would number its
 * spool segments as the first does and write over its events (and chDB allows one process per data
 * directory). So the directory is locked at start, before anything in it is opened.
 *
 * The lock is a file, `DATA_DIR/bidder.lock` ({pid, host, startedAt}), created exclusively and
 * touched every LOCK_TOUCH_MS while the process runs. Another process refuses to start while the
 * holder is alive: on the same host, its pid still runs; on another host (a volume shared between
 * machines), the file was touched within LOCK_STALE_MS. A lock left by a crash (its pid gone, or
 * untouched for LOCK_STALE_MS; a restarted container that got the holder's pid back is the holder)
 * is taken over, with a warning. The file is removed at exit.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdir, open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';

export const LOCK_FILE = 'bidder.lock';
export const LOCK_TOUCH_MS = 10_000;
export const LOCK_STALE_MS = 30_000;

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

export class DataDirInUse extends Error {
  constructor(
    readonly dir: string,
    readonly holder: Holder,
  ) {
    super(
      `DATA_DIR ${dir} is in use by another bidder (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}): ` +
        'give each bidder process a DATA_DIR of its own',
    );
  }
}

export interface LockOptions {
  readonly pid?: number;
  readonly host?: string;
  /** Whether a process with this pid runs on this host. Default: signal 0. */
  readonly isAlive?: (pid: number) => boolean;
  readonly now?: () => number;
  readonly staleMs?: number;
  readonly touchMs?: number;
  readonly log?: (level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
}

export class DataDirLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    readonly path: string,
    private readonly me: Holder,
    private readonly log: NonNullable<LockOptions['log']>,
    touchMs: number,
  ) {
    this.timer = setInterval(() => void this.touch(), touchMs);
    this.timer.unref();
  }

  /** Takes the lock of `dir` (created if missing), or throws DataDirInUse. */
  static async acquire(dir: string, opts: LockOptions = {}): Promise<DataDirLock> {
    const me: Holder = { pid: opts.pid ?? process.pid, host: opts.host ?? hostname(), startedAt: new Date().toISOString() };
    const isAlive = opts.isAlive ?? pidAlive;
    const now = opts.now ?? Date.now;
    const staleMs = opts.staleMs ?? LOCK_STALE_MS;
    const log = opts.log ?? (() => {});
    const path = join(dir, LOCK_FILE);
    await mkdir(dir, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await open(path, 'wx');
        try {
          await fh.writeFile(`${JSON.stringify(me)}\n`);
        } finally {
          await fh.close();
        }
        return new DataDirLock(path, me, log, opts.touchMs ?? LOCK_TOUCH_MS);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw e;
      }
      let holder: Holder;
      let touchedAt: number;
      try {
        holder = parseHolder(await readFile(path, 'utf8'));
        touchedAt = (await stat(path)).mtimeMs;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        holder = { pid: 0, host: '?', startedAt: '?' }; // unreadable: judged by its age alone
        touchedAt = (await stat(path).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
      }
      const fresh = now() - touchedAt < staleMs;
      const sameHost = holder.host === me.host;
      const held = sameHost ? holder.pid !== me.pid && isAlive(holder.pid) && fresh : fresh;
      if (held) throw new DataDirInUse(dir, holder);
      log('warn', 'taking over a DATA_DIR lock left by a bidder that is gone', { path, holder, touchedMsAgo: Math.round(now() - touchedAt) });
      await unlink(path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
  }

  /** Keeps the lock fresh for processes on other hosts; says so loudly should it no longer be ours. */
  private async touch(): Promise<void> {
    if (this.released) return;
    try {
      const holder = parseHolder(await readFile(this.path, 'utf8'));
      if (!this.holds(holder)) {
        this.log('error', 'the DATA_DIR lock was taken by another process: two bidders share DATA_DIR', { path: this.path, holder });
        return;
      }
      const t = new Date();
      await utimes(this.path, t, t);
    } catch (e) {
      this.log('warn', 'could not refresh the DATA_DIR lock', { path: this.path, error: (e as Error).message });
    }
  }

  private holds(h: Holder): boolean {
    return h.pid === this.me.pid && h.host === this.me.host && h.startedAt === this.me.startedAt;
  }

  /** Removes the lock file if it is still ours. Synchronous, so it can run on the way out of the process. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    try {
      if (this.holds(parseHolder(readFileSync(this.path, 'utf8')))) unlinkSync(this.path);
    } catch {
      /* gone or unreadable: nothing of ours to remove */
    }
  }
}

function parseHolder(text: string): Holder {
  const h = JSON.parse(text) as Partial<Holder>;
  if (typeof h.pid !== 'number' || typeof h.host !== 'string' || typeof h.startedAt !== 'string') throw new Error('not a lock file');
  return { pid: h.pid, host: h.host, startedAt: h.startedAt };
}

function pidAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, someone else's
  }
}
