/**
 * Budgets in a fleet whose notices land on any instance (one load-balanced address): four bidder
 * processes (the real dist/src/main.js, WORKERS=1) with the default budget settings on one real
 * Redis, then on a real 3-master Redis Cluster. Two campaigns with the same small daily budget are
 * flooded at once: `sticky` gets each notice back on the process that made the bid, `spread` on
 * another process every time. A tenth of the bids lose (a loss notice), the rest are billed at 80 %
 * of the bid. Both must spend at least 90 % of the budget, never more than it allows (the bound,
 * and 101 %), and `spread` must buy at at least 80 % of `sticky`'s rate.
 *
 * The budget is scaled down for the suite (1 USD: the issue's 3 USD in 90 s would be 30 s at the same
 * rate; it gets 45 s). FLEET_DAILY_USD=3 runs the full size by hand (the README gives the numbers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RedisServer } from '../helpers/redis-server.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { httpRequest } from '../helpers/bidder.js';
import { BidderProcess, MAIN } from '../helpers/bidder-process.js';
import { bannerRequest, pathOf, substitute } from '../helpers/notice-kit.js';
import { createRedis, type RedisLike } from '../../src/storage/redis-client.js';
import { dayOf } from '../../src/money/accounts.js';
import { clearOfUtcMidnight } from '../helpers/utc-day.js';
import { TempDirs } from '../helpers/temp-dirs.js';

const DAILY = Number(process.env.FLEET_DAILY_USD ?? 1); // USD
// The target at full size (3 USD in 90 s); the scaled suite run gets half as long again, as the
// machine running the suite is often shared (under a load of 26 on two cores, 3 USD took 83 s to reach 90 %).
const DEADLINE_MS = DAILY >= 3 ? 90_000 : ((90_000 * DAILY) / 3) * 1.5;
const BID = 5; // CPM; max bid 6
const MAX_BID = 6;
const CLEAR = 4; // the exchange bills 80 % of the bid
const PROCESSES = 4;
const CLIENTS = 4; // per process and campaign
const SLICE = 0.002; // BUDGET_SLICE's default

const CAMPAIGNS = { sticky: { w: 300, h: 250 }, spread: { w: 320, h: 50 } } as const;
type Mode = keyof typeof CAMPAIGNS;

const BUNDLE = {
  defaultExchange: 'default',
  exchanges: [{ id: 'default', seat: 'seat', currency: 'USD' }],
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'adv', name: 'Advertiser', domains: ['adv.example'] }],
  campaigns: Object.entries(CAMPAIGNS).map(([id, size]) => ({
    id,
    advertiserId: 'adv',
    bid: { base: BID, max: MAX_BID },
    budget: { daily: DAILY, pacing: 'asap' },
    creatives: [{ id: `cr-${id}`, type: 'banner', ...size, html: `<b>${id}</b>` }],
  })),
};

interface Run {
  bids: number;
  billed: number; // micros the exchange charged
  losses: number;
  /** ms from the start until 90 % of the budget was billed (Infinity: never). */
  t90: number;
  /** ms from the start to the last bid. */
  last: number;
}

const temp = new TempDirs();
afterAll(() => temp.removeAll());

