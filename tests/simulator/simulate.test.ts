/**
 * The exchange simulator against an in-process bidder (demo config, recording EventSink): a short
 * simulation sends requests, runs the auctions, and its win, billing, loss, impression and click
 * notices all arrive and are accepted, one event each; the money adds up (spend = billed clearing
 * prices) and the auction type shows in the prices (second price below the bid, first price at it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, type TestBidder } from '../helpers/bidder.js';
import { RecordingSink, until } from '../helpers/notice-kit.js';
import { runSimulation, type SimulationSummary } from '../../src/simulator/simulate.js';
import type { BidderEvent } from '../../src/events/event-types.js';

let sink: RecordingSink;
let bidder: TestBidder;

beforeAll(async () => {
  sink = new RecordingSink();
  // An https notice base puts the pixel and click redirect in bids on secure imps too; the
  // simulator calls /notice/ paths on the bidder's local port (noticeOrigin).
  bidder = await startBidder({ configDir: 'config', events: sink, env: { NOTICE_BASE_URL: 'https://notices.dsp.example' } });
});
afterAll(() => bidder?.close());

const fast = {
  delaysMs: { win: [1, 5], loss: [1, 5], impression: [5, 20], billing: [20, 60], click: [5, 20] },
} as const;

function simulate(over: Parameters<typeof runSimulation>[0] extends infer T ? Partial<T> : never): Promise<SimulationSummary> {
  return runSimulation({
    bidder: `http://127.0.0.1:${bidder.port}`,
    noticeOrigin: `http://127.0.0.1:${bidder.port}`,
    rate: 80,
    durationS: 1.5,
    users: 1_000,
    ...fast,
    ...over,
  });
}

const byType = (events: BidderEvent[], type: string) => events.filter((e) => e.type === type) as (BidderEvent & Record<string, any>)[];

describe('a second-price simulation', () => {
  let s: SimulationSummary;
  let events: BidderEvent[];
  beforeAll(async () => {
    const before = sink.events.length;
    s = await simulate({ auction: 'second', seed: 'second', probabilities: { win: 1, loss: 1, impression: 1, billing: 1, click: 0.5 } });
    await until(() => byType(sink.events.slice(before), 'click').length >= s.notices.click.sent, 3_000);
    events = sink.events.slice(before);
  }, 30_000);

  it('sends the requests at the rate and gets answers', () => {
    expect(s.requests.sent).toBeGreaterThanOrEqual(100);
    expect(s.requests.answered).toBe(s.requests.sent);
    expect(Object.keys(s.requests.statuses).sort()).toEqual(['200', '204']);
    expect(s.bids).toBeGreaterThan(10);
    expect(s.wins).toBeGreaterThan(0);
    expect(s.losses).toBeGreaterThan(0);
    expect(s.wins + s.losses).toBe(s.bids - s.invalid_bids);
  });

  it('calls every kind of notice and each is accepted', () => {
    expect(s.notices.win.statuses).toEqual({ '204': s.wins });
    expect(s.notices.billing.statuses).toEqual({ '204': s.notices.billing.sent });
    expect(s.notices.billing.sent).toBe(s.wins);
    expect(s.notices.loss.statuses).toEqual({ '204': s.losses });
    expect(s.notices.impression.sent).toBeGreaterThan(0);
    expect(s.notices.impression.statuses).toEqual({ '200': s.notices.impression.sent });
    expect(s.notices.click.sent).toBeGreaterThan(0);
    expect(s.notices.click.statuses).toEqual({ '302': s.notices.click.sent });
    expect(s.wins_without_pixel).toBeLessThan(s.wins); // https base: pixels even on secure imps (VAST without one aside)
  });

  it('records exactly one event per notice', () => {
    expect(byType(events, 'win')).toHaveLength(s.notices.win.sent);
    expect(byType(events, 'billing')).toHaveLength(s.notices.billing.sent);
    expect(byType(events, 'loss')).toHaveLength(s.notices.loss.sent);
    expect(byType(events, 'impression')).toHaveLength(s.notices.impression.sent);
    expect(byType(events, 'click')).toHaveLength(s.notices.click.sent);
  });

  it('prices: second price clears at or under the bid, spend is the billed clearing prices', () => {
    const wins = byType(events, 'win');
    for (const w of wins) expect(w.clear_cpm_base).toBeLessThanOrEqual(w.bid_cpm_base + 1e-6);
    expect(wins.some((w) => w.clear_cpm_base < w.bid_cpm_base - 0.005)).toBe(true);
    const billed = byType(events, 'billing').reduce((sum, e) => sum + e.clear_cpm_base / 1000, 0);
    expect(billed).toBeCloseTo(s.spend, 4);
    for (const l of byType(events, 'loss')) {
      expect([100, 102]).toContain(l.loss_reason);
      expect(l.min_to_win_base).toBeGreaterThan(0);
    }
  });
});

describe('a first-price simulation', () => {
  it('clears every win at the bid price', async () => {
    const before = sink.events.length;
    const s = await simulate({ auction: 'first', seed: 'first', durationS: 1, probabilities: { win: 1, loss: 0, impression: 0, billing: 0, click: 0 } });
    expect(s.wins).toBeGreaterThan(0);
    expect(s.notices.loss.sent + s.notices.billing.sent + s.notices.impression.sent).toBe(0);
    const wins = byType(sink.events.slice(before), 'win');
    expect(wins).toHaveLength(s.wins);
    for (const w of wins) expect(w.clear_cpm_base).toBeCloseTo(w.bid_cpm_base, 4);
  }, 30_000);
});

describe('two instances with load-balanced notices (noticeMode balanced)', () => {
  it("sends requests to both in turn and each instance's notices to either, so many reach the instance that did not bid", async () => {
    const sinks = [new RecordingSink(), new RecordingSink()];
    const fleet = await Promise.all(
      ['simA', 'simB'].map((id, i) => startBidder({ configDir: 'config', events: sinks[i], env: { INSTANCE_ID: id, NOTICE_BASE_URL: 'https://notices.dsp.example' } })),
    );
    try {
      const s = await runSimulation({
        bidder: `http://127.0.0.1:${fleet[0].port}`,
        moreBidders: [`http://127.0.0.1:${fleet[1].port}`],
        noticeMode: 'balanced',
        rate: 80,
        durationS: 1.5,
        users: 1_000,
        seed: 'balanced',
        ...fast,
        probabilities: { win: 1, loss: 1, impression: 1, billing: 1, click: 0 }, // billing follows a rendered impression
      });
      const sent = s.notices.win.sent + s.notices.loss.sent + s.notices.billing.sent;
      expect(s.notices.billing.statuses).toEqual({ '204': s.notices.billing.sent });
      expect(s.notices.billing.sent).toBeGreaterThan(0);
      const moneyNotices = () => sinks.map((k) => k.events.filter((e) => e.type === 'win' || e.type === 'loss' || e.type === 'billing'));
      await until(() => moneyNotices().flat().length >= sent, 3_000);
      const notices = moneyNotices();
      expect(notices[0].length + notices[1].length).toBe(sent);
      // Bid ids start with the instance that made the bid: each instance got notices of the other's bids, and of its own.
      for (const [i, [own, other]] of [['simA', 'simB'], ['simB', 'simA']].entries()) {
        expect(notices[i].filter((e) => e.bid_id.startsWith(other)).length, `${other}'s bids on ${own}`).toBeGreaterThan(sent / 8);
        expect(notices[i].filter((e) => e.bid_id.startsWith(own)).length, `${own}'s bids on ${own}`).toBeGreaterThan(sent / 8);
      }
    } finally {
      for (const b of fleet) b.close();
    }
  }, 30_000);
});

it('refuses targets other than this machine', async () => {
  await expect(runSimulation({ bidder: 'http://10.1.2.3:8080' })).rejects.toThrow(/127\.0\.0\.1/);
  await expect(runSimulation({ bidder: 'http://127.0.0.1:1', noticeOrigin: 'https://notices.example' })).rejects.toThrow(/127\.0\.0\.1/);
  await expect(runSimulation({ bidder: 'http://127.0.0.1:1', moreBidders: ['http://10.1.2.3:8080'] })).rejects.toThrow(/127\.0\.0\.1/);
});
