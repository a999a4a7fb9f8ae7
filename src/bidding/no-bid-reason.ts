/**
 * Why a request got no bid. A bounded set: each is a metric label and, in debug mode,
 * the `x-nobid-reason` header. Ordered from "earliest filter" to "latest", so when imps of one
 * request fail for different reasons the request reports the one that got furthest.
 */
export const NO_BID_REASONS = [
  /** Shed by the bid thread before the request was read (load shedding, request-gate.ts). */
  'overloaded',
  'deadline',
  'seat_blocked',
  'unsupported_currency',
  'no_campaign',
  /** The global kill switch, or the campaign's. */
  'kill_switch',
  /** Budget state not confirmed for longer than BUDGET_STALE_MS (store unreachable): budgeted campaigns stop. */
  'budget_unconfirmed',
  /** A budget of the campaign (or its advertiser's) is smaller than one impression at the campaign's max bid: it can never bid. */
  'budget_below_max_bid',
  /** No budget left in this bid thread's slice (or in the budget). */
  'budget_exhausted',
  /** A budget in impressions, clicks or conversions (daily or over the flight) is used up (impressions: in this thread's slice). */
  'impressions_exhausted',
  'clicks_exhausted',
  'conversions_exhausted',
  /** Held back by even pacing. */
  'paced',
  'no_creative_fit',
  /** The user saw this campaign (creative, advertiser) as often as its frequency caps allow, or the counters are unknown and it fails closed. */
  'frequency_capped',
  'below_floor',
  'internal_error',
] as const;

export type NoBidReason = (typeof NO_BID_REASONS)[number];

const RANK: Record<NoBidReason, number> = Object.fromEntries(NO_BID_REASONS.map((r, i) => [r, i])) as Record<NoBidReason, number>;

/** The reason that got further through the pipeline of the two. */
export function furthest(a: NoBidReason, b: NoBidReason): NoBidReason {
  return RANK[b] > RANK[a] ? b : a;
}
