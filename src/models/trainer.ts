/**
 * Trains the click and conversion models from what the bidder already sees, off the hot path: each
 * bid's features (logged with the bid by the decision), then the impression, click and conversion
 * notices of that bid, joined by bid id (the conversion's click token carries it). The features wait
 * in bounded in-memory maps for the attribution windows (pending.ts): an impression becomes a click
 * example when its click arrives, a negative only once the click window has passed; a click becomes
 * a conversion example the same way over the conversion window. `publish()` turns the trainers'
 * state into immutable weight tables for the bid threads.
 */
import { DEFAULT_FTRL, Ftrl, trainWithPrior, type FtrlParams } from './ftrl.js';
import { tableOf } from './model-table.js';
import type { ModelFamily, OutcomeModels } from './outcome-models.js';
import { PendingLabels } from './pending.js';
import { auc, calibration, logLoss, type Decile } from './quality.js';

export interface TrainerSettings {
  /** How long a bid waits for its impression notice (a bid never shown is no example at all). */
  readonly impressionWaitSec: number;
  /** How long an impression waits for its click before it counts as a non-click. */
  readonly clickWindowSec: number;
  /** How long a click waits for its conversion before it counts as a non-conversion. */
  readonly conversionWindowSec: number;
  /** Most examples held in each waiting map (memory stays flat: about 200 bytes each). */
  readonly maxPending: number;
  /** Table sizes, as powers of two: the shared prior's, and each campaign's own. */
  readonly priorBits: number;
  readonly campaignBits: number;
  /** A model prices bids once its prior has seen this many examples, this many of them positive. */
  readonly minExamples: number;
  readonly minPositives: number;
  readonly ftrl: FtrlParams;
}

export const DEFAULT_TRAINER: TrainerSettings = {
  impressionWaitSec: 300,
  clickWindowSec: 3600,
  conversionWindowSec: 7 * 86_400,
  maxPending: 500_000,
  priorBits: 18,
  campaignBits: 12,
  minExamples: 10_000,
  minPositives: 200,
  ftrl: DEFAULT_FTRL,
};

/** Pseudo-examples at the prior's rate added to a campaign's own when its observed rate is published. */
export const RATE_PRIOR_EXAMPLES = 5_000;

interface Pending {
  readonly campaignId: string;
  readonly features: Uint32Array;
}

/** The last predictions a model made on examples before training on them, for its quality report. */
class Holdout {
  private readonly scores: Float64Array;
  private readonly labels: Uint8Array;
  private next = 0;
  private filled = 0;
  constructor(size: number) {
    this.scores = new Float64Array(size);
    this.labels = new Uint8Array(size);
  }
  add(score: number, label: 0 | 1): void {
    this.scores[this.next] = score;
    this.labels[this.next] = label;
    this.next = (this.next + 1) % this.scores.length;
    if (this.filled < this.scores.length) this.filled++;
  }
  report(): ModelQuality {
    const s = this.scores.subarray(0, this.filled);
    const y = this.labels.subarray(0, this.filled);
    let positives = 0;
    for (let i = 0; i < y.length; i++) positives += y[i];
    return { examples: this.filled, holdoutPositives: positives, auc: auc(s, y), logLoss: logLoss(s, y), calibration: calibration(s, y) };
  }
}

export interface ModelQuality {
  /** How many recent examples the figures are over (each scored before the model trained on it). */
  readonly examples: number;
  /** Positives among them. */
  readonly holdoutPositives: number;
  readonly auc: number;
  readonly logLoss: number;
  readonly calibration: readonly Decile[];
}

/**
 * A fresh table on shared memory: posted to bid workers, it is shared rather than copied (the
 * prior alone is 1 MiB). Never written after publication, so sharing needs no lock.
 */
const shared = (m: Ftrl) => new Float32Array(new SharedArrayBuffer((m.mask + 1) * 4));

