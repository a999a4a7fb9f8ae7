/**
 * External backends for `--segment-store redis` and `--event-store clickhouse`: the server named
 * by REDIS_URL / CLICKHOUSE_URL when set; otherwise a throw-away local one (redis-server or
 * clickhouse-server on a free 127.0.0.1 port, data in a temp dir), stopped with the run.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startChild, waitReady, type RssSampler } from './processes.js';
import { createConnection } from 'node:net';

export interface Backend {
  readonly url: string;
  /** Started by us (and stopped with the run), or given by the environment. */
  readonly local: boolean;
  readonly pid?: number;
  rss?: RssSampler;
}

export async function redisBackend(tmp: string, logFile: string): Promise<Backend> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, local: false };
  const port = await freePort();
  const child = startChild(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', tmp],
    { logFile },
  );
  child.once('error', () => {});
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error('--segment-store redis: REDIS_URL is not set and no local redis-server could be started (install redis-server or set REDIS_URL)');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `redis://127.0.0.1:${port}`, local: true, pid: child.pid };
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.setTimeout(500);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

function clickhouseCommand(): { cmd: string; args: string[] } | undefined {
  if (process.env.CLICKHOUSE_SERVER_BIN) return { cmd: process.env.CLICKHOUSE_SERVER_BIN, args: [] };
  for (const p of ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server']) if (existsSync(p)) return { cmd: p, args: [] };
  if (existsSync('/usr/bin/clickhouse')) return { cmd: '/usr/bin/clickhouse', args: ['server'] };
  return undefined;
}

export async function clickhouseBackend(tmp: string, logFile: string): Promise<Backend> {
  if (process.env.CLICKHOUSE_URL) return { url: process.env.CLICKHOUSE_URL, local: false };
  const bin = clickhouseCommand();
  if (!bin) throw new Error('--event-store clickhouse: CLICKHOUSE_URL is not set and no clickhouse-server binary was found');
  const dir = join(tmp, 'clickhouse');
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  const [http, tcp, inter] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${http}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <interserver_http_port>${inter}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
  <shutdown_wait_unfinished>1</shutdown_wait_unfinished>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  const child = startChild(bin.cmd, [...bin.args, `--config-file=${join(dir, 'config.xml')}`], { cwd: dir, logFile });
  child.once('error', () => {});
  await waitReady(child, http, '/ping', 30_000, 'clickhouse-server');
  return { url: `http://default:@127.0.0.1:${http}/bench`, local: true, pid: child.pid };
}
