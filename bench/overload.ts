/**
 * The overload profile (`npm run bench -- --overload <s>`): after the saturation run, the bidder is
 * offered twice its capacity (the saturation goodput) open loop for `<s>` seconds, then 80 % of it for
 * 30 s. What it shows: no crash, excess requests shed as fast 204s, p99 within tmax while
 * overloaded, and how many seconds after the load drops the bidder is back to its normal latency.
 * Pure helpers here; the phases are run by run.ts.
 */
import type { PhaseJson } from './report.js';

/** Seconds the recovery phase (at 80 % of capacity) runs. */
export const RECOVERY_S = 30;

/**
 * The p99 a recovery second must stay under to count as normal: 1.5 × the p99 of the passing ramp
 * step whose rate is nearest 80 % of capacity (at least that + 2 ms, since one-second p99s of a
 * fast bidder jitter by a millisecond or two). Without a passing step: the latency objective.
 */
export function normalP99(ramp: readonly PhaseJson[], capacityQps: number, sloMs: number): number {
  const target = 0.8 * capacityQps;
  let best: PhaseJson | undefined;
  for (const p of ramp)
    if (p.ok && (best === undefined || Math.abs((p.target_rate ?? p.qps) - target) < Math.abs((best.target_rate ?? best.qps) - target))) best = p;
  if (best === undefined) return sloMs;
  const p99 = best.latency.p99_ms;
  return Math.round(Math.max(1.5 * p99, p99 + 2) * 1000) / 1000;
}

/**
 * Seconds into a phase after which every one-second p99 of `series` ([second, answers, p99 ms]) stayed
 * under `limitMs`: the end of the last second over it (0 when none was). Seconds without answers
 * count as not normal. Null when the last second is still over (not recovered within the phase).
 */
export function recoveredAfter(series: readonly [number, number, number][], limitMs: number): number | null {
  if (series.length === 0) return null;
  let lastBad = -1;
  for (let i = 0; i < series.length; i++) if (series[i][1] === 0 || series[i][2] > limitMs) lastBad = i;
  if (lastBad === series.length - 1) return null;
  return lastBad < 0 ? 0 : series[lastBad][0];
}

/** The first second of `series` whose p99 is under `limitMs` (with answers); null when none is. */
export function firstNormal(series: readonly [number, number, number][], limitMs: number): number | null {
  for (const [t, n, p99] of series) if (n > 0 && p99 <= limitMs) return t;
  return null;
}
