/**
 * A real 3-master Redis Cluster for one test file: three redis-server processes on free ports
 * (cluster bus ports chosen explicitly, so nothing depends on port + 10000 being free), joined with
 * `redis-cli --cluster create`, no replicas, no persistence. Requires redis-server and redis-cli
 * (Debian's redis-server package ships both).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, RedisServer } from './redis-server.js';

const run = promisify(execFile);

export class RedisCluster {
  private constructor(
    readonly nodes: readonly RedisServer[],
    private readonly dirs: readonly string[],
  ) {}

  /** `redis+cluster://h:p,h:p,h:p`, the form createRedis() takes. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  static async start(size = 3): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    const dirs: string[] = [];
    const cluster = new RedisCluster(nodes, dirs);
    try {
      for (let i = 0; i < size; i++) {
        const dir = await mkdtemp(join(tmpdir(), 'bidder-redis-cluster-'));
        dirs.push(dir);
        const busPort = await freePort();
        nodes.push(
          await RedisServer.start([
            '--cluster-enabled', 'yes',
            '--cluster-port', String(busPort),
            '--cluster-config-file', join(dir, 'nodes.conf'),
            // Redis's own default. A shorter timeout let a node starved of CPU while the whole suite
            // runs be marked failed; with no replicas the cluster then refuses every command
            // (cluster_state:fail) and clients drop to "not ready" until it is seen again.
            '--cluster-node-timeout', '15000',
            '--dir', dir,
          ]),
        );
      }
      await run(
        'redis-cli',
        ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 20_000 },
      );
      await cluster.waitUntilOk();
      return cluster;
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  }

  /** Every node reports cluster_state:ok and knows all of the 16384 slots. */
  private async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(
        this.nodes.map(async (n) => {
          const c = n.client();
          try {
            return String(await c.call('CLUSTER', 'INFO'));
          } finally {
            c.disconnect();
          }
        }),
      );
      if (states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s))) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster did not become ok:\n${states.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Plain clients, one per node (each a master), e.g. for FLUSHALL. */
  clients(): Redis[] {
    return this.nodes.map((n) => n.client());
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}
