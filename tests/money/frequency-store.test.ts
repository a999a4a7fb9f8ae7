/** The FrequencyStore contract on the in-process store, a real redis-server and a real 3-master Redis Cluster. */
import { afterAll, beforeAll } from 'vitest';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import { createRedis } from '../../src/audiences/redis-client.js';
import { MemoryFrequencyStore, RedisFrequencyStore } from '../../src/money/frequency-store.js';
import { frequencyStoreContract } from './frequency-store.contract.js';
import { whenReady } from '../helpers/redis-ready.js';

let servers: ContractServers;

beforeAll(async () => {
  servers = await startContractServers();
});

afterAll(() => servers?.stop());

frequencyStoreContract('memory', async () => {
  const store = new MemoryFrequencyStore();
  return { store, other: store, cleanup: async () => {} };
});

let n = 0;
for (const [name, url] of [
  ['redis', () => servers.server.url],
  ['redis cluster (3 masters)', () => servers.cluster.url],
] as const) {
  frequencyStoreContract(name, async () => {
    const prefix = `fq${++n}:`;
    const store = new RedisFrequencyStore(await whenReady(createRedis(url())), prefix, true);
    const other = new RedisFrequencyStore(await whenReady(createRedis(url())), prefix, true);
    return { store, other, cleanup: () => Promise.all([store.close(), other.close()]).then(() => undefined) };
  });
}
