/**
 * Budgets for a bid thread: the ledger (this thread's slices) on the shared budget store — Redis
 * when REDIS_URL is set, else the main thread's in-process store.
 */
import type { Settings } from '../settings/settings.js';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import type { RedisLike } from '../storage/redis-client.js';
import type { BudgetStore } from '../money/budget-store.js';
import { MemoryBudgetStore } from '../money/memory-budget-store.js';
import { RedisBudgetStore } from '../money/redis-budget-store.js';
import { BudgetLedger } from '../money/budget-ledger.js';
import { threadName } from '../events/notice-urls.js';
import type { Registry } from 'prom-client';
import { FrequencyService } from '../money/frequency.js';
import { MemoryFrequencyStore, RedisFrequencyStore, type FrequencyStore } from '../money/frequency-store.js';
import { CampaignLabels, MoneyMetrics, frequencyLookups } from '../metrics/money-metrics.js';

/** The process's own store: Redis (shared by every instance) or in this process. */
export function buildBudgetStore(redis: RedisLike | undefined): BudgetStore {
  return redis ? new RedisBudgetStore(redis) : new MemoryBudgetStore();
}

/**
 * A started ledger, with its metrics in `registry`. `thread`: 0 for the main thread, else the
 * worker's slot; the holder's name (unique per instance, thread and start) prefixes the thread's bid ids.
 */
export function buildLedger(settings: Settings, snapshots: SnapshotRef, store: BudgetStore, thread: number, registry?: Registry): BudgetLedger {
  return new BudgetLedger({
    holder: threadName(settings.instanceId, thread),
    store,
    snapshots,
    sliceFraction: settings.budgetSliceFraction,
    renewMs: settings.budgetRenewMs,
    holdMs: settings.budgetHoldMs,
    leaseTtlMs: settings.budgetLeaseTtlMs,
    staleMs: settings.budgetStaleMs,
    eventTtlSec: settings.noticeDedupeWindowSeconds,
    killAll: settings.budgetKillSwitch,
    metrics: registry ? new MoneyMetrics(registry, new CampaignLabels(settings.metricsTopCampaigns)) : undefined,
  }).start();
}

/** A bid thread's frequency caps on `store` (Redis, or the main thread's in-process store). */
export function buildFrequency(settings: Settings, store: FrequencyStore, registry?: Registry): FrequencyService {
  const lookups = registry ? frequencyLookups(registry) : undefined;
  return new FrequencyService(store, { cacheTtlMs: settings.freqCacheTtlMs, holdMs: settings.freqHoldMs, maxUsers: settings.freqCacheUsers, lookups });
}

/** The process's own frequency store: Redis (shared by every instance) or in this process. */
export function buildFrequencyStore(redis: RedisLike | undefined): FrequencyStore {
  return redis ? new RedisFrequencyStore(redis) : new MemoryFrequencyStore();
}
