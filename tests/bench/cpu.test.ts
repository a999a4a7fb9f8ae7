import { describe, expect, it } from 'vitest';
import { cpuMeter, cpuRatio, parseProcStat, processCpuSeconds } from '../../bench/cpu.js';

describe('CPU per request from /proc', () => {
  it('reads utime + stime, counting fields from the last parenthesis of the command name', () => {
    // Fields 14 and 15 (utime 1234, stime 56); the name holds spaces and a ')' of its own.
    const tail = 'S 1 1 1 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 11 0 500 1000 200 18446744073709551615';
    expect(parseProcStat(`4242 (node) ${tail}`)).toBe(1290);
    expect(parseProcStat(`4242 (a b) c)) ${tail}`)).toBe(1290);
    expect(() => parseProcStat('garbage')).toThrow();
  });

  it.skipIf(process.platform !== 'linux')('counts the CPU a process spends, all threads', () => {
    const meter = cpuMeter(process.pid);
    // Spin for 0.3 s of this process's CPU (not wall time: the machine may be busy).
    const cpu0 = process.cpuUsage();
    let x = 0;
    while (process.cpuUsage(cpu0).user < 300_000) for (let i = 0; i < 1000; i++) x += Math.sqrt(x + 1);
    const cost = meter(1000);
    expect(x).toBeGreaterThan(0);
    // At least 0.3 s of CPU in both this process's /proc entry and its own cpuUsage (ticks are 10 ms).
    expect(cost.server_cpu_s!).toBeGreaterThan(0.2);
    expect(cost.driver_cpu_s).toBeGreaterThan(0.2);
    expect(cost.server_us!).toBeCloseTo((cost.server_cpu_s! * 1e6) / 1000, -1);
    expect(processCpuSeconds(2 ** 22 + 12345)).toBeUndefined();
  });

  it('divides the bidder by the bare server, and gives null when either is unknown', () => {
    const c = (server_us: number | null) => ({ server_us, driver_us: 10, server_cpu_s: 0, driver_cpu_s: 0, requests: 1 });
    expect(cpuRatio(c(75), c(20))).toBe(3.75);
    expect(cpuRatio(c(75), c(null))).toBeNull();
    expect(cpuRatio(undefined, c(20))).toBeNull();
    expect(cpuRatio(c(75), c(0))).toBeNull();
  });
});
