/**
 * Bytes allocated while a piece of work runs, in this process, from V8's sampling heap profiler
 * (through the inspector) with the objects collected since kept in the profile. Unlike CPU time on
 * a shared machine, this hardly moves from one run to the next, and what a request allocates is
 * what the garbage collector spends its time on later (on the bid thread and on V8's helpers).
 *
 * It is an estimate: one allocation in about every `intervalBytes` is sampled and V8 scales the
 * samples up to the bytes they stand for. Over thousands of requests it is stable to a few percent.
 */
import { Session } from 'node:inspector/promises';

export interface AllocationSite {
  /** `function file:line` */
  readonly site: string;
  readonly bytes: number;
}

export interface Allocations {
  /** Everything allocated while `run` ran (the caller's loop included). */
  readonly bytes: number;
  /** By the function that allocated, most first. */
  readonly bySite: readonly AllocationSite[];
}

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

/** What `run` allocates, sampled every `intervalBytes` on average. One at a time per process. */
export async function allocationsOf(run: () => Promise<void> | void, intervalBytes = 256): Promise<Allocations> {
  const session = new Session();
  session.connect();
  let profile: { head: ProfileNode };
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    } as object);
    try {
      await run();
    } finally {
      ({ profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } });
    }
  } finally {
    session.disconnect();
  }
  const bySite = new Map<string, number>();
  let bytes = 0;
  const walk = (n: ProfileNode): void => {
    if (n.selfSize > 0) {
      bytes += n.selfSize;
      const site = siteOf(n.callFrame);
      bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return { bytes, bySite: [...bySite].map(([site, b]) => ({ site, bytes: b })).sort((a, b) => b.bytes - a.bytes) };
}

function siteOf(f: ProfileNode['callFrame']): string {
  const file = f.url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
  return `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : '(native)'}`;
}
