/**
 * The built bidder (`node dist/src/main.js`) as a child process on free ports, for tests of what
 * only a real process shows: start-up, signals, exit codes, state left on disk. Output is kept
 * (bounded) for failure messages; `kill()` is SIGKILL and is safe to call on an exited process.
 * Requires the build (tests/run.sh runs `tsc -p tsconfig.build.json` first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './redis-server.js';
import { httpRequest, type HttpResult } from './bidder.js';

export const MAIN = 'dist/src/main.js';
/** The config API's first admin key in every bidder process a test starts (admin-port API calls send it). */
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export class BidderProcess {
  private output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly adminPort: number,
  ) {
    const keep = (c: Buffer) => {
      this.output += c.toString();
      if (this.output.length > 64_000) this.output = this.output.slice(-32_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    // Never outlive the test process.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    void this.exited.then(() => process.removeListener('exit', reap));
  }

  /**
   * Starts the bidder with `env` (plus HOST, free PORT/ADMIN_PORT, NOTICE_BASE_URL) and waits for
   * /readyz. The bidder listens exclusively: when a "free" port was taken meanwhile, it tries again
   * on new ports (at most 3 times). The wait is generous: on a loaded 2-core machine running the
   * whole suite, a start (Node, then the embedded ClickHouse library) has taken over 15 s with no
   * output at all; a bidder that never gets ready still fails the test.
   */
  static async start(env: Record<string, string>, readyTimeoutMs = 45_000): Promise<BidderProcess> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
    for (let attempt = 1; ; attempt++) {
      try {
        return await BidderProcess.startOnce(env, readyTimeoutMs);
      } catch (e) {
        if (attempt >= 3 || !/cannot listen/.test((e as Error).message)) throw e;
      }
    }
  }

  private static async startOnce(env: Record<string, string>, readyTimeoutMs: number): Promise<BidderProcess> {
    const port = await freePort();
    let adminPort = await freePort();
    while (adminPort === port) adminPort = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        HOST: '127.0.0.1',
        PORT: String(port),
        ADMIN_PORT: String(adminPort),
        NOTICE_BASE_URL: `http://127.0.0.1:${port}`,
        // One bid thread unless a test asks for workers (tests/workers/ does).
        WORKERS: '1',
        // No load shedding: on a loaded test machine the event loop lags past 20 ms now and then, and a
        // functional test must not see its bid requests shed (tests about shedding set it themselves).
        SHED_LAG_MS: '0',
        DSP_ADMIN_KEY: TEST_ADMIN_KEY,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new BidderProcess(child, port, adminPort);
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (!p.running) {
        await p.exited; // all its output
        throw new Error(`bidder exited at start-up (${child.exitCode ?? child.signalCode}):\n${p.logs}`);
      }
      const r = await httpRequest(adminPort, 'GET', '/readyz').catch(() => undefined);
      if (r?.status === 200) return p;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`bidder not ready after ${readyTimeoutMs} ms:\n${p.logs}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get logs(): string {
    return this.output;
  }

  post(path: string, body: object): Promise<HttpResult> {
    return httpRequest(this.port, 'POST', path, JSON.stringify(body));
  }

  get(path: string, admin = false): Promise<HttpResult> {
    return admin
      ? httpRequest(this.adminPort, 'GET', path, undefined, { authorization: `Bearer ${TEST_ADMIN_KEY}` })
      : httpRequest(this.port, 'GET', path);
  }

  /** SIGTERM, and the exit that follows (SIGKILL after `timeoutMs`). */
  async terminate(timeoutMs = 25_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
