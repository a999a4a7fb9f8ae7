/** The BudgetStore contract on the in-process store, a real redis-server and a real 3-master Redis Cluster. */
import { afterAll, beforeAll } from 'vitest';
import type { RedisServer } from '../helpers/redis-server.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import type { RedisCluster } from '../helpers/redis-cluster.js';
import { createRedis } from '../../src/audiences/redis-client.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { RedisBudgetStore } from '../../src/money/redis-budget-store.js';
import { budgetStoreContract } from './budget-store.contract.js';
import { whenReady } from '../helpers/redis-ready.js';

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
