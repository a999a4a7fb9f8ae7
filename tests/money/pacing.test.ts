/**
 * Even pacing over simulated days (an injected clock, 10 s steps): a market whose traffic swings
 * with the time of day and would let the campaign spend three times its budget at full
 * participation. The pacer only sees the day's global spend (a step late, as notices arrive late)
 * and sets a participation probability. Tolerances are stated in the tests.
 */
import { describe, expect, it } from 'vitest';
import { EvenPacer } from '../../src/money/pacing.js';
import { DAY_MS } from '../../src/money/accounts.js';
import { daypartedDay, pacingDay, wholeDay, type PacingDay } from '../../src/money/pacing-day.js';
import { rng } from '../helpers/rng.js';

const HOUR = 3_600_000;
const STEP = 10_000;
const DAILY = 100; // currency units

interface Day {
  /** Spend at the end of each hour. */
  readonly hourly: number[];
  readonly total: number;
  /** The largest distance between spend and the straight line, in share of the daily budget, from hour 1 on. */
  readonly worstGap: number;
}

/** `traffic(hour)`: auctions per second; each auction we take part in costs 0.002 with probability 0.3. */
function simulateDay(traffic: (hourOfDay: number) => number, seed = 7, schedule?: (dayStart: number) => PacingDay): Day {
  const random = rng(seed);
  const pacer = new EvenPacer();
  const dayStart = Date.parse('2026-01-12T00:00:00Z');
  const day = schedule ? schedule(dayStart) : wholeDay(dayStart);
  let spent = 0;
  let reported = 0; // what the store has seen: the previous step's spend
  const hourly: number[] = [];
  let worstGap = 0;
  for (let t = dayStart; t < dayStart + DAY_MS; t += STEP) {
    const p = pacer.updateOn(DAILY, reported, day, t);
    reported = spent;
    const auctions = traffic((t - dayStart) / HOUR) * (STEP / 1000);
    // Binomial(auctions, p × 0.3), by its normal approximation.
    const q = p * 0.3;
    const mean = auctions * q;
    const wins = Math.max(0, Math.round(mean + Math.sqrt(auctions * q * (1 - q)) * gauss(random)));
    spent = Math.min(spent + wins * 0.002, DAILY * 1.05);
    const now = t + STEP;
    if (day.elapsed(now) >= HOUR) worstGap = Math.max(worstGap, Math.abs(spent - EvenPacer.targetOn(DAILY, day, now)) / DAILY);
    if ((now - dayStart) % HOUR === 0) hourly.push(spent);
  }
  return { hourly, total: spent, worstGap };
}

function gauss(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}

/**
 * Busy afternoons, quiet nights: 0.4× to 1.6× of the mean, which would spend 3× the budget at full
 * participation (so even the quietest hour could spend 1.2× the even rate).
 */
const diurnal = (h: number) => {
  const mean = (3 * DAILY) / 0.002 / 0.3 / 86_400;
  return mean * (1 - 0.6 * Math.cos((2 * Math.PI * (h - 3)) / 24));
};

describe('even pacing over a simulated day', () => {
  it('tracks the straight line within 1 % of the daily budget from the first hour on, and spends 98–100.1 % of it', () => {
    const day = simulateDay(diurnal);
    console.log(`even pacing: worst gap ${(day.worstGap * 100).toFixed(2)} % of the daily budget; spent ${day.total.toFixed(2)} of ${DAILY}`);
    expect(day.worstGap).toBeLessThan(0.01);
    expect(day.total).toBeGreaterThan(DAILY * 0.98);
    expect(day.total).toBeLessThanOrEqual(DAILY * 1.001); // the spend a step late: the budget itself is enforced by the ledger
  });

  it('after an outage (no traffic 06:00–09:00) it catches up within the day at no more than twice the even rate, and the last hour dumps nothing', () => {
    const day = simulateDay((h) => (h >= 6 && h < 9 ? 0 : diurnal(h)));
    const even = DAILY / 24;
    const perHour = day.hourly.map((x, i) => x - (i === 0 ? 0 : day.hourly[i - 1]));
    console.log(`pacing after a 3 h outage: hourly spend ${perHour.map((x) => x.toFixed(1)).join(' ')}; total ${day.total.toFixed(2)}`);
    expect(Math.max(...perHour)).toBeLessThanOrEqual(2 * even * 1.05);
    // Caught up: back within 2 % of the line by 14:00, and on it at the end of the day.
    for (let h = 14; h < 24; h++) expect(Math.abs(day.hourly[h - 1] - (DAILY * h) / 24) / DAILY, `hour ${h}`).toBeLessThan(0.02);
    expect(perHour[23]).toBeLessThan(even * 1.2);
    expect(day.total).toBeGreaterThan(DAILY * 0.98);
  });

  it('when the market cannot fill the budget it takes part in everything, and spends what there is', () => {
    const day = simulateDay((h) => diurnal(h) / 6); // half the budget at full participation
    expect(day.total).toBeGreaterThan(DAILY * 0.45);
    expect(day.total).toBeLessThan(DAILY * 0.55);
  });
});

