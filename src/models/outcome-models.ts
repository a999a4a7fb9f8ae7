/**
 * The outcome models as bid threads see them: for clicks (per impression) and conversions (per
 * click), a shared prior and each campaign's table over it, and each campaign's mean conversion
 * value. Built by the trainer off the hot path, immutable once published, and swapped in by
 * reference (OutcomeModelsRef), like the configuration snapshot.
 */
import type { CompiledGoal } from '../targeting/compiled-campaign.js';
import type { FeatureVector } from './features.js';
import { predict, tableOf, type WeightTable } from './model-table.js';

export interface ModelFamily {
  readonly prior: WeightTable;
  /** Campaign id → its own table (absent: the campaign predicts with the prior alone). */
  readonly campaigns: ReadonlyMap<string, WeightTable>;
  /** Trained on enough examples to price bids with (else goals bid their CPM fallback). */
  readonly ready: boolean;
}

export interface OutcomeModels {
  /** Increases with every publication. */
  readonly version: number;
  /** P(click | impression). */
  readonly click: ModelFamily;
  /** P(conversion | click). */
  readonly conversion: ModelFamily;
  /** Campaign id → mean value of its conversions, in the base currency (roas goals). */
  readonly values: ReadonlyMap<string, number>;
  /** Every bid carries its features, for the trainer (set where a trainer listens). */
  readonly record: boolean;
}

const EMPTY_TABLE = tableOf(new Float32Array(1), 0, 0);
const COLD: ModelFamily = { prior: EMPTY_TABLE, campaigns: new Map(), ready: false };

/** No model yet: every goal bids its CPM fallback. */
export const NO_MODELS: OutcomeModels = { version: 0, click: COLD, conversion: COLD, values: new Map(), record: false };

/** The one mutable reference: the decision takes `current` once per request. */
export class OutcomeModelsRef {
  constructor(public current: OutcomeModels = NO_MODELS) {}
  swap(next: OutcomeModels): void {
    this.current = next;
  }
}

/**
 * How optimistic an explored request is: it prices the impression as if its outcome were at least
 * this many times as likely as the models' observed average rate.
 */
export const EXPLORE_OPTIMISM = 2;

const familyPredict = (f: ModelFamily, campaignId: string, x: FeatureVector) => predict(f.prior, f.campaigns.get(campaignId), x.hashes, x.length);

/** The observed rate a campaign explores from: its own table's (drawn towards the prior's by the trainer), else the prior's. */
const familyRate = (f: ModelFamily, campaignId: string) => (f.campaigns.get(campaignId) ?? f.prior).rate;

/**
 * What the impression is worth to a goal, as a CPM in the campaign's currency: target x P(click)
 * for cpc, target x P(click) x P(conversion | click) for cpa, and for roas the expected conversion
 * value (`value`, in the campaign's currency) over the target. -1 when the models it needs are not
 * ready (the campaign then bids its CPM fallback).
 *
 * `explore`: the request is in the goal's exploration share. The outcome's probability is then at
 * least its observed rate (click; click x conversion for cpa and roas) x EXPLORE_OPTIMISM: what the
 * goal would pay for a better than average impression. So inventory the model undervalues is still
 * bought and learned from, at a price near the goal's rather than the CPM fallback, which at
 * scarce budgets is many times more.
 */
export function goalCpm(goal: CompiledGoal, campaignId: string, models: OutcomeModels, x: FeatureVector, value: number, explore = false): number {
  if (!models.click.ready) return -1;
  let click = familyPredict(models.click, campaignId, x);
  if (goal.type === 'cpc') {
    if (explore) click = Math.max(click, familyRate(models.click, campaignId) * EXPLORE_OPTIMISM);
    return goal.target * click * 1000;
  }
  if (!models.conversion.ready) return -1;
  let conversion = click * familyPredict(models.conversion, campaignId, x);
  if (explore) conversion = Math.max(conversion, familyRate(models.click, campaignId) * familyRate(models.conversion, campaignId) * EXPLORE_OPTIMISM);
  if (goal.type === 'cpa') return goal.target * conversion * 1000;
  return value > 0 ? ((conversion * value) / goal.target) * 1000 : -1;
}
