/**
 * The BudgetStore contract on the in-process store, a real redis-server, a real 3-master Redis
 * Cluster, and through the bid workers' proxy to the main thread's store.
 */
import { afterAll, beforeAll } from 'vitest';
import type { RedisServer } from '../helpers/redis-server.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import type { RedisCluster } from '../helpers/redis-cluster.js';
import { createRedis } from '../../src/storage/redis-client.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { RedisBudgetStore } from '../../src/money/redis-budget-store.js';
import { budgetStoreContract } from './budget-store.contract.js';
import { whenReady } from '../helpers/redis-ready.js';
import { workerLink } from '../helpers/worker-link.js';
import { RemoteBudgetStore } from '../../src/workers/remote.js';

let servers: ContractServers;
let server: RedisServer;
let cluster: RedisCluster;

beforeAll(async () => {
  servers = await startContractServers();
  ({ server, cluster } = servers);
});

afterAll(() => servers?.stop());

budgetStoreContract('memory', async () => ({ store: new MemoryBudgetStore(), cleanup: async () => {} }));

let n = 0;
budgetStoreContract('redis', async () => {
  const store = new RedisBudgetStore(await whenReady(createRedis(server.url)), `{bgt${++n}}:`, true);
  return { store, cleanup: () => store.close() };
});

budgetStoreContract('redis cluster (3 masters)', async () => {
  const store = new RedisBudgetStore(await whenReady(createRedis(cluster.url)), `{bgt${++n}}:`, true);
  return { store, cleanup: () => store.close() };
});

/** The worker proxy: a bid thread renewing and spending on the main thread's one store. */
budgetStoreContract('worker proxy (RemoteBudgetStore → memory, over a MessageChannel)', async () => {
  const end = workerLink({ budgetStore: new MemoryBudgetStore() });
  return { store: new RemoteBudgetStore(end.link), cleanup: async () => end.close() };
});
