/** The default WORKERS: usable CPUs capped by the cgroup quota (v2 cpu.max, v1 cfs quota/period). */
import { describe, expect, it } from 'vitest';
import { quotaCpus, usableCpus } from '../../src/settings/cpu-count.js';

const files = (m: Record<string, string>) => (path: string) => m[path];

describe('quotaCpus', () => {
  it('reads cgroup v2 cpu.max, rounding a fractional quota up', () => {
    expect(quotaCpus(files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' }))).toBe(2);
    expect(quotaCpus(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(2);
    expect(quotaCpus(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }))).toBe(1);
  });
  it('no quota: "max" in v2, -1 in v1, no files at all', () => {
    expect(quotaCpus(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
    expect(quotaCpus(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }))).toBeUndefined();
    expect(quotaCpus(files({}))).toBeUndefined();
  });
  it('reads cgroup v1 quota and period (either mount name)', () => {
    expect(quotaCpus(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '400000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(4);
    expect(quotaCpus(files({ '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '300000', '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000' }))).toBe(3);
  });
});

describe('usableCpus', () => {
  it('is the smaller of the parallelism and the quota', () => {
    expect(usableCpus(files({ '/sys/fs/cgroup/cpu.max': '200000 100000' }), 64)).toBe(2);
    expect(usableCpus(files({ '/sys/fs/cgroup/cpu.max': '800000 100000' }), 4)).toBe(4);
    expect(usableCpus(files({}), 6)).toBe(6);
    expect(usableCpus(files({}), 0)).toBe(1);
  });
});
