/**
 * The publisher judges each model at every publication: cold until trained enough, and pulled back
 * to the CPM fallback when its calibration on recent examples leaves the accepted band (judged only
 * with enough positives), or when it does not rank them (AUC under the floor); back to pricing once
 * it is inside again. The judgement shows in the
 * published tables (`ready`), in the status the admin API serves, and on /metrics.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { OutcomePublisher } from '../../src/models/publisher.js';
import { ModelMetrics } from '../../src/metrics/model-metrics.js';
import { hashFeature } from '../../src/models/features.js';
import { fallbackReason, DEFAULT_HEALTH } from '../../src/models/model-health.js';
import { Rng } from '../../src/simulator/rng.js';

// Every example has the same features here (the model cannot rank them: AUC about 0.5), so the AUC floor is off but in its own test.
const SETTINGS = { outcomeMinExamples: 2000, outcomeMinPositives: 20, outcomeCalibrationMin: 0.5, outcomeCalibrationMax: 2, outcomeCalibrationMinPositives: 50, outcomeMinAuc: 0 };
const TRAINER = { priorBits: 12, campaignBits: 8, clickWindowSec: 60 };
const FEATURES = Uint32Array.of(hashFeature(1, ''), hashFeature(3, 'news.example'));

/** Feeds `n` shown impressions, each clicked with probability `ctr`, one second apart; returns the clock. */
function feed(p: OutcomePublisher, rng: Rng, n: number, ctr: number, from: number): number {
  let now = from;
  for (let i = 0; i < n; i++, now++) {
    const id = `b${now}`;
    p.trainer.bid(id, 'cmp', FEATURES, now);
    p.trainer.impression(id, now);
    if (rng.chance(ctr)) p.trainer.click(id, now);
    if (now % 100 === 0) p.trainer.expire(now); // impressions past their click window become non-clicks, in order
  }
  return now;
}

