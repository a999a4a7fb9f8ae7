/**
 * What the pure bidding decision asks about money (src/money/budget-ledger.ts answers): read-only,
 * synchronous, no I/O. `stopAll` is the global kill switch; `verdict` is one campaign's budget,
 * pacing and kill switch check (undefined: it may bid).
 */
import type { CompiledCampaign } from '../targeting/compiled-campaign.js';
import type { NoBidReason } from './no-bid-reason.js';

export interface MoneyGate {
  readonly stopAll: boolean;
  /** `picked`: how many of this request's earlier imps the campaign already bids on (their cost counts too). */
  verdict(c: CompiledCampaign, nowMs: number, picked: number): NoBidReason | undefined;
  /** The campaign's bid shading factor, in (0, 1]; 1 when it does not shade. */
  shading(c: CompiledCampaign): number;
}

/** A user's frequency counters as the decision reads them (money/frequency.ts). */
export interface UserCaps {
  /** The hashed user key (it goes into the bid's notice URLs, so impressions are counted for this user). */
  readonly user: string;
  /** False when the counters could not be read in time: campaigns with caps follow their whenUnavailable. */
  readonly known: boolean;
  /** Impressions in the current bucket of `window` for `field` (`c:<campaign>`, `cr:<creative>`, `a:<advertiser>`), this thread's pending bids included. */
  seen(window: string, field: string): number;
}

/** Whether a campaign's frequency caps let it show `creativeId` to this user (undefined caps: no user id, or no user data allowed). */
export function capsAllow(c: CompiledCampaign, creativeId: string, caps: UserCaps | undefined): boolean {
  const f = c.frequency;
  if (f === undefined) return true;
  if (caps === undefined || !caps.known) return f.failOpen;
  for (let i = 0; i < f.caps.length; i++) {
    const cap = f.caps[i];
    const field = cap.scope === 'campaign' ? `c:${c.id}` : cap.scope === 'creative' ? `cr:${creativeId}` : `a:${c.advertiserId}`;
    if (caps.seen(cap.window, field) >= cap.max) return false;
  }
  return true;
}
