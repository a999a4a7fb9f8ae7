import { wholeDay, type PacingDay } from './pacing-day.js';

/**
 * Even pacing of a daily budget: spend should follow the straight line from 0 at the start of the
 * day to the budget at its end, through the time the campaign runs (pacing-day.ts: the whole day,
 * or its day-parting hours; rates below are per millisecond of running time). Each update (every `everyMs` of the injected clock) computes the
 * spend rate wanted for the next stretch — the even rate plus the gap to the line, closed over
 * `horizonMs` (an hour), never more than `maxCatchUp` times the even rate, so a campaign behind its
 * curve catches up within the day without dumping the remainder in the last hour — and turns it
 * into a participation probability from the measured spend rate at full participation.
 * Pure: the caller passes the day's global spend and the time. ASAP campaigns are not paced.
 */
export interface PacerOptions {
  readonly everyMs?: number;
  readonly horizonMs?: number;
  readonly maxCatchUp?: number;
}

export class EvenPacer {
  /** Probability of taking part in an auction, 0..1. */
  p = 1;
  private lastAt: number | undefined;
  private lastSpent = 0;
  private lastP = 1;
  /** Spend rate at full participation (micros per ms), smoothed; undefined until measured. */
  private fullRate: number | undefined;
  private readonly everyMs: number;
  private readonly horizonMs: number;
  private readonly maxCatchUp: number;

  constructor(o: PacerOptions = {}) {
    this.everyMs = o.everyMs ?? 10_000;
    this.horizonMs = o.horizonMs ?? 3_600_000;
    this.maxCatchUp = o.maxCatchUp ?? 2;
  }

  /** The target spend at `nowMs`: the budget times the share of the day's running time gone. */
  static target(limit: number, dayStart: number, dayLength: number, nowMs: number): number {
    return EvenPacer.targetOn(limit, wholeDay(dayStart, dayLength), nowMs);
  }

  static targetOn(limit: number, day: PacingDay, nowMs: number): number {
    return day.activeMs > 0 ? (limit * day.elapsed(nowMs)) / day.activeMs : 0;
  }

  /** `updateOn` over the whole day (no day-parting). */
  update(limit: number, spent: number, dayStart: number, dayLength: number, nowMs: number): number {
    return this.updateOn(limit, spent, wholeDay(dayStart, dayLength), nowMs);
  }

  updateOn(limit: number, spent: number, day: PacingDay, nowMs: number): number {
    if (this.lastAt !== undefined && nowMs >= this.lastAt && nowMs - this.lastAt < this.everyMs) return this.p;
    // A new day (spend went down) or a clock going back: start measuring afresh.
    if (this.lastAt === undefined || nowMs < this.lastAt || spent < this.lastSpent || this.lastAt < day.start) {
      this.lastAt = nowMs;
      this.lastSpent = spent;
      this.lastP = this.p;
      return this.p;
    }
    // Running time since the last update: outside the campaign's hours nothing is measured or steered.
    const dt = day.elapsed(nowMs) - day.elapsed(this.lastAt);
    if (dt <= 0) {
      this.lastAt = nowMs;
      this.lastSpent = spent;
      return this.p;
    }
    if (this.lastP > 0.001) {
      const sample = (spent - this.lastSpent) / dt / this.lastP;
      this.fullRate = this.fullRate === undefined ? sample : 0.6 * this.fullRate + 0.4 * sample;
    }
    const even = day.activeMs > 0 ? limit / day.activeMs : 0;
    const left = day.activeMs - day.elapsed(nowMs);
    const gap = EvenPacer.targetOn(limit, day, nowMs) - spent;
    let wanted = spent >= limit || left <= 0 ? 0 : even + gap / Math.max(Math.min(this.horizonMs, left), 1);
    wanted = Math.min(Math.max(wanted, 0), this.maxCatchUp * even);
    this.p = wanted <= 0 ? 0 : this.fullRate === undefined || this.fullRate <= 0 ? 1 : Math.min(1, wanted / this.fullRate);
    this.lastAt = nowMs;
    this.lastSpent = spent;
    this.lastP = this.p;
    return this.p;
  }
}
