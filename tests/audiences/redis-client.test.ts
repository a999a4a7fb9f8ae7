/**
 * The hot-path ioredis options, against a real redis-server that dies, comes back and pauses:
 * nothing the bidder asks Redis may wait longer than its command timeout, and a client survives
 * an outage without being recreated.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis, hotPathRedisOptions, type RedisLike } from '../../src/storage/redis-client.js';
import { RedisSegmentStore } from '../../src/audiences/redis-segment-store.js';
import { RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
/** A plain client for CLIENT PAUSE and set-up; it survives restarts on its own. */
let control: Redis;
const clients: RedisLike[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
  control = server.client();
  control.on('error', () => {});
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server.restart(); // no-op when it is up
  await control.call('CLIENT', 'UNPAUSE').catch(() => {});
  await control.flushall();
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  control?.disconnect();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client as the bidder makes one (errors are expected here; keep them off the console). */
function hotClient(o: Parameters<typeof createRedis>[1] = {}): Redis {
  const c = createRedis(server.url, o) as Redis;
  c.on('error', () => {});
  clients.push(c);
  return c;
}

async function until(c: RedisLike, status: 'ready' | 'not-ready', timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((c.status === 'ready') !== (status === 'ready')) {
    if (Date.now() > deadline) throw new Error(`client still ${c.status}`);
    await sleep(5);
  }
}

/** Runs `f` and returns how long it took to settle, with its rejection if any. */
async function timed(f: () => Promise<unknown>): Promise<{ ms: number; error: Error | undefined; value: unknown }> {
  const t0 = performance.now();
  try {
    const value = await f();
    return { ms: performance.now() - t0, error: undefined, value };
  } catch (e) {
    return { ms: performance.now() - t0, error: e as Error, value: undefined };
  }
}

describe('hot-path redis client', () => {
  it('is configured as documented: no offline queue, no retries, a command timeout, no resending', () => {
    const hot = hotPathRedisOptions();
    expect(hot).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 250, autoResendUnfulfilledCommands: false });
    const retry = hot.retryStrategy!;
    expect([1, 2, 3, 10, 1_000].map((n) => retry(n))).toEqual([100, 200, 400, 2_000, 2_000]); // reconnects forever, capped backoff
    const admin = hotPathRedisOptions({ admin: true });
    expect(admin).toMatchObject({ enableOfflineQueue: true, maxRetriesPerRequest: 2, commandTimeout: 10_000 });
    expect(hotPathRedisOptions({ commandTimeoutMs: 40 }).commandTimeout).toBe(40);
  });

  it('fails a command at once while Redis is down, and the same client works again after a restart', async () => {
    const c = hotClient();
    const store = new RedisSegmentStore(c, c, 'aud:');
    await until(c, 'ready');
    await store.addMemberships([{ key: 'uid:alice', segments: ['s1'], expiresAt: Math.floor(Date.now() / 1000) + 60 }]);
    expect(await c.ping()).toBe('PONG');

    await server.kill();
    await until(c, 'not-ready');
    // several attempts over a few reconnection rounds: every one fails fast, none queues or retries
    for (let i = 0; i < 5; i++) {
      const r = await timed(() => c.get('k'));
      expect(r.error?.message).toMatch(/enableOfflineQueue|Connection is closed|Stream isn't writeable/);
      expect(r.ms).toBeLessThan(50);
      const l = await timed(() => store.lookup(['uid:alice', 'uid:bob']));
      expect(l.error).toBeDefined();
      expect(l.ms).toBeLessThan(50);
      await sleep(150);
    }

    await server.restart(); // same port, empty data
    await until(c, 'ready', 5_000); // reconnected by itself (backoff at most 2 s)
    expect(await c.ping()).toBe('PONG');
    expect(await store.lookup(['uid:alice'])).toEqual([undefined]);
    await store.addMemberships([{ key: 'uid:alice', segments: ['s2'], expiresAt: Math.floor(Date.now() / 1000) + 60 }]);
    expect((await store.lookup(['uid:alice']))[0]?.map((m) => m.segment)).toEqual(['s2']);
  });

  it('rejects a command in flight when Redis dies, and does not resend it after reconnecting', async () => {
    const c = hotClient({ commandTimeoutMs: 5_000 }); // long timeout: the death, not the timer, must end the wait
    await until(c, 'ready');
    await control.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const inFlight = timed(() => c.incr('counter'));
    await sleep(50);
    await server.kill();
    const r = await inFlight;
    expect(r.error).toBeDefined();
    expect(r.ms).toBeLessThan(500);
    await server.restart();
    await until(c, 'ready', 5_000);
    await sleep(50);
    expect(await c.get('counter')).toBeNull();
  });

  it('during CLIENT PAUSE WRITE: lookups still answer, writes time out per commandTimeout, the client stays in step', async () => {
    const c = hotClient();
    const store = new RedisSegmentStore(c, c, 'aud:');
    await until(c, 'ready');
    const t = Math.floor(Date.now() / 1000) + 600;
    await store.addMemberships([{ key: 'uid:alice', segments: ['s1'], expiresAt: t }]);
    await c.set('a', '1');
    await c.set('b', '2');

    await control.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    const read = await timed(() => store.lookup(['uid:alice']));
    expect(read.error).toBeUndefined();
    expect(read.value).toEqual([[{ segment: 's1', expiresAt: t }]]);
    expect(read.ms).toBeLessThan(100);
    expect(await store.metaVersion()).toBe(0);

    const write = await timed(() => c.set('a', 'changed'));
    expect(write.error?.message).toMatch(/timed out/i);
    expect(write.ms).toBeGreaterThanOrEqual(240);
    expect(write.ms).toBeLessThan(750);
    const add = await timed(() => store.addMemberships([{ key: 'uid:bob', segments: ['s1'], expiresAt: t }]));
    expect(add.error?.message).toMatch(/timed out/i);
    expect(add.ms).toBeLessThan(750);

    await control.call('CLIENT', 'UNPAUSE');
    // The timed-out commands were sent, so Redis applies them once the pause lifts: a timeout is
    // not a cancellation. Their late replies must not be taken for the answers to later commands.
    expect(await c.get('b')).toBe('2');
    expect(await c.get('a')).toBe('changed');
    expect(await c.mget('a', 'b')).toEqual(['changed', '2']);
    expect((await store.lookup(['uid:bob']))[0]).toEqual([{ segment: 's1', expiresAt: t }]);
  });

  it('during CLIENT PAUSE ALL: a lookup times out per commandTimeout, and the client works once the pause ends', async () => {
    const c = hotClient();
    const store = new RedisSegmentStore(c, c, 'aud:');
    await until(c, 'ready');
    const t = Math.floor(Date.now() / 1000) + 600;
    await store.addMemberships([{ key: 'uid:alice', segments: ['s1'], expiresAt: t }]);

    const pauseMs = 1_000;
    await control.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
    const pausedAt = performance.now();
    const lookup = await timed(() => store.lookup(['uid:alice', 'uid:bob']));
    expect(lookup.error?.message).toMatch(/timed out/i);
    expect(lookup.ms).toBeGreaterThanOrEqual(240);
    expect(lookup.ms).toBeLessThan(750);
    const version = await timed(() => store.metaVersion());
    expect(version.error?.message).toMatch(/timed out/i);
    expect(version.ms).toBeLessThan(750);
    expect(c.status).toBe('ready'); // a timeout does not drop the connection

    await sleep(Math.max(0, pauseMs + 100 - (performance.now() - pausedAt)));
    expect(await store.lookup(['uid:alice', 'uid:bob'])).toEqual([[{ segment: 's1', expiresAt: t }], undefined]);
    expect(await store.metaVersion()).toBe(0);
  });

  it('an admin client waits for a short outage instead of failing (offline queue)', async () => {
    const admin = hotClient({ admin: true });
    await until(admin, 'ready');
    await server.kill();
    await until(admin, 'not-ready');
    const write = timed(() => admin.set('k', 'v')); // queued, not failed
    await server.restart();
    const r = await write;
    expect(r.error).toBeUndefined();
    expect(await admin.get('k')).toBe('v');
  });
});
