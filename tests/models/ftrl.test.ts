/**
 * FTRL-Proximal on synthetic data drawn from a known logistic function: it ranks nearly as well as
 * the truth, L1 keeps irrelevant features at zero, predictions stay in (0, 1), and a campaign's
 * table over the shared prior learns where that campaign differs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_FTRL, Ftrl, sigmoid, trainWithPrior } from '../../src/models/ftrl.js';
import { hashFeature } from '../../src/models/features.js';
import { predict, tableOf } from '../../src/models/model-table.js';
import { auc } from '../../src/models/quality.js';
import { Rng } from '../../src/simulator/rng.js';

/** Fields of 30 values each; the truth gives each (field, value) a weight; `noise` fields weigh nothing. */
function world(seed: number, fields: number, noise: number, bias: number) {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const truth: number[][] = [];
  for (let f = 0; f < fields + noise; f++) truth.push(Array.from({ length: 30 }, () => (f < fields ? gauss() * 0.8 : 0)));
  const hashes = new Uint32Array(1 + fields + noise);
  const draw = () => {
    let logit = bias;
    hashes[0] = hashFeature(1, '');
    for (let f = 0; f < fields + noise; f++) {
      const v = rng.int(0, 29);
      logit += truth[f][v];
      hashes[f + 1] = hashFeature(100 + f, String(v));
    }
    const p = sigmoid(logit);
    return { p, y: (rng.next() < p ? 1 : 0) as 0 | 1 };
  };
  return { hashes, draw, rng };
}

describe('Ftrl', () => {
  it('learns a known logistic function: held-out AUC within 0.02 of the truth’s', () => {
    const w = world(7, 6, 0, -3);
    const m = new Ftrl(16);
    for (let i = 0; i < 150_000; i++) {
      const { y } = w.draw();
      m.train(w.hashes, w.hashes.length, y);
    }
    const model: number[] = [];
    const truth: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 40_000; i++) {
      const { p, y } = w.draw();
      truth.push(p);
      model.push(sigmoid(m.logit(w.hashes, w.hashes.length)));
      labels.push(y);
    }
    const truthAuc = auc(truth, labels);
    const modelAuc = auc(model, labels);
    expect(truthAuc).toBeGreaterThan(0.75); // the task is learnable at all
    expect(modelAuc).toBeGreaterThan(truthAuc - 0.02);
    // Calibrated on the whole: the mean prediction is near the observed rate.
    const mean = model.reduce((a, b) => a + b, 0) / model.length;
    const rate = labels.reduce((a, b) => a + b, 0) / labels.length;
    expect(Math.abs(mean - rate) / rate).toBeLessThan(0.1);
  });

  it('keeps the weights of irrelevant features at exactly zero with L1, and not without it', () => {
    const train = (l1: number) => {
      const w = world(11, 2, 4, -2);
      const m = new Ftrl(16, { ...DEFAULT_FTRL, l1 });
      for (let i = 0; i < 30_000; i++) m.train(w.hashes, w.hashes.length, w.draw().y);
      // The noise fields (tags 102-105): how many of their 120 values got a weight.
      let nonZero = 0;
      for (let f = 2; f < 6; f++) for (let v = 0; v < 30; v++) if (m.weight(hashFeature(100 + f, String(v)) & m.mask) !== 0) nonZero++;
      let relevant = 0;
      for (let f = 0; f < 2; f++) for (let v = 0; v < 30; v++) if (m.weight(hashFeature(100 + f, String(v)) & m.mask) !== 0) relevant++;
      return { nonZero, relevant };
    };
    const strong = train(40);
    expect(strong.nonZero).toBeLessThanOrEqual(3); // of 120
    expect(strong.relevant).toBeGreaterThan(40); // of 60: real signal survives
    expect(train(0).nonZero).toBe(120);
  });

  it('predicts strictly inside (0, 1) whatever it was trained on', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 20 }), fc.boolean()), { maxLength: 200 }), (examples) => {
        const m = new Ftrl(8, { alpha: 5, beta: 0.1, l1: 0, l2: 0 });
        for (const [h, y] of examples) m.train(Uint32Array.from(h), h.length, y ? 1 : 0);
        const t = tableOf(m.weights(), m.examples, m.positives);
        for (const [h] of examples) {
          const p = predict(t, undefined, Uint32Array.from(h), h.length);
          expect(p).toBeGreaterThan(0);
          expect(p).toBeLessThan(1);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('publishes a table that predicts what the trainer predicts', () => {
    const w = world(3, 4, 0, -2);
    const m = new Ftrl(12);
    for (let i = 0; i < 5_000; i++) m.train(w.hashes, w.hashes.length, w.draw().y);
    const t = tableOf(m.weights(), m.examples, m.positives);
    for (let i = 0; i < 100; i++) {
      w.draw();
      expect(predict(t, undefined, w.hashes, w.hashes.length)).toBeCloseTo(sigmoid(m.logit(w.hashes, w.hashes.length)), 5);
    }
  });

  it('a campaign’s own table over the shared prior learns where the campaign differs', () => {
    // Two campaigns on the same traffic; campaign b's users click 4x as often on one placement.
    const rng = new Rng(5);
    const prior = new Ftrl(14);
    const own = { a: new Ftrl(10), b: new Ftrl(10) };
    const hashes = new Uint32Array(2);
    const hot = hashFeature(14, 'hot');
    const cold = hashFeature(14, 'cold');
    const rate = (c: 'a' | 'b', h: number) => (h === hot && c === 'b' ? 0.2 : 0.05);
    for (let i = 0; i < 200_000; i++) {
      const c = rng.chance(0.5) ? 'a' : 'b';
      hashes[0] = hashFeature(1, '');
      hashes[1] = rng.chance(0.5) ? hot : cold;
      trainWithPrior(prior, own[c], hashes, 2, rng.chance(rate(c, hashes[1])) ? 1 : 0);
    }
    const p = tableOf(prior.weights(), prior.examples, prior.positives);
    const at = (c: 'a' | 'b', h: number) => {
      hashes[1] = h;
      return predict(p, tableOf(own[c].weights(), 0, 0), hashes, 2);
    };
    expect(at('b', hot)).toBeGreaterThan(0.16);
    expect(at('a', hot)).toBeLessThan(0.075);
    expect(at('a', cold)).toBeCloseTo(0.05, 1);
    // A campaign with no data of its own predicts with the prior: between the two.
    hashes[1] = hot;
    const fresh = predict(p, undefined, hashes, 2);
    expect(fresh).toBeGreaterThan(0.075);
    expect(fresh).toBeLessThan(0.16);
  });
});
