/**
 * The trainer joins bids, impressions, clicks and conversions by bid id, labels an impression a
 * non-click only after its window, and publishes tables that rank clicks well once trained.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAINER, OutcomeTrainer, RATE_PRIOR_EXAMPLES } from '../../src/models/trainer.js';
import { NO_MODELS } from '../../src/models/outcome-models.js';
import { hashFeature } from '../../src/models/features.js';
import { predict } from '../../src/models/model-table.js';
import { sigmoid } from '../../src/models/ftrl.js';
import { Rng } from '../../src/simulator/rng.js';

const settings = { ...DEFAULT_TRAINER, priorBits: 14, campaignBits: 10, minExamples: 2000, minPositives: 20, clickWindowSec: 600, conversionWindowSec: 3600 };

describe('OutcomeTrainer', () => {
  it('waits out the click window before an impression counts as a non-click', () => {
    const t = new OutcomeTrainer(settings);
    const f = Uint32Array.of(hashFeature(1, ''));
    t.bid('b1', 'c', f, 1000);
    t.bid('b2', 'c', f, 1000);
    t.bid('b3', 'c', f, 1000); // never shown: no example at all
    t.impression('b1', 1001);
    t.impression('b2', 1001);
    t.expire(1500);
    expect(t.report().click.trained).toBe(0);
    t.click('b2', 1550);
    expect(t.report().click).toMatchObject({ trained: 1, positives: 1 });
    t.expire(1601);
    expect(t.report().click).toMatchObject({ trained: 2, positives: 1 });
    expect(t.report().pending).toEqual({ bids: 0, impressions: 0, clicks: 1 }); // b3's wait for its impression is over too
    // The click waits for its conversion; the conversion joins it by bid id.
    t.conversion('b2', 'c', 30);
    expect(t.report().conversion).toMatchObject({ trained: 1, positives: 1 });
    expect(t.publish(true).values.get('c')).toBe(30);
  });

  it('learns from the notice stream: published tables rank clicks like the truth, and go ready', () => {
    const rng = new Rng(9);
    const t = new OutcomeTrainer(settings);
    const weight = (d: number) => (d % 10) * 0.3 - 1.5; // domain d's effect on the logit
    const example = (d: number) => Uint32Array.of(hashFeature(1, ''), hashFeature(3, `d${d}`));
    expect(t.publish(false).click.ready).toBe(false);
    let now = 0;
    for (let i = 0; i < 60_000; i++) {
      const d = rng.int(0, 19);
      t.bid(`b${i}`, i % 2 ? 'a' : 'b', example(d), now);
      t.impression(`b${i}`, now);
      if (rng.chance(sigmoid(-4 + weight(d)))) t.click(`b${i}`, now + 5);
      if (i % 100 === 0) t.expire((now += 10));
    }
    t.expire(now + 10_000);
    const m = t.publish(false);
    expect(m.click.ready).toBe(true);
    // The model's order over domains follows the truth's: compare the best and worst tenths.
    const p = (d: number) => predict(m.click.prior, m.click.campaigns.get('a'), example(d), 2);
    const hi = [9, 19].map(p);
    const lo = [0, 10].map(p);
    expect(Math.min(...hi)).toBeGreaterThan(3 * Math.max(...lo));
    const q = t.report().click;
    expect(q.auc).toBeGreaterThan(0.7);
    expect(q.calibration).toHaveLength(10);
  });

  it('publishes the observed rates goals explore from: the prior’s, and each campaign’s drawn towards it', () => {
    const t = new OutcomeTrainer(settings);
    const x = Uint32Array.of(hashFeature(1, ''));
    // Campaign a: 10,000 impressions, 500 clicks (5 %); campaign b: 1,000 impressions, no click.
    for (let i = 0; i < 11_000; i++) {
      const id = `b${i}`;
      t.bid(id, i < 10_000 ? 'a' : 'b', x, 0);
      t.impression(id, 0);
      if (i < 10_000 && i % 20 === 0) t.click(id, 0);
    }
    t.expire(10_000);
    const m = t.publish(false);
    expect(m.click.prior.rate).toBeCloseTo(500 / 11_000, 12);
    const k = RATE_PRIOR_EXAMPLES;
    expect(m.click.campaigns.get('a')!.rate).toBeCloseTo((500 + k * (500 / 11_000)) / (10_000 + k), 12);
    // No click of its own yet: still above 0, under the prior's.
    const b = m.click.campaigns.get('b')!.rate;
    expect(b).toBeCloseTo((k * (500 / 11_000)) / (1_000 + k), 12);
    expect(b).toBeGreaterThan(0.03);
    expect(NO_MODELS.click.prior.rate).toBe(0);
  });

  it('stays within maxPending: the oldest impressions are settled early as negatives', () => {
    const t = new OutcomeTrainer({ ...settings, maxPending: 100 });
    const f = Uint32Array.of(1);
    for (let i = 0; i < 1000; i++) {
      t.bid(`b${i}`, 'c', f, i);
      t.impression(`b${i}`, i);
    }
    const r = t.report();
    expect(r.pending.impressions).toBe(100);
    expect(r.click.trained).toBe(900);
    expect(r.settledEarly).toBe(900);
  });
});
