/**
 * The real servers a store's contract suite runs against: one redis-server and a 3-master Redis
 * Cluster, started together, each with a plain client for inspecting and flushing between tests.
 */
import type { Redis } from 'ioredis';
import { RedisCluster } from './redis-cluster.js';
import { RedisServer } from './redis-server.js';

export interface ContractServers {
  readonly server: RedisServer;
  readonly cluster: RedisCluster;
  /** A client of `server`. */
  readonly raw: Redis;
  /** One client per cluster master. */
  readonly clusterRaw: Redis[];
  stop(): Promise<void>;
}

export async function startContractServers(): Promise<ContractServers> {
  const [server, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start(3)]);
  const raw = server.client();
  const clusterRaw = cluster.clients();
  return {
    server,
    cluster,
    raw,
    clusterRaw,
    async stop() {
      raw.disconnect();
      for (const c of clusterRaw) c.disconnect();
      await Promise.all([server.stop(), cluster.stop()]);
    },
  };
}
