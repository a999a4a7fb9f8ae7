/**
 * Logistic regression trained online with FTRL-Proximal (McMahan et al. 2013): per-coordinate
 * learning rates (alpha / (beta + sqrt(sum of squared gradients))), L1 that holds weights of
 * features with little evidence at exactly zero, and L2. Off the hot path: only the trainer holds
 * one; bid threads read the immutable weight tables it publishes (model-table.ts).
 *
 * A campaign's model is its own table on top of the shared prior's: the logit is the sum of both.
 * The prior learns from every campaign's examples, the campaign's table only from its own, as a
 * correction to the prior. A campaign without data thus predicts with the prior (what all the
 * traffic taught), and its own weights learn where it differs.
 */

export interface FtrlParams {
  readonly alpha: number;
  readonly beta: number;
  readonly l1: number;
  readonly l2: number;
}

export const DEFAULT_FTRL: FtrlParams = { alpha: 0.05, beta: 1, l1: 1, l2: 1 };

/** Logits are clamped here before the sigmoid: a prediction is never exactly 0 or 1. */
const MAX_LOGIT = 35;

export function sigmoid(logit: number): number {
  const x = logit > MAX_LOGIT ? MAX_LOGIT : logit < -MAX_LOGIT ? -MAX_LOGIT : logit;
  return 1 / (1 + Math.exp(-x));
}

export class Ftrl {
  readonly mask: number;
  private readonly z: Float64Array;
  private readonly n: Float64Array;
  /** Examples and positives seen. */
  examples = 0;
  positives = 0;

  constructor(
    readonly bits: number,
    readonly params: FtrlParams = DEFAULT_FTRL,
  ) {
    if (!(bits >= 1 && bits <= 26)) throw new RangeError(`table bits must be 1-26, got ${bits}`);
    this.mask = (1 << bits) - 1;
    this.z = new Float64Array(1 << bits);
    this.n = new Float64Array(1 << bits);
  }

  /** The weight of slot `i`, from its z and n (the proximal step's closed form). */
  weight(i: number): number {
    const z = this.z[i];
    const { l1, l2, alpha, beta } = this.params;
    if (z <= l1 && z >= -l1) return 0;
    return -(z - (z < 0 ? -l1 : l1)) / ((beta + Math.sqrt(this.n[i])) / alpha + l2);
  }

  logit(hashes: Uint32Array, length: number): number {
    let s = 0;
    for (let k = 0; k < length; k++) s += this.weight(hashes[k] & this.mask);
    return s;
  }

  /** One gradient step on the log loss at gradient `g` (prediction minus label), for every feature of the example. */
  step(hashes: Uint32Array, length: number, g: number): void {
    const { alpha } = this.params;
    const g2 = g * g;
    for (let k = 0; k < length; k++) {
      const i = hashes[k] & this.mask;
      const w = this.weight(i);
      const n = this.n[i];
      const sigma = (Math.sqrt(n + g2) - Math.sqrt(n)) / alpha;
      this.z[i] += g - sigma * w;
      this.n[i] = n + g2;
    }
  }

  /** Trains on one example alone (no prior); returns the prediction made before the update. */
  train(hashes: Uint32Array, length: number, label: 0 | 1): number {
    const p = sigmoid(this.logit(hashes, length));
    this.step(hashes, length, p - label);
    this.examples++;
    this.positives += label;
    return p;
  }

  /** The current weights as a compact table (4 bytes a slot): what bid threads predict from. Written into `out` when given. */
  weights(out: Float32Array<ArrayBufferLike> = new Float32Array(this.z.length)): Float32Array<ArrayBufferLike> {
    for (let i = 0; i < out.length; i++) out[i] = this.weight(i);
    return out;
  }

  /** How many slots have a non-zero weight (L1 keeps the rest at zero). */
  nonZero(): number {
    let k = 0;
    for (let i = 0; i < this.z.length; i++) if (this.weight(i) !== 0) k++;
    return k;
  }
}

/**
 * One example for a campaign's model over the shared prior. The prior learns from every campaign's
 * examples on its own (so it stays what a campaign with no data of its own should predict); the
 * campaign's table learns the rest, on the gradient of the sum of both logits. Returns the combined
 * prediction made before the update.
 */
export function trainWithPrior(prior: Ftrl, own: Ftrl, hashes: Uint32Array, length: number, label: 0 | 1): number {
  const priorLogit = prior.logit(hashes, length);
  const p = sigmoid(priorLogit + own.logit(hashes, length));
  prior.step(hashes, length, sigmoid(priorLogit) - label);
  own.step(hashes, length, p - label);
  prior.examples++;
  prior.positives += label;
  own.examples++;
  own.positives += label;
  return p;
}
