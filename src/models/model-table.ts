/**
 * What bid threads predict from: immutable weight tables, one per campaign over a shared prior,
 * published as a whole and swapped in by reference (like the targeting snapshot). A prediction is a
 * sum of table lookups at `hash & mask` and a sigmoid: no allocation per call.
 */
import { sigmoid } from './ftrl.js';

/** One trained table (Float32Array: 4 bytes a slot, 2^bits slots). Never written after publication. */
export interface WeightTable {
  readonly weights: Float32Array;
  readonly mask: number;
  /** Examples it was trained on, and positives among them. */
  readonly examples: number;
  readonly positives: number;
  /**
   * The observed rate goals explore from (outcome-models.ts): positives over examples for the
   * shared prior; for a campaign's table, its own rate drawn towards the prior's while it has few
   * examples (set by the trainer at publication).
   */
  readonly rate: number;
}

export function tableOf(weights: Float32Array, examples: number, positives: number, rate = examples > 0 ? positives / examples : 0): WeightTable {
  const size = weights.length;
  if (size === 0 || (size & (size - 1)) !== 0) throw new RangeError('a weight table has a power-of-two size');
  return { weights, mask: size - 1, examples, positives, rate };
}

export function tableLogit(t: WeightTable, hashes: Uint32Array, length: number): number {
  const w = t.weights;
  const m = t.mask;
  let s = 0;
  for (let k = 0; k < length; k++) s += w[hashes[k] & m];
  return s;
}

/** The probability from the prior and (when there is one) the campaign's own table. */
export function predict(prior: WeightTable, own: WeightTable | undefined, hashes: Uint32Array, length: number): number {
  const logit = tableLogit(prior, hashes, length);
  return sigmoid(own === undefined ? logit : logit + tableLogit(own, hashes, length));
}
