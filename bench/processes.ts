/**
 * Child processes of a benchmark run (the bidder, the ceiling server, local Redis / ClickHouse),
 * each registered so that every one is stopped at the end, on failure and on Ctrl-C; RSS from
 * /proc/<pid>/status; the bidder's /metrics counters; free ports on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';

const children = new Set<ChildProcess>();

/** Starts a child and remembers it for stopAll(). Its output goes to `logFile` (when given). */
export function startChild(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string }): ChildProcess {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (opts.logFile) {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', () => setTimeout(() => log.end(), 50));
  }
  return child;
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (!isRunning(child)) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Stops every child still running (in parallel). */
export async function stopAll(graceMs = 20_000): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, graceMs)));
}

/** Last resort on process exit: SIGKILL whatever is left (synchronous). */
export function killAllNow(): void {
  for (const c of children) if (isRunning(c)) c.kill('SIGKILL');
}

/** Resident set size of a process in MB, from /proc/<pid>/status (undefined when unavailable). */
export function rssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `intervalMs`, keeping the peak and the last value. */
export class RssSampler {
  peak = 0;
  last = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pid: number | undefined, intervalMs = 500) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }
  sample(): number | undefined {
    const v = rssMb(this.pid);
    if (v !== undefined) {
      this.last = v;
      if (v > this.peak) this.peak = v;
    }
    return v;
  }
  /** Starts a new peak window (e.g. per phase); returns the previous window's peak. */
  resetPeak(): number {
    const p = this.peak;
    this.peak = this.last;
    return p;
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A GET on 127.0.0.1; resolves with status and body (never rejects on HTTP errors). */
export function httpGet(port: number, path: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout: GET ${path}`)));
    req.end();
  });
}

/** Polls `GET path` until it answers 200, the child exits, or the deadline passes. */
export async function waitReady(child: ChildProcess, port: number, path: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isRunning(child)) throw new Error(`${what} exited during start-up (code ${child.exitCode ?? child.signalCode})`);
    try {
      if ((await httpGet(port, path, 1_000)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The samples of one metric in a Prometheus text scrape: each series' labels and value. */
export function* metricSamples(text: string, metric: string): Generator<{ labels: Record<string, string>; value: number }> {
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+([-+0-9.eE]+|NaN|\+Inf)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    yield { labels, value: Number(m[4]) };
  }
}

/** Sum of a Prometheus counter over the series whose labels include every `match` pair. */
export function sumCounter(text: string, metric: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const { labels, value } of metricSamples(text, metric)) if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += value;
  return sum;
}
