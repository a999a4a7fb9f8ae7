/**
 * Outcome bidding against a market with a known truth: static CPM, the learned cpc goal and the
 * oracle, on the same seeded stream at several budgets (bench/outcome-lift.ts says how). Writes
 * bench/results/outcomes-latest.json (`policies`: the headline budget's static, learned and oracle
 * figures; `levels`: every budget's; the lift curve's areas; the click model's AUC) and
 * outcomes-latest.svg (clicks over spend, one point per budget).
 *
 *   npm run bench:outcomes [-- --requests 300000 --history 300000 --seed outcomes --shares 1/32,1/16,1/8,1/4,1/2 --headline 2 --out DIR]
 */
import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIFT, liftSvg, measureLift, type PolicyResult } from './outcome-lift.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: String(DEFAULT_LIFT.requests) },
    history: { type: 'string', default: String(DEFAULT_LIFT.history) },
    seed: { type: 'string', default: DEFAULT_LIFT.seed },
    /** Budgets as shares of the static CPM's spend on the whole stream, comma-separated (`1/8` or `0.125`). */
    shares: { type: 'string', default: '1/32,1/16,1/8,1/4,1/2' },
    headline: { type: 'string', default: String(DEFAULT_LIFT.headline) },
    cpm: { type: 'string', default: String(DEFAULT_LIFT.cpm) },
    explore: { type: 'string', default: String(DEFAULT_LIFT.explore) },
    out: { type: 'string', default: join(process.cwd(), 'bench', 'results') },
  },
});

const share = (x: string) => {
  const [a, b] = x.split('/');
  return b === undefined ? Number(a) : Number(a) / Number(b);
};

async function main(): Promise<void> {
  const settings = {
    ...DEFAULT_LIFT,
    requests: Number(args.requests),
    history: Number(args.history),
    seed: args.seed,
    budgetShares: args.shares.split(',').map(share),
    headline: Number(args.headline),
    cpm: Number(args.cpm),
    explore: Number(args.explore),
  };
  if (!(settings.headline >= 0 && settings.headline < settings.budgetShares.length)) throw new Error('--headline must index --shares');
  const r = measureLift(settings, (line) => console.error(line));
  const head = r.levels[settings.headline];
  const strip = (p: PolicyResult) => ({ impressions: p.impressions, clicks: p.clicks, conversions: p.conversions, spend: Math.round(p.spend * 100) / 100, ecpc: Math.round(p.ecpc * 1000) / 1000 });
  const out = {
    when: new Date().toISOString(),
    settings: r.settings,
    market: r.market,
    history: r.history,
    headline: { share: head.share, budget: head.budget, cpcTarget: head.cpcTarget },
    policies: { static: strip(head.policies.static), learned: strip(head.policies.learned), oracle: strip(head.policies.oracle) },
    learnedVsStatic: head.learnedVsStatic,
    learnedVsOracle: head.learnedVsOracle,
    learnedEcpcOverTarget: head.learnedEcpcOverTarget,
    model: head.model,
    levels: r.levels.map((l) => ({
      share: l.share,
      budget: l.budget,
      cpcTarget: l.cpcTarget,
      policies: { static: strip(l.policies.static), learned: strip(l.policies.learned), oracle: strip(l.policies.oracle) },
      learnedVsStatic: l.learnedVsStatic,
      learnedVsOracle: l.learnedVsOracle,
      learnedEcpcOverTarget: l.learnedEcpcOverTarget,
      auc: l.model.auc,
    })),
    curveArea: r.curveArea,
    learnedAreaVsStatic: r.curveArea.learned / r.curveArea.static,
    learnedAreaVsOracle: r.curveArea.learned / r.curveArea.oracle,
    seconds: r.seconds,
  };
  await mkdir(args.out, { recursive: true });
  await writeFile(join(args.out, 'outcomes-latest.json'), JSON.stringify(out, null, 2) + '\n');
  await writeFile(join(args.out, 'outcomes-latest.svg'), liftSvg(r) + '\n');
  console.log('| budget (share) | cpc target | static clicks | learned clicks | oracle clicks | learned/static | learned/oracle | learned eCPC/target | AUC |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const l of out.levels)
    console.log(
      `| ${l.budget.toFixed(2)} (${l.share.toFixed(4)}) | ${l.cpcTarget.toFixed(3)} | ${l.policies.static.clicks} | ${l.policies.learned.clicks} | ${l.policies.oracle.clicks} | ${l.learnedVsStatic.toFixed(2)} | ${l.learnedVsOracle.toFixed(2)} | ${l.learnedEcpcOverTarget.toFixed(2)} | ${l.auc.toFixed(3)} |`,
    );
  console.log(`curve area: learned/static ${out.learnedAreaVsStatic.toFixed(2)}, learned/oracle ${out.learnedAreaVsOracle.toFixed(2)}; ${out.seconds.toFixed(0)} s`);
}

void main();
