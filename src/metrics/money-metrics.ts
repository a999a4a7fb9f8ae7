/**
 * Budget, pacing and win metrics. Per-campaign labels only for a bounded set: the top N campaigns
 * (METRICS_TOP_CAMPAIGNS; budgeted ones first, by daily budget, then by max bid), everything else
 * under `campaign="other"`, so a config with thousands of campaigns keeps a fixed series count.
 * Gauges of global state (spend, remaining budget, pacing) are the same in every bid thread and
 * instance: they aggregate with `max` across worker threads (and should be read with max() across
 * instances).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Snapshot } from '../campaigns/snapshot.js';
import { LiteCounter } from './lite.js';

export const OTHER = 'other';

const CPM_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 50];
const RATIO_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1];
const MIN_TO_WIN_BUCKETS = [1, 1.02, 1.05, 1.1, 1.2, 1.35, 1.5, 2, 3, 5];

/** The campaigns that get their own label value. */
export class CampaignLabels {
  /** The label of every campaign outside the top N. */
  readonly other = OTHER;
  private ids = new Set<string>();
  private version = -1;
  constructor(readonly topN: number) {}

  /** Recomputed once per snapshot version. */
  of(snap: Snapshot, campaignId: string): string {
    if (snap.version !== this.version) this.rebuild(snap);
    return this.ids.has(campaignId) ? campaignId : OTHER;
  }

  private rebuild(snap: Snapshot): void {
    this.version = snap.version;
    const c = snap.currencies;
    const weight = (x: Snapshot['index']['campaigns'][number]) =>
      x.budget?.daily !== undefined ? 1e12 + c.convert(x.budget.daily, x.currency, c.base) : x.maxBidBase;
    const ranked = [...snap.index.campaigns].sort((a, b) => weight(b) - weight(a) || (a.id < b.id ? -1 : 1));
    this.ids = new Set(ranked.slice(0, this.topN).map((x) => x.id));
  }
}

export class MoneyMetrics {
  readonly spend: Counter;
  readonly bids: LiteCounter;
  readonly wins: Counter;
  readonly clearingPrice: Histogram;
  readonly clearingToBid: Histogram;
  readonly losses: Counter;
  readonly minToWinToBid: Histogram;
  readonly spent: Gauge;
  readonly remaining: Gauge;
  readonly dailyLimit: Gauge;
  readonly pacingRatio: Gauge;
  readonly participation: Gauge;
  readonly flightPacingRatio: Gauge;
  readonly flightParticipation: Gauge;
  readonly counted: Counter<'campaign' | 'unit'>;
  readonly renewals: Counter;
  readonly unconfirmed: Gauge;
  readonly spendBacklog: Gauge;
  readonly shadingFactor: Gauge;
  readonly shadingMoves: Counter;

