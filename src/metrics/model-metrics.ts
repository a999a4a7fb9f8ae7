/**
 * Quality of the outcome models (OUTCOME_MODELS), label `model`: `click` (P(click | impression))
 * and `conversion` (P(conversion | click)). Set on the main thread, where the one trainer is, at
 * each publication (models/publisher.ts); bid workers have none of these, so the aggregate with
 * workers is the main thread's value. AUC, log loss and calibration are over the last examples each
 * model scored before training on them (NaN until it has seen both a positive and a negative).
 */
import { Gauge, type Registry } from 'prom-client';
import type { ModelStatus } from '../models/publisher.js';

export class ModelMetrics {
  private readonly gauges: Record<string, Gauge<'model'>>;

  constructor(registry: Registry) {
    const labelNames = ['model'] as const;
    const registers = [registry];
    this.gauges = {
      auc: new Gauge({ name: 'bidder_model_auc', help: 'AUC of each outcome model on its recent examples, each scored before the model trained on it (0.5: no better than chance).', labelNames, registers }),
      logLoss: new Gauge({ name: 'bidder_model_log_loss', help: 'Log loss of each outcome model on its recent examples.', labelNames, registers }),
      calibration: new Gauge({ name: 'bidder_model_calibration_ratio', help: 'Mean predicted probability over observed rate, on recent examples (1: calibrated; 2: predicts twice as many clicks or conversions as happen).', labelNames, registers }),
      holdout: new Gauge({ name: 'bidder_model_holdout_examples', help: 'How many recent examples the AUC, log loss and calibration are over.', labelNames, registers }),
      trained: new Gauge({ name: 'bidder_model_examples_trained', help: 'Examples each outcome model has trained on since the process started.', labelNames, registers }),
      ready: new Gauge({ name: 'bidder_model_ready', help: '1 when the model has trained on enough examples to price goals (OUTCOME_MIN_EXAMPLES, OUTCOME_MIN_POSITIVES), else 0 (goals bid their CPM fallback).', labelNames, registers }),
      published: new Gauge({ name: 'bidder_model_last_publish_timestamp_seconds', help: 'When each outcome model was last published to the bid threads (Unix seconds).', labelNames, registers }),
    };
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
    }
  }
}
