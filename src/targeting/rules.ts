/**
 * Inverted-index rules over campaign ranks. An allow rule keeps, for each value, the campaigns
 * that list it, plus the campaigns that do not constrain the dimension at all; a block rule keeps,
 * for each value, the campaigns that refuse it. A request's value is looked up once and becomes
 * an operation of its candidate plan (candidate-plan.ts): a word-wise AND over the candidates.
 * Each operation carries how many campaigns it can leave, so the plan runs the most selective first.
 *
 * A dimension with both lists (exchanges, domains, bundles, publishers, categories) keeps both
 * sides of a value in one map entry (ListRules): looking a request's value up is most of what
 * planning a rule costs (hash-map probes into vocabularies of thousands of values), and one
 * lookup then serves both rules.
 */
import { hasBit, newBits, or, setBit, type Bits } from './bitset.js';
import type { CandidatePlan } from './candidate-plan.js';

/** One value of a dimension: the campaigns listing it on the allow side and on the block side, and how many. */
interface Entry {
  allow: Bits | undefined;
  allowCount: number;
  /** `allow` plus the campaigns that do not constrain the dimension (set by the allow rule's `seal`). */
  accepting: Bits | undefined;
  block: Bits | undefined;
  blockCount: number;
}

type Entries<V> = Map<V, Entry>;

function entryOf<V>(entries: Entries<V>, value: V): Entry {
  let e = entries.get(value);
  if (!e) entries.set(value, (e = { allow: undefined, allowCount: 0, accepting: undefined, block: undefined, blockCount: 0 }));
  return e;
}

export class AllowRule<V extends string | number = string> {
  /** True once any campaign constrains this dimension; otherwise it adds nothing to a plan. */
  constrained = false;
  private readonly any: Bits;
  /** Campaigns in `any` (a campaign that constrains the dimension is in no value's `any`). */
  private anyCount = 0;

  /** `entries`: shared with the dimension's block rule (ListRules), else its own. */
  constructor(
    private readonly words: number,
    readonly entries: Entries<V> = new Map(),
  ) {
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
    for (const v of values) {
      const e = entryOf(this.entries, v);
      const bits = (e.allow ??= newBits(this.words));
      if (hasBit(bits, rank)) continue;
      setBit(bits, rank);
      e.allowCount++;
    }
  }

  /** Done adding: each value's accepting campaigns are precomputed, so keeping them is one AND a word. */
  seal(): void {
    for (const e of this.entries.values()) {
      if (e.allow === undefined) continue;
      const accepting = e.allow.slice();
      or(accepting, this.any);
      e.accepting = accepting;
    }
  }

  /** Keep the campaigns that accept `value` (a missing value is accepted only by the unconstrained). */
  plan(plan: CandidatePlan, value: V | undefined): void {
    if (this.constrained) this.planEntry(plan, value === undefined ? undefined : this.entries.get(value));
  }

  /** As plan, for the value's entry already looked up (undefined: missing or unlisted). */
  planEntry(plan: CandidatePlan, e: Entry | undefined): void {
    if (!this.constrained) return;
    if (e === undefined || e.allow === undefined) plan.and(this.any, this.anyCount);
    else if (e.accepting !== undefined) plan.and(e.accepting, e.allowCount + this.anyCount);
    else plan.andEither(e.allow, this.any, e.allowCount + this.anyCount);
  }

  /** Keep the campaigns that accept at least one of `values`. */
  planAny(plan: CandidatePlan, values: readonly V[]): void {
    if (!this.constrained) return;
    this.startAny(plan);
    for (let i = 0; i < values.length; i++) this.anyOf(plan, this.entries.get(values[i]));
  }

  /** As planAny, for a set of values. */
  planAnyIn(plan: CandidatePlan, values: ReadonlySet<V>): void {
    if (!this.constrained) return;
    this.startAny(plan);
    for (const v of values) this.anyOf(plan, this.entries.get(v));
  }

  /** Adds a value's campaigns to the union of the last `andAny` (planAny). */
  anyOf(plan: CandidatePlan, e: Entry | undefined): void {
    if (e !== undefined && e.allow !== undefined) plan.anyOf(e.allow, e.allowCount);
  }

