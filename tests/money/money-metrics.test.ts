/** Per-campaign money metrics: a bounded label set (top N, then "other"), spend, wins, prices, budget gauges. */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { SnapshotRef } from '../../src/campaigns/snapshot.js';
import { BudgetLedger } from '../../src/money/budget-ledger.js';
import { MemoryBudgetStore } from '../../src/money/memory-budget-store.js';
import { CampaignLabels, MoneyMetrics } from '../../src/metrics/money-metrics.js';
import type { BidIdentity } from '../../src/events/bid-identity.js';
import { campaign, snapshotOf } from '../bidding/support.js';

const NOW = Date.parse('2026-01-12T12:00:00Z');

describe('money metrics', () => {
  const snap = snapshotOf([
    campaign('small', { budget: { daily: 10 } }),
    campaign('big', { budget: { daily: 1000 } }),
    campaign('rich', { bid: { base: 9, max: 9 } }),
    campaign('poor', { bid: { base: 0.1, max: 0.1 } }),
  ]);

  it('labels the top N campaigns (budgeted first, by daily budget; then by max bid) and folds the rest into "other"', () => {
    const two = new CampaignLabels(2);
    expect(['big', 'small', 'rich', 'poor', 'gone'].map((id) => two.of(snap, id))).toEqual(['big', 'small', 'other', 'other', 'other']);
    const three = new CampaignLabels(3);
    expect(three.of(snap, 'rich')).toBe('rich');
    expect(new CampaignLabels(0).of(snap, 'big')).toBe('other');
  });

  it('counts bids, wins, spend and prices, and reports spend, remaining budget and pacing', async () => {
    const registry = new Registry();
    const metrics = new MoneyMetrics(registry, new CampaignLabels(1));
    let now = NOW;
    const store = new MemoryBudgetStore(() => now);
    const ledger = new BudgetLedger({
      holder: 'm', store, snapshots: new SnapshotRef(snap), sliceFraction: 0.01, renewMs: 100, holdMs: 1000, leaseTtlMs: 3000, staleMs: 1000, eventTtlSec: 3600, clock: () => now, metrics,
    });
    await ledger.renew();
    const id = (bidId: string, campaignId: string): BidIdentity => ({
      bidId, requestId: 'r', impId: '1', exchange: 'main', advertiserId: 'adv', campaignId, creativeId: `cr-${campaignId}`, dealId: '', price: 1, currency: 'USD', issuedAt: 0,
    });
    ledger.reserve([id('b1', 'big'), id('b2', 'small'), id('b3', 'rich')], snap.currencies, NOW);
    ledger.notice('win', 'billing', { eventId: 'win:b1', exchange: 'main', identity: id('b1', 'big'), clearCpmBase: 0.8, bidCpmBase: 1 }, snap.currencies, NOW);
    ledger.notice('billing', 'billing', { eventId: 'billing:b1', exchange: 'main', identity: id('b1', 'big'), clearCpmBase: 0.8, bidCpmBase: 1 }, snap.currencies, NOW);
    ledger.notice('billing', 'billing', { eventId: 'billing:b2', exchange: 'main', identity: id('b2', 'small'), clearCpmBase: 0.5, bidCpmBase: 1 }, snap.currencies, NOW);
    // Losses: counted per campaign; min-to-win over our bid when the exchange sends it.
    ledger.notice('loss', 'billing', { eventId: 'loss:b3', exchange: 'main', identity: id('b3', 'rich'), bidCpmBase: 2, minToWinBase: 2.3 }, snap.currencies, NOW);
    ledger.notice('loss', 'billing', { eventId: 'loss:b4', exchange: 'main', identity: id('b4', 'big'), bidCpmBase: 2 }, snap.currencies, NOW);
    await new Promise((r) => setTimeout(r, 10));
    now += 1000; // gauges are refreshed at most once a second
    await ledger.renew();
    const text = await registry.metrics();
    expect(text).toContain('bidder_campaign_bids_total{campaign="big"} 1');
    expect(text).toContain('bidder_campaign_bids_total{campaign="other"} 2');
    expect(text).toContain('bidder_campaign_wins_total{campaign="big"} 1');
    expect(text).toContain('bidder_spend_total{campaign="big"} 0.0008');
    expect(text).toContain('bidder_spend_total{campaign="other"} 0.0005');
    expect(text).toContain('bidder_clearing_price_cpm_count{exchange="main"} 1');
    expect(text).toMatch(/bidder_clearing_to_bid_ratio_bucket\{le="0.8",exchange="main",campaign="big"\} 1/);
    expect(text).toContain('bidder_campaign_losses_total{campaign="big"} 1');
    expect(text).toContain('bidder_campaign_losses_total{campaign="other"} 1');
    expect(text).toContain('bidder_min_to_win_to_bid_ratio_count{exchange="main",campaign="other"} 1'); // the loss without min-to-win is not observed
    expect(text).toMatch(/bidder_min_to_win_to_bid_ratio_bucket\{le="1.1",exchange="main",campaign="other"\} 0/);
    expect(text).toMatch(/bidder_min_to_win_to_bid_ratio_bucket\{le="1.2",exchange="main",campaign="other"\} 1/);
    expect(text).toContain('bidder_budget_spent{campaign="big"} 0.0008');
    expect(text).toContain('bidder_budget_remaining{campaign="big"} 999.9992');
    expect(text).toContain('bidder_budget_remaining{campaign="other"} 9.9995');
    // At noon the line is at half the budget: spend is far behind it.
    const ratio = Number(/bidder_pacing_ratio\{campaign="big"\} (\S+)/.exec(text)?.[1]);
    expect(ratio).toBeCloseTo(0.0008 / 500, 9);
    expect(text).toContain('bidder_pacing_participation{campaign="big"} 1');
    expect(text).toContain('bidder_budget_renewals_total{result="ok"} 2');
  });
});
