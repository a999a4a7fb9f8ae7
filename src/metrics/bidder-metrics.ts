/**
 * Bidder metrics in domain words, in a prom-client registry. Label values are bounded:
 * exchanges come from config, outcomes and reasons from fixed lists. Label children are made once
 * per exchange and kept, and the per-request ones are lite metrics (lite.ts): an increment is an
 * addition, with no label hashing on the hot path.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LiteCounter, LiteHistogram } from './lite.js';
import { NO_BID_REASONS, type NoBidReason } from '../bidding/no-bid-reason.js';
import { INVALID_REASONS } from '../openrtb/parse-request.js';
import { readerFallbacks, type FallbackReason } from '../openrtb/read-request.js';
import { PRIVACY_REASONS, type PrivacyReason } from '../privacy/privacy-outcome.js';

export const REJECT_REASONS = [
  ...INVALID_REASONS,
  'body_too_large',
  'body_timeout',
  'too_many_bodies',
  'bad_gzip',
  'bad_protobuf',
  'unsupported_encoding',
  'unsupported_media_type',
  'unknown_exchange',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** `shed`: answered 204 before its body was read, because the thread was overloaded (request-gate.ts). */
export const OUTCOMES = ['bid', 'no_bid', 'invalid', 'timeout', 'error', 'shed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

type Inc = { inc(n?: number): void };
type Observe = { observe(v: number): void };

/** Pre-bound children for one exchange. */
export interface ExchangeMetrics {
  readonly outcome: Record<Outcome, Inc>;
  readonly noBid: Record<NoBidReason, Inc>;
  readonly rejected: Record<RejectReason, Inc>;
  readonly bids: Inc;
  readonly bidPrice: Observe;
  readonly duration: Observe;
}

/** Sub-millisecond resolution where a healthy bidder lives, up to the longest sane tmax. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
const PRICE_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 50];

export class BidderMetrics {
  readonly registry = new Registry();
  private readonly byExchange = new Map<string, ExchangeMetrics>();

  readonly requests = new LiteCounter(
    'bidder_bid_requests_total',
    'Bid requests by exchange and outcome (bid, no_bid, invalid, timeout, error, shed).',
    ['exchange', 'outcome'],
    this.registry,
  );
  readonly noBids = new LiteCounter(
    'bidder_no_bids_total',
    'No-bid answers by exchange and reason.',
    ['exchange', 'reason'],
    this.registry,
  );
  readonly rejected = new LiteCounter(
    'bidder_rejected_requests_total',
    'Requests refused before bidding (HTTP 4xx), by exchange and reason.',
    ['exchange', 'reason'],
    this.registry,
  );
  readonly bids = new LiteCounter(
    'bidder_bids_total',
    'Bids sent (one per imp bid on), by exchange.',
    ['exchange'],
    this.registry,
  );
  readonly bidPrice = new LiteHistogram(
    'bidder_bid_price_cpm',
    'Bid prices sent, CPM in the base currency.',
    ['exchange'],
    PRICE_BUCKETS,
    this.registry,
  );
  readonly duration = new LiteHistogram(
    'bidder_request_duration_seconds',
    'Time from receiving a bid request to answering it, in seconds.',
    ['exchange'],
    LATENCY_BUCKETS,
    this.registry,
  );
  readonly campaignsLive = new Gauge({
    name: 'bidder_campaigns_live',
    help: 'Campaigns in the live targeting index.',
    registers: [this.registry],
  });
  readonly configVersion = new Gauge({
    name: 'bidder_config_version',
    help: 'Version of the live configuration snapshot.',
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: 'bidder_config_reloads_total',
    help: 'Configuration reloads by result (ok, refused).',
    labelNames: ['result'],
    registers: [this.registry],
  });

  /** Read from the reader's own per-thread tally at scrape time (the bid path only adds 1 to a field). */
  readonly readerFallbacks = readerFallbackCounter(this.registry);

  readonly privacyOutcomes = new LiteCounter(
    'bidder_privacy_outcomes_total',
    'Bid requests that reached bidding, by privacy outcome: allowed (user-level data used), or why not (gdpr_no_consent, gdpr_malformed, coppa, us_privacy_opt_out, gpp_opt_out, lmt).',
    ['reason'],
    this.registry,
  );
  /** Bound children, one per reason, exported (at 0) from construction on. */
  readonly privacy = Object.fromEntries(
    PRIVACY_REASONS.map((r): [PrivacyReason, Inc] => {
      const child = this.privacyOutcomes.labels(r);
      child.inc(0); // labels() alone makes no series
      return [r, child];
    }),
  ) as Record<PrivacyReason, Inc>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Node's own event-loop delay histogram (nodejs_eventloop_lag_*) samples on a timer: prom-client's
    // default of 10 ms woke an idle bid thread 100 times a second. Every 100 ms is plenty for those
    // gauges; what shedding reads is the bid thread's own lag (bidder_event_loop_lag_seconds).
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  /** Bound children for an exchange id (from config, or "unknown"); made on first use, then kept. */
  forExchange(exchange: string): ExchangeMetrics {
    let m = this.byExchange.get(exchange);
    if (!m) {
      const bind = <K extends string>(names: readonly K[], f: (k: K) => Inc) =>
        Object.fromEntries(names.map((k) => [k, f(k)])) as Record<K, Inc>;
      m = {
        outcome: bind(OUTCOMES, (o) => this.requests.labels(exchange, o)),
        noBid: bind(NO_BID_REASONS, (r) => this.noBids.labels(exchange, r)),
        rejected: bind(REJECT_REASONS, (r) => this.rejected.labels(exchange, r)),
        bids: this.bids.labels(exchange),
        bidPrice: this.bidPrice.labels(exchange),
        duration: this.duration.labels(exchange),
      };
      this.byExchange.set(exchange, m);
    }
    return m;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** bidder_request_reader_fallbacks_total{reason}: what the one-pass reader's tally has added since the last scrape. */
function readerFallbackCounter(registry: Registry): Counter<'reason'> {
  const exported = {} as { [reason in FallbackReason]?: number };
  return new Counter({
    name: 'bidder_request_reader_fallbacks_total',
    help: 'JSON bid requests the one-pass reader handed to JSON.parse + view, by reason: empty, not_object, syntax, too_deep (refused either way), duplicate_key (a field read twice: JSON.parse keeps the last), unexpected.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      for (const reason of Object.keys(readerFallbacks) as FallbackReason[]) {
        this.labels(reason).inc(readerFallbacks[reason] - (exported[reason] ?? 0));
        exported[reason] = readerFallbacks[reason];
      }
    },
  });
}
