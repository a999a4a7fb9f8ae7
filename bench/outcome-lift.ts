/**
 * Outcome bidding against a market with a known truth (src/simulator/market.ts): the same seeded
 * stream of requests, competing bids and click and conversion draws, replayed against one campaign
 * under three policies at several budgets, from scarce to plentiful:
 *   static:  today's CPM bid (bid.base), buying what it wins until the budget is spent;
 *   learned: a cpc goal priced by decideFor() from the click model the OutcomeTrainer learns online
 *            from the impressions and clicks this very run wins (2 % exploration at the fallback);
 *   oracle:  the same cpc goal priced from the true CTR (the ceiling).
 * In process: decideFor() is called directly, first-price auctions, spend at our bid.
 *
 * At each budget the cpc target is the one at which the oracle just spends that budget by the end of
 * the stream (found by bisection), and the learned policy is asked the same target.
 *
 * Warm start: a DSP that has been running holds a model trained on its earlier traffic. With
 * `history` > 0 the trainer first learns from the static policy's wins on an earlier, disjoint
 * stream (its own request seed, the hours before the measured stream; the same market truth draws
 * its clicks, the model sees only features and labels), then the measured stream starts with that
 * model. With 0 the model starts cold and bids the CPM fallback until it is ready.
 *
 * Used by bench/outcomes.ts (npm run bench:outcomes) and tests/bench/outcomes.e2e.test.ts.
 */
import { buildSnapshot, type Snapshot } from '../src/campaigns/snapshot.js';
import type { Campaign, ConfigBundle } from '../src/campaigns/schema.js';
import { decideFor } from '../src/bidding/bidder.js';
import { NO_AUDIENCE } from '../src/audiences/audience-service.js';
import { parseBidRequest } from '../src/openrtb/parse-request.js';
import { isRefusal } from '../src/openrtb/protobuf-codec.js';
import type { BidRequestView } from '../src/openrtb/request-view.js';
import { RequestGenerator } from '../src/simulator/requests.js';
import { BANNER_SIZES } from '../src/simulator/vocabulary.js';
import { GroundTruth, competingBid } from '../src/simulator/market.js';
import { Rng } from '../src/simulator/rng.js';
import { DEFAULT_TRAINER, OutcomeTrainer, type TrainerSettings } from '../src/models/trainer.js';
import { OutcomePublisher } from '../src/models/publisher.js';
import { NO_MODELS, type OutcomeModels } from '../src/models/outcome-models.js';
import type { Decile } from '../src/models/quality.js';

export type Policy = 'static' | 'learned' | 'oracle';
export const POLICIES: readonly Policy[] = ['static', 'learned', 'oracle'];

export interface LiftSettings {
  /** Measured requests. */
  readonly requests: number;
  readonly seed: string;
  /** Budgets as shares of what the static CPM would spend on the whole stream, scarce first. */
  readonly budgetShares: readonly number[];
  /** Which of them is the headline (its figures are `policies` in the report). */
  readonly headline: number;
  /** The static CPM (also the goal's cold-start fallback). */
  readonly cpm: number;
  readonly maxBid: number;
  /** Requests of earlier traffic the model is trained on before the measured stream (0: cold start). */
  readonly history: number;
  /** The goal's exploration share. */
  readonly explore: number;
  /** Simulated days the measured stream covers (click windows and hours pass). */
  readonly days: number;
  readonly trainer: TrainerSettings;
}

export const DEFAULT_LIFT: LiftSettings = {
  requests: 300_000,
  seed: 'outcomes',
  budgetShares: [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2],
  headline: 2,
  cpm: 2,
  maxBid: 20,
  history: 300_000,
  explore: 0.02,
  days: 2,
  trainer: { ...DEFAULT_TRAINER, conversionWindowSec: 86_400 },
};

const T0 = Date.parse('2026-06-01T00:00:00Z');
const PUBLISH_EVERY = 5_000;

export interface PolicyResult {
  impressions: number;
  clicks: number;
  conversions: number;
  spend: number;
  ecpc: number;
}

export interface BudgetLevel {
  readonly share: number;
  readonly budget: number;
  readonly cpcTarget: number;
  readonly policies: Record<Policy, PolicyResult>;
  readonly learnedVsStatic: number;
  readonly learnedVsOracle: number;
  /** The learned policy's eCPC over its target. */
  readonly learnedEcpcOverTarget: number;
  /** The click model at the end of the learned run: scored on each example before training on it. */
  readonly model: { auc: number; logLoss: number; trained: number; positives: number; calibration: readonly Decile[] };
}

