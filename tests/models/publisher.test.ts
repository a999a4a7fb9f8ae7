/**
 * The publisher judges each model at every publication: cold until trained enough, and pulled back
 * to the CPM fallback when its calibration on recent examples leaves the accepted band (judged only
 * with enough positives); back to pricing once it is inside again. The judgement shows in the
 * published tables (`ready`), in the status the admin API serves, and on /metrics.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { OutcomePublisher } from '../../src/models/publisher.js';
import { ModelMetrics } from '../../src/metrics/model-metrics.js';
import { hashFeature } from '../../src/models/features.js';
import { fallbackReason, DEFAULT_HEALTH } from '../../src/models/model-health.js';
import { Rng } from '../../src/simulator/rng.js';

const SETTINGS = { outcomeMinExamples: 2000, outcomeMinPositives: 20, outcomeCalibrationMin: 0.5, outcomeCalibrationMax: 2, outcomeCalibrationMinPositives: 50 };
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
  const judge = (calibration: number | null, holdoutPositives = 100, trainedEnough = true) => fallbackReason({ trainedEnough, calibration, holdoutPositives }, DEFAULT_HEALTH);
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
});