class Family {
  readonly prior: Ftrl;
  readonly campaigns = new Map<string, Ftrl>();
  readonly holdout = new Holdout(20_000);
  constructor(private readonly s: TrainerSettings) {
    this.prior = new Ftrl(s.priorBits, s.ftrl);
  }
  train(x: Pending, label: 0 | 1): void {
    let own = this.campaigns.get(x.campaignId);
    if (own === undefined) this.campaigns.set(x.campaignId, (own = new Ftrl(this.s.campaignBits, this.s.ftrl)));
    this.holdout.add(trainWithPrior(this.prior, own, x.features, x.features.length, label), label);
  }
  publish(): ModelFamily {
    const prior = tableOf(this.prior.weights(shared(this.prior)), this.prior.examples, this.prior.positives);
    const campaigns = new Map();
    // A campaign's observed rate, drawn towards the prior's by RATE_PRIOR_EXAMPLES pseudo-examples:
    // a campaign with a few hundred impressions and no click yet does not explore at a rate of 0.
    for (const [id, m] of this.campaigns)
      campaigns.set(id, tableOf(m.weights(shared(m)), m.examples, m.positives, (m.positives + RATE_PRIOR_EXAMPLES * prior.rate) / (m.examples + RATE_PRIOR_EXAMPLES)));
    return {
      prior,
      campaigns,
      ready: this.prior.examples >= this.s.minExamples && this.prior.positives >= this.s.minPositives,
    };
  }
}

export class OutcomeTrainer {
  private readonly shown: PendingLabels<Pending>;
  private readonly clicks: PendingLabels<Pending>;
  private readonly conversions: PendingLabels<Pending>;
  private readonly clickModel: Family;
  private readonly conversionModel: Family;
  /** Sum and count of conversion values per campaign (base currency). */
  private readonly values = new Map<string, { sum: number; n: number }>();
  private version = 0;

  constructor(readonly settings: TrainerSettings = DEFAULT_TRAINER) {
    const s = settings;
    this.shown = new PendingLabels(s.impressionWaitSec, s.maxPending);
    this.clicks = new PendingLabels(s.clickWindowSec, s.maxPending);
    this.conversions = new PendingLabels(s.conversionWindowSec, s.maxPending);
    this.clickModel = new Family(s);
    this.conversionModel = new Family(s);
  }

  private readonly dropBid = () => {};
  private readonly nonClick = (x: Pending) => this.clickModel.train(x, 0);
  private readonly nonConversion = (x: Pending) => this.conversionModel.train(x, 0);

  /** A bid went out with these features; it becomes an example only once shown. */
  bid(bidId: string, campaignId: string, features: Uint32Array, atSec: number): void {
    this.shown.add(bidId, atSec, { campaignId, features }, this.dropBid);
  }

  impression(bidId: string, atSec: number): void {
    const x = this.shown.take(bidId);
    if (x !== undefined) this.clicks.add(bidId, atSec, x, this.nonClick);
  }

  click(bidId: string, atSec: number): void {
    // A click whose impression pixel never came (or comes later) still shows the ad was seen.
    const x = this.clicks.take(bidId) ?? this.shown.take(bidId);
    if (x === undefined) return;
    this.clickModel.train(x, 1);
    this.conversions.add(bidId, atSec, x, this.nonConversion);
  }

  conversion(bidId: string, campaignId: string, valueBase: number): void {
    if (valueBase > 0) {
      const v = this.values.get(campaignId);
      if (v === undefined) this.values.set(campaignId, { sum: valueBase, n: 1 });
      else {
        v.sum += valueBase;
        v.n++;
      }
    }
    const x = this.conversions.take(bidId);
    if (x !== undefined) this.conversionModel.train(x, 1);
  }

  /** Settles every example whose window has passed: impressions without a click, clicks without a conversion. */
  expire(nowSec: number): void {
    this.shown.expire(nowSec, this.dropBid);
    this.clicks.expire(nowSec, this.nonClick);
    this.conversions.expire(nowSec, this.nonConversion);
  }

  publish(record: boolean): OutcomeModels {
    const values = new Map<string, number>();
    for (const [id, v] of this.values) values.set(id, v.sum / v.n);
    return { version: ++this.version, click: this.clickModel.publish(), conversion: this.conversionModel.publish(), values, record };
  }

  /** Quality on recent examples, and what the trainer holds. */
  report() {
    return {
      click: { ...this.clickModel.holdout.report(), trained: this.clickModel.prior.examples, positives: this.clickModel.prior.positives },
      conversion: { ...this.conversionModel.holdout.report(), trained: this.conversionModel.prior.examples, positives: this.conversionModel.prior.positives },
      pending: { bids: this.shown.size, impressions: this.clicks.size, clicks: this.conversions.size },
      settledEarly: this.shown.early + this.clicks.early + this.conversions.early,
      campaigns: this.clickModel.campaigns.size,
    };
  }
}
