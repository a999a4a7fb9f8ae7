/**
 * Even pacing of a daily budget: spend should follow the straight line from 0 at the start of the
 * day to the budget at its end. Each update (every `everyMs` of the injected clock) computes the
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

  /** The target spend at `nowMs`: the budget times the share of the day gone. */
  static target(limit: number, dayStart: number, dayLength: number, nowMs: number): number {
    return (limit * Math.min(Math.max(nowMs - dayStart, 0), dayLength)) / dayLength;
  }

  update(limit: number, spent: number, dayStart: number, dayLength: number, nowMs: number): number {
    if (this.lastAt !== undefined && nowMs >= this.lastAt && nowMs - this.lastAt < this.everyMs) return this.p;
    // A new day (spend went down) or a clock going back: start measuring afresh.
    if (this.lastAt === undefined || nowMs < this.lastAt || spent < this.lastSpent || this.lastAt < dayStart) {
      this.lastAt = nowMs;
      this.lastSpent = spent;
      this.lastP = this.p;
      return this.p;
    }
    const dt = nowMs - this.lastAt;
    if (this.lastP > 0.001) {
      const sample = (spent - this.lastSpent) / dt / this.lastP;
      this.fullRate = this.fullRate === undefined ? sample : 0.6 * this.fullRate + 0.4 * sample;
    }
    const even = limit / dayLength;
    const left = dayStart + dayLength - nowMs;
    const gap = EvenPacer.target(limit, dayStart, dayLength, nowMs) - spent;
    let wanted = spent >= limit || left <= 0 ? 0 : even + gap / Math.max(Math.min(this.horizonMs, left), 1);
    wanted = Math.min(Math.max(wanted, 0), this.maxCatchUp * even);
    this.p = wanted <= 0 ? 0 : this.fullRate === undefined || this.fullRate <= 0 ? 1 : Math.min(1, wanted / this.fullRate);
    this.lastAt = nowMs;
    this.lastSpent = spent;
    this.lastP = this.p;
    return this.p;
  }
}
