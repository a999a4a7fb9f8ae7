/**
 * No-bid reasons are ordered from the earliest filter to the latest; a request whose imps fail
 * differently reports the one that got furthest, whatever the order of the imps.
 */
import { describe, expect, it } from 'vitest';
import { furthest, NO_BID_REASONS, type NoBidReason } from '../../src/bidding/no-bid-reason.js';
import { campaign, decideAt, outcome, snapshotOf } from './support.js';

const NOW = Date.parse('2026-01-12T12:00:00Z');

describe('furthest', () => {
  it('the pipeline order', () => {
    expect(NO_BID_REASONS).toEqual([
      'overloaded', 'deadline', 'seat_blocked', 'unsupported_currency', 'no_campaign',
      'kill_switch', 'budget_unconfirmed', 'budget_below_max_bid', 'budget_exhausted', 'impressions_exhausted', 'clicks_exhausted', 'conversions_exhausted', 'paced',
      'no_creative_fit', 'frequency_capped', 'below_floor', 'internal_error',
    ]);
  });

  it('picks the later stage of any two, in either order, and is idempotent', () => {
    NO_BID_REASONS.forEach((a, i) =>
      NO_BID_REASONS.forEach((b, j) => {
        const later = i >= j ? a : b;
        expect(furthest(a, b), `${a} vs ${b}`).toBe(later);
        expect(furthest(b, a), `${b} vs ${a}`).toBe(later);
      }),
    );
  });

  it('folding a list gives its furthest member, whatever the order', () => {
    const fold = (xs: NoBidReason[]) => xs.reduce(furthest, 'no_campaign');
    expect(fold(['no_creative_fit', 'below_floor', 'no_creative_fit'])).toBe('below_floor');
    expect(fold(['below_floor', 'no_creative_fit'])).toBe('below_floor');
    expect(fold(['no_creative_fit'])).toBe('no_creative_fit');
    expect(fold([])).toBe('no_campaign');
  });
});

describe('no-bid reasons from decide()', () => {
  const attrs = campaign('attrs', {
    bid: { base: 1, max: 2 },
    creatives: [
      { id: 'cr-728', type: 'banner', w: 728, h: 90, html: '<b>728</b>', attrs: [6] },
      { id: 'cr-300', type: 'banner', w: 300, h: 250, html: '<b>300</b>' },
    ],
  });
  const snap = snapshotOf([attrs]);
  const noFit = { id: 'fit', banner: { w: 728, h: 90, battr: [6] } };
  const floor = { id: 'floor', banner: { w: 300, h: 250 }, bidfloor: 9 };
  const nothing = { id: 'none', banner: { w: 160, h: 600 } };
  const good = { id: 'good', banner: { w: 300, h: 250 } };

  it('one imp each: no_campaign, no_creative_fit, below_floor', () => {
    expect(outcome(decideAt(snap, NOW, { imp: [nothing] }))).toBe('no_campaign');
    expect(outcome(decideAt(snap, NOW, { imp: [noFit] }))).toBe('no_creative_fit');
    expect(outcome(decideAt(snap, NOW, { imp: [floor] }))).toBe('below_floor');
  });

  it('several imps report the furthest, in any order', () => {
    for (const imps of [[noFit, floor, nothing], [floor, nothing, noFit], [nothing, noFit, floor]])
      expect(outcome(decideAt(snap, NOW, { imp: imps })), imps.map((i) => i.id).join()).toBe('below_floor');
    for (const imps of [[noFit, nothing], [nothing, noFit]])
      expect(outcome(decideAt(snap, NOW, { imp: imps })), imps.map((i) => i.id).join()).toBe('no_creative_fit');
  });

  it('any imp that bids makes the request a bid', () => {
    expect(outcome(decideAt(snap, NOW, { imp: [noFit, floor, good] }))).toEqual(['attrs']);
  });

  it('request-level refusals come before any campaign is looked at', () => {
    expect(outcome(decideAt(snap, NOW, { imp: [good], wseat: ['other'], cur: ['CHF'] }))).toBe('seat_blocked');
    expect(outcome(decideAt(snap, NOW, { imp: [good], cur: ['CHF'] }))).toBe('unsupported_currency');
  });

  it('a campaign out of its flight is no_campaign, not a later stage', () => {
    const ended = snapshotOf([campaign('ended', { start: '2020-01-01T00:00:00Z', end: '2021-01-01T00:00:00Z' })]);
    expect(outcome(decideAt(ended, NOW, { imp: [{ ...good, bidfloor: 9 }] }))).toBe('no_campaign');
    expect(outcome(decideAt(ended, Date.parse('2020-06-01T00:00:00Z'), { imp: [{ ...good, bidfloor: 9 }] }))).toBe('below_floor');
  });
});
