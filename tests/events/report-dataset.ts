/**
 * A hand-built set of events with known report numbers. Times are UTC, on 2024-05-01 (hours 10
 * and 11) and 2024-05-02 (hour 09). Some events are listed twice: they are inserted again in a
 * separate insert, as a retry or a second instance would, and must count once.
 */
import {
  EVENT_TABLES,
  type BidEvent,
  type BidderEvent,
  type ConversionEvent,
  type EventBase,
  type ImpressionEvent,
  type LossEvent,
  type RequestEvent,
  type WinEvent,
} from '../../src/events/event-types.js';

export const DAY1 = '2024-05-01';
export const DAY2 = '2024-05-02';

function at(day: string, hhmm: string): number {
  return Date.parse(`${day}T${hhmm}:00Z`) / 1000;
}

type Ids = Partial<EventBase> & Pick<EventBase, 'event_id' | 'event_time'>;

function base(ids: Ids): EventBase {
  return {
    exchange: '',
    advertiser_id: '',
    campaign_id: '',
    creative_id: '',
    bid_id: '',
    request_id: '',
    imp_id: '1',
    deal_id: '',
    placement: '',
    placement_type: '',
    publisher_id: '',
    country: '',
    device_type: 0,
    ...ids,
  };
}

const C1 = { exchange: 'exA', advertiser_id: 'adv1', campaign_id: 'c1', creative_id: 'cr1' };
const C2 = { exchange: 'exB', advertiser_id: 'adv2', campaign_id: 'c2', creative_id: 'cr2' };
/** The campaigns' events with their placements (request rows are logged without one). */
const C1P = { ...C1, placement: 'news.example', placement_type: 'site', publisher_id: 'pub1', country: 'DEU', device_type: 2 };
const C2P = { ...C2, placement: 'com.example.game', placement_type: 'app', publisher_id: 'pub2', deal_id: 'deal-9', country: 'USA', device_type: 4 };

const req = (id: string, t: number, extra: Partial<EventBase>, outcome: string, w: number): RequestEvent => ({
  ...base({ event_id: id, event_time: t, request_id: id, ...extra }),
  type: 'request',
  outcome,
  sample_weight: w,
});
const bid = (id: string, t: number, c: Partial<EventBase>, cpm: number, w: number): BidEvent => ({
  ...base({ event_id: id, event_time: t, bid_id: id, ...c }),
  type: 'bid',
  bid_cpm_base: cpm,
  currency: 'USD',
  sample_weight: w,
});
const win = (type: 'win' | 'billing', id: string, t: number, c: Partial<EventBase>, bidCpm: number, clear: number): WinEvent => ({
  ...base({ event_id: id, event_time: t, bid_id: id.slice(2), ...c }),
  type,
  bid_cpm_base: bidCpm,
  clear_cpm_base: clear,
  currency: 'USD',
});
const imp = (type: 'impression' | 'click', id: string, t: number, c: Partial<EventBase>): ImpressionEvent => ({
  ...base({ event_id: id, event_time: t, ...c }),
  type,
  user_key: '', // migration 0004: every table row has every column
});
const conv = (id: string, t: number, c: Partial<EventBase>, value: number): ConversionEvent => ({
  ...base({ event_id: id, event_time: t, ...c }),
  type: 'conversion',
  order_id: `order-${id}`,
  value_base: value,
  currency: 'USD',
  user_key: '',
});
const loss = (id: string, t: number, c: Partial<EventBase>): LossEvent => ({
  ...base({ event_id: id, event_time: t, ...c }),
  type: 'loss',
  bid_cpm_base: 3,
  loss_reason: 102,
  min_to_win_base: 3.25,
});

/** First insert. */
export const EVENTS: BidderEvent[] = [
  req('r1', at(DAY1, '10:05'), C1, 'bid', 10),
  req('r2', at(DAY1, '10:10'), { exchange: 'exA' }, 'no_bid', 10),
  req('r3', at(DAY1, '11:00'), C2, 'bid', 10),
  req('r4', at(DAY2, '09:00'), { exchange: 'exA' }, 'no_bid', 10),
  bid('b1', at(DAY1, '10:05'), C1P, 2, 1),
  bid('b2', at(DAY1, '10:20'), C1P, 4, 1),
  bid('b3', at(DAY1, '10:30'), C1P, 3, 2),
  bid('b4', at(DAY1, '11:00'), C2P, 5, 1),
  bid('b5', at(DAY2, '09:00'), C2P, 1, 1),
  win('win', 'w-b1', at(DAY1, '10:06'), C1P, 2, 1.5),
  win('win', 'w-b2', at(DAY1, '10:21'), C1P, 4, 2.5),
  win('win', 'w-b4', at(DAY1, '11:01'), C2P, 5, 4),
  win('billing', 'l-b1', at(DAY1, '10:07'), C1P, 2, 1.5),
  win('billing', 'l-b2', at(DAY1, '10:22'), C1P, 4, 2.5),
  win('billing', 'l-b4', at(DAY1, '11:02'), C2P, 5, 4),
  loss('x-b3', at(DAY1, '10:31'), C1P),
  imp('impression', 'i-b1', at(DAY1, '10:07'), C1P),
  imp('impression', 'i-b2', at(DAY1, '10:22'), C1P),
  imp('impression', 'i-b4', at(DAY1, '11:02'), C2P),
  imp('click', 'k-b2', at(DAY1, '10:30'), C1P),
  conv('v-1', at(DAY1, '10:45'), C1P, 20),
  { ...base({ event_id: 'p-1', event_time: at(DAY1, '10:50'), advertiser_id: C1.advertiser_id }), type: 'pixel', event_name: 'purchase', user_key: 'k1', value_base: 20, currency: 'EUR', item: 'sku-1' },
];