export interface LiftReport {
  readonly settings: Omit<LiftSettings, 'trainer'> & { trainer: { ftrl: TrainerSettings['ftrl']; minExamples: number; minPositives: number } };
  readonly market: { meanCtr: number; minCtr: number; maxCtr: number; meanCvr: number; staticWholeStreamSpend: number };
  readonly history: { impressions: number; clicks: number } | undefined;
  readonly levels: readonly BudgetLevel[];
  /** Area under each policy's clicks-over-spend curve through the levels (from 0, trapezoids), in click-dollars. */
  readonly curveArea: Record<Policy, number>;
  readonly seconds: number;
}

function campaign(s: LiftSettings, target: number | undefined): Campaign {
  return {
    id: 'c',
    advertiserId: 'adv',
    bid: { base: s.cpm, max: s.maxBid },
    ...(target !== undefined ? { goal: { type: 'cpc' as const, target, explore: s.explore } } : {}),
    creatives: BANNER_SIZES.map(([w, h]) => ({ id: `cr-${w}x${h}`, type: 'banner' as const, w, h, html: '<a href="${DSP_CLICK_URL}">ad</a>' })),
  };
}

function snapshot(s: LiftSettings, target: number | undefined): Snapshot {
  const bundle: ConfigBundle = {
    exchanges: [{ id: 'sim', seat: 'dsp', currency: 'USD' }],
    currencies: { base: 'USD', rates: {} },
    advertisers: [{ id: 'adv', name: 'Advertiser', domains: ['advertiser.example'] }],
    campaigns: [campaign(s, target)],
  };
  return buildSnapshot(bundle, 1);
}

/**
 * A seeded stream with its truth and draws, and what the static campaign does on it: its price
 * (-1: no bid on the first imp, whose truth this is) and the features decideFor() logs with the bid.
 */
interface Stream {
  readonly n: number;
  readonly t0: number;
  readonly stepMs: number;
  readonly views: BidRequestView[];
  readonly ctr: Float64Array;
  readonly cvr: Float64Array;
  readonly competing: Float64Array;
  readonly clickDraw: Float64Array;
  readonly conversionDraw: Float64Array;
  readonly staticPrice: Float64Array;
  readonly floor: Float64Array;
  readonly features: (Uint32Array | undefined)[];
}

function stream(s: LiftSettings, requestSeed: string, n: number, t0: number, stepMs: number, truth: GroundTruth, keepViews: boolean): Stream {
  const gen = new RequestGenerator(requestSeed, { users: 0, unknownUserShare: 1 });
  const rng = new Rng(`${requestSeed}|market`);
  const snap = snapshot(s, undefined);
  const recording: OutcomeModels = { ...NO_MODELS, record: true };
  const st: Stream = {
    n, t0, stepMs,
    views: [],
    ctr: new Float64Array(n),
    cvr: new Float64Array(n),
    competing: new Float64Array(n),
    clickDraw: new Float64Array(n),
    conversionDraw: new Float64Array(n),
    staticPrice: new Float64Array(n).fill(-1),
    floor: new Float64Array(n),
    features: new Array(n),
  };
  for (let i = 0; i < n; i++) {
    const v = parseBidRequest(Buffer.from(JSON.stringify(gen.next().request)), 64);
    if (isRefusal(v)) throw new Error(`generated request refused: ${v.message}`);
    const now = t0 + i * stepMs;
    const t = truth.of(v, now);
    st.ctr[i] = t.ctr;
    st.cvr[i] = t.cvr;
    st.floor[i] = v.imps[0].bidFloor;
    st.competing[i] = competingBid(v.imps[0].bidFloor, rng);
    st.clickDraw[i] = rng.next();
    st.conversionDraw[i] = rng.next();
    const d = decideFor(v, snap, snap.defaultExchange, now, NO_AUDIENCE, undefined, undefined, recording);
    const b = d.bids?.find((x) => x.imp === v.imps[0]);
    if (b !== undefined) {
      st.staticPrice[i] = b.price;
      st.features[i] = b.features;
    }
    if (keepViews) st.views.push(v);
  }
  return st;
}

function result(impressions: number, clicks: number, conversions: number, spend: number): PolicyResult {
  return { impressions, clicks, conversions, spend, ecpc: clicks > 0 ? spend / clicks : NaN };
}

/** Static CPM: the stream in order until the budget is spent. */
function runStatic(m: Stream, budget: number): PolicyResult {
  let imps = 0, clicks = 0, convs = 0, spend = 0;
  for (let i = 0; i < m.n && spend < budget; i++) {
    const p = m.staticPrice[i];
    if (!(p > m.competing[i])) continue;
    spend += p / 1000;
    imps++;
    if (m.clickDraw[i] < m.ctr[i]) {
      clicks++;
      if (m.conversionDraw[i] < m.cvr[i]) convs++;
    }
  }
  return result(imps, clicks, convs, spend);
}

