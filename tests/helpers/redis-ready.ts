/**
 * Wait until an ioredis client (single server or Cluster) is ready. Hot-path clients have no
 * offline queue, so a command sent before the first connection (or, on a Cluster, the first slot
 * map) fails at once: tests that use a fresh client wait here first.
 */
import type { RedisLike } from '../../src/storage/redis-client.js';

export async function whenReady<C extends RedisLike>(c: C, timeoutMs = 15_000): Promise<C> {
  if (c.status === 'ready') return c;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis client not ready after ${timeoutMs} ms (${c.status})`)), timeoutMs);
    c.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return c;
}