describe('the pacing day: the time a campaign runs', () => {
  const monday = Date.parse('2026-01-12T00:00:00Z');
  it('is the whole day without day-parting', () => {
    const d = pacingDay(monday, undefined);
    expect(d.activeMs).toBe(DAY_MS);
    expect(d.elapsed(monday + 12 * HOUR)).toBe(12 * HOUR);
    expect(d.elapsed(monday - 1)).toBe(0);
    expect(d.elapsed(monday + 2 * DAY_MS)).toBe(DAY_MS);
  });
  it('is the day-parting hours in the campaign\'s zone (09-17 New York on a Monday in winter: 14:00-22:00 UTC)', () => {
    const d = daypartedDay(monday, { timezone: 'America/New_York', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: 9, to: 17 }] });
    expect(d.activeMs).toBe(8 * HOUR);
    expect(d.elapsed(monday + 14 * HOUR)).toBe(0);
    expect(d.elapsed(monday + 15 * HOUR + 30 * 60_000)).toBe(1.5 * HOUR);
    expect(d.elapsed(monday + 23 * HOUR)).toBe(8 * HOUR);
    const saturday = daypartedDay(Date.parse('2026-01-17T00:00:00Z'), { timezone: 'America/New_York', windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: 9, to: 17 }] });
    expect(saturday.activeMs).toBe(0);
    expect(EvenPacer.targetOn(DAILY, saturday, Date.parse('2026-01-17T12:00:00Z'))).toBe(0);
  });
  it('follows half-hour zones to the quarter (09-17 Kolkata: 03:30-11:30 UTC)', () => {
    const d = daypartedDay(monday, { timezone: 'Asia/Kolkata', windows: [{ days: ['mon'], from: 9, to: 17 }] });
    expect(d.activeMs).toBe(8 * HOUR);
    expect(d.elapsed(monday + 4 * HOUR)).toBe(30 * 60_000);
    expect(d.elapsed(monday + 11 * HOUR + 30 * 60_000)).toBe(8 * HOUR);
  });
});

describe('even pacing through day-parting hours', () => {
  // 09-17 New York on a Monday in winter: 14:00-22:00 UTC. The campaign only bids then (targeting),
  // where the market would let it spend three times its budget.
  const hours = { timezone: 'America/New_York', windows: [{ days: ['mon' as const], from: 9, to: 17 }] };
  const open = (h: number) => h >= 14 && h < 22;
  const busy = (h: number) => (open(h) ? (3 * DAILY) / 0.002 / 0.3 / (8 * 3600) : 0);

  it('spreads the budget over the eight hours on their own straight line, within 1 % of it, and spends 98-100.1 % of it', () => {
    const day = simulateDay(busy, 11, (start) => daypartedDay(start, hours));
    const perHour = day.hourly.map((x, i) => x - (i === 0 ? 0 : day.hourly[i - 1]));
    console.log(`day-parted pacing: worst gap ${(day.worstGap * 100).toFixed(2)} %; hourly ${perHour.map((x) => x.toFixed(1)).join(' ')}`);
    expect(day.worstGap).toBeLessThan(0.01);
    expect(day.total).toBeGreaterThan(DAILY * 0.98);
    expect(day.total).toBeLessThanOrEqual(DAILY * 1.001);
    for (let h = 14; h < 22; h++) expect(perHour[h], `hour ${h}`).toBeLessThanOrEqual((DAILY / 8) * 1.1);
  });

  it('paced against the whole day instead, the same campaign would end far short of its budget', () => {
    const day = simulateDay(busy, 11);
    expect(day.total).toBeLessThan(DAILY * 0.75);
  });
});