/** The oracle: target x true CTR where the static campaign could bid at all (its creatives fit, it is eligible), never under the floor. */
function runOracle(m: Stream, s: LiftSettings, budget: number, target: number): PolicyResult {
  let imps = 0, clicks = 0, convs = 0, spend = 0;
  for (let i = 0; i < m.n && spend < budget; i++) {
    if (m.staticPrice[i] < 0) continue;
    const price = Math.min(s.maxBid, target * m.ctr[i] * 1000);
    if (price < m.floor[i] || !(price > m.competing[i])) continue;
    spend += price / 1000;
    imps++;
    if (m.clickDraw[i] < m.ctr[i]) {
      clicks++;
      if (m.conversionDraw[i] < m.cvr[i]) convs++;
    }
  }
  return result(imps, clicks, convs, spend);
}

/** The lowest cpc target at which the oracle spends the budget over the stream. */
function oracleTarget(m: Stream, s: LiftSettings, budget: number): number {
  let lo = 0.001;
  let hi = 1000;
  for (let k = 0; k < 40; k++) {
    const mid = Math.sqrt(lo * hi);
    if (runOracle(m, s, budget, mid).spend >= budget) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The trainer after the history: the static campaign's wins on the earlier stream, notices in time order. */
function warmTrainer(s: LiftSettings, h: Stream | undefined): OutcomePublisher {
  // The product's publisher: readiness (examples, positives) and health (calibration, AUC) as a running bidder judges them.
  const publisher = new OutcomePublisher({ outcomeMinExamples: s.trainer.minExamples, outcomeMinPositives: s.trainer.minPositives }, undefined, s.trainer);
  const trainer = publisher.trainer;
  if (h === undefined) return publisher;
  for (let i = 0; i < h.n; i++) {
    const sec = Math.floor((h.t0 + i * h.stepMs) / 1000);
    if (i % PUBLISH_EVERY === 0) trainer.expire(sec);
    const p = h.staticPrice[i];
    if (!(p > h.competing[i])) continue;
    const id = `h${i}`;
    trainer.bid(id, 'c', h.features[i]!, sec);
    trainer.impression(id, sec);
    if (h.clickDraw[i] < h.ctr[i]) {
      trainer.click(id, sec);
      if (h.conversionDraw[i] < h.cvr[i]) trainer.conversion(id, 'c', 0);
    }
  }
  // Every history impression has had its click window by the time the measured stream starts.
  trainer.expire(Math.floor((h.t0 + h.n * h.stepMs) / 1000) + s.trainer.clickWindowSec);
  return publisher;
}

function runLearned(m: Stream, s: LiftSettings, budget: number, target: number, h: Stream | undefined): { r: PolicyResult; trainer: OutcomeTrainer } {
  const snap = snapshot(s, target);
  const ex = snap.defaultExchange;
  const publisher = warmTrainer(s, h);
  const trainer = publisher.trainer;
  let models = publisher.publish(m.t0);
  let imps = 0, clicks = 0, convs = 0, spend = 0;
  for (let i = 0; i < m.n && spend < budget; i++) {
    const now = m.t0 + i * m.stepMs;
    const sec = Math.floor(now / 1000);
    if (i % PUBLISH_EVERY === 0 && i > 0) models = publisher.publish(now);
    const v = m.views[i];
    const d = decideFor(v, snap, ex, now, NO_AUDIENCE, undefined, undefined, models);
    const b = d.bids?.find((x) => x.imp === v.imps[0]);
    if (b === undefined || !(b.price > m.competing[i])) continue;
    spend += b.price / 1000;
    imps++;
    const id = `b${i}`;
    trainer.bid(id, 'c', b.features!, sec);
    trainer.impression(id, sec);
    if (m.clickDraw[i] < m.ctr[i]) {
      clicks++;
      trainer.click(id, sec);
      if (m.conversionDraw[i] < m.cvr[i]) {
        convs++;
        trainer.conversion(id, 'c', 0);
      }
    }
  }
  return { r: result(imps, clicks, convs, spend), trainer };
}

/** Trapezoids under the clicks-over-spend points, from (0, 0). */
function area(points: readonly PolicyResult[]): number {
  let a = 0;
  let x = 0;
  let y = 0;
  for (const p of [...points].sort((u, v) => u.spend - v.spend)) {
    a += ((p.spend - x) * (p.clicks + y)) / 2;
    x = p.spend;
    y = p.clicks;
  }
  return a;
}

export function measureLift(s: LiftSettings, log: (line: string) => void = () => {}): LiftReport {
  const started = Date.now();
  const truth = new GroundTruth(s.seed);
  const stepMs = Math.max(1, Math.round((s.days * 86_400_000) / s.requests));
  const m = stream(s, s.seed, s.requests, T0, stepMs, truth, true);
  // The history: the hours before the measured stream, at the same pace, from another request seed.
  const h = s.history > 0 ? stream(s, `${s.seed}|history`, s.history, T0 - s.history * stepMs - 3_600_000, stepMs, truth, false) : undefined;
  log(`streams built in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  let sumCtr = 0, sumCvr = 0, lo = Infinity, hi = 0;
  for (let i = 0; i < m.n; i++) {
    sumCtr += m.ctr[i];
    sumCvr += m.cvr[i];
    lo = Math.min(lo, m.ctr[i]);
    hi = Math.max(hi, m.ctr[i]);
  }
  const whole = runStatic(m, Infinity).spend;
  let history: LiftReport['history'];
  if (h !== undefined) {
    const w = runStatic(h, Infinity);
    history = { impressions: w.impressions, clicks: w.clicks };
  }

  const levels: BudgetLevel[] = [];
  for (const share of s.budgetShares) {
    const budget = Math.round(whole * share * 100) / 100;
    const target = oracleTarget(m, s, budget);
    const learned = runLearned(m, s, budget, target, h);
    const policies = { static: runStatic(m, budget), learned: learned.r, oracle: runOracle(m, s, budget, target) };
    const q = learned.trainer.report().click;
    levels.push({
      share, budget, cpcTarget: target, policies,
      learnedVsStatic: policies.learned.clicks / policies.static.clicks,
      learnedVsOracle: policies.learned.clicks / policies.oracle.clicks,
      learnedEcpcOverTarget: policies.learned.ecpc / target,
      model: { auc: q.auc, logLoss: q.logLoss, trained: q.trained, positives: q.positives, calibration: q.calibration },
    });
    log(`budget ${budget.toFixed(2)}: static ${policies.static.clicks}, learned ${policies.learned.clicks}, oracle ${policies.oracle.clicks} clicks (target ${target.toFixed(3)}, learned eCPC ${policies.learned.ecpc.toFixed(3)})`);
  }
  const curveArea = {} as Record<Policy, number>;
  for (const p of POLICIES) curveArea[p] = area(levels.map((l) => l.policies[p]));
  const { trainer, ...rest } = s;
  return {
    settings: { ...rest, trainer: { ftrl: trainer.ftrl, minExamples: trainer.minExamples, minPositives: trainer.minPositives } },
    market: { meanCtr: sumCtr / m.n, minCtr: lo, maxCtr: hi, meanCvr: sumCvr / m.n, staticWholeStreamSpend: whole },
    history,
    levels,
    curveArea,
    seconds: (Date.now() - started) / 1000,
  };
}

const COLORS: Record<Policy, string> = { static: '#888888', learned: '#1f77b4', oracle: '#2ca02c' };

/** Clicks over spend: one line per policy through its budget levels, a dot at each. */
export function liftSvg(r: LiftReport): string {
  const W = 640;
  const H = 420;
  const pad = 56;
  const all = r.levels.flatMap((l) => POLICIES.map((p) => l.policies[p]));
  const maxX = Math.max(...all.map((p) => p.spend)) || 1;
  const maxY = Math.max(...all.map((p) => p.clicks)) || 1;
  const x = (v: number) => (pad + (v / maxX) * (W - 2 * pad)).toFixed(1);
  const y = (v: number) => (H - pad - (v / maxY) * (H - 2 * pad)).toFixed(1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="black"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 14}" text-anchor="middle" font-size="13">spend (USD, max ${maxX.toFixed(0)}); one point per budget</text>`,
    `<text x="16" y="${H / 2}" transform="rotate(-90 16 ${H / 2})" text-anchor="middle" font-size="13">clicks (max ${maxY})</text>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="14">Clicks over spend, ${r.settings.requests.toLocaleString('en-US')} requests, seed ${r.settings.seed}</text>`,
  ];
  POLICIES.forEach((p, k) => {
    const pts = [{ spend: 0, clicks: 0 }, ...r.levels.map((l) => l.policies[p])];
    out.push(`<polyline fill="none" stroke="${COLORS[p]}" stroke-width="2" points="${pts.map((q) => `${x(q.spend)},${y(q.clicks)}`).join(' ')}"/>`);
    for (const q of pts.slice(1)) out.push(`<circle cx="${x(q.spend)}" cy="${y(q.clicks)}" r="3" fill="${COLORS[p]}"/>`);
    out.push(`<text x="${pad + 12}" y="${pad + 4 + 16 * k}" fill="${COLORS[p]}" font-size="13">${p}: area ${Math.round(r.curveArea[p]).toLocaleString('en-US')} click-USD</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
