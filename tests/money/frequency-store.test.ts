/**
 * The FrequencyStore contract on the in-process store, a real redis-server, a real 3-master Redis
 * Cluster, and through the bid workers' proxy to the main thread's store.
 */
import { afterAll, beforeAll } from 'vitest';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import { createRedis } from '../../src/storage/redis-client.js';
import { MemoryFrequencyStore, RedisFrequencyStore } from '../../src/money/frequency-store.js';
import { frequencyStoreContract } from './frequency-store.contract.js';
import { whenReady } from '../helpers/redis-ready.js';
import { workerLink } from '../helpers/worker-link.js';
import { RemoteFrequencyStore } from '../../src/workers/remote.js';

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

/** The worker proxy: two bid threads (each its own port) reading and counting on the main thread's one store. */
frequencyStoreContract('worker proxy (RemoteFrequencyStore → memory, over a MessageChannel)', async () => {
  const main = new MemoryFrequencyStore();
  const a = workerLink({ frequencyStore: main });
  const b = workerLink({ frequencyStore: main });
  return {
    store: new RemoteFrequencyStore(a.link),
    other: new RemoteFrequencyStore(b.link),
    cleanup: async () => {
      a.close();
      b.close();
    },
  };
});
