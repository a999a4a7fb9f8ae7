/**
 * Keeps a bidder's snapshot in step with the config store: whenever the store's config version
 * moves (change feed, or the fallback poll), the whole bundle is read at one version, validated
 * like config files, compiled into a new snapshot and swapped in with one reference change, off
 * the request path (a timer callback, never inside a bid). Changes arriving close together are
 * coalesced into one rebuild; a refused bundle leaves the running snapshot live.
 */
import { ConfigError } from '../errors.js';
import { bundleFromStore, validatedBundle, type ConfigStore } from './config-store.js';
import { buildSnapshot, type Snapshot, type SnapshotRef } from './snapshot.js';
import type { BidderMetrics } from '../metrics/bidder-metrics.js';
import type { ConfigBundle } from './schema.js';

export interface ConfigSyncOptions {
  readonly store: ConfigStore;
  readonly snapshots: SnapshotRef;
  /** Wait this long after a change before rebuilding, so a burst of changes costs one rebuild. */
  readonly debounceMs?: number;
  /** Updates config_version, campaigns_live and config_reloads{result} when given. */
  readonly metrics?: BidderMetrics;
  /**
   * After each swap, with the validated bundle it was compiled from (e.g. post it to bid workers,
   * refresh the audience registry, log it).
   */
  readonly onSwap?: (snapshot: Snapshot, bundle: ConfigBundle) => void;
  /** A refused bundle (ConfigError, not retried until the next change) or a store failure (retried). */
  readonly onError?: (error: Error) => void;
  /** Retry delay after a store failure. */
  readonly retryMs?: number;
}

export interface ConfigSync {
  /** Reads the store now and swaps if it moved; resolves with the live snapshot. */
  refresh(): Promise<Snapshot>;
  stop(): void;
}

/** The first snapshot of a process, from the store (its version is the store's config version). */
export async function snapshotFromStore(store: ConfigStore): Promise<Snapshot> {
  const { version, bundle } = await bundleFromStore(store);
  return buildSnapshot(bundle, version);
}

export function startConfigSync(o: ConfigSyncOptions): ConfigSync {
  const debounceMs = o.debounceMs ?? 10;
  const retryMs = o.retryMs ?? 500;
  let known = o.snapshots.current.version; // newest version heard of
  let refusedAt = -1; // a version whose bundle was refused: not rebuilt again
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<Snapshot> | undefined;
  let again = false;
  let stopped = false;

  const schedule = (delay: number) => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void rebuild();
    }, delay);
  };

  const rebuild = (): Promise<Snapshot> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let version = -1;
      try {
        const state = await o.store.readAll();
        version = state.version;
        known = version;
        // Equal: nothing new. Lower than the live snapshot happens only when the store was reset: follow it.
        if (version === o.snapshots.current.version) return o.snapshots.current;
        const bundle = validatedBundle(state);
        const next = buildSnapshot(bundle, version);
        o.snapshots.swap(next);
        o.metrics?.configReloads.labels('ok').inc();
        o.metrics?.configVersion.set(version);
        o.metrics?.campaignsLive.set(next.index.campaigns.length);
        o.onSwap?.(next, bundle);
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        if (error instanceof ConfigError) {
          refusedAt = version;
          o.metrics?.configReloads.labels('refused').inc();
        } else schedule(retryMs);
        o.onError?.(error);
      }
      return o.snapshots.current;
    })().finally(() => {
      running = undefined;
      if (again || (known !== o.snapshots.current.version && known !== refusedAt)) {
        again = false;
        if (known !== refusedAt) schedule(debounceMs);
      }
    });
    return running;
  };

  const unwatch = o.store.watch((version) => {
    if (version === o.snapshots.current.version) return;
    known = version;
    schedule(debounceMs);
  }, o.snapshots.current.version);

  return {
    refresh: () => rebuild(),
    stop() {
      stopped = true;
      unwatch();
      if (timer) clearTimeout(timer);
    },
  };
}
