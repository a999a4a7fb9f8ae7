/**
 * The event writer's group commit alone: paced writeDurable() calls at a few rates, time to
 * resolution p50/p99, for a few `groupCommitMs` windows (0: a group starts as soon as the previous
 * spool pass finished), run in turn, round after round. The spool is on the temporary directory's
 * disk; the store takes everything (no insert work worth the name).
 *
 *   node dist/bench/group-commit.js [--rates 300,3000] [--windows 0,1,2,5] [--seconds 4] [--rounds 3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { EventWriter } from '../src/events/event-writer.js';
import { EventMetrics } from '../src/metrics/event-metrics.js';
import type { EventDatabase } from '../src/events/event-database.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const rates = arg('rates', '300,3000').split(',').map(Number);
const windows = arg('windows', '0,1,2,5').split(',').map(Number);
const seconds = Number(arg('seconds', '4'));
const rounds = Number(arg('rounds', '3'));

const store: EventDatabase = {
  kind: 'chdb',
  async exec() {},
  async query() {
    return [];
  },
  async insert() {},
  async close() {},
};

async function run(rate: number, groupCommitMs: number): Promise<{ p50: number; p99: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'group-commit-'));
  const writer = new EventWriter({ store, dataDir, metrics: new EventMetrics(new Registry()), groupCommitMs, log: () => {} });
  await writer.started;
  const times: number[] = [];
  const pending: Promise<void>[] = [];
  let n = 0;
  const start = performance.now();
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      while (n < Math.floor((elapsed / 1000) * rate)) {
        const t0 = performance.now();
        const i = n++;
        pending.push(
          writer
            .writeDurable({ type: 'billing', event_id: `g${i}`, event_time: 0, exchange: 'x', advertiser_id: 'a', campaign_id: 'c', creative_id: 'cr', bid_id: `b${i}`, request_id: '', imp_id: '1', deal_id: '', placement: 'example.com', placement_type: 'site', publisher_id: 'p', country: 'USA', device_type: 2, bid_cpm_base: 1, clear_cpm_base: 1, currency: 'USD' })
            .then(() => {
              if (elapsed >= 500) times.push(performance.now() - t0);
            }),
        );
      }
      if (elapsed >= 500 + seconds * 1000) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
  await Promise.all(pending);
  await writer.close();
  await rm(dataDir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)] };
}

const all = new Map<string, { p50: number; p99: number }[]>();
for (let round = 1; round <= rounds; round++)
  for (const rate of rates)
    for (const w of windows) {
      const r = await run(rate, w);
      const key = `${rate}/s groupCommitMs=${w}`;
      if (!all.has(key)) all.set(key, []);
      all.get(key)!.push(r);
      console.log(`round ${round} ${key}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
    }
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('\nmedian over rounds:');
for (const [key, rs] of all) console.log(`  ${key}: p50 ${median(rs.map((r) => r.p50)).toFixed(2)} ms, p99 ${median(rs.map((r) => r.p99)).toFixed(2)} ms`);
