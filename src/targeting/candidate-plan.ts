/**
 * A request's targeting, resolved once and evaluated a range of words at a time.
 *
 * Resolving a rule (looking the request's value up in its map) is done once per request; what is
 * left is a short list of word-wise operations on bit sets. Evaluating that list over a small
 * range of words stops at the first operation that leaves the range empty, and puts the most
 * selective operations first: a request that matches no campaign in a range (most of them, with
 * thousands of campaigns) usually costs two or three operations there instead of one per rule.
 *
 * Plans are scratch space: one per thread (per index) is reset and refilled by every request, so
 * a request allocates nothing once the arrays have grown to its size.
 */
import type { Bits } from './bitset.js';

const AND = 0;
/** dst &= a | b */
const AND_EITHER = 1;
/** dst &= ~a */
const AND_NOT = 2;
/** dst &= OR of a list of bit sets (an empty list empties dst) */
const AND_ANY = 3;

export class CandidatePlan {
  private n = 0;
  private kind: number[] = [];
  private a: (Bits | undefined)[] = [];
  private b: (Bits | undefined)[] = [];
  /** AND_ANY: its bit sets are `lists[listFrom[i] .. listTo[i])`. */
  private listFrom: number[] = [];
  private listTo: number[] = [];
  private lists: Bits[] = [];
  private listLength = 0;
  /** How many campaigns an operation can leave (lower: more selective, evaluated earlier). */
  private weight: number[] = [];
  /** Operation indexes, by weight. */
  private order: number[] = [];
  private ordered = true;

  /** Empties the plan (keeps its arrays for the next request). */
  reset(): this {
    this.n = 0;
    this.listLength = 0;
    this.ordered = true;
    return this;
  }

  get size(): number {
    return this.n;
  }

  /** dst &= a. `weight`: campaigns in `a` (an estimate is enough: it only orders the operations). */
  and(a: Bits, weight: number): void {
    this.push(AND, a, undefined, weight);
  }

  /** dst &= a | b */
  andEither(a: Bits, b: Bits, weight: number): void {
    this.push(AND_EITHER, a, b, weight);
  }

  /** dst &= ~a; `weight`: campaigns it leaves. */
  andNot(a: Bits, weight: number): void {
    this.push(AND_NOT, a, undefined, weight);
  }

  /**
   * dst &= the union of the bit sets added with `anyOf` right after (before the next operation);
   * an empty union empties dst.
   */
  andAny(): void {
    const i = this.push(AND_ANY, undefined, undefined, 0);
    this.listFrom[i] = this.listLength;
    this.listTo[i] = this.listLength;
  }

  /** Adds a member to the union of the last `andAny`, and its campaigns to that operation's weight. */
  anyOf(bits: Bits, weight: number): void {
    const i = this.n - 1;
    this.lists[this.listLength++] = bits;
    this.listTo[i] = this.listLength;
    this.weight[i] += weight;
    this.ordered = false;
  }

  /**
   * Writes `init & every operation` into `dst` over the words [from, to) (other words are left as
   * they were) and returns whether any bit is set there. Stops early once the range is empty (all
   * zero there). `init` may be `dst`.
   */
  evaluate(dst: Bits, init: Bits, from: number, to: number): boolean {
    let acc = 0;
    for (let w = from; w < to; w++) acc |= dst[w] = init[w];
    if (acc === 0) return false;
    if (!this.ordered) this.sort();
    const order = this.order;
    for (let k = 0; k < this.n; k++) {
      const i = order[k];
      acc = 0;
      switch (this.kind[i]) {
        case AND: {
          const a = this.a[i]!;
          for (let w = from; w < to; w++) acc |= dst[w] &= a[w];
          break;
        }
        case AND_EITHER: {
          const a = this.a[i]!;
          const b = this.b[i]!;
          for (let w = from; w < to; w++) acc |= dst[w] &= a[w] | b[w];
          break;
        }
        case AND_NOT: {
          const a = this.a[i]!;
          for (let w = from; w < to; w++) acc |= dst[w] &= ~a[w];
          break;
        }
        default: {
          const lists = this.lists;
          const end = this.listTo[i];
          const start = this.listFrom[i];
          for (let w = from; w < to; w++) {
            let u = 0;
            for (let j = start; j < end; j++) u |= lists[j][w];
            acc |= dst[w] &= u;
          }
        }
      }
      if (acc === 0) return false;
    }
    return true;
  }

  private push(kind: number, a: Bits | undefined, b: Bits | undefined, weight: number): number {
    const i = this.n++;
    this.kind[i] = kind;
    this.a[i] = a;
    this.b[i] = b;
    this.weight[i] = weight;
    this.ordered = false;
    return i;
  }

  /** Insertion sort of the operation indexes by weight (a plan has a few dozen at most); ties keep their order. */
  private sort(): void {
    const order = this.order;
    const weight = this.weight;
    for (let k = 0; k < this.n; k++) order[k] = k;
    for (let k = 1; k < this.n; k++) {
      const i = order[k];
      const wi = weight[i];
      let j = k - 1;
      while (j >= 0 && weight[order[j]] > wi) {
        order[j + 1] = order[j];
        j--;
      }
      order[j + 1] = i;
    }
    this.ordered = true;
  }
}
