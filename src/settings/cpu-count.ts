/**
 * How many CPUs this process may use: the smaller of the CPUs it can run on
 * (`os.availableParallelism()`) and its cgroup CPU quota. In a container with `cpus: 2` or a
 * Kubernetes limit of 2, the first still says the node's 64, and 64 bid threads on 2 CPUs would
 * just fight; the quota (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`) says 2.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The CPUs a cgroup quota allows (rounded up, at least 1), or undefined without a quota. */
export function quotaCpus(read: (path: string) => string | undefined = readText): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max');
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    return cpus(Number(quota), Number(period ?? 100_000));
  }
  const quota = read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us');
  const period = read('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? read('/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us');
  return quota === undefined || period === undefined ? undefined : cpus(Number(quota), Number(period));
}

/** The default bid thread count: usable CPUs, capped by the quota. */
export function usableCpus(read?: (path: string) => string | undefined, parallelism = availableParallelism()): number {
  const q = quotaCpus(read);
  return Math.max(1, q === undefined ? parallelism : Math.min(parallelism, q));
}

function cpus(quota: number, period: number): number | undefined {
  // "max" (v2) parses as NaN; -1 (v1) means no quota.
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
