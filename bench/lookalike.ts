/**
 * Lookalike audiences against a population with a hidden propensity to convert
 * (src/simulator/lookalike-market.ts): a seed of converters, a lookalike built from the users'
 * profiles, and the conversion rate of each decile of its ranking against the base rate of the
 * users outside the seed. Prints the lift curve and writes bench/results/lookalike-latest.json.
 *
 *   npm run bench:lookalike [-- --users 200000 --seed-converters 1000 --seed lookalike]
 */
import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { measureLookalike } from '../src/simulator/lookalike-market.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '200000' },
    'seed-converters': { type: 'string', default: '1000' },
    seed: { type: 'string', default: 'lookalike' },
  },
});
const report = await measureLookalike({ users: Number(values.users), seedConverters: Number(values['seed-converters']), seed: values.seed! });
const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
console.log(`users ${report.users}, seed ${report.seed} converters (${report.positivesSeen} seen), build ${report.buildSeconds.toFixed(2)} s`);
console.log(`base rate outside the seed: ${pct(report.baseRate)}`);
console.log('decile | conversion rate | lift');
report.deciles.forEach((r, d) => console.log(`${String(d + 1).padStart(6)} | ${pct(r).padStart(15)} | ${(r / report.baseRate).toFixed(2)}x`));
const dir = join(process.cwd(), 'bench', 'results');
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'lookalike-latest.json'), JSON.stringify({ at: new Date().toISOString(), ...report }, null, 2) + '\n');
