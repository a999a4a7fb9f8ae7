/**
 * Loading configuration into the live snapshot: the first load at start, and reloads (SIGHUP).
 * A refused reload leaves the running snapshot untouched and reports every error.
 */
import type { BidderMetrics } from '../metrics/bidder-metrics.js';
import { ConfigError } from '../errors.js';
import { loadBundleFromDir } from './load-bundle.js';
import type { ConfigBundle } from './schema.js';
import { buildSnapshot, SnapshotRef, type Snapshot } from './snapshot.js';

export async function loadSnapshot(dir: string, version: number): Promise<Snapshot> {
  return buildSnapshot(await loadBundleFromDir(dir), version);
}

/** `bundle`: the validated configuration the snapshot was compiled from (posted to bid workers, which compile their own). */
export type ReloadResult = { ok: true; snapshot: Snapshot; bundle: ConfigBundle } | { ok: false; error: Error };

export async function reloadSnapshot(dir: string, ref: SnapshotRef, metrics: BidderMetrics): Promise<ReloadResult> {
  try {
    const bundle = await loadBundleFromDir(dir);
    const next = buildSnapshot(bundle, ref.current.version + 1);
    ref.swap(next);
    metrics.configReloads.labels('ok').inc();
    metrics.configVersion.set(next.version);
    metrics.campaignsLive.set(next.index.campaigns.length);
    return { ok: true, snapshot: next, bundle };
  } catch (e) {
    metrics.configReloads.labels('refused').inc();
    return { ok: false, error: e instanceof Error ? e : new ConfigError([{ path: dir, code: 'unknown', message: String(e) }]) };
  }
}
