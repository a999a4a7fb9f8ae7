/**
 * Two bidder processes (the real dist/src/main.js; one with a single bid thread, one with two
 * worker threads) on one real Redis config store, both under bid load: a change made through one
 * process's config API shows up in both processes' bids within a second, measured from the moment
 * the API request is sent, with no failed bid request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { RedisServer } from '../helpers/redis-server.js';
import { httpRequest } from '../helpers/bidder.js';
import { BidderProcess, MAIN } from '../helpers/bidder-process.js';
import { bidRequest } from '../helpers/config-api.js';
import { createRedisConfigStore, type RedisConfigStore } from '../../src/campaigns/redis-config-store.js';
import { seedStore } from '../../src/campaigns/config-store.js';
import { banner, tenants } from './fixtures.js';

const ADMIN_KEY = 'propagation-admin-key-0123456789';

type Bidder = BidderProcess;

let redis: RedisServer;
let store: RedisConfigStore;
const bidders: Bidder[] = [];

const dataDirs: string[] = [];

async function startBidder(url: string, workers: number): Promise<Bidder> {
  const dataDir = await mkdtemp(join(tmpdir(), 'propagation-'));
  dataDirs.push(dataDir);
  return BidderProcess.start({
    DATA_DIR: dataDir,
    CONFIG_STORE: 'redis',
    CONFIG_REDIS_URL: url,
    DSP_ADMIN_KEY: ADMIN_KEY,
    API_RATE_LIMIT: '10000',
    API_RATE_BURST: '10000',
    WORKERS: String(workers),
    DEFAULT_TMAX_MS: '1000',
    TMAX_CAP_MS: '1000',
  });
}

const api = (b: Bidder, method: string, path: string, body?: unknown) =>
  httpRequest(b.adminPort, method, path, body === undefined ? undefined : JSON.stringify(body), { authorization: `Bearer ${ADMIN_KEY}` });

async function winnerOf(b: Bidder): Promise<string | undefined> {
  const r = await httpRequest(b.port, 'POST', '/bid', JSON.stringify(bidRequest()));
  if (r.status === 204) return undefined;
  if (r.status !== 200) throw new Error(`bid answered ${r.status}`);
  return r.json().seatbid[0].bid[0].crid;
}

/** Bids on `b` until it answers with `crid` (or nobody, for undefined); resolves with when it first did. */
async function firstSeen(b: Bidder, crid: string | undefined, timeoutMs = 3_000): Promise<number> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if ((await winnerOf(b)) === crid) return performance.now();
  }
  throw new Error(`bidder on ${b.port} never bid ${crid} within ${timeoutMs} ms`);
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error('dist is missing: run `npx tsc -p tsconfig.build.json` (tests/run.sh does)');
  redis = await RedisServer.start();
  store = createRedisConfigStore(redis.url);
  // The base configuration: globex bids 0.5, so any campaign below outbids it.
  expect(await seedStore(store, { ...tenants, campaigns: [tenants.campaigns![1]] })).toBe(true);
  bidders.push(...(await Promise.all([startBidder(redis.url, 1), startBidder(redis.url, 2)])));
});

afterAll(async () => {
  const exits = await Promise.all(bidders.map((b) => b.terminate()));
  for (const e of exits) expect(e.code).toBe(0);
  await store?.close();
  await redis?.stop();
  for (const d of dataDirs) await rm(d, { recursive: true, force: true });
});

describe('two bidder processes, one Redis config store', () => {
  it('a change through the API reaches both bidders\' bids within 1 s, under load, with no failed request', async () => {
    const [a, b] = bidders;
    expect(await winnerOf(a)).toBe('globex-cr1');
    expect(await winnerOf(b)).toBe('globex-cr1');

    const loads = bidders.map((x) =>
      autocannon({
        url: `http://127.0.0.1:${x.port}/bid`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bidRequest()),
        connections: 8,
        duration: 60,
        timeout: 5,
      }),
    );
    const measured: { change: string; a: number; b: number; apiMs: number }[] = [];
    try {
      await new Promise((r) => setTimeout(r, 300)); // load running

      // Approvals: each new campaign outbids the last once its creative is approved.
      for (let i = 1; i <= 5; i++) {
        const crid = `p${i}-cr`;
        expect((await api(a, 'POST', '/api/v1/campaigns', { id: `p${i}`, advertiserId: 'acme', bid: { base: i, max: i } })).status).toBe(201);
        expect((await api(a, 'POST', '/api/v1/creatives', { ...banner(crid), campaignId: `p${i}` })).status).toBe(201);
        await new Promise((r) => setTimeout(r, 100));
        expect(await winnerOf(b)).not.toBe(crid); // pending: not bidding anywhere
        const t0 = performance.now();
        const seenA = firstSeen(a, crid);
        const seenB = firstSeen(b, crid);
        const r = await api(a, 'POST', `/api/v1/creatives/${crid}/approve`);
        const apiMs = performance.now() - t0;
        expect(r.status).toBe(200);
        measured.push({ change: `approve ${crid}`, a: (await seenA) - t0, b: (await seenB) - t0, apiMs });
      }
      // Pauses, through the other process's API: the winner drops back to the previous campaign.
      for (let i = 5; i >= 3; i--) {
        const t0 = performance.now();
        const seenA = firstSeen(a, `p${i - 1}-cr`);
        const seenB = firstSeen(b, `p${i - 1}-cr`);
        const r = await api(b, 'POST', `/api/v1/campaigns/p${i}/pause`);
        const apiMs = performance.now() - t0;
        expect(r.status).toBe(200);
        measured.push({ change: `pause p${i}`, a: (await seenA) - t0, b: (await seenB) - t0, apiMs });
      }
    } finally {
      for (const l of loads) l.stop();
    }
    const results = await Promise.all(loads);

    const all = measured.flatMap((m) => [m.a, m.b]).sort((x, y) => x - y);
    const summary = {
      changes: measured.length,
      propagationMs: { median: Math.round(all[all.length >> 1]), max: Math.round(all.at(-1)!) },
      perChange: measured.map((m) => `${m.change}: A ${m.a.toFixed(1)} ms, B ${m.b.toFixed(1)} ms (API answered in ${m.apiMs.toFixed(1)} ms)`),
      load: results.map((r) => ({ requests: r.requests.total, perSecond: Math.round(r.requests.average), p99Ms: r.latency.p99, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx })),
    };
    console.log(`config propagation under load: ${JSON.stringify(summary, null, 2)}`);

    for (const m of measured) {
      expect(m.a, m.change).toBeLessThan(1_000);
      expect(m.b, m.change).toBeLessThan(1_000);
    }
    for (const r of results) {
      expect(r.errors).toBe(0);
      expect(r.timeouts).toBe(0);
      expect(r.non2xx).toBe(0);
      expect(r.requests.total).toBeGreaterThan(1_000);
    }
    // both processes' snapshots are at the store's config version
    const version = await store.version();
    for (const x of bidders) {
    const ready = (await httpRequest(x.adminPort, 'GET', '/readyz')).json();
    expect(ready.configVersion).toBe(version);
    for (const w of ready.workers ?? []) expect(w.configVersion).toBe(version); // every bid thread of the two-worker bidder
  }
  }, 60_000);
});
