/**
 * The outcome trainer's timer, on the main thread: every OUTCOME_PUBLISH_SECONDS it settles the
 * examples whose windows have passed, publishes new tables (swapped in by reference here, and posted
 * to every bid worker through `onPublish`), and measures each model's quality for /metrics and
 * `GET /api/v1/models`. The quality figures are computed here, once per publication, never per
 * scrape or request.
 */
import type { Settings } from '../settings/settings.js';
import { NO_MODELS, OutcomeModelsRef, type ModelFamily, type OutcomeModels } from './outcome-models.js';
import { DEFAULT_TRAINER, OutcomeTrainer, type ModelQuality, type TrainerSettings } from './trainer.js';
import { DEFAULT_HEALTH, fallbackReason, type FallbackReason, type HealthSettings } from './model-health.js';
import type { Decile } from './quality.js';
import type { ModelMetrics } from '../metrics/model-metrics.js';

/** What operators see of one model. Figures are null where undefined (no positive or no negative yet). */
export interface ModelStatus {
  readonly model: 'click' | 'conversion';
  /** Prices goals (else they bid their CPM fallback). */
  readonly ready: boolean;
  /** Why it does not (null when it does): not trained enough yet, calibration out of band, or AUC under the floor. */
  readonly fallback: FallbackReason | null;
  /** Publication number (increases with every publication). */
  readonly version: number;
  readonly publishedAt: string;
  /** Examples trained on since the process started, and positives among them. */
  readonly trained: number;
  readonly positives: number;
  /** Campaigns with a table of their own. */
  readonly campaigns: number;
  /** The recent examples the figures below are over, each scored before the model trained on it. */
  readonly holdoutExamples: number;
  readonly holdoutPositives: number;
  readonly auc: number | null;
  readonly logLoss: number | null;
  /** Mean prediction over observed rate (1: calibrated). */
  readonly calibration: number | null;
  readonly deciles: readonly Decile[];
}

type TrainerQuality = ModelQuality & { readonly trained: number; readonly positives: number };

const finite = (v: number) => (Number.isFinite(v) ? v : null);

/** Mean predicted over observed rate, from the deciles (null without a positive). */
export function calibrationRatio(deciles: readonly Decile[]): number | null {
  let p = 0;
  let y = 0;
  for (const d of deciles)
    if (d.count > 0) {
      p += d.predicted * d.count;
      y += d.observed * d.count;
    }
  return y > 0 ? p / y : null;
}

export class OutcomePublisher {
  readonly trainer: OutcomeTrainer;
  /** What this thread prices from (WORKERS=1); workers get the same tables through `onPublish`. */
  readonly models = new OutcomeModelsRef({ ...NO_MODELS, record: true });
  /** Called with every publication (the worker pool posts it to every worker). */
  onPublish: ((m: OutcomeModels) => void) | undefined;
  private last: readonly ModelStatus[] = [];
  private timer: NodeJS.Timeout | undefined;

  private readonly health: HealthSettings;

  constructor(
    settings: Pick<Settings, 'outcomeMinExamples' | 'outcomeMinPositives'> & Partial<Pick<Settings, 'outcomeCalibrationMin' | 'outcomeCalibrationMax' | 'outcomeCalibrationMinPositives' | 'outcomeMinAuc'>>,
    private readonly metrics?: ModelMetrics,
    trainer: Partial<TrainerSettings> = {},
  ) {
    this.trainer = new OutcomeTrainer({ ...DEFAULT_TRAINER, ...trainer, minExamples: settings.outcomeMinExamples, minPositives: settings.outcomeMinPositives });
    this.health = {
      calibrationMin: settings.outcomeCalibrationMin ?? DEFAULT_HEALTH.calibrationMin,
      calibrationMax: settings.outcomeCalibrationMax ?? DEFAULT_HEALTH.calibrationMax,
      calibrationMinPositives: settings.outcomeCalibrationMinPositives ?? DEFAULT_HEALTH.calibrationMinPositives,
      minAuc: settings.outcomeMinAuc ?? DEFAULT_HEALTH.minAuc,
    };
  }

  start(everySec: number): this {
    this.timer = setInterval(() => this.publish(), everySec * 1000);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Settles, measures, publishes. A model that is not trained enough, or whose calibration on recent
   * examples left the accepted band or whose AUC on them is under the floor (model-health.ts), is published with `ready: false`: goals bid
   * their CPM fallback until it is back. It keeps training either way.
   */
  publish(nowMs = Date.now()): OutcomeModels {
    this.trainer.expire(Math.floor(nowMs / 1000));
    const trained = this.trainer.publish(true);
    const report = this.trainer.report();
    const at = new Date(nowMs).toISOString();
    const status = (model: 'click' | 'conversion', q: TrainerQuality, family: ModelFamily): ModelStatus => {
      const calibration = calibrationRatio(q.calibration);
      const fallback = fallbackReason({ trainedEnough: family.ready, calibration, auc: finite(q.auc), holdoutPositives: q.holdoutPositives }, this.health) ?? null;
      return {
        model,
        ready: fallback === null,
        fallback,
        version: trained.version,
        publishedAt: at,
        trained: q.trained,
        positives: q.positives,
        campaigns: family.campaigns.size,
        holdoutExamples: q.examples,
        holdoutPositives: q.holdoutPositives,
        auc: finite(q.auc),
        logLoss: finite(q.logLoss),
        calibration,
        deciles: q.calibration.map((d) => ({ count: d.count, predicted: finite(d.predicted) ?? 0, observed: finite(d.observed) ?? 0 })),
      };
    };
    const click = status('click', report.click, trained.click);
    const conversion = status('conversion', report.conversion, trained.conversion);
    const judged = (f: ModelFamily, s: ModelStatus): ModelFamily => (s.ready === f.ready ? f : { ...f, ready: s.ready });
    const m: OutcomeModels = { ...trained, click: judged(trained.click, click), conversion: judged(trained.conversion, conversion) };
    this.models.swap(m);
    this.onPublish?.(m);
    this.last = [click, conversion];
    this.metrics?.set(this.last);
    return m;
  }

  /** Each model as of its last publication (empty before the first). */
  status(): readonly ModelStatus[] {
    return this.last;
  }
}
