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
  /** What it counts: micros of money, or whole impressions, clicks or conversions (campaign budgets only). */
  readonly unit: BudgetUnit;
}

export type BudgetUnit = 'money' | 'impressions' | 'clicks' | 'conversions';
export type CountUnit = Exclude<BudgetUnit, 'money'>;
export const COUNT_UNITS: readonly CountUnit[] = ['impressions', 'clicks', 'conversions'];
/** The account name's tag of each count unit. */
const TAG: Record<CountUnit, string> = { impressions: 'i', clicks: 'k', conversions: 'v' };

/**
 * The accounts a campaign's spend and counts go to on `day`, with their limits (money ones first);
 * empty: no budget applies. Count accounts hold whole units: one impression, click or conversion is 1.
 */
export function accountsOf(c: CompiledCampaign, day: string): AccountSpec[] {
  const b = c.budget;
  if (!b) return [];
  const out: AccountSpec[] = [];
  if (b.daily !== undefined) out.push({ account: `c:${c.id}:d:${day}`, limit: b.daily, ttlSec: DAILY_TTL_SEC, owner: 'campaign', daily: true, unit: 'money' });
  if (b.total !== undefined) out.push({ account: `c:${c.id}:t`, limit: b.total, ttlSec: TOTAL_TTL_SEC, owner: 'campaign', daily: false, unit: 'money' });
  if (b.advertiserDaily !== undefined)
    out.push({ account: `a:${c.advertiserId}:d:${day}`, limit: b.advertiserDaily, ttlSec: DAILY_TTL_SEC, owner: 'advertiser', daily: true, unit: 'money' });
  if (b.advertiserTotal !== undefined)
    out.push({ account: `a:${c.advertiserId}:t`, limit: b.advertiserTotal, ttlSec: TOTAL_TTL_SEC, owner: 'advertiser', daily: false, unit: 'money' });
  for (const unit of COUNT_UNITS) {
    const x = b[unit];
    if (x === undefined) continue;
    if (x.daily !== undefined) out.push({ account: `c:${c.id}:${TAG[unit]}:d:${day}`, limit: x.daily, ttlSec: DAILY_TTL_SEC, owner: 'campaign', daily: true, unit });
    if (x.total !== undefined) out.push({ account: `c:${c.id}:${TAG[unit]}:t`, limit: x.total, ttlSec: TOTAL_TTL_SEC, owner: 'campaign', daily: false, unit });
  }
  return out;
}
