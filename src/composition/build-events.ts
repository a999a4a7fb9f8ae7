/**
 * The event pipeline from settings: the store (ClickHouse when CLICKHOUSE_URL is set, embedded
 * chDB under DATA_DIR otherwise), its schema migrations, the durable writer in front of it, and the
 * notice dedupe (Redis when REDIS_URL is set). A store that is down at start does not stop the
 * bidder: events are spooled and inserted once migrations have run.
 */
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Settings } from '../settings/settings.js';
import type { RedisLike } from '../storage/redis-client.js';
import { EventMetrics } from '../metrics/event-metrics.js';
import { NoticeMetrics } from '../metrics/notice-metrics.js';
import { log } from '../log.js';
import type { EventDatabase } from '../events/event-database.js';
import { ClickHouseDatabase } from '../events/clickhouse-database.js';
import { ChdbDatabase } from '../events/chdb-database.js';
import { migrate, MigrationError } from '../events/migrate.js';
import { EventWriter } from '../events/event-writer.js';
import { MemoryNoticeDedupe, RedisNoticeDedupe, type NoticeDedupe } from '../events/notice-dedupe.js';

export interface Events {
  readonly store: EventDatabase;
  readonly writer: EventWriter;
  readonly dedupe: NoticeDedupe;
  readonly metrics: EventMetrics;
  readonly noticeMetrics: NoticeMetrics;
  /** Resolves once the schema is current (retried in the background until then). */
  readonly schemaReady: Promise<void>;
  close(): Promise<void>;
}

export async function buildEvents(settings: Settings, registry: Registry, redis?: RedisLike): Promise<Events> {
  const store: EventDatabase = settings.clickhouseUrl
    ? new ClickHouseDatabase(settings.clickhouseUrl)
    : await ChdbDatabase.open(join(settings.dataDir, 'chdb'));
  const metrics = new EventMetrics(registry);
  const writer = new EventWriter({ store, dataDir: settings.dataDir, metrics, log });
  const schemaReady = ensureSchema(store);
  return {
    store,
    writer,
    dedupe: redis ? new RedisNoticeDedupe(redis, settings.noticeDedupeWindowSeconds) : new MemoryNoticeDedupe(settings.noticeDedupeWindowSeconds),
    metrics,
    noticeMetrics: new NoticeMetrics(registry),
    schemaReady,
    async close() {
      await writer.close();
      await store.close();
    },
  };
}

/** Runs migrations, retrying with backoff while the store is unreachable; a schema newer than the code is fatal. */
async function ensureSchema(store: EventDatabase): Promise<void> {
  for (let wait = 500; ; wait = Math.min(wait * 2, 30_000)) {
    try {
      const r = await migrate(store);
      log('info', 'event schema ready', { store: store.kind, ...r });
      return;
    } catch (e) {
      if (e instanceof MigrationError) {
        log('error', 'event schema refused', { error: e.message });
        throw e;
      }
      log('warn', 'event store unreachable; events are spooled until it is back', { store: store.kind, error: (e as Error).message, retryMs: wait });
      await new Promise((r) => setTimeout(r, wait).unref());
    }
  }
}
