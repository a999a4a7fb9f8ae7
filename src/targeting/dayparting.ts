/**
 * Day-parting: each campaign runs in some hours of the week, in its own time zone.
 * The set of campaigns active now is recomputed at most once a minute (Intl is slow;
 * DST is handled by Intl), so a request pays one cached lookup.
 */
import type { Dayparting } from '../campaigns/schema.js';
import { count, newBits, or, setBit, type Bits } from './bitset.js';
import type { CandidatePlan } from './candidate-plan.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const HOURS_PER_WEEK = 168;

/** 168 flags, index = day (Monday 0) * 24 + hour. */
export function hoursOfWeek(d: Dayparting): Uint8Array {
  const hours = new Uint8Array(HOURS_PER_WEEK);
  for (const w of d.windows)
    for (const day of w.days) {
      const base = DAYS.indexOf(day as (typeof DAYS)[number]) * 24;
      for (let h = w.from; h < w.to; h++) hours[base + h] = 1;
    }
  return hours;
}

interface ZoneGroup {
  readonly format: Intl.DateTimeFormat;
  /** For each hour of the week, the campaigns of this zone active then. */
  readonly byHour: Bits[];
}

export class DaypartTable {
  readonly constrained: boolean;
  private readonly zones = new Map<string, ZoneGroup>();
  private readonly active: Bits;
  private cachedMinute = -1;
  /** Campaigns in `activeAt`'s last answer. */
  private activeCount = 0;

  constructor(
    private readonly words: number,
    private readonly unconstrained: Bits,
  ) {
    this.active = newBits(words);
    this.constrained = false;
  }

  add(rank: number, d: Dayparting): void {
    let zone = this.zones.get(d.timezone);
    if (!zone) {
      zone = {
        format: new Intl.DateTimeFormat('en-US', { timeZone: d.timezone, weekday: 'short', hour: 'numeric', hourCycle: 'h23' }),
        byHour: Array.from({ length: HOURS_PER_WEEK }, () => newBits(this.words)),
      };
      this.zones.set(d.timezone, zone);
    }
    const hours = hoursOfWeek(d);
    for (let h = 0; h < HOURS_PER_WEEK; h++) if (hours[h]) setBit(zone.byHour[h], rank);
    (this as { constrained: boolean }).constrained = true;
  }

  /** Campaigns allowed to run at `nowMs` (the unconstrained ones included). Shared; do not modify. */
  activeAt(nowMs: number): Bits {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.cachedMinute) {
      this.active.set(this.unconstrained);
      const date = new Date(nowMs);
      for (const zone of this.zones.values()) or(this.active, zone.byHour[localHourOfWeek(zone.format, date)]);
      this.cachedMinute = minute;
      this.activeCount = count(this.active);
    }
    return this.active;
  }

  /** Adds "active at `nowMs`" to a request's plan (when some campaign is dayparted). */
  plan(plan: CandidatePlan, nowMs: number): void {
    if (!this.constrained) return;
    const active = this.activeAt(nowMs);
    plan.and(active, this.activeCount);
  }
}

const WEEKDAY_INDEX: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

export function localHourOfWeek(format: Intl.DateTimeFormat, date: Date): number {
  let day = 0;
  let hour = 0;
  for (const part of format.formatToParts(date)) {
    if (part.type === 'weekday') day = WEEKDAY_INDEX[part.value] ?? 0;
    else if (part.type === 'hour') hour = Number(part.value) % 24;
  }
  return day * 24 + hour;
}
