/**
 * Frequency caps across bidder processes (the real dist/src/main.js) on one real Redis: three
 * processes bid for the same users and the impressions are sent back as a browser would, to
 * whichever process served the bid.
 *
 * - Simultaneous requests for one user on every process: the impressions stay within the documented
 *   race margin, cap + (T - 1) x cap for T bid threads (README, "Race margin"), and the Redis counter
 *   holds exactly the impressions that were shown.
 * - Requests further apart than the cache TTL and notice delay: exactly the cap, then every process
 *   answers `frequency_capped` for that user while it still bids for another.
 * - One process bidding again and again for a user, its impression notices on another process (as
 *   through one load-balanced notice address): exactly the cap, as when they come back to it. Each
 *   process runs one bid thread with the default FREQ_HOLD_MS (10 s, longer than these tests): the
 *   thread's held bid ends with the read of the counters that includes its impression, wherever
 *   that was recorded, so it is not counted twice; a loss on another process ends it too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RedisServer } from '../helpers/redis-server.js';
import { httpRequest } from '../helpers/bidder.js';
import { BidderProcess, MAIN } from '../helpers/bidder-process.js';
import { bannerRequest, impressionPixel, pathOf, substitute } from '../helpers/notice-kit.js';
import { TempDirs } from '../helpers/temp-dirs.js';
import { clearOfUtcMidnight } from '../helpers/utc-day.js';

const CAP = 3;
const THREADS = 3;
const CACHE_TTL_MS = 100;

const BUNDLE = {
  defaultExchange: 'default',
  exchanges: [{ id: 'default', seat: 'seat', currency: 'USD' }],
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'adv', name: 'Advertiser', domains: ['adv.example'] }],
  campaigns: [
    {
      id: 'capped',
      advertiserId: 'adv',
      bid: { base: 2, max: 2 },
      frequencyCaps: { caps: [{ scope: 'campaign', window: 'day', max: CAP }], countOn: 'impression', whenUnavailable: 'skip' },
      creatives: [{ id: 'cr-capped', type: 'banner', w: 300, h: 250, html: '<b>capped</b>' }],
    },
  ],
};

let redis: RedisServer;
const procs: BidderProcess[] = [];

const temp = new TempDirs();
const tempDir = (name: string) => temp.make(name);

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error('dist is missing: run `npx tsc -p tsconfig.build.json` (tests/run.sh does)');
  redis = await RedisServer.start();
  const configDir = await tempDir('freq-config');
  await writeFile(join(configDir, 'bundle.json'), JSON.stringify(BUNDLE));
  const start = async (i: number) =>
    BidderProcess.start({
      CONFIG_DIR: configDir,
      DATA_DIR: await tempDir(`freq-data-${i}`),
      REDIS_URL: redis.url,
      INSTANCE_ID: `fq${i}`,
      DEBUG_NOBID: '1',
      FREQ_CACHE_TTL_MS: String(CACHE_TTL_MS),
      WORKERS: '1',
      NOTICE_SIGNING_KEYS: 'fleet:0123456789abcdef0123456789abcdef', // one key for the fleet: any process verifies any notice
      DEFAULT_TMAX_MS: '500',
      TMAX_CAP_MS: '500',
      REQUEST_LOG_SAMPLE_RATE: '0',
      BID_LOG_SAMPLE_RATE: '0',
    });
  procs.push(...(await Promise.all(Array.from({ length: THREADS }, (_, i) => start(i)))));
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.terminate()));
  await redis?.stop();
  await temp.removeAll();
});

let seq = 0;
/** A bid for `user` on `p`; when it bids, the impression is shown (its pixel fetched from `noticeTo`, by default the same process). */
async function bidAndShow(p: BidderProcess, user: string, noticeTo = p): Promise<'shown' | string> {
  const r = await p.post('/bid', bannerRequest(`f${++seq}`, { user: { id: user } }));
  if (r.status === 204) return String(r.headers['x-nobid-reason']);
  expect(r.status, r.text).toBe(200);
  const pixel = impressionPixel(r.json().seatbid[0].bid[0].adm);
  expect(pixel, 'an impression pixel in the adm').toBeDefined();
  const shown = await httpRequest(noticeTo.port, 'GET', pathOf(pixel!));
  expect(shown.status).toBe(200);
  return 'shown';
}

