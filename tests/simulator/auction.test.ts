/**
 * The simulated exchange's auction: first and second price, floors, ties, min-to-win and loss
 * reasons; competitors' bids are log-normal around the floor and never below it.
 */
import { describe, expect, it } from 'vitest';
import { LOSS, competitorBids, floorOfBid, runAuction, DEFAULT_COMPETITORS } from '../../src/simulator/auction.js';
import { Rng } from '../../src/simulator/rng.js';

describe('second price', () => {
  it('the highest bid wins and pays the second bid plus one increment', () => {
    const o = runAuction({ type: 'second', floor: 0.5, ourBid: 3, competitors: [2, 1] });
    expect(o).toMatchObject({ winner: 'us', clearingPrice: 2.01, minToWin: 2.01, lossReason: LOSS.WON, highestOther: 2 });
  });

  it('pays the floor plus one increment when nobody else bids', () => {
    expect(runAuction({ type: 'second', floor: 1, ourBid: 3, competitors: [] })).toMatchObject({ winner: 'us', clearingPrice: 1.01, minToWin: 1 });
  });

  it('never charges more than the winning bid', () => {
    expect(runAuction({ type: 'second', floor: 0, ourBid: 2.005, competitors: [2] }).clearingPrice).toBe(2.005);
  });

  it('ignores competing bids below the floor', () => {
    expect(runAuction({ type: 'second', floor: 1.5, ourBid: 3, competitors: [1.4, 1] })).toMatchObject({ winner: 'us', clearingPrice: 1.51 });
  });

  it('a loss reports the competitor, its price and what would have won', () => {
    const o = runAuction({ type: 'second', floor: 0.5, ourBid: 2, competitors: [3, 1] });
    expect(o).toMatchObject({ winner: 'competitor', clearingPrice: 2.01, minToWin: 3.01, lossReason: LOSS.LOST_TO_HIGHER_BID });
  });

  it('a tie goes to the competitor', () => {
    expect(runAuction({ type: 'second', floor: 0, ourBid: 2, competitors: [2] })).toMatchObject({ winner: 'competitor', lossReason: LOSS.LOST_TO_HIGHER_BID });
  });
});

describe('first price', () => {
  it('the winner pays its own bid', () => {
    expect(runAuction({ type: 'first', floor: 0.5, ourBid: 3, competitors: [2, 1] })).toMatchObject({ winner: 'us', clearingPrice: 3, minToWin: 2.01 });
  });

  it('a competitor that outbids us pays its own bid', () => {
    expect(runAuction({ type: 'first', floor: 0.5, ourBid: 2, competitors: [2.5] })).toMatchObject({ winner: 'competitor', clearingPrice: 2.5, minToWin: 2.51 });
  });
});

describe('floors and absent bids', () => {
  it('a bid under the floor loses with reason 100', () => {
    expect(runAuction({ type: 'first', floor: 2, ourBid: 1.5, competitors: [] })).toMatchObject({ winner: 'none', lossReason: LOSS.BELOW_FLOOR, minToWin: 2 });
  });

  it('without our bid the best competitor wins, or nobody', () => {
    expect(runAuction({ type: 'second', floor: 1, ourBid: undefined, competitors: [3, 2] })).toMatchObject({ winner: 'competitor', clearingPrice: 2.01, lossReason: undefined });
    expect(runAuction({ type: 'second', floor: 1, ourBid: undefined, competitors: [] }).winner).toBe('none');
  });
});

describe('competitors', () => {
  it('bid at or above the floor, around its configured multiple, reproducibly', () => {
    const a = new Rng(1);
    const all: number[] = [];
    for (let i = 0; i < 2_000; i++) all.push(...competitorBids(a, 2, DEFAULT_COMPETITORS));
    expect(all.every((b) => b >= 2)).toBe(true);
    all.sort((x, y) => x - y);
    const median = all[Math.floor(all.length / 2)];
    expect(median).toBeGreaterThan(2.5);
    expect(median).toBeLessThan(4.5);
    const b = new Rng(1);
    const again: number[] = [];
    for (let i = 0; i < 2_000; i++) again.push(...competitorBids(b, 2, DEFAULT_COMPETITORS));
    expect(again.sort((x, y) => x - y)).toEqual(all);
  });

  it('use a reference price when there is no floor', () => {
    const bids = competitorBids(new Rng(2), 0, { ...DEFAULT_COMPETITORS, competitors: 50, bidProbability: 1 });
    expect(bids).toHaveLength(50);
    expect(bids.every((b) => b > 0)).toBe(true);
  });
});

describe('the floor a bid faces (OpenRTB 2.6 implementation guidance 7.11.2)', () => {
  const imp = {
    bidfloor: 2,
    bidfloorcur: 'EUR',
    video: { mincpmpersec: 0.1 },
    audio: { durfloors: [{ maxdur: 15, bidfloor: 1 }, { mindur: 16, bidfloor: 4 }] },
    pmp: { deals: [{ id: 'D', bidfloor: 3, bidfloorcur: 'USD' }, { id: 'E', durfloors: [{ mindur: 20, bidfloor: 9 }] }] },
  };

  it("the imp's floor without a bid, for a banner bid, and for a video bid of unknown duration", () => {
    expect(floorOfBid(imp, undefined)).toEqual({ amount: 2, cur: 'EUR' });
    expect(floorOfBid(imp, { mtype: 1 })).toEqual({ amount: 2, cur: 'EUR' });
    expect(floorOfBid(imp, { mtype: 2 })).toEqual({ amount: 2, cur: 'EUR' });
  });

  it('the media object\'s duration floors for a video or audio bid, even below the imp\'s', () => {
    expect(floorOfBid(imp, { mtype: 2, dur: 30 }).amount).toBeCloseTo(3, 10);
    expect(floorOfBid(imp, { mtype: 2, dur: 15 }).amount).toBeCloseTo(1.5, 10);
    expect(floorOfBid(imp, { mtype: 3, dur: 15 })).toEqual({ amount: 1, cur: 'EUR' });
    expect(floorOfBid(imp, { mtype: 3, dur: 16 })).toEqual({ amount: 4, cur: 'EUR' });
  });

  it("through a deal, the deal's guidance first, in the deal's currency; without any for the bid, the media's or the imp's", () => {
    expect(floorOfBid(imp, { dealid: 'D', mtype: 2, dur: 30 })).toEqual({ amount: 3, cur: 'USD' });
    expect(floorOfBid(imp, { dealid: 'E', mtype: 2, dur: 30 })).toEqual({ amount: 9, cur: 'USD' });
    expect(floorOfBid(imp, { dealid: 'E', mtype: 2, dur: 15 }).amount).toBeCloseTo(1.5, 10); // no range of E holds 15 s
    expect(floorOfBid(imp, { dealid: 'E', mtype: 1 })).toEqual({ amount: 2, cur: 'EUR' });
  });
});
