/**
 * Messages between the main thread and the bid worker threads. One channel per worker (the
 * Worker object / parentPort), so messages keep their order: a worker's last event batch always
 * arrives before its `final` message, and a cache invalidation posted after a lookup's answer is
 * seen after that answer.
 */
import type { Registry } from 'prom-client';
import type { ConfigBundle } from '../campaigns/schema.js';
import type { Settings } from '../settings/settings.js';
import type { BidderEvent } from '../events/event-types.js';
import type { OutcomeModels } from '../models/outcome-models.js';
import type { OutcomeBatch } from './outcome-link.js';
import type { Sighting } from '../audiences/profiles.js';

export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What a worker starts from (`workerData`). */
export interface WorkerInit {
  /** 1-based slot; a replaced worker takes its predecessor's slot. */
  readonly index: number;
  readonly settings: Settings;
  /** The concrete bid port (picked and checked free by the main thread). */
  readonly port: number;
  readonly bundle: ConfigBundle;
  readonly version: number;
  /** Test hooks (BIDDER_TEST_HOOKS=1): crash and lag on command. */
  readonly testHooks: boolean;
}

/** Calls a worker makes on the main thread (the embedded stores live there). */
export type RpcMethod = 'lookup' | 'metaVersion' | 'listSegments' | 'putMatch' | 'addMemberships' | 'removeMembership' | 'firstSeen' | 'forgetSeen' | 'writeDurable' | 'flushEvents' | 'budgetRenew' | 'budgetSpend' | 'budgetEnd' | 'budgetSpent' | 'budgetKill' | 'freqCounts' | 'freqRecord' | 'freqEnd';

export type ToWorker =
  | { readonly t: 'config'; readonly bundle: ConfigBundle; readonly version: number }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'rpc-reply'; readonly id: number; readonly ok: boolean; readonly value?: unknown; readonly error?: string }
  /** Forget cached segments of these user keys (the main thread changed them). */
  | { readonly t: 'invalidate'; readonly keys: readonly string[] }
  /** Segment metadata changed: re-read the registry now. */
  | { readonly t: 'registry' }
  /** New outcome model tables (OUTCOME_MODELS): price from these. Their weights are on shared memory, never written again. */
  | { readonly t: 'models'; readonly models: OutcomeModels }
  /** Forget this user's profile samples still waiting in the worker (LOOKALIKES; profile-link.ts). */
  | { readonly t: 'forget-profile'; readonly key: string }
  /** Drain: `delayMs` still listening (answers close their connection), then stop listening, finish, exit. `deadline` is epoch ms. */
  | { readonly t: 'drain'; readonly delayMs: number; readonly deadline: number }
  | { readonly t: 'test-crash' }
  | { readonly t: 'test-lag'; readonly busyMs: number; readonly everyMs: number; readonly forMs: number };

export type FromWorker =
  | { readonly t: 'ready'; readonly port: number }
  | { readonly t: 'fatal'; readonly error: string }
  | { readonly t: 'events'; readonly events: readonly BidderEvent[] }
  /** Bids' features and notices for the outcome trainer (OUTCOME_MODELS), batched. */
  | { readonly t: 'outcomes'; readonly batch: OutcomeBatch }
  /** Sampled users seen by this worker for the lookalike profiles (LOOKALIKES), one drain's worth. */
  | { readonly t: 'profiles'; readonly sightings: readonly Sighting[] }
  | { readonly t: 'rpc'; readonly id: number; readonly method: RpcMethod; readonly args: readonly unknown[] }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: MetricsJson }
  | { readonly t: 'config-ok'; readonly version: number }
  | { readonly t: 'config-failed'; readonly version: number; readonly error: string }
  /** Last word before exiting: the worker's counters, so the aggregate does not go backwards. */
  | { readonly t: 'final'; readonly metrics: MetricsJson; readonly inFlightLeft: number };