/** The user's recorded impressions of the campaign today, summed over the counters in Redis. */
async function recorded(): Promise<number> {
  const client = redis.client();
  try {
    let n = 0;
    for (const key of await client.keys('fq:*'))
      if ((await client.type(key)) === 'hash') n += Number((await client.hget(key, 'c:capped')) ?? 0);
    return n;
  } finally {
    client.disconnect();
  }
}

describe('frequency caps across three bidder processes on one Redis', () => {
  it('simultaneous requests for one user stay within cap + (T − 1) × cap, and every shown impression is counted', async () => {
    await clearOfUtcMidnight(30_000); // a daily cap: the whole test in one UTC day
    const outcomes = await Promise.all(procs.flatMap((p) => Array.from({ length: 20 }, () => bidAndShow(p, 'race-user'))));
    const shown = outcomes.filter((o) => o === 'shown').length;
    console.log(`frequency race: ${shown} impressions for a cap of ${CAP} on ${THREADS} processes (margin ${(THREADS - 1) * CAP})`);
    expect(shown).toBeGreaterThanOrEqual(CAP);
    expect(shown).toBeLessThanOrEqual(CAP + (THREADS - 1) * CAP);
    expect(outcomes.filter((o) => o !== 'shown').every((o) => o === 'frequency_capped')).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // the counters are written right after each pixel is answered
    expect(await recorded()).toBe(shown);
  }, 60_000);

  it('requests further apart than the cache TTL get exactly the cap, on whichever process; another user still gets bids', async () => {
    await clearOfUtcMidnight(30_000); // a daily cap: the whole test in one UTC day
    const before = await recorded();
    const outcomes: string[] = [];
    for (let i = 0; i < 9; i++) {
      outcomes.push(await bidAndShow(procs[i % THREADS], 'spaced-user'));
      await new Promise((r) => setTimeout(r, CACHE_TTL_MS * 2.5));
    }
    expect(outcomes.slice(0, CAP)).toEqual(Array(CAP).fill('shown'));
    expect(outcomes.slice(CAP)).toEqual(Array(9 - CAP).fill('frequency_capped'));
    expect((await recorded()) - before).toBe(CAP);
    for (const p of procs) expect(await bidAndShow(p, `fresh-user-${p.port}`)).toBe('shown');
  }, 60_000);

  it('one process bidding again and again, its impression notices on the others: exactly the cap, as when they come back to it', async () => {
    await clearOfUtcMidnight(30_000); // a daily cap: the whole test in one UTC day
    const delivered: Record<string, number> = {};
    for (const mode of ['sticky', 'balanced'] as const) {
      const before = await recorded();
      const outcomes: string[] = [];
      for (let i = 0; i < 6; i++) {
        outcomes.push(await bidAndShow(procs[0], `${mode}-user`, mode === 'sticky' ? procs[0] : procs[1 + (i % 2)]));
        await new Promise((r) => setTimeout(r, CACHE_TTL_MS * 2.5));
      }
      delivered[mode] = outcomes.filter((o) => o === 'shown').length;
      expect(outcomes, mode).toEqual([...Array(CAP).fill('shown'), ...Array(6 - CAP).fill('frequency_capped')]);
      expect((await recorded()) - before).toBe(CAP);
    }
    console.log(`frequency, one process bidding, cap ${CAP}: ${delivered.sticky} impressions with the notices back to it, ${delivered.balanced} with them on the other processes`);
  }, 60_000);

  it('a loss notice on another process ends the hold of the bid on the process that made it', async () => {
    await clearOfUtcMidnight(30_000);
    const lurls: string[] = [];
    for (let i = 0; i < CAP; i++) {
      const r = await procs[0].post('/bid', bannerRequest(`f${++seq}`, { user: { id: 'losing-user' } }));
      expect(r.status, r.text).toBe(200);
      lurls.push(r.json().seatbid[0].bid[0].lurl);
    }
    // Three bids held, none shown yet: the cap is reached on this thread.
    const held = await procs[0].post('/bid', bannerRequest(`f${++seq}`, { user: { id: 'losing-user' } }));
    expect(held.headers['x-nobid-reason']).toBe('frequency_capped');
    for (const [i, lurl] of lurls.entries()) {
      const r = await httpRequest(procs[1 + (i % 2)].port, 'GET', pathOf(substitute(lurl, { loss: '102', minToWin: '3', price: '', currency: 'USD' })));
      expect(r.status).toBe(204);
    }
    await new Promise((r) => setTimeout(r, CACHE_TTL_MS * 2.5));
    expect(await bidAndShow(procs[0], 'losing-user')).toBe('shown');
  }, 60_000);
});
