/**
 * The plumbing between bid workers and the one trainer (workers/outcome-link.ts), without threads:
 * what a worker's forwarder batches and posts, that a batch survives the structured clone of
 * postMessage, and that the main thread's collector hands bids to the trainer at once and notices
 * only after they waited, so a notice that reached another worker than its bid still finds it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BATCH_MS, LATE_MS, OutcomeCollector, OutcomeForwarder, type OutcomeBatch } from '../../src/workers/outcome-link.js';
import { DEFAULT_TRAINER, OutcomeTrainer } from '../../src/models/trainer.js';

/** Records what reaches the trainer, in order. */
class RecordingTrainer {
  readonly calls: unknown[][] = [];
  bid(bidId: string, campaignId: string, features: Uint32Array, atSec: number): void {
    this.calls.push(['bid', bidId, campaignId, [...features], atSec]);
  }
  impression(bidId: string, atSec: number): void {
    this.calls.push(['impression', bidId, atSec]);
  }
  click(bidId: string, atSec: number): void {
    this.calls.push(['click', bidId, atSec]);
  }
  conversion(bidId: string, campaignId: string, valueBase: number): void {
    this.calls.push(['conversion', bidId, campaignId, valueBase]);
  }
}

const open: { close?(): void; stop?(): void }[] = [];
afterEach(() => {
  for (const x of open.splice(0)) (x.close ?? x.stop)!.call(x);
});

function forwarder(): { f: OutcomeForwarder; sent: OutcomeBatch[] } {
  const sent: OutcomeBatch[] = [];
  const f = new OutcomeForwarder((b) => sent.push(b));
  open.push(f);
  return { f, sent };
}