/** Inserted again, each table in a separate insert after the first: must not count twice. */
export const DUPLICATES: BidderEvent[] = EVENTS.filter((e) => ['w-b2', 'l-b2', 'i-b2', 'k-b2', 'v-1', 'b3', 'r1'].includes(e.event_id));

/** Events grouped by table, as the writer would insert them. */
export function byTable(events: readonly BidderEvent[]): Map<string, Record<string, unknown>[]> {
  const out = new Map<string, Record<string, unknown>[]>();
  for (const e of events) {
    const t = EVENT_TABLES[e.type];
    let list = out.get(t);
    if (!list) out.set(t, (list = []));
    list.push(e as unknown as Record<string, unknown>);
  }
  return out;
}

const ZERO = {
  requests: 0,
  bids: 0,
  wins: 0,
  winRate: null,
  billings: 0,
  impressions: 0,
  clicks: 0,
  ctr: null,
  conversions: 0,
  cvr: null,
  conversionValue: 0,
  spend: 0,
  ecpm: null,
  ecpc: null,
  ecpa: null,
  avgClearCpm: null,
  avgWinBidCpm: null,
  avgBidCpm: null,
};

/** groupBy=campaign,hour over both days. */
export const BY_CAMPAIGN_HOUR = [
  { ...ZERO, campaign: '', hour: '2024-05-01T10:00:00Z', requests: 10 },
  {
    ...ZERO,
    campaign: 'c1',
    hour: '2024-05-01T10:00:00Z',
    requests: 10,
    bids: 4,
    wins: 2,
    winRate: 0.5,
    billings: 2,
    impressions: 2,
    clicks: 1,
    ctr: 0.5,
    conversions: 1,
    cvr: 1,
    conversionValue: 20,
    spend: 0.004,
    ecpm: 2,
    ecpc: 0.004,
    ecpa: 0.004,
    avgClearCpm: 2,
    avgWinBidCpm: 3,
    avgBidCpm: 3,
  },
  {
    ...ZERO,
    campaign: 'c2',
    hour: '2024-05-01T11:00:00Z',
    requests: 10,
    bids: 1,
    wins: 1,
    winRate: 1,
    billings: 1,
    impressions: 1,
    clicks: 0,
    ctr: 0,
    spend: 0.004,
    ecpm: 4,
    avgClearCpm: 4,
    avgWinBidCpm: 5,
    avgBidCpm: 5,
  },
  { ...ZERO, campaign: '', hour: '2024-05-02T09:00:00Z', requests: 10 },
  { ...ZERO, campaign: 'c2', hour: '2024-05-02T09:00:00Z', bids: 1, winRate: 0, avgBidCpm: 1 },
];

/** groupBy=exchange,day over both days. */
export const BY_EXCHANGE_DAY = [
  {
    ...ZERO,
    exchange: 'exA',
    day: DAY1,
    requests: 20,
    bids: 4,
    wins: 2,
    winRate: 0.5,
    billings: 2,
    impressions: 2,
    clicks: 1,
    ctr: 0.5,
    conversions: 1,
    cvr: 1,
    conversionValue: 20,
    spend: 0.004,
    ecpm: 2,
    ecpc: 0.004,
    ecpa: 0.004,
    avgClearCpm: 2,
    avgWinBidCpm: 3,
    avgBidCpm: 3,
  },
  {
    ...ZERO,
    exchange: 'exB',
    day: DAY1,
    requests: 10,
    bids: 1,
    wins: 1,
    winRate: 1,
    billings: 1,
    impressions: 1,
    ctr: 0,
    spend: 0.004,
    ecpm: 4,
    avgClearCpm: 4,
    avgWinBidCpm: 5,
    avgBidCpm: 5,
  },
  { ...ZERO, exchange: 'exA', day: DAY2, requests: 10 },
  { ...ZERO, exchange: 'exB', day: DAY2, bids: 1, winRate: 0, avgBidCpm: 1 },
];

/** Sums over every group of 2024-05-01, whatever the grouping. */
export const TOTAL_DAY1 = {
  requests: 30,
  bids: 5,
  wins: 3,
  billings: 3,
  impressions: 3,
  clicks: 1,
  conversions: 1,
  conversionValue: 20,
  spend: 0.008,
};

/** groupBy=placement,publisher,deal,day on DAY1: the requests (logged without a placement) in '', each campaign's placement with its bids' numbers. */
function placementRow(byExchange: Record<string, unknown>, placement: string, publisher: string, deal: string) {
  const { exchange: _exchange, ...metrics } = byExchange;
  return { ...metrics, placement, publisher, deal, requests: 0 };
}
export const BY_PLACEMENT_DAY1 = [
  { ...ZERO, placement: '', publisher: '', deal: '', day: DAY1, requests: 30 },
  placementRow(BY_EXCHANGE_DAY[1], 'com.example.game', 'pub2', 'deal-9'),
  placementRow(BY_EXCHANGE_DAY[0], 'news.example', 'pub1', ''),
];