  constructor(registry: Registry, readonly labels: CampaignLabels) {
    const registers = [registry];
    this.spend = new Counter({ name: 'bidder_spend_total', help: 'Spend recorded against budgets (clearing price of billing or win notices), base currency.', labelNames: ['campaign'], registers });
    this.bids = new LiteCounter('bidder_campaign_bids_total', 'Bids sent, by campaign (top N, else "other").', ['campaign'], registry); // per bid: lite.ts
    this.wins = new Counter({ name: 'bidder_campaign_wins_total', help: 'Win notices accepted, by campaign (top N, else "other").', labelNames: ['campaign'], registers });
    this.clearingPrice = new Histogram({ name: 'bidder_clearing_price_cpm', help: 'Clearing price of won bids (win notices), CPM in the base currency.', labelNames: ['exchange'], buckets: CPM_BUCKETS, registers });
    this.clearingToBid = new Histogram({
      name: 'bidder_clearing_to_bid_ratio',
      help: 'Clearing price over our bid price, per won bid, by exchange and campaign (top N, else "other").',
      labelNames: ['exchange', 'campaign'],
      buckets: RATIO_BUCKETS,
      registers,
    });
    this.losses = new Counter({ name: 'bidder_campaign_losses_total', help: 'Loss notices accepted, by campaign (top N, else "other").', labelNames: ['campaign'], registers });
    this.minToWinToBid = new Histogram({
      name: 'bidder_min_to_win_to_bid_ratio',
      help: 'From loss notices that carry ${AUCTION_MIN_TO_WIN}: the price that would have won over our bid, by exchange and campaign (top N, else "other").',
      labelNames: ['exchange', 'campaign'],
      buckets: MIN_TO_WIN_BUCKETS,
      registers,
    });
    this.spent = new Gauge({ name: 'bidder_budget_spent', help: "Today's recorded spend of the campaign's daily budget (global, from the budget store), base currency.", labelNames: ['campaign'], aggregator: 'max', registers });
    this.remaining = new Gauge({ name: 'bidder_budget_remaining', help: "What is left of the campaign's daily (else total) budget, base currency.", labelNames: ['campaign'], aggregator: 'max', registers });
    this.dailyLimit = new Gauge({ name: 'bidder_budget_daily_limit', help: "The campaign's daily budget, base currency (0: none).", labelNames: ['campaign'], aggregator: 'max', registers });
    this.pacingRatio = new Gauge({ name: 'bidder_pacing_ratio', help: "Even pacing: today's spend over the target spend so far (1 = on the line).", labelNames: ['campaign'], aggregator: 'max', registers });
    this.participation = new Gauge({ name: 'bidder_pacing_participation', help: 'Even pacing: share of auctions the campaign takes part in (0..1).', labelNames: ['campaign'], aggregator: 'max', registers });
    this.flightPacingRatio = new Gauge({
      name: 'bidder_flight_pacing_ratio',
      help: "Even flight pacing (budget.flightPacing: even): the total's spend (money, else impressions) over the target so far on the line from the campaign's start to its end (1 = on the line).",
      labelNames: ['campaign'],
      aggregator: 'max',
      registers,
    });
    this.flightParticipation = new Gauge({ name: 'bidder_flight_pacing_participation', help: 'Even flight pacing: share of auctions the flight pacer lets the campaign take part in (0..1).', labelNames: ['campaign'], aggregator: 'max', registers });
    this.counted = new Counter({
      name: 'bidder_budget_counted_total',
      help: 'Impressions, clicks and conversions recorded against budgets in those units (budget.impressions, clicks, conversions), by campaign (top N, else "other").',
      labelNames: ['campaign', 'unit'],
      registers,
    });
    this.renewals = new Counter({ name: 'bidder_budget_renewals_total', help: 'Budget lease renewals by result (ok, failed).', labelNames: ['result'], registers });
    this.unconfirmed = new Gauge({ name: 'bidder_budget_unconfirmed_seconds', help: 'Seconds since budget state was last confirmed by the budget store (budgeted campaigns stop past BUDGET_STALE_MS).', aggregator: 'max', registers });
    this.spendBacklog = new Gauge({ name: 'bidder_budget_spend_backlog', help: 'Spend events waiting to be recorded (budget store unreachable); retried idempotently.', registers });
    this.shadingFactor = new Gauge({ name: 'bidder_shading_factor', help: 'Bid shading: the factor prices are multiplied by (1: no shading), per campaign with shading on; averaged over bid threads.', labelNames: ['campaign'], aggregator: 'average', registers });
    this.shadingMoves = new Counter({ name: 'bidder_shading_decisions_total', help: 'Bid shading steps per campaign: down or up (the factor moved, from the min-to-win landscape or the win rate), hold.', labelNames: ['campaign', 'move'], registers });
    for (const r of ['ok', 'failed']) this.renewals.labels(r).inc(0);
  }
}

/** Frequency-cap lookups by result (money/frequency.ts), exported at 0 from the start. */
export function frequencyLookups(registry: Registry): Counter<'result'> {
  const c = new Counter({
    name: 'bidder_frequency_lookups_total',
    help: "Frequency-cap lookups of a user's counters by result: cached, store, unavailable (slower than the lookup budget, or failed: capped campaigns then fail open or closed).",
    labelNames: ['result'] as const,
    registers: [registry],
  });
  for (const r of ['cached', 'store', 'unavailable']) c.labels(r).inc(0);
  return c;
}
