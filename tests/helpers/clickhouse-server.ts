/**
 * A real clickhouse-server (Debian's 18.16) for one test file: free ports (HTTP, native TCP,
 * interserver), a generated minimal config in a temp directory, data in that directory, a
 * passwordless `default` user, logs to files. Start-up is a fraction of a second.
 *
 * `stop()` (SIGTERM, wait for exit) and `restart()` keep the ports and the data directory, so a
 * test can take the server away and bring it back with its data; `kill()` is SIGKILL, as in a
 * crash; `dispose()` kills it and removes the directory. Requires clickhouse-server
 * (tests/run.sh installs Debian's package when it is missing).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.js';

function serverCommand(): { cmd: string; args: string[] } {
  if (process.env.CLICKHOUSE_SERVER_BIN) return { cmd: process.env.CLICKHOUSE_SERVER_BIN, args: [] };
  for (const p of ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server']) if (existsSync(p)) return { cmd: p, args: [] };
  // Official packages ship one `clickhouse` binary with subcommands.
  if (existsSync('/usr/bin/clickhouse')) return { cmd: '/usr/bin/clickhouse', args: ['server'] };
  return { cmd: 'clickhouse-server', args: [] };
}

export interface ClickHouseServerOptions {
  /** Database name in `url` (default `dsp`). The adapter creates it. */
  readonly database?: string;
}

export class ClickHouseServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly httpPort: number,
    readonly tcpPort: number,
    readonly interserverPort: number,
    readonly database: string,
  ) {}

  /** `http://default:@127.0.0.1:<port>/<database>` */
  get url(): string {
    return `http://default:@127.0.0.1:${this.httpPort}/${this.database}`;
  }

  /** The server URL without a database. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  static async start(opts: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
    const dir = mkdtempSync(join(tmpdir(), 'ch-test-'));
    const [http, tcp, inter] = await distinctFreePorts(3);
    const server = new ClickHouseServer(dir, http, tcp, inter, opts.database ?? 'dsp');
    server.writeConfig();
    await server.restart();
    return server;
  }

  private writeConfig(): void {
    const d = this.dir;
    for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(
      join(d, 'config.xml'),
      `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${d}/log/server.log</log>
    <errorlog>${d}/log/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${this.httpPort}</http_port>
  <tcp_port>${this.tcpPort}</tcp_port>
  <interserver_http_port>${this.interserverPort}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${d}/data/</path>
  <tmp_path>${d}/tmp/</tmp_path>
  <user_files_path>${d}/user_files/</user_files_path>
  <format_schema_path>${d}/format_schemas/</format_schema_path>
  <users_config>${d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
  <!-- On SIGTERM, wait at most this long for open (keep-alive) connections: stop() stays quick. -->
  <shutdown_wait_unfinished>1</shutdown_wait_unfinished>
  <keep_alive_timeout>2</keep_alive_timeout>
</yandex>
`,
    );
    writeFileSync(
      join(d, 'users.xml'),
      `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`,
    );
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** (Re)starts the server on the same ports and data, and waits until `/ping` answers. */
  async restart(): Promise<void> {
    if (this.running) return;
    const { cmd, args } = serverCommand();
    const child = spawn(cmd, [...args, `--config-file=${join(this.dir, 'config.xml')}`], {
      cwd: this.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 8192) stderr += c.toString();
    });
    this.child = child;
    // Never outlive the test process, even when a test forgets dispose() or the worker dies.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        process.removeListener('exit', reap);
        resolve();
      }),
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`clickhouse-server exited at start-up (${child.exitCode ?? child.signalCode}): ${stderr}${this.errorLog()}`);
      }
      if (await this.ping()) return;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`clickhouse-server did not answer /ping on ${this.httpPort}: ${stderr}${this.errorLog()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(`${this.baseUrl}/ping`, { signal: AbortSignal.timeout(1000) });
      return res.ok && (await res.text()).startsWith('Ok');
    } catch {
      return false;
    }
  }

  /** Runs SQL over plain HTTP (no client library): for test set-up and inspection. */
  async sql(query: string): Promise<string> {
    const res = await fetch(`${this.baseUrl}/?database=${encodeURIComponent(this.database)}`, { method: 'POST', body: query });
    const text = await res.text();
    if (!res.ok) throw new Error(`clickhouse ${res.status}: ${text}`);
    return text;
  }

  private errorLog(): string {
    try {
      return '\n' + readFileSync(join(this.dir, 'log', 'server.err.log'), 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  /** SIGTERM and wait for the process to exit (a clean shutdown). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM', 15_000);
  }

  /** SIGKILL: the server dies without a goodbye, as in a crash. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 5_000);
  }

  private async signal(sig: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the server and deletes its directory. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}
