/**
 * Outcome bidding against a market with a known truth (src/simulator/market.ts): the same seeded
 * stream of requests, the same competing bids and the same click and conversion draws, replayed
 * against one campaign and one budget under three policies:
 *   static:  today's CPM bid (bid.base);
 *   learned: a cpc goal priced from the click model, trained online by the OutcomeTrainer on the
 *            clicks this very run wins (CPM fallback until the model is ready, 2 % exploration);
 *   oracle:  the same cpc goal priced from the true CTR (the ceiling).
 * In process: decide() is called directly, first-price auctions, spend at our bid. Writes
 * bench/results/outcomes-latest.json and outcomes-latest.svg (clicks over spend).
 *
 * The cpc target is the one at which the oracle just spends the budget by the end of the stream (found
 * by bisection), so both goal policies are asked for the same eCPC and the budget binds.
 *
 *   npm run bench:outcomes [-- --requests 200000 --seed outcomes --budget 40 --target 0.3]
 */
import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSnapshot } from '../src/campaigns/snapshot.js';
import type { Campaign, ConfigBundle } from '../src/campaigns/schema.js';
import { decide } from '../src/bidding/bidder.js';
import { NO_AUDIENCE } from '../src/audiences/audience-service.js';
import { parseBidRequest } from '../src/openrtb/parse-request.js';
import { isRefusal } from '../src/openrtb/protobuf-codec.js';
import type { BidRequestView } from '../src/openrtb/request-view.js';
import { RequestGenerator } from '../src/simulator/requests.js';
import { BANNER_SIZES } from '../src/simulator/vocabulary.js';
import { GroundTruth, competingBid, type Truth } from '../src/simulator/market.js';
import { Rng } from '../src/simulator/rng.js';
import { DEFAULT_TRAINER, OutcomeTrainer } from '../src/models/trainer.js';
import { NO_MODELS, type OutcomeModels } from '../src/models/outcome-models.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '200000' },
    seed: { type: 'string', default: 'outcomes' },
    /** The budget of every policy, in USD. */
    budget: { type: 'string', default: '40' },
    /** The static CPM. */
    cpm: { type: 'string', default: '2' },
    /** The cpc goal's target; unset: the target at which the oracle spends the budget over the stream. */
    target: { type: 'string' },
  },
});
const N = Number(args.requests);
const BUDGET = Number(args.budget);
const CPM = Number(args.cpm);
let TARGET = Number(args.target ?? NaN);
const MAX_BID = 20;
const T0 = Date.parse('2026-06-01T00:00:00Z');
/** Simulated time per request: the stream covers about two days, so click windows and hours pass. */
const STEP_MS = Math.max(1, Math.round((2 * 86_400_000) / N));
const PUBLISH_EVERY = 5_000;

type Policy = 'static' | 'learned' | 'oracle';

function campaign(goal: boolean): Campaign {
  return {
    id: 'c',
    advertiserId: 'adv',
    bid: { base: CPM, max: MAX_BID },
    ...(goal ? { goal: { type: 'cpc' as const, target: TARGET, explore: 0.02 } } : {}),
    creatives: BANNER_SIZES.map(([w, h]) => ({ id: `cr-${w}x${h}`, type: 'banner' as const, w, h, html: '<a href="${DSP_CLICK_URL}">ad</a>' })),
  };
}

const bundle = (goal: boolean): ConfigBundle => ({
  exchanges: [{ id: 'sim', seat: 'dsp', currency: 'USD' }],
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'adv', name: 'Advertiser', domains: ['advertiser.example'] }],
  campaigns: [campaign(goal)],
});

interface Market {
  readonly views: BidRequestView[];
  readonly truth: Truth[];
  readonly competing: Float64Array;
  readonly clickDraw: Float64Array;
  readonly conversionDraw: Float64Array;
}

function market(): Market {
  const gen = new RequestGenerator(args.seed, { users: 0, unknownUserShare: 1 });
  const gt = new GroundTruth(args.seed);
  const rng = new Rng(`${args.seed}|market`);
  const views: BidRequestView[] = [];
  const truth: Truth[] = [];
  const competing = new Float64Array(N);
  const clickDraw = new Float64Array(N);
  const conversionDraw = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const v = parseBidRequest(Buffer.from(JSON.stringify(gen.next().request)), 64);
    if (isRefusal(v)) throw new Error(`generated request refused: ${v.message}`);
    views.push(v);
    truth.push(gt.of(v, T0 + i * STEP_MS));
    competing[i] = competingBid(v.imps[0].bidFloor, rng);
    clickDraw[i] = rng.next();
    conversionDraw[i] = rng.next();
  }
  return { views, truth, competing, clickDraw, conversionDraw };
}

interface Result {
  impressions: number;
  clicks: number;
  conversions: number;
  spend: number;
  ecpc: number;
  /** [spend, clicks] after every 200 impressions, for the plot. */
  curve: [number, number][];
}

