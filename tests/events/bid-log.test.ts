import { describe, expect, it } from 'vitest';
import { BidLog } from '../../src/events/bid-log.js';
import { identityColumns, type BidIdentity } from '../../src/events/bid-identity.js';
import type { BidderEvent, EventSink } from '../../src/events/event-types.js';
import { Currencies } from '../../src/currency/currencies.js';

class Collect implements EventSink {
  readonly rows: BidderEvent[] = [];
  write(e: BidderEvent): void {
    this.rows.push(e);
  }
  async writeDurable(e: BidderEvent): Promise<void> {
    this.rows.push(e);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

const identity = (n: number, extra: Partial<BidIdentity> = {}): BidIdentity => ({
  bidId: `b${n}`,
  requestId: `r${n}`,
  impId: `${n}`,
  exchange: 'x1',
  advertiserId: 'adv',
  campaignId: `c${n}`,
  creativeId: `cr${n}`,
  dealId: n % 2 ? 'deal-1' : '',
  price: 2.5,
  currency: 'EUR',
  issuedAt: 1_700_000_000,
  ...extra,
});

describe('BidLog', () => {
  const currencies = new Currencies({ base: 'USD', rates: { EUR: 0.5 } });

  it('writes every bid with the same identity columns a notice of it gets, its base-currency price and weight', () => {
    const sink = new Collect();
    const log = new BidLog(sink, 1, 0, 'p-');
    const ids = [identity(1), identity(2, { userHash: 'abc' })];
    log.bids(ids, currencies, 1_700_000_005);
    expect(sink.rows).toEqual(
      ids.map((id) => ({ ...identityColumns('bid', id, 1_700_000_005), type: 'bid', bid_cpm_base: 5, currency: 'EUR', sample_weight: 1 })),
    );
  });

  it('samples at its rate and weighs each row by 1/rate', () => {
    const sink = new Collect();
    let i = 0;
    const log = new BidLog(sink, 0.25, 0, 'p-', () => [0.1, 0.3, 0.2, 0.9][i++ % 4]);
    log.bids([identity(1), identity(2), identity(3), identity(4)], currencies, 1);
    expect(sink.rows.map((r) => r.bid_id)).toEqual(['b1', 'b3']);
    expect(sink.rows.every((r) => r.type === 'bid' && r.sample_weight === 4)).toBe(true);
  });

  it('logs nothing at rate 0', () => {
    const sink = new Collect();
    new BidLog(sink, 0, 0, 'p-').bids([identity(1)], currencies, 1);
    new BidLog(sink, 0, 0, 'p-').request('x1', 'r1', 'no_campaign', 1);
    expect(sink.rows).toEqual([]);
  });

  it('gives request rows ids unique to the process and bounds the request id', () => {
    const sink = new Collect();
    const log = new BidLog(sink, 0, 1, 'inst-');
    log.request('x1', 'r'.repeat(300), 'bid', 7);
    log.request('x1', 'r2', 'no_campaign', 7);
    expect(sink.rows.map((r) => r.event_id)).toEqual(['request:inst-0', 'request:inst-1']);
    expect(sink.rows[0].request_id).toHaveLength(256);
  });
});
