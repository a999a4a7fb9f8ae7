/**
 * The sampled bid and request logs. Called after the answer is written; each logged row is one
 * object pushed into the event sink's buffer (no I/O here). A row logged at rate r carries
 * `sample_weight` 1/r, so reports scale it back.
 */
import type { EventSink } from './event-types.js';
import type { BidIdentity } from './bid-identity.js';
import type { Currencies } from '../currency/currencies.js';

export class BidLog {
  private readonly bidWeight: number;
  private readonly requestWeight: number;
  private seq = 0;

  constructor(
    /** Only buffered writes: the bid path never waits for a disk. */
    private readonly sink: Pick<EventSink, 'write'>,
    private readonly bidRate: number,
    private readonly requestRate: number,
    /** Prefix that makes request-log event ids unique to this process. */
    private readonly idPrefix: string,
    private readonly random: () => number = Math.random,
  ) {
    this.bidWeight = bidRate > 0 ? 1 / bidRate : 0;
    this.requestWeight = requestRate > 0 ? 1 / requestRate : 0;
  }

  bids(identities: readonly BidIdentity[], currencies: Currencies, nowSec: number): void {
    if (this.bidRate <= 0) return;
    for (const id of identities) {
      if (this.bidRate < 1 && this.random() >= this.bidRate) continue;
      // One literal (the columns of identityColumns('bid', ...) written out): a spread would copy
      // into a slower object on every bid.
      this.sink.write({
        type: 'bid',
        event_id: `bid:${id.bidId}`,
        event_time: nowSec,
        exchange: id.exchange,
        advertiser_id: id.advertiserId,
        campaign_id: id.campaignId,
        creative_id: id.creativeId,
        bid_id: id.bidId,
        request_id: id.requestId,
        imp_id: id.impId,
        deal_id: id.dealId,
        placement: id.placement ?? '',
        placement_type: id.placementType ?? '',
        publisher_id: id.publisherId ?? '',
        country: id.country ?? '',
        device_type: id.deviceType ?? 0,
        bid_cpm_base: currencies.convert(id.price, id.currency, currencies.base),
        currency: id.currency,
        sample_weight: this.bidWeight,
      });
    }
  }

  request(exchange: string, requestId: string, outcome: string, nowSec: number): void {
    if (this.requestRate <= 0 || (this.requestRate < 1 && this.random() >= this.requestRate)) return;
    this.sink.write({
      type: 'request',
      event_id: `request:${this.idPrefix}${(this.seq++).toString(36)}`,
      event_time: nowSec,
      exchange,
      advertiser_id: '',
      campaign_id: '',
      creative_id: '',
      bid_id: '',
      request_id: requestId.slice(0, 256),
      imp_id: '',
      deal_id: '',
      placement: '',
      placement_type: '',
      publisher_id: '',
      country: '',
      device_type: 0,
      outcome,
      sample_weight: this.requestWeight,
    });
  }
}