for (const backend of ['redis', 'redis cluster (3 masters)'] as const) {
  describe(`budgets with notices on any of four processes: ${backend}`, () => {
    let stop: () => Promise<void>;
    let url: string;
    let raw: RedisLike;
    const procs: BidderProcess[] = [];

    beforeAll(async () => {
      if (!existsSync(MAIN)) throw new Error('dist is missing: run `npx tsc -p tsconfig.build.json` (tests/run.sh does)');
      if (backend === 'redis') {
        const server = await RedisServer.start();
        ({ url } = server);
        stop = () => server.stop();
      } else {
        const cluster = await RedisCluster.start();
        ({ url } = cluster);
        stop = () => cluster.stop();
      }
      raw = createRedis(url);
      const configDir = await temp.make('fleet-config');
      await writeFile(join(configDir, 'bundle.json'), JSON.stringify(BUNDLE));
      const start = async (i: number) =>
        BidderProcess.start({
          CONFIG_DIR: configDir,
          DATA_DIR: await temp.make(`fleet-data-${i}`),
          REDIS_URL: url,
          INSTANCE_ID: `fleet${i}`,
          NOTICE_SIGNING_KEYS: 'fleet:0123456789abcdef0123456789abcdef', // one key for the fleet: any instance verifies any notice
          REQUEST_LOG_SAMPLE_RATE: '0',
          BID_LOG_SAMPLE_RATE: '0',
        }, 60_000); // four at once on a busy machine
      procs.push(...(await Promise.all(Array.from({ length: PROCESSES }, (_, i) => start(i + 1)))));
    }, 120_000);

    afterAll(async () => {
      await Promise.all(procs.map((p) => p.terminate()));
      raw?.disconnect();
      await stop?.();
    });

    const spentMicros = async (campaign: string) => Number((await raw.hget(`{bgt}:c:${campaign}:d:${dayOf(Date.now())}`, 'spent')) ?? 0);

    it('both spend at least 90 % of the budget and never pass it; notices elsewhere buy at at least 80 % of the sticky rate', async () => {
      await clearOfUtcMidnight(DEADLINE_MS + 30_000);
      const began = performance.now();
      const limit = DAILY * 1e6;
      let seq = 0;
      const flood = async (mode: Mode): Promise<Run> => {
        const run: Run = { bids: 0, billed: 0, losses: 0, t90: Infinity, last: 0 };
        const { w, h } = CAMPAIGNS[mode];
        const done = () => {
          const now = performance.now() - began;
          return now > DEADLINE_MS || (run.last > 0 && now - run.last > 2_000);
        };
        await Promise.all(
          procs.flatMap((p, i) =>
            Array.from({ length: CLIENTS }, async () => {
              while (!done()) {
                const r = await p.post('/bid', bannerRequest(`${mode}${++seq}`, { imp: [{ id: '1', banner: { w, h }, bidfloor: 0.1 }] }));
                if (r.status === 204) continue;
                expect(r.status).toBe(200);
                const bid = r.json().seatbid[0].bid[0];
                run.bids++;
                run.last = performance.now() - began;
                // Sticky: back to the bidding process. Spread: any other of the four, as a load balancer would.
                const to = mode === 'sticky' ? p : procs[(i + 1 + Math.floor(Math.random() * (PROCESSES - 1))) % PROCESSES];
                const lose = run.bids % 10 === 0;
                const url = lose ? substitute(bid.lurl, { loss: '102', minToWin: '6', price: '', currency: 'USD' }) : substitute(bid.burl, { price: String(CLEAR), currency: 'USD' });
                const n = await httpRequest(to.port, 'GET', pathOf(url));
                expect(n.status).toBe(204);
                if (lose) run.losses++;
                else {
                  run.billed += CLEAR * 1000;
                  if (run.billed >= 0.9 * limit && run.t90 === Infinity) run.t90 = performance.now() - began;
                }
              }
            }),
          ),
        );
        return run;
      };
      const [sticky, spread] = await Promise.all([flood('sticky'), flood('spread')]);
      // Spend is recorded right after each notice is answered; a write that timed out is retried with the next renewal.
      const recorded = { sticky: 0, spread: 0 };
      for (const mode of ['sticky', 'spread'] as const) {
        const billed = mode === 'sticky' ? sticky.billed : spread.billed;
        for (let i = 0; i < 100 && (recorded[mode] = await spentMicros(mode)) < billed; i++) await new Promise((r) => setTimeout(r, 50));
      }
      const rate = (r: Run) => (0.9 * limit) / CLEAR / 1000 / (r.t90 / 1000); // impressions a second until 90 %
      const line = (mode: Mode, r: Run) =>
        `${mode}: ${r.bids} bids (${r.losses} lost), ${(r.billed / 1e6).toFixed(3)} USD billed = ${((recorded[mode] / limit) * 100).toFixed(2)} % recorded, ` +
        `90 % after ${(r.t90 / 1000).toFixed(1)} s (${rate(r).toFixed(1)} impressions/s), last bid at ${(r.last / 1000).toFixed(1)} s`;
      console.log(`${backend}, daily ${DAILY} USD, deadline ${DEADLINE_MS / 1000} s\n  ${line('sticky', sticky)}\n  ${line('spread', spread)}\n  spread/sticky rate ${(rate(spread) / rate(sticky)).toFixed(2)}`);
      const bound = PROCESSES * Math.max(Math.floor(limit * SLICE), MAX_BID * 1000);
      for (const [mode, r] of [['sticky', sticky], ['spread', spread]] as const) {
        expect(recorded[mode]).toBe(r.billed);
        expect(recorded[mode]).toBeLessThanOrEqual(limit + bound);
        expect(recorded[mode]).toBeLessThanOrEqual(limit * 1.01);
        expect(recorded[mode]).toBeGreaterThanOrEqual(limit * 0.9);
        expect(r.t90).toBeLessThan(DEADLINE_MS);
      }
      expect(rate(spread)).toBeGreaterThanOrEqual(0.8 * rate(sticky));
    }, DEADLINE_MS + 60_000);
  });
}