function run(policy: Policy, m: Market, trainerOut?: { trainer?: OutcomeTrainer }): Result {
  const snap = buildSnapshot(bundle(policy !== 'static'), 1);
  const ex = snap.defaultExchange;
  const trainer = policy === 'learned' ? new OutcomeTrainer({ ...DEFAULT_TRAINER, conversionWindowSec: 86_400 }) : undefined;
  if (trainerOut) trainerOut.trainer = trainer;
  let models: OutcomeModels = policy === 'learned' ? { ...NO_MODELS, record: true } : NO_MODELS;
  const r: Result = { impressions: 0, clicks: 0, conversions: 0, spend: 0, ecpc: 0, curve: [[0, 0]] };
  for (let i = 0; i < N && r.spend < BUDGET; i++) {
    const now = T0 + i * STEP_MS;
    const sec = Math.floor(now / 1000);
    if (trainer && i % PUBLISH_EVERY === 0 && i > 0) {
      trainer.expire(sec);
      models = trainer.publish(true);
    }
    const v = m.views[i];
    const d = decide(v, snap, ex, now, NO_AUDIENCE, undefined, undefined, models);
    if (d.bids === undefined) continue;
    const b = d.bids.find((x) => x.imp === v.imps[0]);
    if (b === undefined) continue; // the truth is the first imp's
    const t = m.truth[i];
    let price = b.price;
    if (policy === 'oracle') {
      price = Math.min(MAX_BID, TARGET * t.ctr * 1000);
      if (price < v.imps[0].bidFloor) continue;
    }
    if (!(price > m.competing[i])) continue;
    r.spend += price / 1000;
    r.impressions++;
    const bidId = `b${i}`;
    trainer?.bid(bidId, 'c', b.features!, sec);
    trainer?.impression(bidId, sec);
    if (m.clickDraw[i] < t.ctr) {
      r.clicks++;
      trainer?.click(bidId, sec);
      if (m.conversionDraw[i] < t.cvr) {
        r.conversions++;
        trainer?.conversion(bidId, 'c', 0);
      }
    }
    if (r.impressions % 200 === 0) r.curve.push([r.spend, r.clicks]);
  }
  r.curve.push([r.spend, r.clicks]);
  r.ecpc = r.clicks ? r.spend / r.clicks : NaN;
  return r;
}

function svg(results: Record<Policy, Result>): string {
  const W = 640;
  const H = 400;
  const pad = 50;
  const maxX = Math.max(...Object.values(results).map((r) => r.spend)) || 1;
  const maxY = Math.max(...Object.values(results).map((r) => r.clicks)) || 1;
  const colors: Record<Policy, string> = { static: '#888888', learned: '#1f77b4', oracle: '#2ca02c' };
  const x = (s: number) => (pad + (s / maxX) * (W - 2 * pad)).toFixed(1);
  const y = (c: number) => (H - pad - (c / maxY) * (H - 2 * pad)).toFixed(1);
  const lines = (Object.keys(results) as Policy[]).map((p, k) => {
    const pts = results[p].curve.map(([s, c]) => `${x(s)},${y(c)}`).join(' ');
    return `<polyline fill="none" stroke="${colors[p]}" stroke-width="2" points="${pts}"/><text x="${pad + 10}" y="${pad + 16 * (k + 1)}" fill="${colors[p]}" font-size="13">${p}: ${results[p].clicks} clicks, $${results[p].spend.toFixed(2)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="black"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="13">spend (USD, max ${maxX.toFixed(0)})</text>`,
    `<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle" font-size="13">clicks (max ${maxY})</text>`,
    ...lines,
    '</svg>',
  ].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const m = market();
  let sum = 0;
  let lo = Infinity;
  let hi = 0;
  for (const t of m.truth) {
    sum += t.ctr;
    lo = Math.min(lo, t.ctr);
    hi = Math.max(hi, t.ctr);
  }
  if (!(TARGET > 0)) {
    // The oracle's spend rises with the target: the lowest target that spends the budget.
    let lo = 0.001;
    let hi = 100;
    for (let k = 0; k < 14; k++) {
      TARGET = Math.sqrt(lo * hi);
      if (run('oracle', m).spend >= BUDGET) hi = TARGET;
      else lo = TARGET;
    }
    TARGET = hi;
  }
  const holder: { trainer?: OutcomeTrainer } = {};
  const results = { static: run('static', m), learned: run('learned', m, holder), oracle: run('oracle', m) };
  const quality = holder.trainer!.report();
  const strip = (r: Result) => ({ impressions: r.impressions, clicks: r.clicks, conversions: r.conversions, spend: Math.round(r.spend * 100) / 100, ecpc: Math.round(r.ecpc * 1000) / 1000 });
  const out = {
    when: new Date().toISOString(),
    settings: { requests: N, seed: args.seed, budget: BUDGET, staticCpm: CPM, cpcTarget: TARGET, maxBid: MAX_BID },
    market: { meanCtr: sum / N, minCtr: lo, maxCtr: hi },
    policies: { static: strip(results.static), learned: strip(results.learned), oracle: strip(results.oracle) },
    learnedVsStatic: results.learned.clicks / results.static.clicks,
    learnedVsOracle: results.learned.clicks / results.oracle.clicks,
    model: { auc: quality.click.auc, logLoss: quality.click.logLoss, trained: quality.click.trained, positives: quality.click.positives, calibration: quality.click.calibration },
    seconds: (Date.now() - started) / 1000,
  };
  const dir = join(process.cwd(), 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'outcomes-latest.json'), JSON.stringify(out, null, 2) + '\n');
  await writeFile(join(dir, 'outcomes-latest.svg'), svg(results) + '\n');
  console.log(JSON.stringify({ market: out.market, policies: out.policies, learnedVsStatic: out.learnedVsStatic, learnedVsOracle: out.learnedVsOracle, auc: out.model.auc, seconds: out.seconds }, null, 2));
}

void main();
