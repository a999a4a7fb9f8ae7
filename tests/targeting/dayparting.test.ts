/**
 * Day-parting through `decide()` with an explicit clock: each campaign's hours are in its own
 * time zone, DST included, and the day of the week is the local one.
 */
import { describe, expect, it } from 'vitest';
import type { Dayparting } from '../../src/campaigns/schema.js';
import { hoursOfWeek, localHourOfWeek } from '../../src/targeting/dayparting.js';
import { campaign, decideAt, outcome, snapshotOf, view, bitList } from '../bidding/support.js';
import { CandidateSearch } from '../../src/targeting/candidate-search.js';

const at = (iso: string) => Date.parse(iso);
const parted = (id: string, dayparting: Dayparting) => campaign(id, { targeting: { dayparting } });
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;

/** Bids (true) or not, for a snapshot holding one day-parted campaign. */
function biddingAt(d: Dayparting, iso: string): boolean {
  const r = outcome(decideAt(snapshotOf([parted('c', d)]), at(iso)));
  if (typeof r === 'string') expect(r).toBe('no_campaign');
  return typeof r !== 'string';
}

describe('day-parting through decide()', () => {
  const office: Dayparting = { timezone: 'America/New_York', windows: [{ days: [...WEEKDAYS], from: 9, to: 17 }] };

  it('winter (EST, UTC-5): 09:00-16:59 local on a Monday', () => {
    expect(biddingAt(office, '2026-01-12T13:59:59Z')).toBe(false); // 08:59 EST
    expect(biddingAt(office, '2026-01-12T14:00:00Z')).toBe(true); // 09:00 EST
    expect(biddingAt(office, '2026-01-12T21:59:59Z')).toBe(true); // 16:59 EST
    expect(biddingAt(office, '2026-01-12T22:00:00Z')).toBe(false); // 17:00 EST: `to` is exclusive
  });

  it('summer (EDT, UTC-4): the same local hours are an hour earlier in UTC', () => {
    expect(biddingAt(office, '2026-07-13T12:59:59Z')).toBe(false); // 08:59 EDT
    expect(biddingAt(office, '2026-07-13T13:00:00Z')).toBe(true); // 09:00 EDT
    expect(biddingAt(office, '2026-07-13T20:59:59Z')).toBe(true); // 16:59 EDT
    expect(biddingAt(office, '2026-07-13T21:00:00Z')).toBe(false); // 17:00 EDT
  });

  it('the same UTC instant is in the window in summer and not in winter', () => {
    expect(biddingAt(office, '2026-07-13T13:30:00Z')).toBe(true); // 09:30 EDT
    expect(biddingAt(office, '2026-01-12T13:30:00Z')).toBe(false); // 08:30 EST
  });

  it('across the spring-forward weekend (8 March 2026): Monday before and after', () => {
    expect(biddingAt(office, '2026-03-02T13:00:00Z')).toBe(false); // 08:00 EST
    expect(biddingAt(office, '2026-03-09T13:00:00Z')).toBe(true); // 09:00 EDT
  });

  it('an hour that does not exist (02:00-03:00 on spring-forward Sunday) never runs', () => {
    const night: Dayparting = { timezone: 'America/New_York', windows: [{ days: ['sun'], from: 2, to: 3 }] };
    expect(biddingAt(night, '2026-03-08T06:59:59Z')).toBe(false); // 01:59 EST
    expect(biddingAt(night, '2026-03-08T07:00:00Z')).toBe(false); // 03:00 EDT
    expect(biddingAt(night, '2026-03-15T06:30:00Z')).toBe(true); // 02:30 EDT a week later
  });

  it('the hour repeated at fall-back (01:00-02:00 on 1 November 2026) runs both times', () => {
    const night: Dayparting = { timezone: 'America/New_York', windows: [{ days: ['sun'], from: 1, to: 2 }] };
    expect(biddingAt(night, '2026-11-01T05:30:00Z')).toBe(true); // 01:30 EDT
    expect(biddingAt(night, '2026-11-01T06:30:00Z')).toBe(true); // 01:30 EST
    expect(biddingAt(night, '2026-11-01T07:00:00Z')).toBe(false); // 02:00 EST
  });

  it('the day of the week is the local one: Sunday evening in New York is Monday in UTC', () => {
    const sundayEvening: Dayparting = { timezone: 'America/New_York', windows: [{ days: ['sun'], from: 20, to: 21 }] };
    expect(biddingAt(sundayEvening, '2026-01-12T01:30:00Z')).toBe(true); // Sun 20:30 EST
    expect(biddingAt(sundayEvening, '2026-01-11T20:30:00Z')).toBe(false); // Sun 15:30 EST
    expect(biddingAt(office, '2026-01-12T03:00:00Z')).toBe(false); // Monday in UTC, Sunday 22:00 in New York
  });

  it('weekend windows (Europe/Berlin, all of Saturday and Sunday)', () => {
    const weekend: Dayparting = { timezone: 'Europe/Berlin', windows: [{ days: ['sat', 'sun'], from: 0, to: 24 }] };
    expect(biddingAt(weekend, '2026-01-09T22:59:59Z')).toBe(false); // Fri 23:59 CET
    expect(biddingAt(weekend, '2026-01-09T23:00:00Z')).toBe(true); // Sat 00:00 CET, still Friday in UTC
    expect(biddingAt(weekend, '2026-01-10T12:00:00Z')).toBe(true); // Sat noon
    expect(biddingAt(weekend, '2026-01-11T22:59:59Z')).toBe(true); // Sun 23:59 CET (to: 24 covers the last hour)
    expect(biddingAt(weekend, '2026-01-11T23:00:00Z')).toBe(false); // Mon 00:00 CET, still Sunday in UTC
    expect(biddingAt(weekend, '2026-07-10T22:00:00Z')).toBe(true); // Sat 00:00 CEST (UTC+2)
    expect(biddingAt(weekend, '2026-07-10T21:59:59Z')).toBe(false); // Fri 23:59 CEST
  });

  it('several windows on different days', () => {
    const split: Dayparting = {
      timezone: 'UTC',
      windows: [
        { days: ['mon', 'wed'], from: 6, to: 9 },
        { days: ['sat'], from: 18, to: 23 },
      ],
    };
    expect(biddingAt(split, '2026-01-12T07:00:00Z')).toBe(true); // Mon
    expect(biddingAt(split, '2026-01-13T07:00:00Z')).toBe(false); // Tue
    expect(biddingAt(split, '2026-01-14T08:59:00Z')).toBe(true); // Wed
    expect(biddingAt(split, '2026-01-17T22:30:00Z')).toBe(true); // Sat
    expect(biddingAt(split, '2026-01-17T07:00:00Z')).toBe(false); // Sat morning
  });

  it('half-hour offsets (Asia/Kolkata, UTC+05:30)', () => {
    const morning: Dayparting = { timezone: 'Asia/Kolkata', windows: [{ days: [...WEEKDAYS, 'sat', 'sun'], from: 9, to: 10 }] };
    expect(biddingAt(morning, '2026-01-12T03:29:59Z')).toBe(false); // 08:59 IST
    expect(biddingAt(morning, '2026-01-12T03:30:00Z')).toBe(true); // 09:00 IST
    expect(biddingAt(morning, '2026-01-12T04:29:59Z')).toBe(true); // 09:59 IST
    expect(biddingAt(morning, '2026-01-12T04:30:00Z')).toBe(false); // 10:00 IST
  });

  it('across the date line (Pacific/Auckland, UTC+13 in January): Monday there is Sunday in UTC', () => {
    const monday: Dayparting = { timezone: 'Pacific/Auckland', windows: [{ days: ['mon'], from: 0, to: 24 }] };
    expect(biddingAt(monday, '2026-01-11T12:00:00Z')).toBe(true); // Mon 01:00 NZDT
    expect(biddingAt(monday, '2026-01-12T12:00:00Z')).toBe(false); // Tue 01:00 NZDT
  });

  it('one snapshot, several zones, evaluated at each instant (the per-minute cache never leaks between instants)', () => {
    const snap = snapshotOf([
      parted('ny-office', office),
      parted('berlin-weekend', { timezone: 'Europe/Berlin', windows: [{ days: ['sat', 'sun'], from: 0, to: 24 }] }),
      parted('tokyo-evening', { timezone: 'Asia/Tokyo', windows: [{ days: [...WEEKDAYS], from: 19, to: 23 }] }),
      campaign('always'),
    ]);
    const activeAt = (iso: string) =>
      bitList(new CandidateSearch(snap.index).requestCandidates(view({}), { deviceType: undefined, os: undefined, browser: undefined }, at(iso)))
        .map((i) => snap.index.campaigns[i].id)
        .sort();
    // Mon 12 Jan 2026, 10:30 UTC: 05:30 New York, 11:30 Berlin (Monday), 19:30 Tokyo.
    expect(activeAt('2026-01-12T10:30:00Z')).toEqual(['always', 'tokyo-evening']);
    // Same minute again, then earlier, then later: every answer depends on the instant only.
    expect(activeAt('2026-01-12T10:30:59Z')).toEqual(['always', 'tokyo-evening']);
    // Sat 17 Jan, 15:00 UTC: Berlin weekend; Tokyo's Saturday does not count; New York Saturday.
    expect(activeAt('2026-01-17T15:00:00Z')).toEqual(['always', 'berlin-weekend']);
    // Tue 13 Jan, 15:00 UTC: 10:00 in New York, midnight in Tokyo.
    expect(activeAt('2026-01-13T15:00:00Z')).toEqual(['always', 'ny-office']);
    expect(activeAt('2026-01-12T10:30:00Z')).toEqual(['always', 'tokyo-evening']);
  });

  it('decide() picks among the campaigns running now: the day-parted one when in hours, the other otherwise', () => {
    const snap = snapshotOf([
      parted('office', office),
      campaign('fallback', { bid: { base: 0.5, max: 1 } }),
    ]);
    expect(outcome(decideAt(snap, at('2026-01-12T15:00:00Z')))).toEqual(['office']);
    expect(outcome(decideAt(snap, at('2026-01-12T23:00:00Z')))).toEqual(['fallback']);
  });
});

describe('hours of the week', () => {
  it('maps windows to (local day, hour) flags, `to` exclusive', () => {
    const h = hoursOfWeek({ timezone: 'UTC', windows: [{ days: ['tue', 'sun'], from: 22, to: 24 }, { days: ['mon'], from: 0, to: 1 }] });
    const set = [...h.keys()].filter((i) => h[i]);
    expect(set).toEqual([0, 24 + 22, 24 + 23, 6 * 24 + 22, 6 * 24 + 23]);
  });

  it('localHourOfWeek: Monday 00:00 is 0 and Sunday 23:00 is 167, in the format\'s zone', () => {
    const fmt = (tz: string) => new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
    expect(localHourOfWeek(fmt('UTC'), new Date('2026-01-12T00:00:00Z'))).toBe(0);
    expect(localHourOfWeek(fmt('UTC'), new Date('2026-01-18T23:59:59Z'))).toBe(167);
    expect(localHourOfWeek(fmt('America/New_York'), new Date('2026-01-12T00:00:00Z'))).toBe(6 * 24 + 19); // Sun 19:00
  });
});
