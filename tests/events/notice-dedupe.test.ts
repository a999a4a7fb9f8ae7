/**
 * The NoticeDedupe contract on the in-process marks, a real redis-server, a real 3-master Redis
 * Cluster, and through a bid worker's proxy (TrackedDedupe over RemoteNoticeDedupe, as
 * bid-worker.ts builds it) to the main thread's marks; then what each backend does on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { MemoryNoticeDedupe, RedisNoticeDedupe } from '../../src/events/notice-dedupe.js';
import { createRedis, hotPathRedisOptions } from '../../src/storage/redis-client.js';
import { RemoteNoticeDedupe, TrackedDedupe } from '../../src/workers/remote.js';
import { startContractServers, type ContractServers } from '../helpers/contract-servers.js';
import { freePort, RedisServer } from '../helpers/redis-server.js';
import { whenReady } from '../helpers/redis-ready.js';
import { workerLink } from '../helpers/worker-link.js';
import { noticeDedupeContract } from './notice-dedupe.contract.js';

let servers: ContractServers;

beforeAll(async () => {
  servers = await startContractServers();
});

afterAll(() => servers?.stop());

noticeDedupeContract('memory', {
  make: async () => {
    const dedupe = new MemoryNoticeDedupe(3600);
    return { dedupe, other: dedupe, cleanup: async () => {} };
  },
});

let n = 0;
for (const [name, url, downUrl] of [
  ['redis', () => servers.server.url, (port: number) => `redis://127.0.0.1:${port}`],
  ['redis cluster (3 masters)', () => servers.cluster.url, (port: number) => `redis+cluster://127.0.0.1:${port}`],
] as const) {
  noticeDedupeContract(name, {
    make: async () => {
      const prefix = `{seen${++n}}:`;
      const [c1, c2] = await Promise.all([whenReady(createRedis(url())), whenReady(createRedis(url()))]);
      return {
        dedupe: new RedisNoticeDedupe(c1, 3600, prefix),
        other: new RedisNoticeDedupe(c2, 3600, prefix),
        cleanup: async () => {
          c1.disconnect();
          c2.disconnect();
        },
      };
    },
    unreachable: async () => {
      const c = createRedis(downUrl(await freePort()));
      return { dedupe: new RedisNoticeDedupe(c, 3600), cleanup: async () => c.disconnect() };
    },
  });
}

noticeDedupeContract('worker proxy (TrackedDedupe → RemoteNoticeDedupe → memory, over a MessageChannel)', {
  make: async () => {
    const main = new TrackedDedupe(new MemoryNoticeDedupe(3600));
    const a = workerLink({ dedupe: main });
    const b = workerLink({ dedupe: main });
    return {
      dedupe: new TrackedDedupe(new RemoteNoticeDedupe(a.link)),
      other: new TrackedDedupe(new RemoteNoticeDedupe(b.link)),
      cleanup: async () => {
        a.close();
        b.close();
      },
    };
  },
  // The main thread does not answer (its port is gone): each call gives up after the link's timeout.
  unreachable: async () => {
    const end = workerLink({ dedupe: new MemoryNoticeDedupe(3600) }, 200);
    end.close();
    return { dedupe: new TrackedDedupe(new RemoteNoticeDedupe(end.link)), cleanup: async () => {} };
  },
});

describe('MemoryNoticeDedupe', () => {
  it('says first only once per id, for at least the window, and forgets within two windows', async () => {
    let t = 0;
    const d = new MemoryNoticeDedupe(60, 1_000_000, () => t);
    expect(await d.firstSeen('win:a')).toBe(true);
    expect(await d.firstSeen('win:a')).toBe(false);
    t = 59_999;
    expect(await d.firstSeen('win:b')).toBe(true); // just before the turn
    expect(await d.firstSeen('win:a')).toBe(false);
    t = 60_000; // turn: a and b are now the previous generation
    expect(await d.firstSeen('win:a')).toBe(false);
    expect(await d.firstSeen('win:b')).toBe(false);
    t = 119_999;
    expect(await d.firstSeen('win:b')).toBe(false); // b: 60 s after it was seen, still remembered
    t = 120_000; // second turn: a and b are gone
    expect(await d.firstSeen('win:a')).toBe(true);
    expect(await d.firstSeen('win:b')).toBe(true);
  });

  it('forgets everything after two idle windows', async () => {
    let t = 0;
    const d = new MemoryNoticeDedupe(60, 1_000_000, () => t);
    await d.firstSeen('x');
    t = 10 * 60_000;
    expect(await d.firstSeen('x')).toBe(true);
  });

  it('bounds memory: a generation turns over early once it holds half of maxEntries', async () => {
    const d = new MemoryNoticeDedupe(3600, 10, () => 0);
    for (let i = 0; i < 5; i++) expect(await d.firstSeen(`e${i}`)).toBe(true); // a full generation
    for (let i = 5; i < 9; i++) expect(await d.firstSeen(`e${i}`)).toBe(true); // turned: e0-e4 are previous
    expect(await d.firstSeen('e0')).toBe(false);
    expect(await d.firstSeen('e9')).toBe(true); // the new generation is full now
    expect(await d.firstSeen('e0')).toBe(true); // turned again: e0-e4 dropped
    expect(await d.firstSeen('e9')).toBe(false);
  });
});

describe('forget: a notice whose event was not kept is first again', () => {
  it('in process, whichever generation holds the id', async () => {
    let t = 0;
    const d = new MemoryNoticeDedupe(60, 1_000_000, () => t);
    expect(await d.firstSeen('billing:a')).toBe(true);
    await d.forget('billing:a');
    expect(await d.firstSeen('billing:a')).toBe(true);
    t = 60_000; // billing:a is in the previous generation now
    expect(await d.firstSeen('billing:a')).toBe(false);
    await d.forget('billing:a');
    expect(await d.firstSeen('billing:a')).toBe(true);
    await d.forget('never-seen'); // harmless
  });

  it('in Redis, across instances; a Redis that cannot be reached does not throw', async () => {
    const server = await RedisServer.start();
    const c1 = new Redis({ host: '127.0.0.1', port: server.port, ...hotPathRedisOptions() });
    const c2 = new Redis({ host: '127.0.0.1', port: server.port, ...hotPathRedisOptions() });
    for (const c of [c1, c2]) c.on('error', () => undefined);
    await Promise.all([c1, c2].map((c) => new Promise((ready) => c.once('ready', ready))));
    try {
      const a = new RedisNoticeDedupe(c1, 3600);
      const b = new RedisNoticeDedupe(c2, 3600);
      expect(await a.firstSeen('billing:r')).toBe(true);
      expect(await b.firstSeen('billing:r')).toBe(false);
      await a.forget('billing:r');
      expect(await b.firstSeen('billing:r')).toBe(true);
      expect(await a.firstSeen('billing:r')).toBe(false);
    } finally {
      c1.disconnect();
      c2.disconnect();
      await server.stop();
    }
    const gone = new RedisNoticeDedupe(c1, 3600);
    await expect(gone.forget('billing:r')).resolves.toBeUndefined();
  });
});