async function gauge(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = (await registry.getSingleMetric(name)!.get()).values;
  return m.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

describe('fallbackReason', () => {
  const judge = (calibration: number | null, holdoutPositives = 100, trainedEnough = true, auc: number | null = 0.8) =>
    fallbackReason({ trainedEnough, calibration, auc, holdoutPositives }, DEFAULT_HEALTH);
  it('is cold_start until trained enough, calibration outside [min, max] with enough positives, else none', () => {
    expect(judge(1, 100, false)).toBe('cold_start');
    expect(judge(1)).toBeUndefined();
    expect(judge(0.5)).toBeUndefined();
    expect(judge(2)).toBeUndefined();
    expect(judge(2.01)).toBe('calibration');
    expect(judge(0.49)).toBe('calibration');
    expect(judge(5, 49)).toBeUndefined(); // too few positives to judge
    expect(judge(null)).toBeUndefined();
  });
  it('is auc when the model does not rank recent examples above the floor (judged with enough positives), calibration first', () => {
    expect(DEFAULT_HEALTH.minAuc).toBe(0.6);
    expect(judge(1, 100, true, 0.59)).toBe('auc');
    expect(judge(1, 100, true, 0.51)).toBe('auc');
    expect(judge(1, 100, true, 0.6)).toBeUndefined();
    expect(judge(1, 49, true, 0.51)).toBeUndefined(); // too few positives to judge
    expect(judge(1, 100, true, null)).toBeUndefined();
    expect(judge(3, 100, true, 0.51)).toBe('calibration');
    expect(judge(1, 100, false, 0.51)).toBe('cold_start');
  });
});

describe('OutcomePublisher', () => {
  it('falls back to CPM when calibration drifts out of band, and prices again once it is back', async () => {
    const registry = new Registry();
    const p = new OutcomePublisher(SETTINGS, new ModelMetrics(registry), TRAINER);
    const rng = new Rng(21);
    expect(await gauge(registry, 'bidder_model_fallback', { model: 'click', reason: 'cold_start' })).toBe(1);

    let now = feed(p, rng, 500, 0.05, 0);
    let m = p.publish((now + 120) * 1000);
    expect(m.click.ready).toBe(false);
    expect(p.status()[0]).toMatchObject({ model: 'click', ready: false, fallback: 'cold_start' });

    // A steady 5 % CTR: calibrated, ready.
    now = feed(p, rng, 20_000, 0.05, now + 120);
    m = p.publish((now + 120) * 1000);
    const steady = p.status()[0];
    expect(steady.calibration!).toBeGreaterThan(0.8);
    expect(steady.calibration!).toBeLessThan(1.5);
    expect(steady).toMatchObject({ ready: true, fallback: null });
    expect(m.click.ready).toBe(true);
    expect(p.models.current.click.ready).toBe(true);
    expect(await gauge(registry, 'bidder_model_fallback', { model: 'click', reason: 'cold_start' })).toBe(0);
    expect(await gauge(registry, 'bidder_model_fallback', { model: 'click', reason: 'calibration' })).toBe(0);
    expect(steady.deciles).toHaveLength(10);
    expect(await gauge(registry, 'bidder_model_decile_observed', { model: 'click', decile: '10' })).toBeCloseTo(steady.deciles[9].observed, 10);

    // The clicks stop being counted (a tracker broke): observed 0.5 %, the model still predicts about 5 %.
    now = feed(p, rng, 20_000, 0.005, now + 120);
    m = p.publish((now + 120) * 1000);
    const drifted = p.status()[0];
    expect(drifted.calibration!).toBeGreaterThan(2);
    expect(drifted.holdoutPositives).toBeGreaterThanOrEqual(50);
    expect(drifted).toMatchObject({ ready: false, fallback: 'calibration' });
    expect(m.click.ready).toBe(false);
    expect(p.models.current.click.ready).toBe(false);
    expect(p.trainer.publish(false).click.ready).toBe(true); // trained enough: only the judgement holds it back
    expect(await gauge(registry, 'bidder_model_fallback', { model: 'click', reason: 'calibration' })).toBe(1);
    expect(await gauge(registry, 'bidder_model_ready', { model: 'click' })).toBe(0);

    // It keeps learning; once the recent examples are all of the new rate it is calibrated again.
    now = feed(p, rng, 60_000, 0.005, now + 120);
    m = p.publish((now + 120) * 1000);
    const back = p.status()[0];
    expect(back.calibration!).toBeLessThan(2);
    expect(back.calibration!).toBeGreaterThan(0.5);
    expect(back).toMatchObject({ ready: true, fallback: null });
    expect(m.click.ready).toBe(true);
    expect(await gauge(registry, 'bidder_model_fallback', { model: 'click', reason: 'calibration' })).toBe(0);
  });

  it('does not judge calibration on too few positives', () => {
    const p = new OutcomePublisher({ ...SETTINGS, outcomeCalibrationMinPositives: 100_000 }, undefined, TRAINER);
    const rng = new Rng(22);
    let now = feed(p, rng, 20_000, 0.05, 0);
    now = feed(p, rng, 20_000, 0.005, now + 120);
    p.publish((now + 120) * 1000);
    expect(p.status()[0].calibration!).toBeGreaterThan(2);
    expect(p.status()[0]).toMatchObject({ ready: true, fallback: null });
  });

  it('falls back to CPM when the model does not rank recent examples (AUC under OUTCOME_MIN_AUC), and prices again once it does', async () => {
    const registry = new Registry();
    const p = new OutcomePublisher({ ...SETTINGS, outcomeMinAuc: 0.6 }, new ModelMetrics(registry), TRAINER);
    const rng = new Rng(23);
    const sites = [Uint32Array.of(hashFeature(1, ''), hashFeature(3, 'good.example')), Uint32Array.of(hashFeature(1, ''), hashFeature(3, 'poor.example'))];
    /** Alternating sites; `ctrs[k]` is site k's click rate. */
    const feedSites = (n: number, ctrs: [number, number], from: number): number => {
      let now = from;
      for (let i = 0; i < n; i++, now++) {
        const id = `s${now}`;
        p.trainer.bid(id, 'cmp', sites[i & 1], now);
        p.trainer.impression(id, now);
        if (rng.chance(ctrs[i & 1])) p.trainer.click(id, now);
        if (now % 100 === 0) p.trainer.expire(now);
      }
      return now;
    };
    // Clicks follow the site (8 % against 0.5 %): the model ranks them, ready.
    let now = feedSites(20_000, [0.08, 0.005], 0);
    p.publish((now + 120) * 1000);
    const ranks = p.status()[0];
    expect(ranks.auc!).toBeGreaterThan(0.7);
    expect(ranks).toMatchObject({ ready: true, fallback: null });
    // Clicks stop following the site (both 4 %): on the recent examples its ranking is noise.
    now = feedSites(20_000, [0.04, 0.04], now + 120);
    const m = p.publish((now + 120) * 1000);
    const noise = p.status()[0];
    expect(noise.auc!).toBeLessThan(0.6);
    expect(noise.holdoutPositives).toBeGreaterThanOrEqual(50);
    expect(noise.calibration!).toBeGreaterThan(0.5); // in band: the AUC alone holds it back
    expect(noise.calibration!).toBeLessThan(2);
    expect(noise).toMatchObject({ ready: false, fallback: 'auc' });
    expect(m.click.ready).toBe(false);
    expect(await gauge(registry, 'bidder_model_fallback', { model: 'click', reason: 'auc' })).toBe(1);
    expect(await gauge(registry, 'bidder_model_ready', { model: 'click' })).toBe(0);
    // The sites differ again: it ranks, and prices.
    now = feedSites(20_000, [0.08, 0.005], now + 120);
    p.publish((now + 120) * 1000);
    expect(p.status()[0]).toMatchObject({ ready: true, fallback: null });
    expect(await gauge(registry, 'bidder_model_fallback', { model: 'click', reason: 'auc' })).toBe(0);
  });
});
