/**
 * What sharing the config API's limits and Idempotency-Key answers through Redis costs a request:
 * the mean time of one rate-limit check and of one idempotent POST's bookkeeping (claim + keep, and
 * a replay), in this process and against a local redis-server (started here on a free port; the
 * binary must be on PATH), one call after another. Admin-port work only: the bid path does neither.
 *
 *   npm run bench:api-limits
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { RateLimiter } from '../src/api/rate-limit.js';
import { MemoryIdempotencyStore, RedisIdempotencyStore, idempotent, type IdempotencyStore, type StoredReply } from '../src/api/idempotency.js';
import { createRedis } from '../src/storage/redis-client.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

async function time(name: string, n: number, f: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 500; i++) await f(-1 - i); // warm-up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await f(i);
  const us = Number(process.hrtime.bigint() - t) / 1e3 / n;
  console.log(`${name.padEnd(38)} ${us.toFixed(1).padStart(8)} µs per call (${n} in a row)`);
}

const port = await freePort();
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
try {
  const redis = createRedis(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 500 });
  const ready = new Promise((r) => redis.once('ready', r));
  await Promise.race([ready, new Promise((_, reject) => setTimeout(() => reject(new Error('redis-server did not start')), 10_000))]);
  const limit = { perSecond: 1e6, burst: 1e6 };
  const local = new RateLimiter(limit);
  const shared = new RateLimiter(limit, { redis, prefix: 'bench' });
  await time('rate limit check, in process', 20_000, () => local.take('k'));
  await time('rate limit check, Redis', 5_000, () => shared.take('k'));
  const reply: StoredReply = { status: 201, body: { id: 'adv-1', name: 'x'.repeat(200) }, version: 1, headers: { location: '/api/v1/advertisers/adv-1' } };
  const stores: [string, IdempotencyStore, number][] = [
    ['in process', new MemoryIdempotencyStore(), 20_000],
    ['Redis', new RedisIdempotencyStore(redis, { prefix: 'bench' }), 5_000],
  ];
  for (const [name, store, n] of stores) {
    await time(`idempotent POST (new key), ${name}`, n, (i) => idempotent(store, { scope: 's', key: `k${i}`, fingerprint: 'f' }, async () => reply));
    await time(`idempotent POST (replay), ${name}`, n, () => idempotent(store, { scope: 's', key: 'k0', fingerprint: 'f' }, async () => reply));
  }
  redis.disconnect();
} finally {
  server.kill();
}
