/**
 * Quality of the outcome models (OUTCOME_MODELS), label `model`: `click` (P(click | impression))
 * and `conversion` (P(conversion | click)). Set on the main thread, where the one trainer is, at
 * each publication (models/publisher.ts); bid workers have none of these, so the aggregate with
 * workers is the main thread's value. AUC, log loss and calibration are over the last examples each
 * model scored before training on them (NaN until it has seen both a positive and a negative).
 */
import { Gauge, type Registry } from 'prom-client';
import type { ModelStatus } from '../models/publisher.js';
import { FALLBACK_REASONS } from '../models/model-health.js';

const MODELS = ['click', 'conversion'] as const;
const DECILES = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'] as const;

export class ModelMetrics {
  private readonly gauges: Record<string, Gauge<'model'>>;
  private readonly fallback: Gauge<'model' | 'reason'>;
  private readonly decilePredicted: Gauge<'model' | 'decile'>;
  private readonly decileObserved: Gauge<'model' | 'decile'>;

  constructor(registry: Registry) {
    const labelNames = ['model'] as const;
    const registers = [registry];
    this.gauges = {
      auc: new Gauge({ name: 'bidder_model_auc', help: 'AUC of each outcome model on its recent examples, each scored before the model trained on it (0.5: no better than chance).', labelNames, registers }),
      logLoss: new Gauge({ name: 'bidder_model_log_loss', help: 'Log loss of each outcome model on its recent examples.', labelNames, registers }),
      calibration: new Gauge({ name: 'bidder_model_calibration_ratio', help: 'Mean predicted probability over observed rate, on recent examples (1: calibrated; 2: predicts twice as many clicks or conversions as happen).', labelNames, registers }),
      holdout: new Gauge({ name: 'bidder_model_holdout_examples', help: 'How many recent examples the AUC, log loss and calibration are over.', labelNames, registers }),
      trained: new Gauge({ name: 'bidder_model_examples_trained', help: 'Examples each outcome model has trained on since the process started.', labelNames, registers }),
      ready: new Gauge({ name: 'bidder_model_ready', help: '1 when the model prices goals (trained on OUTCOME_MIN_EXAMPLES and OUTCOME_MIN_POSITIVES, calibration in band, AUC above OUTCOME_MIN_AUC), else 0 (goals bid their CPM fallback; bidder_model_fallback says why).', labelNames, registers }),
      published: new Gauge({ name: 'bidder_model_last_publish_timestamp_seconds', help: 'When each outcome model was last published to the bid threads (Unix seconds; the process start before the first publication).', labelNames, registers }),
    };
    this.fallback = new Gauge({
      name: 'bidder_model_fallback',
      help: '1 when goals priced by this model bid their CPM fallback for this reason: cold_start (not trained on OUTCOME_MIN_EXAMPLES and OUTCOME_MIN_POSITIVES yet) or calibration (mean prediction over observed rate outside OUTCOME_CALIBRATION_MIN..MAX on recent examples with at least OUTCOME_CALIBRATION_MIN_POSITIVES positives) or auc (AUC on those examples under OUTCOME_MIN_AUC); else 0.',
      labelNames: ['model', 'reason'],
      registers,
    });
    const decile = { labelNames: ['model', 'decile'] as const, registers };
    this.decilePredicted = new Gauge({ name: 'bidder_model_decile_predicted', help: 'Mean predicted probability in each decile of prediction (1: the lowest tenth), on recent examples.', ...decile });
    this.decileObserved = new Gauge({ name: 'bidder_model_decile_observed', help: 'Observed rate (clicks per impression, conversions per click) in each decile of prediction, on recent examples.', ...decile });
    // Children made at boot: the series exist (fallback as cold start) before the first publication.
    const bootSec = Date.now() / 1000;
    for (const model of MODELS) {
      this.gauges.published.labels(model).set(bootSec);
      for (const reason of FALLBACK_REASONS) this.fallback.labels(model, reason).set(reason === 'cold_start' ? 1 : 0);
      for (const d of DECILES) {
        this.decilePredicted.labels(model, d);
        this.decileObserved.labels(model, d);
      }
    }
  }

  set(models: readonly ModelStatus[]): void {
    const n = (v: number | null) => v ?? NaN;
    for (const m of models) {
      this.gauges.auc.labels(m.model).set(n(m.auc));
      this.gauges.logLoss.labels(m.model).set(n(m.logLoss));
      this.gauges.calibration.labels(m.model).set(n(m.calibration));
      this.gauges.holdout.labels(m.model).set(m.holdoutExamples);
      this.gauges.trained.labels(m.model).set(m.trained);
      this.gauges.ready.labels(m.model).set(m.ready ? 1 : 0);
      this.gauges.published.labels(m.model).set(Date.parse(m.publishedAt) / 1000);
      for (const reason of FALLBACK_REASONS) this.fallback.labels(m.model, reason).set(m.fallback === reason ? 1 : 0);
      for (let d = 0; d < DECILES.length; d++) {
        const x = m.deciles[d];
        this.decilePredicted.labels(m.model, DECILES[d]).set(x !== undefined && x.count > 0 ? x.predicted : NaN);
        this.decileObserved.labels(m.model, DECILES[d]).set(x !== undefined && x.count > 0 ? x.observed : NaN);
      }
    }
  }
}