  /** Starts planAny's union: the campaigns that do not constrain the dimension, then each value's by `anyOf`. */
  startAny(plan: CandidatePlan): void {
    plan.andAny();
    plan.anyOf(this.any, this.anyCount);
  }
}

export class BlockRule<V extends string | number = string> {
  constrained = false;
  /** The campaigns that list any value, and how many they are. */
  private readonly anyListed: Bits;
  private anyListedCount = 0;

  /** `entries`: shared with the dimension's allow rule (ListRules), else its own. */
  constructor(
    private readonly words: number,
    readonly entries: Entries<V> = new Map(),
  ) {
    this.anyListed = newBits(words);
  }

  add(rank: number, values: readonly V[] | undefined): void {
    if (!values) return;
    for (const v of values) {
      const e = entryOf(this.entries, v);
      const bits = (e.block ??= newBits(this.words));
      this.constrained = true;
      if (!hasBit(this.anyListed, rank)) this.anyListedCount++;
      setBit(this.anyListed, rank);
      if (hasBit(bits, rank)) continue;
      setBit(bits, rank);
      e.blockCount++;
    }
  }

  /** Drop every campaign that lists any value: the request's values cannot be read, so none can be shown clear. */
  planUnknown(plan: CandidatePlan): void {
    if (this.constrained) plan.andNot(this.anyListed, this.words * 32 - this.anyListedCount);
  }

  /** Drop the campaigns that block `value`. */
  plan(plan: CandidatePlan, value: V | undefined): void {
    if (this.constrained && value !== undefined) this.planEntry(plan, this.entries.get(value));
  }

  /** As plan, for the value's entry already looked up (undefined: unlisted). */
  planEntry(plan: CandidatePlan, e: Entry | undefined): void {
    if (e !== undefined && e.block !== undefined) plan.andNot(e.block, this.words * 32 - e.blockCount);
  }

  /** Drop the campaigns that block any of `values`. */
  planAll(plan: CandidatePlan, values: readonly V[]): void {
    if (!this.constrained) return;
    for (let i = 0; i < values.length; i++) this.plan(plan, values[i]);
  }
}

/**
 * A dimension with an allow list and a block list per campaign, over one map: a request's value
 * is looked up once for both rules.
 */
export class ListRules<V extends string | number = string> {
  readonly allow: AllowRule<V>;
  readonly block: BlockRule<V>;
  /** Entries of the values planAny is planning (scratch: a plan is made on one thread at a time). */
  private readonly found: (Entry | undefined)[] = [];

  constructor(words: number) {
    const entries: Entries<V> = new Map();
    this.allow = new AllowRule<V>(words, entries);
    this.block = new BlockRule<V>(words, entries);
  }

  get constrained(): boolean {
    return this.allow.constrained || this.block.constrained;
  }

  /** Both rules on `value`: `allow.plan` and `block.plan`. */
  plan(plan: CandidatePlan, value: V | undefined): void {
    if (!this.allow.constrained && !this.block.constrained) return;
    const e = value === undefined ? undefined : this.allow.entries.get(value);
    this.allow.planEntry(plan, e);
    if (this.block.constrained) this.block.planEntry(plan, e);
  }

  /**
   * `allow.planAny(values)` and, with `blockToo`, `block.planAll(values)`. The union's members go in
   * before the blocks (a union takes the members added right after it).
   */
  planAny(plan: CandidatePlan, values: readonly V[], blockToo: boolean): void {
    const allow = this.allow.constrained;
    const block = blockToo && this.block.constrained;
    if (!allow && !block) return;
    const found = this.found;
    const n = values.length;
    for (let i = 0; i < n; i++) found[i] = this.allow.entries.get(values[i]);
    if (allow) {
      this.allow.startAny(plan);
      for (let i = 0; i < n; i++) this.allow.anyOf(plan, found[i]);
    }
    if (block) for (let i = 0; i < n; i++) this.block.planEntry(plan, found[i]);
  }
}
