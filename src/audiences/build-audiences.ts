/** Chooses the segment store from settings: Redis when REDIS_URL is set, in-process otherwise. */
import type { Settings } from '../settings/settings.js';
import type { AudienceMetrics } from '../metrics/audience-metrics.js';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS } from './audience-service.js';
import { MemorySegmentStore } from './memory-segment-store.js';
import { createRedis } from '../storage/redis-client.js';
import { RedisSegmentStore } from './redis-segment-store.js';
import type { SegmentStore } from './segment-store.js';

export function buildSegmentStore(settings: Settings): SegmentStore {
  if (!settings.redisUrl) return new MemorySegmentStore();
  return new RedisSegmentStore(createRedis(settings.redisUrl), createRedis(settings.redisUrl, { admin: true }));
}

export async function buildAudiences(settings: Settings, metrics: AudienceMetrics, store = buildSegmentStore(settings)): Promise<AudienceService> {
  const service = new AudienceService(store, metrics, {
    ...DEFAULT_AUDIENCE_SETTINGS,
    cacheMaxUsers: Math.max(1, settings.audienceCacheUsers),
    cacheTtlMs: settings.audienceCacheTtlMs,
    negativeTtlMs: settings.audienceNegativeTtlMs,
  });
  // A store that is down at start must not stop the bidder: it bids without segments until it is back.
  // One that is merely still connecting (the hot-path Redis client refuses commands until then) is
  // waited for briefly, so the bidder does not start out treating every segment as nonexistent.
  await refreshAtStart(service);
  service.startRegistryPolling();
  return service;
}

async function refreshAtStart(service: AudienceService, waitMs = 2_000): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      return await service.refreshRegistry(true);
    } catch {
      if (Date.now() >= until) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
