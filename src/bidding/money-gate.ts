/**
 * What the pure bidding decision asks about money (src/money/budget-ledger.ts answers): read-only,
 * synchronous, no I/O. `stopAll` is the global kill switch; `verdict` is one campaign's budget,
 * pacing and kill switch check (undefined: it may bid).
 */
import type { CompiledCampaign } from '../targeting/compiled-campaign.js';
import type { NoBidReason } from './no-bid-reason.js';

export interface MoneyGate {
  readonly stopAll: boolean;
  verdict(c: CompiledCampaign, nowMs: number): NoBidReason | undefined;
}
