/**
 * Inverted-index rules over campaign ranks. An allow rule keeps, for each value, the campaigns
 * that list it, plus the campaigns that do not constrain the dimension at all; a block rule keeps,
 * for each value, the campaigns that refuse it. Applying a rule to candidates is a few word-wise ANDs.
 */
import { and, andEither, andNot, copy, newBits, or, setBit, type Bits } from './bitset.js';

export class AllowRule<V extends string | number = string> {
  /** True once any campaign constrains this dimension; otherwise applying it is skipped. */
  constrained = false;
  private readonly any: Bits;
  private readonly byValue = new Map<V, Bits>();

  constructor(private readonly words: number) {
    this.any = newBits(words);
  }

  /** Registers a campaign: `values` undefined or empty means it does not constrain this dimension. */
  add(rank: number, values: readonly V[] | undefined): void {
    if (!values || values.length === 0) {
      setBit(this.any, rank);
      return;
    }
    this.constrained = true;
    for (const v of values) setBit(this.bitsFor(v), rank);
  }

  /**
   * candidates &= campaigns that accept `value` (a missing value is accepted only by the unconstrained).
   * Like every apply, only over the words [from, to) of the candidates.
   */
  apply(candidates: Bits, value: V | undefined, from = 0, to = candidates.length): void {
    if (!this.constrained) return;
    const bits = value === undefined ? undefined : this.byValue.get(value);
    if (bits) andEither(candidates, bits, this.any, from, to);
    else and(candidates, this.any, from, to);
  }

  /** candidates &= campaigns that accept at least one of `values`. */
  applyAny(candidates: Bits, values: readonly V[], scratch: Bits, from = 0, to = candidates.length): void {
    if (!this.constrained) return;
    copy(scratch, this.any, from, to);
    for (let i = 0; i < values.length; i++) {
      const bits = this.byValue.get(values[i]);
      if (bits) or(scratch, bits, from, to);
    }
    and(candidates, scratch, from, to);
  }

  /** As applyAny, for a set of values. */
  applyAnyIn(candidates: Bits, values: ReadonlySet<V>, scratch: Bits, from = 0, to = candidates.length): void {
    if (!this.constrained) return;
    copy(scratch, this.any, from, to);
    for (const v of values) {
      const bits = this.byValue.get(v);
      if (bits) or(scratch, bits, from, to);
    }
    and(candidates, scratch, from, to);
  }

  private bitsFor(v: V): Bits {
    let bits = this.byValue.get(v);
    if (!bits) {
      bits = newBits(this.words);
      this.byValue.set(v, bits);
    }
    return bits;
  }
}

export class BlockRule<V extends string | number = string> {
  constrained = false;
  private readonly byValue = new Map<V, Bits>();

  constructor(private readonly words: number) {}

  add(rank: number, values: readonly V[] | undefined): void {
    if (!values) return;
    for (const v of values) {
      let bits = this.byValue.get(v);
      if (!bits) {
        bits = newBits(this.words);
        this.byValue.set(v, bits);
      }
      setBit(bits, rank);
      this.constrained = true;
    }
  }

  /** candidates &= ~campaigns that block `value`. */
  apply(candidates: Bits, value: V | undefined, from = 0, to = candidates.length): void {
    if (!this.constrained || value === undefined) return;
    const bits = this.byValue.get(value);
    if (bits) andNot(candidates, bits, from, to);
  }

  applyAll(candidates: Bits, values: readonly V[], from = 0, to = candidates.length): void {
    if (!this.constrained) return;
    for (let i = 0; i < values.length; i++) {
      const bits = this.byValue.get(values[i]);
      if (bits) andNot(candidates, bits, from, to);
    }
  }
}
