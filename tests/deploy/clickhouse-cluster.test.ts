/**
 * The ClickHouse cluster schema of deploy/clickhouse/cluster/ against the bidder's own code: two real
 * ClickHouse 18.16 servers (Debian's package) as the two shards of `bidder_cluster`, the bidder's
 * settings profile (users.d/bidder-profile.xml, as shipped) on both, and schema.sql applied to both
 * with ON CLUSTER and the Replicated engine taken out (both need ZooKeeper/Keeper, which is not here;
 * everything else runs as written). Then, through the Distributed tables, exactly what a bidder does:
 * migrations, inserts from two instances (one per node), and reports, checked against the numbers of
 * the shared report dataset.
 *
 * One departure: 18.16 forwards a Distributed table's MATERIALIZED column (event_date) with an insert
 * and the shard refuses it (fixed in ClickHouse 19.x, which schema.sql requires). So the inserts go
 * through a test-only database `dsp_insert` of Distributed tables with the same sharding key and every
 * column but event_date; migrations and reports use the shipped `dsp` tables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseDatabase } from '../../src/events/clickhouse-database.js';
import { EVENT_TABLES, type BidderEvent } from '../../src/events/event-types.js';
import { appliedMigrations, migrate } from '../../src/events/migrate.js';
import { MIGRATIONS } from '../../src/events/migrations/index.js';
import { parseReportParams, runReport, type ReportQuery } from '../../src/events/reports.js';
import { freePort } from '../helpers/redis-server.js';
import { BY_CAMPAIGN_HOUR, BY_EXCHANGE_DAY, byTable, DAY1, DUPLICATES, EVENTS, TOTAL_DAY1 } from '../events/report-dataset.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLUSTER_DIR = join(ROOT, 'deploy', 'clickhouse', 'cluster');
const TABLES = Object.values(EVENT_TABLES);

function serverBinary(): { cmd: string; args: string[] } | undefined {
  if (process.env.CLICKHOUSE_SERVER_BIN) return { cmd: process.env.CLICKHOUSE_SERVER_BIN, args: [] };
  for (const p of ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server']) if (existsSync(p)) return { cmd: p, args: [] };
  if (existsSync('/usr/bin/clickhouse')) return { cmd: '/usr/bin/clickhouse', args: ['server'] };
  return undefined;
}

/** schema.sql as statements, for servers without Keeper: no ON CLUSTER, ReplacingMergeTree instead of the Replicated one. */
export function schemaStatementsWithoutKeeper(sql: string): string[] {
  const text = sql
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .replace(/ ON CLUSTER bidder_cluster/g, '')
    .replace(/ReplicatedReplacingMergeTree\('[^']*', '\{replica\}'\)/g, 'ReplacingMergeTree()');
  return text
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

interface Node {
  readonly dir: string;
  readonly http: number;
  readonly tcp: number;
  child?: ChildProcess;
}

async function startNode(node: Node, cluster: string): Promise<void> {
  const d = node.dir;
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log', 'users.d']) mkdirSync(join(d, sub), { recursive: true });
  const inter = await freePort();
  writeFileSync(
    join(d, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${d}/log/server.log</log><errorlog>${d}/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${node.http}</http_port>
  <tcp_port>${node.tcp}</tcp_port>
  <interserver_http_port>${inter}</interserver_http_port>
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
  <mlock_executable>false</mlock_executable>
  <shutdown_wait_unfinished>1</shutdown_wait_unfinished>
  <keep_alive_timeout>2</keep_alive_timeout>
  <remote_servers>${cluster}</remote_servers>
</yandex>
`,
  );
  // The default user (for set-up and inspection) and the bidder's user with the shipped profile.
  writeFileSync(
    join(d, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <bidder><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>bidder</profile><quota>default</quota></bidder>
  </users>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  copyFileSync(join(CLUSTER_DIR, 'users.d', 'bidder-profile.xml'), join(d, 'users.d', 'bidder-profile.xml'));
  const bin = serverBinary()!;
  const child = spawn(bin.cmd, [...bin.args, `--config-file=${join(d, 'config.xml')}`], { cwd: d, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (stderr.length < 8192) stderr += c.toString();
  });
  node.child = child;
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      let log = '';
      try {
        log = readFileSync(join(d, 'log', 'server.err.log'), 'utf8').slice(-4000);
      } catch {
        /* none */
      }
      throw new Error(`clickhouse-server exited at start-up: ${stderr}\n${log}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${node.http}/ping`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`clickhouse-server did not answer on ${node.http}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sql(node: Node, query: string, user = 'default'): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${node.http}/?user=${user}`, { method: 'POST', body: query });
  const text = await res.text();
  if (!res.ok) throw new Error(`clickhouse ${res.status}: ${text}\n${query}`);
  return text;
}

const rowsOf = async (node: Node, query: string) =>
  (await sql(node, `${query} FORMAT JSONEachRow`))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function query(text: string): ReportQuery {
  const q = parseReportParams(Object.fromEntries(new URLSearchParams(text)));
  if (!q.ok) throw new Error(JSON.stringify(q.errors));
  return q.query;
}

const bin = serverBinary();
if (!bin) console.warn('clickhouse-server not found: skipping the ClickHouse cluster schema tests (tests/run.sh installs it)');

describe.skipIf(!bin)('ClickHouse cluster schema (deploy/clickhouse/cluster) with the bidder', () => {
  const nodes: Node[] = [];
  let storeA: ClickHouseDatabase;
  let storeB: ClickHouseDatabase;
  let insertA: ClickHouseDatabase;
  let insertB: ClickHouseDatabase;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) nodes.push({ dir: mkdtempSync(join(tmpdir(), `ch-cluster-${i}-`)), http: await freePort(), tcp: await freePort() });
    const cluster = `<bidder_cluster>${nodes
      .map((n) => `<shard><replica><host>127.0.0.1</host><port>${n.tcp}</port></replica></shard>`)
      .join('')}</bidder_cluster>`;
    await Promise.all(nodes.map((n) => startNode(n, cluster)));
    const statements = schemaStatementsWithoutKeeper(readFileSync(join(CLUSTER_DIR, 'schema.sql'), 'utf8'));
    for (const n of nodes) for (const s of statements) await sql(n, s);
    for (const n of nodes) {
      await sql(n, 'CREATE DATABASE IF NOT EXISTS dsp_insert');
      for (const t of TABLES) {
        const cols = await rowsOf(n, `SELECT name, type FROM system.columns WHERE database = 'dsp_local' AND table = '${t}' AND default_kind != 'MATERIALIZED'`);
        await sql(
          n,
          `CREATE TABLE dsp_insert.${t} (${cols.map((c) => `${c.name} ${c.type}`).join(', ')}) ENGINE = Distributed(bidder_cluster, dsp_local, ${t}, cityHash64(event_id))`,
        );
      }
    }
    // Two bidder instances, each talking to a different node, as the bidder's user.
    storeA = await ClickHouseDatabase.open(`http://bidder:@127.0.0.1:${nodes[0].http}/dsp`);
    storeB = await ClickHouseDatabase.open(`http://bidder:@127.0.0.1:${nodes[1].http}/dsp`);
    insertA = await ClickHouseDatabase.open(`http://bidder:@127.0.0.1:${nodes[0].http}/dsp_insert`);
    insertB = await ClickHouseDatabase.open(`http://bidder:@127.0.0.1:${nodes[1].http}/dsp_insert`);
  }, 60_000);

  afterAll(async () => {
    await storeA?.close();
    await storeB?.close();
    await insertA?.close();
    await insertB?.close();
    for (const n of nodes) {
      n.child?.kill('SIGKILL');
      rmSync(n.dir, { recursive: true, force: true });
    }
  });

  it('schema.sql loses only ON CLUSTER and the Replicated engine in the test form', () => {
    const original = readFileSync(join(CLUSTER_DIR, 'schema.sql'), 'utf8');
    const statements = schemaStatementsWithoutKeeper(original);
    // 2 databases, and a local plus a Distributed table for each event table and schema_migrations.
    expect(statements).toHaveLength(2 + 2 * (TABLES.length + 1));
    expect(original.match(/ON CLUSTER bidder_cluster/g)).toHaveLength(statements.length);
    expect(original.match(/ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/dsp_local\/(\w+)', '\{replica\}'\)/g)).toHaveLength(TABLES.length + 1);
  });

  it("the bidder's user runs with the profile's settings", async () => {
    const [row] = await rowsOf(nodes[0], `SELECT value FROM system.settings WHERE name = 'insert_distributed_sync'`);
    expect(row).toEqual({ value: '0' }); // default user
    expect(await storeA.query(`SELECT value FROM system.settings WHERE name = 'insert_distributed_sync'`)).toEqual([{ value: '1' }]);
  });

  it("local tables are the bidder's migration 0001 tables, column for column, key for key", async () => {
    // The reference: the bidder's own migrations in a scratch database on one node.
    const ref = await ClickHouseDatabase.open(`http://default:@127.0.0.1:${nodes[0].http}/dsp_reference`);
    try {
      await migrate(ref);
    } finally {
      await ref.close();
    }
    const describe = async (db: string) => {
      const tables = await rowsOf(nodes[0], `SELECT name, engine_full FROM system.tables WHERE database = '${db}' ORDER BY name`);
      const columns = await rowsOf(
        nodes[0],
        `SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = '${db}'`,
      );
      return { tables, columns };
    };
    const reference = await describe('dsp_reference');
    const local = await describe('dsp_local');
    expect(local.tables.map((t) => t.name)).toEqual([...TABLES, 'schema_migrations'].sort());
    expect(local).toEqual(reference);
  });

  it('every dsp table is Distributed over dsp_local, on both nodes', async () => {
    for (const n of nodes) {
      const tables = await rowsOf(n, `SELECT name, engine_full FROM system.tables WHERE database = 'dsp' ORDER BY name`);
      expect(tables.map((t) => t.name)).toEqual([...TABLES, 'schema_migrations'].sort());
      for (const t of tables) {
        const key = t.name === 'schema_migrations' ? 'version' : 'cityHash64(event_id)';
        expect(t.engine_full).toBe(`Distributed(bidder_cluster, dsp_local, ${t.name}, ${key})`);
      }
    }
  });

  it('migrations at bidder start: recorded once, tables left as the DBA made them; the second bidder sees the record', async () => {
    expect(await migrate(storeA)).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: MIGRATIONS.at(-1)!.version });
    expect(await migrate(storeB)).toEqual({ applied: [], version: MIGRATIONS.at(-1)!.version });
    expect((await appliedMigrations(storeB)).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    const engines = await storeA.query<{ engine: string }>(`SELECT DISTINCT engine FROM system.tables WHERE database = 'dsp'`);
    expect(engines).toEqual([{ engine: 'Distributed' }]);
  });

  it('inserts from two bidders spread over both shards, every copy of an event on one shard', async () => {
    for (const [table, rows] of byTable(EVENTS)) await insertA.insert(table, rows);
    // A retry or a second instance: the same events again, through the other node.
    for (const [table, rows] of byTable(DUPLICATES)) await insertB.insert(table, rows);
    // insert_distributed_sync: on the shards as soon as the inserts returned.
    const perShard = await Promise.all(
      nodes.map(async (n) => {
        const counts: Record<string, number> = {};
        for (const t of TABLES) counts[t] = Number((await rowsOf(n, `SELECT count() AS n FROM dsp_local.${t}`))[0].n);
        return counts;
      }),
    );
    const total = (t: string) => perShard[0][t] + perShard[1][t];
    for (const t of TABLES) expect(total(t), t).toBe(byTable([...EVENTS, ...DUPLICATES]).get(t)?.length ?? 0);
    expect(Object.values(perShard[0]).reduce((a, b) => a + b)).toBeGreaterThan(0);
    expect(Object.values(perShard[1]).reduce((a, b) => a + b)).toBeGreaterThan(0);
    for (const e of DUPLICATES) {
      const t = EVENT_TABLES[(e as BidderEvent).type];
      const where = await Promise.all(
        nodes.map(async (n) => Number((await rowsOf(n, `SELECT count() AS n FROM dsp_local.${t} WHERE event_id = '${e.event_id}'`))[0].n)),
      );
      expect(where.sort(), e.event_id).toEqual([0, 2]);
    }
  });

  it('reports through the Distributed tables count every event once, from either node', async () => {
    for (const store of [storeA, storeB]) {
      const day = await runReport(store, query(`groupBy=day&from=${DAY1}&to=${DAY1}`));
      expect(day).toHaveLength(1);
      expect(day[0]).toMatchObject({ day: DAY1, ...TOTAL_DAY1 });
      expect(await runReport(store, query(`groupBy=campaign,hour&from=${DAY1}&to=2024-05-02`))).toEqual(BY_CAMPAIGN_HOUR);
      expect(await runReport(store, query(`groupBy=exchange,day&from=${DAY1}T00:00:00Z&to=2024-05-03T00:00:00Z`))).toEqual(BY_EXCHANGE_DAY);
    }
  });

  it('merges on each shard collapse the duplicates and leave the reports unchanged', async () => {
    for (const n of nodes) for (const t of TABLES) await sql(n, `OPTIMIZE TABLE dsp_local.${t} FINAL`);
    expect(Number((await storeA.query<{ n: string }>(`SELECT count() AS n FROM wins`))[0].n)).toBe(3);
    expect(await runReport(storeA, query(`groupBy=campaign,hour&from=${DAY1}&to=2024-05-02`))).toEqual(BY_CAMPAIGN_HOUR);
  });
});
