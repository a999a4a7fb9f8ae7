/**
 * The time a campaign runs on one UTC day, for even pacing: the whole day, or the hours its
 * day-parting allows in its own time zone. Even pacing spreads the day's budget over that time,
 * so a campaign that runs 09:00-17:00 New York time spends its budget in those eight hours, on a
 * straight line through them, rather than trailing a 24-hour line it can never follow.
 *
 * Resolution: quarters of an hour (zones with :30 and :45 offsets), computed once per campaign
 * and day (Intl is slow).
 */
import type { Dayparting } from '../campaigns/schema.js';
import { hoursOfWeek, localHourOfWeek } from '../targeting/dayparting.js';
import { DAY_MS } from './accounts.js';

const QUARTER_MS = 900_000;
const QUARTERS = DAY_MS / QUARTER_MS; // 96

export interface PacingDay {
  /** The UTC day's start (ms). */
  readonly start: number;
  /** Milliseconds of the day the campaign runs. */
  readonly activeMs: number;
  /** Milliseconds of running time from the day's start to `nowMs`. */
  elapsed(nowMs: number): number;
}

/** Every hour of the day. */
export function wholeDay(start: number, length = DAY_MS): PacingDay {
  return { start, activeMs: length, elapsed: (now) => Math.min(Math.max(now - start, 0), length) };
}

/** The quarters of the UTC day starting at `start` that fall in the day-parting's hours. */
export function daypartedDay(start: number, d: Dayparting): PacingDay {
  const hours = hoursOfWeek(d);
  const format = new Intl.DateTimeFormat('en-US', { timeZone: d.timezone, weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
  // before[q]: running milliseconds before quarter q; active[q]: whether quarter q runs.
  const active = new Uint8Array(QUARTERS);
  const before = new Float64Array(QUARTERS + 1);
  for (let q = 0; q < QUARTERS; q++) {
    active[q] = hours[localHourOfWeek(format, new Date(start + q * QUARTER_MS + QUARTER_MS / 2))];
    before[q + 1] = before[q] + (active[q] ? QUARTER_MS : 0);
  }
  return {
    start,
    activeMs: before[QUARTERS],
    elapsed(now) {
      const t = now - start;
      if (t <= 0) return 0;
      if (t >= DAY_MS) return before[QUARTERS];
      const q = Math.floor(t / QUARTER_MS);
      return before[q] + (active[q] ? t - q * QUARTER_MS : 0);
    },
  };
}

/** The campaign's pacing day for the UTC day starting at `start`. */
export function pacingDay(start: number, d: Dayparting | undefined): PacingDay {
  return d === undefined || d.windows.length === 0 ? wholeDay(start) : daypartedDay(start, d);
}
