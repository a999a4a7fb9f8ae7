/**
 * Where budget state is shared: spend per account, the leases bid threads hold against each
 * account, and the kill switch. One interface, two backends: in this process (embedded default,
 * and what worker threads reach on the main thread) and Redis (every bidder instance). The same
 * contract suite runs against both (tests/money/budget-store.contract.ts).
 *
 * Amounts are integer micros (millionths) of the account's currency. An account is one budget:
 * a campaign's or an advertiser's, daily (one per UTC day) or total (accounts.ts names them).
 */

export interface LeaseRequest {
  readonly account: string;
  /** The account's budget. */
  readonly limit: number;
  /** The slice this holder wants to hold: the most it may have committed and not yet seen spent. */
  readonly want: number;
  /** What the holder has committed (bids in flight) right now: what it holds is never less. */
  readonly outstanding: number;
  /** Seconds the account's state is kept after its last change (daily accounts: past their day). */
  readonly ttlSec: number;
}

export interface LeaseGrant {
  /** What the holder may commit until its next renewal: min(want, limit − spent − others' holds), ≥ 0. */
  readonly granted: number;
  /** The account's recorded spend. */
  readonly spent: number;
}

/** One account's share of a spend event. */
export interface SpendEntry {
  readonly account: string;
  /** Micros of the account's currency. */
  readonly amount: number;
  readonly ttlSec: number;
}

export interface KillState {
  readonly all: boolean;
  readonly campaigns: readonly string[];
}

export interface RenewResult {
  readonly grants: readonly LeaseGrant[];
  readonly kill: KillState;
  /** Bids of this holder that ended on another thread (spend recorded, or lost) since its last renewal. */
  readonly ended: readonly string[];
}

/**
 * A bid that ended (its spend recorded, or its loss told) on a thread other than the one that made
 * it: the store keeps its id for the holder that made it (`holder`, read from the bid id), which
 * takes it with its next renewal and ends the bid's reservation there.
 */
export interface BidEnd {
  readonly holder: string;
  readonly bidId: string;
}

/**
 * How long ended bid ids wait for their holder. A live holder takes them every BUDGET_RENEW_MS; one
 * that has not renewed for this long has lost its lease, and its reservations end with BUDGET_HOLD_MS anyway.
 */
export const ENDED_TTL_SEC = 120;

export interface BudgetStore {
  readonly kind: 'memory' | 'redis';
  /**
   * Renews one holder's leases on many accounts at once (one round trip) and reads the kill switch.
   * A holder's lease lapses `leaseTtlMs` after its last renewal (a dead holder's slice comes back).
   * The same call hands the holder the ids of its bids that ended elsewhere (`ended`), and forgets them.
   */
  renew(holder: string, requests: readonly LeaseRequest[], leaseTtlMs: number): Promise<RenewResult>;
  /**
   * Adds each entry's amount to its account, once per `eventId` (a retry of a call that timed out
   * but ran adds nothing). True when this call added it. `markerTtlSec`: how long the id is remembered.
   * `end`: the bid was made by another holder; when the spend is added, its id waits for that holder.
   */
  recordSpend(eventId: string, entries: readonly SpendEntry[], markerTtlSec: number, end?: BidEnd): Promise<boolean>;
  /** Bids made by other holders that ended without spend (loss notices): each id waits for its holder. */
  endBids(ends: readonly BidEnd[]): Promise<void>;
  /** Recorded spend of each account (0 when unknown). */
  spent(accounts: readonly string[]): Promise<number[]>;
  /** Sets the global switch (`campaign` undefined) or one campaign's; answers the new state. */
  setKill(on: boolean, campaign?: string): Promise<KillState>;
  close(): Promise<void>;
}
