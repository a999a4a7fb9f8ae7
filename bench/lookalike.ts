/**
 * Lookalike audiences against a population with a hidden propensity to convert
 * (src/simulator/lookalike-market.ts): a seed of converters, a lookalike built from the users'
 * profiles, and the conversion rate of each decile of its ranking against the base rate of the
 * users outside the seed. Also the cost: the profile store's heap per user (a store filled on
 * its own, measured between two full collections), the build's time, and the process's peak RSS.
 *
 * Prints the lift curve and writes bench/results/lookalike-<profiles>.json,
 * bench/results/lookalike-latest.json and bench/results/lookalike-lift.svg.
 *
 *   npm run bench:lookalike [-- --profiles 200000 --seed-converters 1000 --seed lookalike]
 *
 * (`--users` is the older name of `--profiles`.) Run through the npm script: it passes
 * --expose-gc, without which the heap figures are left out.
 */
import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { measureLookalike, population, type LiftReport } from '../src/simulator/lookalike-market.js';
import { ProfileStore } from '../src/audiences/profiles.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string' },
    users: { type: 'string' },
    'seed-converters': { type: 'string', default: '1000' },
    seed: { type: 'string', default: 'lookalike' },
  },
});
const profiles = Number(values.profiles ?? values.users ?? '200000');
const seedConverters = Number(values['seed-converters']);
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;

// 1. What the store itself costs: filled on its own, the simulator's users dropped.
let storeBytes: number | undefined;
if (gc) {
  const before = heap();
  let store: ProfileStore | undefined = new ProfileStore(profiles);
  population(store, { users: profiles, seed: values.seed! });
  storeBytes = heap() - before;
  store = undefined;
  void store;
  heap();
}

// 2. The lift and the build time, on a fresh population with the same seed.
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
const report = await measureLookalike({ users: profiles, seedConverters, seed: values.seed! });
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
console.log(`profiles ${report.users}, seed ${report.seed} converters (${report.positivesSeen} seen), build ${report.buildSeconds.toFixed(2)} s, peak RSS ${mb(peakRss)}`);
if (storeBytes !== undefined) console.log(`profile store: ${mb(storeBytes)} heap, ${Math.round(storeBytes / profiles)} bytes per profile`);
else console.log('profile store heap: not measured (run with node --expose-gc, as `npm run bench:lookalike` does)');
console.log(`base rate outside the seed: ${pct(report.baseRate)}`);
console.log('decile | conversion rate | lift');
report.deciles.forEach((r, d) => console.log(`${String(d + 1).padStart(6)} | ${pct(r).padStart(15)} | ${(r / report.baseRate).toFixed(2)}x`));

const result = {
  at: new Date().toISOString(),
  node: process.version,
  ...report,
  storeBytes,
  bytesPerProfile: storeBytes === undefined ? undefined : Math.round(storeBytes / profiles),
  peakRssBytes: peakRss,
};
const dir = join(process.cwd(), 'bench', 'results');
await mkdir(dir, { recursive: true });
const json = JSON.stringify(result, null, 2) + '\n';
await writeFile(join(dir, `lookalike-${profiles}.json`), json);
await writeFile(join(dir, 'lookalike-latest.json'), json);
await writeFile(join(dir, 'lookalike-lift.svg'), liftSvg(report));

/** The lift of each decile as bars, with the base rate (1x) and the 2x target as lines. */
function liftSvg(r: LiftReport): string {
  const W = 640;
  const H = 360;
  const left = 56;
  const bottom = 300;
  const top = 40;
  const lifts = r.deciles.map((d) => d / r.baseRate);
  const max = Math.max(3, Math.ceil(Math.max(...lifts)));
  const y = (v: number) => bottom - ((bottom - top) * v) / max;
  const bw = (W - left - 20) / 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Lookalike lift by decile: ${r.users.toLocaleString('en')} profiles, seed of ${r.seed} converters</text>`,
  ];
  for (let v = 0; v <= max; v++) out.push(`<text x="${left - 8}" y="${y(v) + 4}" text-anchor="end">${v}x</text>`, `<line x1="${left}" x2="${W - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
  lifts.forEach((l, d) => {
    const x = left + d * bw + 4;
    out.push(
      `<rect x="${x.toFixed(1)}" y="${y(l).toFixed(1)}" width="${(bw - 8).toFixed(1)}" height="${(bottom - y(l)).toFixed(1)}" fill="${d === 0 ? '#2b6cb0' : '#90cdf4'}"/>`,
      `<text x="${(x + (bw - 8) / 2).toFixed(1)}" y="${(y(l) - 4).toFixed(1)}" text-anchor="middle">${l.toFixed(2)}</text>`,
      `<text x="${(x + (bw - 8) / 2).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${d + 1}</text>`,
    );
  });
  out.push(
    `<line x1="${left}" x2="${W - 20}" y1="${y(1)}" y2="${y(1)}" stroke="#444" stroke-dasharray="4 3"/>`,
    `<text x="${W - 22}" y="${y(1) - 4}" text-anchor="end">base rate ${pct(r.baseRate)}</text>`,
    `<line x1="${left}" x2="${W - 20}" y1="${y(2)}" y2="${y(2)}" stroke="#c53030" stroke-dasharray="6 3"/>`,
    `<text x="${W - 22}" y="${y(2) - 4}" text-anchor="end" fill="#c53030">target 2x</text>`,
    `<text x="${W / 2}" y="${bottom + 36}" text-anchor="middle">decile of the ranking (users outside the seed, best scored first)</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
