/**
 * Budget accounts: the names under which spend and leases are kept. Daily accounts are per UTC
 * day (`c:<campaign>:d:20260112`); total accounts cover the campaign's (or advertiser's) life.
 */
import type { CompiledCampaign } from '../targeting/compiled-campaign.js';

export const DAY_MS = 86_400_000;
/** Daily accounts outlive their day by two days (late notices, reports); totals by a year after their last change. */
export const DAILY_TTL_SEC = 3 * 86_400;
export const TOTAL_TTL_SEC = 400 * 86_400;

export function dayOf(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10).replaceAll('-', '');
}

export function dayStartMs(nowMs: number): number {
  return nowMs - (((nowMs % DAY_MS) + DAY_MS) % DAY_MS);
}

export interface AccountSpec {
  readonly account: string;
  /** Micros of the owner's currency. */
  readonly limit: number;
  readonly ttlSec: number;
  /** Whose budget: the campaign's (its currency) or the advertiser's (the advertiser's currency). */
  readonly owner: 'campaign' | 'advertiser';
  readonly daily: boolean;
}

/** The accounts a campaign's spend goes to on `day`, with their limits; empty: no budget applies. */
export function accountsOf(c: CompiledCampaign, day: string): AccountSpec[] {
  const b = c.budget;
  if (!b) return [];
  const out: AccountSpec[] = [];
  if (b.daily !== undefined) out.push({ account: `c:${c.id}:d:${day}`, limit: b.daily, ttlSec: DAILY_TTL_SEC, owner: 'campaign', daily: true });
  if (b.total !== undefined) out.push({ account: `c:${c.id}:t`, limit: b.total, ttlSec: TOTAL_TTL_SEC, owner: 'campaign', daily: false });
  if (b.advertiserDaily !== undefined)
    out.push({ account: `a:${c.advertiserId}:d:${day}`, limit: b.advertiserDaily, ttlSec: DAILY_TTL_SEC, owner: 'advertiser', daily: true });
  if (b.advertiserTotal !== undefined)
    out.push({ account: `a:${c.advertiserId}:t`, limit: b.advertiserTotal, ttlSec: TOTAL_TTL_SEC, owner: 'advertiser', daily: false });
  return out;
}
