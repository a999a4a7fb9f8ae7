/**
 * Inverted-index rules over campaign ranks. An allow rule keeps, for each value, the campaigns
 * that list it, plus the campaigns that do not constrain the dimension at all; a block rule keeps,
 * for each value, the campaigns that refuse it. A request's value is looked up once and becomes
 * an operation of its candidate plan (candidate-plan.ts): a word-wise AND over the candidates.
 * Each operation carries how many campaigns it can leave, so the plan runs the most selective first.
 */
import { hasBit, newBits, or, setBit, type Bits } from './bitset.js';
import type { CandidatePlan } from './candidate-plan.js';

/** The campaigns listing one value, and how many they are. */
interface Listed {
  readonly bits: Bits;
  count: number;
  /** Allow rules: `bits` plus the campaigns that do not constrain the dimension (set by `seal`). */
  accepting?: Bits;
}

function list<V>(byValue: Map<V, Listed>, words: number, value: V, rank: number): void {
  let listed = byValue.get(value);
  if (!listed) byValue.set(value, (listed = { bits: newBits(words), count: 0 }));
  if (hasBit(listed.bits, rank)) return;
  setBit(listed.bits, rank);
  listed.count++;
}

export class AllowRule<V extends string | number = string> {
  /** True once any campaign constrains this dimension; otherwise it adds nothing to a plan. */
  constrained = false;
  private readonly any: Bits;
  /** Campaigns in `any` (a campaign that constrains the dimension is in no value's `any`). */
  private anyCount = 0;
  private readonly byValue = new Map<V, Listed>();

  constructor(private readonly words: number) {
    this.any = newBits(words);
  }

  /** Registers a campaign: `values` undefined or empty means it does not constrain this dimension. */
  add(rank: number, values: readonly V[] | undefined): void {
    if (!values || values.length === 0) {
      if (!hasBit(this.any, rank)) this.anyCount++;
      setBit(this.any, rank);
      return;
    }
    this.constrained = true;
    for (const v of values) list(this.byValue, this.words, v, rank);
  }

  /** Done adding: each value's accepting campaigns are precomputed, so keeping them is one AND a word. */
  seal(): void {
    for (const listed of this.byValue.values()) {
      const accepting = listed.bits.slice();
      or(accepting, this.any);
      listed.accepting = accepting;
    }
  }

  /** Keep the campaigns that accept `value` (a missing value is accepted only by the unconstrained). */
  plan(plan: CandidatePlan, value: V | undefined): void {
    if (!this.constrained) return;
    const listed = value === undefined ? undefined : this.byValue.get(value);
    if (listed === undefined) plan.and(this.any, this.anyCount);
    else if (listed.accepting !== undefined) plan.and(listed.accepting, listed.count + this.anyCount);
    else plan.andEither(listed.bits, this.any, listed.count + this.anyCount);
  }

  /** Keep the campaigns that accept at least one of `values`. */
  planAny(plan: CandidatePlan, values: readonly V[]): void {
    if (!this.constrained) return;
    plan.andAny();
    plan.anyOf(this.any, this.anyCount);
    for (let i = 0; i < values.length; i++) {
      const listed = this.byValue.get(values[i]);
      if (listed) plan.anyOf(listed.bits, listed.count);
    }
  }

  /** As planAny, for a set of values. */
  planAnyIn(plan: CandidatePlan, values: ReadonlySet<V>): void {
    if (!this.constrained) return;
    plan.andAny();
    plan.anyOf(this.any, this.anyCount);
    for (const v of values) {
      const listed = this.byValue.get(v);
      if (listed) plan.anyOf(listed.bits, listed.count);
    }
  }
}

export class BlockRule<V extends string | number = string> {
  constrained = false;
  private readonly byValue = new Map<V, Listed>();
  /** The campaigns that list any value, and how many they are. */
  private readonly anyListed: Bits;
  private anyListedCount = 0;

  constructor(private readonly words: number) {
    this.anyListed = newBits(words);
  }

  add(rank: number, values: readonly V[] | undefined): void {
    if (!values) return;
    for (const v of values) {
      list(this.byValue, this.words, v, rank);
      this.constrained = true;
      if (!hasBit(this.anyListed, rank)) this.anyListedCount++;
      setBit(this.anyListed, rank);
    }
  }

  /** Drop every campaign that lists any value: the request's values cannot be read, so none can be shown clear. */
  planUnknown(plan: CandidatePlan): void {
    if (this.constrained) plan.andNot(this.anyListed, this.words * 32 - this.anyListedCount);
  }

  /** Drop the campaigns that block `value`. */
  plan(plan: CandidatePlan, value: V | undefined): void {
    if (!this.constrained || value === undefined) return;
    const listed = this.byValue.get(value);
    if (listed) plan.andNot(listed.bits, this.words * 32 - listed.count);
  }

  /** Drop the campaigns that block any of `values`. */
  planAll(plan: CandidatePlan, values: readonly V[]): void {
    if (!this.constrained) return;
    for (let i = 0; i < values.length; i++) this.plan(plan, values[i]);
  }
}
