/**
 * ioredis clients configured for a hot path. ioredis's defaults suit scripts, not a bidder:
 * the offline queue holds commands while disconnected, each command is retried up to 20 times,
 * and no command ever times out, so a lookup issued as Redis dies can wait over a minute.
 * Here: no offline queue (a command while disconnected fails at once), no per-command retries,
 * a command timeout, unfulfilled commands not resent after a reconnect, and reconnection forever
 * with a capped backoff in the background.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { log } from '../log.js';

export type RedisLike = Redis | Cluster;

export interface RedisClientOptions {
  /** Hard cap on any command, in ms. Lookups also race their own, tighter, per-request budget. */
  readonly commandTimeoutMs?: number;
  /** For admin work (uploads, sweeps), which may queue briefly while reconnecting. */
  readonly admin?: boolean;
}

export function hotPathRedisOptions(o: RedisClientOptions = {}): RedisOptions {
  return {
    enableOfflineQueue: !!o.admin,
    maxRetriesPerRequest: o.admin ? 2 : 0,
    commandTimeout: o.commandTimeoutMs ?? (o.admin ? 10_000 : 250),
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    reconnectOnError: () => false,
    lazyConnect: false,
  };
}

/**
 * `redis://host:port[/db]` for one server; `redis+cluster://host:port,host:port` for Redis Cluster
 * (seed nodes; the client discovers the rest).
 */
export function createRedis(url: string, o: RedisClientOptions = {}): RedisLike {
  const client = connect(url, o);
  // Without a listener ioredis prints every failed reconnect; the breaker and metrics already tell
  // the story, so connection errors are logged at most every 10 s.
  let lastLog = 0;
  client.on('error', (e: Error) => {
    const now = Date.now();
    if (now - lastLog < 10_000) return;
    lastLog = now;
    log('warn', 'redis connection error', { url: redact(url), error: e.message });
  });
  return client;
}

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

function connect(url: string, o: RedisClientOptions): RedisLike {
  const options = hotPathRedisOptions(o);
  if (url.startsWith('redis+cluster://')) {
    const seeds = url
      .slice('redis+cluster://'.length)
      .split(',')
      .map((hp) => {
        const [host, port] = hp.split(':');
        return { host, port: Number(port || 6379) };
      });
    return new Cluster(seeds, {
      redisOptions: options,
      enableOfflineQueue: options.enableOfflineQueue,
      enableAutoPipelining: true,
      clusterRetryStrategy: options.retryStrategy,
    });
  }
  return new Redis(url, options);
}
