/**
 * The events the bidder records, one table each in ClickHouse. Every row has an `event_id`
 * that is the same on every retry and every instance (so storage can keep each event once),
 * a time, and the bid's identity. Prices are CPM; `*_base` prices are in the base currency.
 */

export const EVENT_TABLES = {
  request: 'requests',
  bid: 'bids',
  win: 'wins',
  billing: 'billings',
  loss: 'losses',
  impression: 'impressions',
  click: 'clicks',
  conversion: 'conversions',
  pixel: 'pixels',
} as const;

export const EVENT_TABLE_NAMES = Object.values(EVENT_TABLES) as string[];
export type EventType = keyof typeof EVENT_TABLES;

/** Columns every event has. Strings are '' when not applicable (ClickHouse 18.16 has no Nullable in keys). */
export interface EventBase {
  event_id: string;
  /** Unix seconds (DateTime). */
  event_time: number;
  exchange: string;
  advertiser_id: string;
  campaign_id: string;
  creative_id: string;
  bid_id: string;
  request_id: string;
  imp_id: string;
  deal_id: string;
  /**
   * Where the ad was to run, from the bid request (migration 0003): the site's domain or the app's
   * bundle, which of the two (`site`/`app`), the publisher id, the country (ISO 3166-1 alpha-3, as
   * targeting normalises it) and the OpenRTB device type (0 unknown). Notices carry them in the
   * signed identity, so every row of a bid has its bid's placement; rows stored before 0003 read ''/0.
   */
  placement: string;
  placement_type: string;
  publisher_id: string;
  country: string;
  device_type: number;
}

/** A sampled bid request (bid or not): `sample_weight` = how many requests it stands for. */
export interface RequestEvent extends EventBase {
  type: 'request';
  outcome: string;
  sample_weight: number;
}

export interface BidEvent extends EventBase {
  type: 'bid';
  bid_cpm_base: number;
  currency: string;
  sample_weight: number;
}

export interface WinEvent extends EventBase {
  type: 'win' | 'billing';
  bid_cpm_base: number;
  clear_cpm_base: number;
  currency: string;
}

export interface LossEvent extends EventBase {
  type: 'loss';
  bid_cpm_base: number;
  loss_reason: number;
  /** ${AUCTION_MIN_TO_WIN} when the exchange sends it, else 0. */
  min_to_win_base: number;
}

export interface ImpressionEvent extends EventBase {
  type: 'impression' | 'click';
  /** The user key (events/user-key.ts), only when the bid's request allowed user data and carried a user. */
  user_key?: string;
}

export interface ConversionEvent extends EventBase {
  type: 'conversion';
  order_id: string;
  value_base: number;
  currency: string;
  /** As on impressions: the clicked bid's user key, when its request allowed user data. */
  user_key?: string;
}

/**
 * A call of an advertiser's pixel (`GET /px/{advertiserId}/{event}`): the advertiser's own event name,
 * the user key (events/user-key.ts; '' when the call gave no right to one, or carried no user), and
 * the optional value (in the base currency, with the currency it came in) and item. The bid
 * identity columns are '' (a pixel belongs to no bid), `advertiser_id` excepted.
 */
export interface PixelEvent extends EventBase {
  type: 'pixel';
  event_name: string;
  user_key: string;
  value_base: number;
  currency: string;
  item: string;
}

export type BidderEvent = RequestEvent | BidEvent | WinEvent | LossEvent | ImpressionEvent | ConversionEvent | PixelEvent;

/** Where events go. `write` never blocks and never throws: it buffers (or spools) and returns. */
export interface EventSink {
  write(event: BidderEvent): void;
  /**
   * Resolves once the event is durable on local disk (appended to the spool and covered by a
   * completed fdatasync); rejects when it could not be made so (the caller answers 503 and the
   * sender retries). For notices whose answer promises the event is kept (billing, conversion).
   */
  writeDurable(event: BidderEvent): Promise<void>;
  /** Everything written so far is stored (or durably spooled). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
