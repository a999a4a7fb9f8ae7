/**
 * Whether a published model may price goals. A model falls back to CPM bidding (its family is
 * published with `ready: false`, so every goal bids `bid.base`) when it has not yet trained on
 * enough examples (`cold_start`), or when it has drifted: its mean prediction over the observed
 * rate on recent examples is outside [calibrationMin, calibrationMax] (`calibration`), or it does
 * not rank them: its AUC on them is under `minAuc` (`auc`; a model at 0.5 is no better than the
 * average, and priced goals would buy at random). Both are judged only once the recent examples
 * hold `calibrationMinPositives` positives: on a handful the observed rate and AUC are noise. Judged at each publication, off the hot path; a model that comes back
 * inside the band prices goals again at the next publication.
 */

export type FallbackReason = 'cold_start' | 'calibration' | 'auc';
export const FALLBACK_REASONS: readonly FallbackReason[] = ['cold_start', 'calibration', 'auc'];

export interface HealthSettings {
  /** Lowest and highest accepted ratio of mean prediction to observed rate. */
  readonly calibrationMin: number;
  readonly calibrationMax: number;
  /** Positives among the recent examples before calibration and AUC are judged at all. */
  readonly calibrationMinPositives: number;
  /** Lowest accepted AUC on the recent examples. */
  readonly minAuc: number;
}

export const DEFAULT_HEALTH: HealthSettings = { calibrationMin: 0.5, calibrationMax: 2, calibrationMinPositives: 50, minAuc: 0.6 };

export interface HealthInput {
  /** Trained on enough examples (OUTCOME_MIN_EXAMPLES, OUTCOME_MIN_POSITIVES). */
  readonly trainedEnough: boolean;
  /** Mean prediction over observed rate on the recent examples (null without a positive). */
  readonly calibration: number | null;
  /** AUC on those recent examples (null without a positive and a negative). */
  readonly auc: number | null;
  /** Positives among those recent examples. */
  readonly holdoutPositives: number;
}

/** Why the model must not price goals now; undefined: it may. */
export function fallbackReason(m: HealthInput, s: HealthSettings): FallbackReason | undefined {
  if (!m.trainedEnough) return 'cold_start';
  if (m.holdoutPositives < s.calibrationMinPositives) return undefined;
  if (m.calibration !== null && (m.calibration < s.calibrationMin || m.calibration > s.calibrationMax)) return 'calibration';
  if (m.auc !== null && m.auc < s.minAuc) return 'auc';
  return undefined;
}
