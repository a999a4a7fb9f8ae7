/**
 * How good a click or conversion model is, on examples it had not yet trained on (each is scored
 * before its update): AUC, log loss, and calibration per decile of prediction.
 */

/** Area under the ROC curve: the chance a random positive scores above a random negative (ties count half). NaN without both. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const rank = (i + j) / 2 + 1; // average rank of the tie group, 1-based
    for (let k = i; k <= j; k++) if (labels[order[k]] === 1) {
      pos++;
      rankSum += rank;
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function logLoss(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(Math.max(scores[i], 1e-15), 1 - 1e-15);
    s -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return scores.length === 0 ? NaN : s / scores.length;
}

export interface Decile {
  readonly count: number;
  readonly predicted: number;
  readonly observed: number;
}

/** Examples sorted by prediction and cut in ten groups of (nearly) equal size: mean prediction and observed rate of each. */
export function calibration(scores: ArrayLike<number>, labels: ArrayLike<number>): Decile[] {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const out: Decile[] = [];
  for (let d = 0; d < 10; d++) {
    const from = Math.floor((d * n) / 10);
    const to = Math.floor(((d + 1) * n) / 10);
    let p = 0;
    let y = 0;
    for (let k = from; k < to; k++) {
      p += scores[order[k]];
      y += labels[order[k]];
    }
    const count = to - from;
    out.push({ count, predicted: count ? p / count : NaN, observed: count ? y / count : NaN });
  }
  return out;
}
