/**
 * CPU time of a process, for costs that do not depend on the load generator: the bidder's CPU per
 * answered request divided by the bare server's at the same open-loop rate is `cpu_ratio`, and the
 * driver's own CPU per request is reported beside it, so a run says what the sender cost too.
 *
 * /proc/<pid>/stat of a process holds the user and system time of all its threads (the bidder's
 * bid thread, its workers, libuv's pool and V8's GC and compiler threads), in clock ticks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks a second (`getconf CLK_TCK`; 100 on every Linux this runs on). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * utime + stime in clock ticks from the text of /proc/<pid>/stat. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseProcStat(text: string): number {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc stat: ${text.slice(0, 80)}`);
  return utime + stime;
}

/** CPU seconds the process has used so far, all threads; undefined when it is gone or not on Linux. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks();
  } catch {
    return undefined;
  }
}

/** This process's own CPU seconds (the in-process driver: autocannon or the paced sender). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** What a phase cost: microseconds of CPU per answered request, of the server and of the driver. */
export interface CpuCost {
  /** The server's (bidder's or bare server's) CPU µs per answered request; null when /proc is unreadable. */
  server_us: number | null;
  /** The driver's (this process's) CPU µs per request sent. */
  driver_us: number;
  server_cpu_s: number | null;
  driver_cpu_s: number;
  requests: number;
}

/**
 * Starts counting; the returned function ends the count given the requests answered meanwhile and
 * the CPU seconds of a driver in another process (wrk), added to this process's own.
 */
export function cpuMeter(pid: number | undefined): (requests: number, externalDriverS?: number) => CpuCost {
  const server0 = processCpuSeconds(pid);
  const driver0 = ownCpuSeconds();
  return (requests, externalDriverS = 0) => {
    const server1 = processCpuSeconds(pid);
    const driverS = ownCpuSeconds() - driver0 + externalDriverS;
    const serverS = server0 === undefined || server1 === undefined ? null : server1 - server0;
    const per = (s: number) => Math.round((s / Math.max(1, requests)) * 1e6 * 100) / 100;
    return {
      server_us: serverS === null ? null : per(serverS),
      driver_us: per(driverS),
      server_cpu_s: serverS === null ? null : Math.round(serverS * 1000) / 1000,
      driver_cpu_s: Math.round(driverS * 1000) / 1000,
      requests,
    };
  };
}

/** The bidder's CPU per request over the bare server's (null when either is unknown or zero). */
export function cpuRatio(bidder: CpuCost | undefined, bare: CpuCost | undefined): number | null {
  if (!bidder?.server_us || !bare?.server_us) return null;
  return Math.round((bidder.server_us / bare.server_us) * 100) / 100;
}
