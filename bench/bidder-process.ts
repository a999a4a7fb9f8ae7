/**
 * The bidder under test, as a child process (`node dist/src/main.js` of a build directory: the
 * working tree, or a temporary git worktree of another revision) on free 127.0.0.1 ports, with
 * the generated scenario as CONFIG_DIR and a temporary DATA_DIR.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, httpGet, isRunning, RssSampler, startChild, stopChild, sumCounter } from './processes.js';
import { durationBuckets, type DurationBuckets } from './bidder-latency.js';

/** The config API's admin key of the bidders the bench starts (audience setup and uploads use it). */
export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789';

export interface BidderOptions {
  /** Directory holding dist/src/main.js (and node_modules). */
  readonly buildDir: string;
  readonly configDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly redisUrl?: string;
  readonly clickhouseUrl?: string;
  /** Options for node itself (e.g. `--cpu-prof`), before the script. */
  readonly nodeArgs?: readonly string[];
  /** Extra environment (wins over everything else). */
  readonly env?: Record<string, string>;
}

export class BidderProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly adminPort: number,
    readonly rss: RssSampler,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  get bidUrl(): string {
    return `http://127.0.0.1:${this.port}/bid`;
  }

  static async start(o: BidderOptions, timeoutMs = 120_000): Promise<BidderProcess> {
    await mkdir(o.dataDir, { recursive: true });
    const port = await freePort();
    let adminPort = await freePort();
    while (adminPort === port) adminPort = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Only the backends asked for: a REDIS_URL in the caller's shell must not switch the embedded run.
    delete env.REDIS_URL;
    delete env.CLICKHOUSE_URL;
    Object.assign(env, {
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      CONFIG_DIR: o.configDir,
      DATA_DIR: o.dataDir,
      WORKERS: '1',
      INSTANCE_ID: 'bench',
      DSP_ADMIN_KEY: BENCH_ADMIN_KEY,
      // The setup makes a few hundred API calls in a burst (segments, then the upload).
      API_RATE_LIMIT: '100000',
      API_RATE_BURST: '100000',
      NOTICE_BASE_URL: `http://127.0.0.1:${port}`,
      NOTICE_SIGNING_KEYS: 'bench:benchmark-signing-key-0123456789',
      ...(o.redisUrl ? { REDIS_URL: o.redisUrl } : {}),
      ...(o.clickhouseUrl ? { CLICKHOUSE_URL: o.clickhouseUrl } : {}),
      ...o.env,
    });
    const child = startChild(process.execPath, [...(o.nodeArgs ?? []), join(o.buildDir, 'dist/src/main.js')], { cwd: o.buildDir, env, logFile: o.logFile });
    child.once('error', () => {});
    const deadline = Date.now() + timeoutMs;
    let path = '/readyz';
    for (;;) {
      if (!isRunning(child)) throw new Error(`the bidder exited during start-up (code ${child.exitCode ?? child.signalCode}); see ${o.logFile}`);
      try {
        const r = await httpGet(adminPort, path, 1_000);
        if (r.status === 200) break;
        if (r.status === 404 && path === '/readyz') path = '/healthz'; // an older revision without /readyz
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await stopChild(child, 2_000);
        throw new Error(`the bidder was not ready after ${Math.round(timeoutMs / 1000)} s; see ${o.logFile}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return new BidderProcess(child, port, adminPort, new RssSampler(child.pid));
  }

  async metrics(): Promise<string> {
    try {
      const r = await httpGet(this.adminPort, '/metrics', 5_000);
      return r.status === 200 ? r.body : '';
    } catch {
      return '';
    }
  }

  /**
   * Requests the bidder gave up on: `bidder_bid_requests_total{outcome="timeout"}` (deadline
   * missed) and `{outcome="shed"}` (refused while overloaded, where the bidder has load shedding),
   * summed over exchanges; and the bidder's own request-duration histogram (bidder-latency.ts).
   */
  async missed(): Promise<{ timeouts: number; shed: number; durations: DurationBuckets }> {
    const text = await this.metrics();
    return {
      timeouts: sumCounter(text, 'bidder_bid_requests_total', { outcome: 'timeout' }),
      shed: sumCounter(text, 'bidder_bid_requests_total', { outcome: 'shed' }),
      durations: durationBuckets(text),
    };
  }

  async stop(): Promise<void> {
    this.rss.stop();
    await stopChild(this.child, 25_000);
  }
}
