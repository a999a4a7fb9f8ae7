/**
 * Outcome training with bid workers (WORKERS>1, OUTCOME_MODELS=1): the one trainer lives on the
 * main thread; every worker feeds it and prices from the tables it publishes.
 *
 * Worker side (OutcomeForwarder): the features of each bid (hashed indices, already a Uint32Array)
 * and each impression, click and conversion notice the worker receives go into a batch, posted to
 * the main thread every BATCH_MS or once it holds MAX_BATCH entries. Nothing on the bid path waits:
 * adding to a batch is a copy of a few dozen integers.
 *
 * Main side (OutcomeCollector): a batch's bids go to the trainer at once; its notices wait LATE_MS
 * first. A notice may land on another worker than its bid (bid ids are `<holder>-<n>`, joined only
 * here), and that worker's batch may come in before the bid's: held back longer than a batch
 * period, the notice finds its bid's features already in the trainer.
 */
import type { OutcomeFeed } from '../http/bid-route.js';
import type { OutcomeNotices } from '../http/notice-routes.js';

/** One worker's bids and notices since its previous batch. */
export interface OutcomeBatch {
  readonly bids: {
    readonly ids: readonly string[];
    readonly campaigns: readonly string[];
    readonly atSec: readonly number[];
    /** End offset of each bid's features in `features` (the first starts at 0). */
    readonly ends: Uint32Array;
    readonly features: Uint32Array;
  };
  /** In arrival order: `[0, bidId, atSec]` impression, `[1, bidId, atSec]` click, `[2, bidId, campaignId, valueBase]` conversion. */
  readonly notices: readonly OutcomeNotice[];
}

export type OutcomeNotice = readonly [0 | 1, string, number] | readonly [2, string, string, number];

export const BATCH_MS = 50;
const MAX_BATCH = 2_000;
export const LATE_MS = 250;

export class OutcomeForwarder implements OutcomeFeed, OutcomeNotices {
  private ids: string[] = [];
  private campaigns: string[] = [];
  private atSec: number[] = [];
  private ends: number[] = [];
  private features = new Uint32Array(4096);
  private used = 0;
  private notices: OutcomeNotice[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly send: (batch: OutcomeBatch) => void) {
    this.timer = setInterval(() => this.flush(), BATCH_MS);
    this.timer.unref();
  }

  bid(bidId: string, campaignId: string, features: Uint32Array, atSec: number): void {
    if (this.used + features.length > this.features.length) {
      const grown = new Uint32Array(Math.max(this.features.length * 2, this.used + features.length));
      grown.set(this.features.subarray(0, this.used));
      this.features = grown;
    }
    this.features.set(features, this.used);
    this.used += features.length;
    this.ids.push(bidId);
    this.campaigns.push(campaignId);
    this.atSec.push(atSec);
    this.ends.push(this.used);
    if (this.ids.length >= MAX_BATCH) this.flush();
  }

  impression(bidId: string, atSec: number): void {
    this.notice([0, bidId, atSec]);
  }

  click(bidId: string, atSec: number): void {
    this.notice([1, bidId, atSec]);
  }

  conversion(bidId: string, campaignId: string, valueBase: number): void {
    this.notice([2, bidId, campaignId, valueBase]);
  }

  private notice(n: OutcomeNotice): void {
    this.notices.push(n);
    if (this.notices.length >= MAX_BATCH) this.flush();
  }

  /** Posts what is buffered (nothing when empty). The bids' features are copied out: the buffer is reused. */
  flush(): void {
    if (this.ids.length === 0 && this.notices.length === 0) return;
    const batch: OutcomeBatch = {
      bids: { ids: this.ids, campaigns: this.campaigns, atSec: this.atSec, ends: Uint32Array.from(this.ends), features: this.features.slice(0, this.used) },
      notices: this.notices,
    };
    this.ids = [];
    this.campaigns = [];
    this.atSec = [];
    this.ends = [];
    this.used = 0;
    this.notices = [];
    this.send(batch);
  }

  /** At the end: the last batch goes out, and the timer stops. */
  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** The main thread's side: batches from every worker into the one trainer. */
export class OutcomeCollector {
  private waiting: { readonly at: number; readonly notices: readonly OutcomeNotice[] }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly trainer: OutcomeFeed & OutcomeNotices,
    private readonly lateMs = LATE_MS,
    private readonly now = Date.now,
  ) {
    this.timer = setInterval(() => this.settle(), Math.max(10, Math.floor(lateMs / 2)));
    this.timer.unref();
  }

  take(batch: OutcomeBatch): void {
    const b = batch.bids;
    let from = 0;
    for (let i = 0; i < b.ids.length; i++) {
      const to = b.ends[i];
      this.trainer.bid(b.ids[i], b.campaigns[i], b.features.slice(from, to), b.atSec[i]);
      from = to;
    }
    if (batch.notices.length > 0) this.waiting.push({ at: this.now(), notices: batch.notices });
  }

  /** Applies the notices that have waited `lateMs` (all of them with `all`). */
  settle(all = false): void {
    const cut = this.now() - this.lateMs;
    let k = 0;
    for (; k < this.waiting.length && (all || this.waiting[k].at <= cut); k++)
      for (const n of this.waiting[k].notices) {
        if (n[0] === 2) this.trainer.conversion(n[1], n[2], n[3]);
        else if (n[0] === 0) this.trainer.impression(n[1], n[2]);
        else this.trainer.click(n[1], n[2]);
      }
    if (k > 0) this.waiting = this.waiting.slice(k);
  }

  stop(): void {
    clearInterval(this.timer);
    this.settle(true);
  }
}