describe('OutcomeForwarder (worker side)', () => {
  it('packs bids of any feature count into one array with end offsets, and notices in arrival order', () => {
    const { f, sent } = forwarder();
    const a = Uint32Array.of(1, 2, 3);
    f.bid('w1-1', 'c1', a, 100);
    a.fill(9); // the caller's array is reused for the next candidate: the batch keeps the copy
    f.bid('w1-2', 'c2', Uint32Array.of(4), 101);
    f.bid('w1-3', 'c1', new Uint32Array(0), 102);
    f.impression('w1-1', 103);
    f.click('w1-1', 104);
    f.conversion('w1-1', 'c1', 12.5);
    f.flush();
    expect(sent).toHaveLength(1);
    const b = sent[0];
    expect(b.bids.ids).toEqual(['w1-1', 'w1-2', 'w1-3']);
    expect(b.bids.campaigns).toEqual(['c1', 'c2', 'c1']);
    expect(b.bids.atSec).toEqual([100, 101, 102]);
    expect([...b.bids.ends]).toEqual([3, 4, 4]);
    expect([...b.bids.features]).toEqual([1, 2, 3, 4]);
    expect(b.notices).toEqual([[0, 'w1-1', 103], [1, 'w1-1', 104], [2, 'w1-1', 'c1', 12.5]]);
    f.flush();
    expect(sent).toHaveLength(1); // nothing new: nothing sent
  });

  it('grows its feature buffer past its first size, and starts afresh after each batch', () => {
    const { f, sent } = forwarder();
    const x = new Uint32Array(24).map((_, i) => i);
    for (let i = 0; i < 500; i++) f.bid(`b${i}`, 'c', x, i); // 12,000 features: three times the first buffer
    f.flush();
    f.bid('last', 'c', Uint32Array.of(7, 8), 1);
    f.flush();
    expect(sent[0].bids.features).toHaveLength(12_000);
    expect(sent[0].bids.ends[499]).toBe(12_000);
    expect([...sent[0].bids.features.subarray(11_976)]).toEqual([...x]);
    expect([...sent[1].bids.features]).toEqual([7, 8]);
    expect([...sent[1].bids.ends]).toEqual([2]);
  });

  it('posts at 2,000 entries without waiting for its timer, on its timer otherwise, and the rest on close', async () => {
    const { f, sent } = forwarder();
    for (let i = 0; i < 2000; i++) f.impression(`b${i}`, i);
    expect(sent).toHaveLength(1);
    expect(sent[0].notices).toHaveLength(2000);
    f.click('b1', 5);
    const t0 = Date.now();
    while (sent.length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    expect(sent).toHaveLength(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(BATCH_MS / 2);
    f.bid('b9', 'c', Uint32Array.of(1), 9);
    f.close();
    expect(sent).toHaveLength(3);
    expect(sent[2].bids.ids).toEqual(['b9']);
  });
});

describe('OutcomeCollector (main thread)', () => {
  it('hands bids to the trainer at once, and notices only once they waited LATE_MS (all of them on stop)', () => {
    let now = 1_000_000;
    const t = new RecordingTrainer();
    const c = new OutcomeCollector(t, LATE_MS, () => now);
    open.push(c);
    const { f, sent } = forwarder();
    f.bid('w1-1', 'c1', Uint32Array.of(5, 6), 10);
    f.bid('w1-2', 'c1', Uint32Array.of(7), 11);
    f.impression('w1-1', 12);
    f.flush();
    c.take(structuredClone(sent[0])); // what postMessage does to it
    expect(t.calls).toEqual([
      ['bid', 'w1-1', 'c1', [5, 6], 10],
      ['bid', 'w1-2', 'c1', [7], 11],
    ]);
    now += LATE_MS - 1;
    c.settle();
    expect(t.calls).toHaveLength(2);
    f.click('w1-1', 13);
    f.conversion('w1-1', 'c1', 3);
    f.flush();
    c.take(structuredClone(sent[1]));
    now += 1;
    c.settle();
    expect(t.calls.slice(2)).toEqual([['impression', 'w1-1', 12]]); // the first batch's notices only
    c.stop();
    expect(t.calls.slice(3)).toEqual([['click', 'w1-1', 13], ['conversion', 'w1-1', 'c1', 3]]);
  });

  it('joins a click that reached another worker before its bid\'s batch: the trainer learns it as a click', () => {
    let now = 0;
    const trainer = new OutcomeTrainer({ ...DEFAULT_TRAINER, priorBits: 10, campaignBits: 6 });
    const c = new OutcomeCollector(trainer, LATE_MS, () => now);
    open.push(c);
    const w1 = forwarder();
    const w2 = forwarder();
    // Worker 2 receives the impression and click of worker 1's bid, and posts first.
    w2.f.impression('w1-7', 100);
    w2.f.click('w1-7', 101);
    w2.f.flush();
    c.take(structuredClone(w2.sent[0]));
    now += 40; // worker 1's batch comes a batch period later
    w1.f.bid('w1-7', 'c1', Uint32Array.of(3, 4), 99);
    w1.f.flush();
    c.take(structuredClone(w1.sent[0]));
    now += LATE_MS;
    c.settle();
    expect(trainer.report().click).toMatchObject({ trained: 1, positives: 1 });
    expect(trainer.report().pending).toMatchObject({ bids: 0, impressions: 0, clicks: 1 });
  });

  it('applied without the wait, the same notices would miss their bid (why notices wait)', () => {
    const trainer = new OutcomeTrainer({ ...DEFAULT_TRAINER, priorBits: 10, campaignBits: 6 });
    const c = new OutcomeCollector(trainer, 0, () => 0);
    open.push(c);
    const w2 = forwarder();
    w2.f.impression('w1-8', 100);
    w2.f.click('w1-8', 101);
    w2.f.flush();
    c.take(w2.sent[0]);
    c.settle();
    trainer.bid('w1-8', 'c1', Uint32Array.of(3), 99);
    expect(trainer.report().click).toMatchObject({ trained: 0, positives: 0 });
    expect(trainer.report().pending.bids).toBe(1);
  });
});
