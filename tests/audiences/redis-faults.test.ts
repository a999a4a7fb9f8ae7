/**
 * The bidder under continuous traffic while its Redis segment store is paused, killed and
 * restarted (a real redis-server). Every request must be answered (200 or 204) within its
 * deadline; while segments cannot be known each campaign's whenUnavailable policy decides; the
 * breaker opens while Redis is dead; and once Redis is back, segment bids return without
 * restarting the bidder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisServer } from '../helpers/redis-server.js';
import { startBidder, type TestBidder } from '../helpers/bidder.js';
import { createRedis } from '../../src/storage/redis-client.js';
import { RedisSegmentStore } from '../../src/audiences/redis-segment-store.js';
import { buildAudiences } from '../../src/audiences/build-audiences.js';
import { loadSettings } from '../../src/settings/settings.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';

/**
 * Timing. The requests' deadline is TMAX - 10 ms (network allowance), of which a store lookup may take
 * LOOKUP_BUDGET_MS. On this shared machine the whole test process (bidder and clients) stalls now
 * and then: event-loop gaps of 30-130 ms were measured, and with tmax 100 / budget 10-30 ms a few
 * answers in a thousand took 110-215 ms. So the budget is wide enough that a healthy Redis answers in
 * time despite a stall (the segment checks are exact) and tmax leaves room for a stall on top of a
 * spent budget. The hot-path client's command timeout is raised to COMMAND_TIMEOUT_MS, so that only
 * the bidder's own budget can cut a lookup short: a request that waits on the paused Redis instead
 * takes over a second and fails the deadline check.
 */
const TMAX = 300;
const LOOKUP_BUDGET_MS = 120;
const COMMAND_TIMEOUT_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const banner = (id: string) => ({ id, type: 'banner' as const, w: 300, h: 250, html: `<div>${id}</div>` });

const bundle: ConfigBundle = {
  exchanges: [{ id: 'default', seat: 'seat-1', currency: 'USD' }],
  currencies: { base: 'USD', rates: { EUR: 0.9 } },
  advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
  campaigns: [
    {
      id: 'autos-skip',
      advertiserId: 'acme',
      bid: { base: 3, max: 3 },
      targeting: { segments: { anyOf: ['autos'], whenUnavailable: 'skip' } },
      creatives: [banner('autos-cr')],
    },
    {
      id: 'sports-bid',
      advertiserId: 'acme',
      bid: { base: 1, max: 1 },
      targeting: { segments: { anyOf: ['sports'], whenUnavailable: 'bid' } },
      creatives: [banner('sports-cr')],
    },
  ],
};

/** Users: n % 3 == 0 in autos, 1 in sports, 2 in no segment. Every request uses a new n (cache misses). */
type Kind = 'auto' | 'sport' | 'none';
const kindOf = (n: number): Kind => (['auto', 'sport', 'none'] as const)[n % 3];
const userOf = (n: number) => `user-${n}`;

interface Answer {
  n: number;
  kind: Kind;
  status: number;
  ms: number;
  cid?: string;
  reason?: string;
  error?: string;
}

let redis: RedisServer;
let bidder: TestBidder | undefined;
let store: RedisSegmentStore | undefined;
let pauser: Redis | undefined;
let next = 0;

/** The clients this file creates log their (expected) connection errors only as a count, not as unhandled-error noise. */
let connectionErrors = 0;
function quiet<T extends { on(event: 'error', f: (e: Error) => void): unknown }>(client: T): T {
  client.on('error', () => connectionErrors++);
  return client;
}

async function seed(from: number, to: number): Promise<void> {
  // A separate writer (as another instance or an uploader would be), on fresh connections.
  const client = quiet(createRedis(redis.url, { admin: true }));
  const writer = new RedisSegmentStore(client);
  try {
    const createdAt = new Date().toISOString();
    await writer.putSegment({ id: 'autos', name: 'Autos', ttlSeconds: 3600, createdAt });
    await writer.putSegment({ id: 'sports', name: 'Sports', ttlSeconds: 3600, createdAt });
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const rows = [];
    for (let n = from; n < to; n++) {
      const kind = kindOf(n);
      if (kind !== 'none') rows.push({ key: `uid:${userOf(n)}`, segments: [kind === 'auto' ? 'autos' : 'sports'], expiresAt });
    }
    await writer.addMemberships(rows);
  } finally {
    await writer.close();
  }
}

async function ask(): Promise<Answer> {
  const n = next++;
  const body = {
    id: `r-${n}`,
    tmax: TMAX,
    imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
    site: { domain: 'news.example' },
    user: { buyeruid: userOf(n) },
  };
  const started = performance.now();
  try {
    const r = await bidder!.post('/bid', body);
    const ms = performance.now() - started;
    const a: Answer = { n, kind: kindOf(n), status: r.status, ms };
    if (r.status === 200) a.cid = r.json().seatbid[0].bid[0].cid;
    if (r.status === 204) a.reason = String(r.headers['x-nobid-reason']);
    return a;
  } catch (e) {
    return { n, kind: kindOf(n), status: 0, ms: performance.now() - started, error: String(e) };
  }
}

/** `workers` sequential request loops until `stop()` says so, `maxMs` passes or `maxRequests` are sent. */
async function traffic(o: { maxMs: number; maxRequests: number; workers?: number; stop?: (a: Answer) => boolean }): Promise<Answer[]> {
  const answers: Answer[] = [];
  const until = performance.now() + o.maxMs;
  let stopped = false;
  const worker = async () => {
    while (!stopped && performance.now() < until && answers.length < o.maxRequests) {
      const a = await ask();
      answers.push(a);
      if (o.stop?.(a)) stopped = true;
      await sleep(3);
    }
  };
  await Promise.all(Array.from({ length: o.workers ?? 4 }, worker));
  return answers;
}

/** Every request answered with 200 or 204 (no 5xx, no client error or timeout), each inside TMAX. */
function expectAllAnsweredInTime(answers: Answer[], phase: string): void {
  expect(answers.length, phase).toBeGreaterThan(0);
  const bad = answers.filter((a) => (a.status !== 200 && a.status !== 204) || a.error);
  expect(bad, `${phase}: unanswered or failed requests`).toEqual([]);
  const slow = answers.filter((a) => !(a.ms < TMAX));
  expect(slow.map((a) => ({ n: a.n, ms: Math.round(a.ms) })), `${phase}: answers over tmax`).toEqual([]);
}

/** What a request gets when the store answers: segment campaigns by membership. */
function expectSegmentBids(answers: Answer[], phase: string): void {
  for (const a of answers) {
    const want = a.kind === 'auto' ? { status: 200, cid: 'autos-skip' } : a.kind === 'sport' ? { status: 200, cid: 'sports-bid' } : { status: 204, cid: undefined };
    expect({ status: a.status, cid: a.cid }, `${phase}: ${a.kind} user ${a.n} (${a.reason ?? ''})`).toEqual(want);
  }
}

/** What a request gets when segments are unknown: `skip` sits out, `bid` bids for everyone. */
function expectPolicyBids(answers: Answer[], phase: string): void {
  for (const a of answers) expect({ status: a.status, cid: a.cid }, `${phase}: ${a.kind} user ${a.n} (${a.reason ?? ''})`).toEqual({ status: 200, cid: 'sports-bid' });
}

async function metric(pattern: RegExp): Promise<number> {
  const m = pattern.exec(await bidder!.metricsText());
  return m ? Number(m[1]) : 0;
}
const breakerState = () => metric(/^audience_store_breaker_state (\d+)/m);
const transitions = (state: string) => metric(new RegExp(`^audience_store_breaker_transitions_total\\{state="${state}"\\} (\\d+)`, 'm'));
const lookups = (result: string) => metric(new RegExp(`^audience_store_lookups_total\\{result="${result}"\\} (\\d+)`, 'm'));

beforeAll(async () => {
  redis = await RedisServer.start();
  await seed(0, 30_000);
  // The helper reads the registry once, without retrying (the production path, buildAudiences, is
  // tested below): let the hot-path client finish connecting first, as it refuses commands until then.
  const hot = quiet(createRedis(redis.url, { commandTimeoutMs: COMMAND_TIMEOUT_MS }));
  if (hot.status !== 'ready') await once(hot, 'ready');
  store = new RedisSegmentStore(hot, quiet(createRedis(redis.url, { admin: true })));
  bidder = await startBidder({
    bundle,
    segmentStore: store,
    // Short breaker periods keep the test short.
    env: { DEBUG_NOBID: '1', AUDIENCE_LOOKUP_BUDGET_MS: String(LOOKUP_BUDGET_MS) },
    audienceSettings: { breaker: { failureThreshold: 3, openMs: 150, maxOpenMs: 400 } },
  });
  expect([...bidder.audiences.liveSegments()].sort()).toEqual(['autos', 'sports']);
});

afterAll(async () => {
  pauser?.disconnect();
  if (bidder) bidder.close(); // closes the store too
  else await store?.close();
  await redis?.kill();
});

describe('segment store faults under traffic (real redis-server)', () => {
  it('buildAudiences (the production path) knows the segments before the bidder serves', async () => {
    const service = await buildAudiences(loadSettings({ REDIS_URL: redis.url }), new AudienceMetrics(new Registry()));
    try {
      expect(service.store.kind).toBe('redis');
      expect([...service.liveSegments()].sort()).toEqual(['autos', 'sports']);
    } finally {
      await service.close();
    }
  });

  it('healthy: segment users get their segment bids, others no bid', async () => {
    const warmUp: Answer[] = [];
    for (let i = 0; i < 10; i++) warmUp.push(await ask()); // first requests compile code paths: not held to the segment checks
    expectAllAnsweredInTime(warmUp, 'warm-up');
    const answers: Answer[] = [];
    for (let i = 0; i < 30; i++) answers.push(await ask());
    expectAllAnsweredInTime(answers, 'healthy');
    expectSegmentBids(answers, 'healthy');
    expect(await breakerState()).toBe(0);
  });

  it('paused (CLIENT PAUSE ALL): answers within the deadline by policy, then recovers', async () => {
    const timeoutsBefore = await lookups('timeout');
    const opensBefore = await transitions('open');
    pauser = quiet(redis.client());
    await pauser.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const pausedFrom = performance.now();
    pauser.disconnect();
    const during = await traffic({ maxMs: 1_100, maxRequests: 1_500 });
    const trafficMs = performance.now() - pausedFrom;
    expectAllAnsweredInTime(during, 'paused');
    expect(trafficMs).toBeLessThan(1_500); // all of it fell inside the pause
    expectPolicyBids(during, 'paused');
    expect(await lookups('timeout')).toBeGreaterThan(timeoutsBefore);
    expect(await transitions('open')).toBeGreaterThan(opensBefore);

    // The pause ends by itself; segment bids come back.
    const recovering = await traffic({ maxMs: 6_000, maxRequests: 6_000, stop: (a) => a.kind === 'auto' && a.cid === 'autos-skip' });
    expectAllAnsweredInTime(recovering, 'after pause');
    expect(recovering.some((a) => a.kind === 'auto' && a.cid === 'autos-skip'), 'segment bids came back after the pause').toBe(true);
    const settled: Answer[] = [];
    for (let i = 0; i < 15; i++) settled.push(await ask());
    expectAllAnsweredInTime(settled, 'after pause, settled');
    expectSegmentBids(settled, 'after pause, settled');
    expect(await breakerState()).toBe(0);
  });

  it('killed: answers within the deadline by policy and the breaker opens; restarted: segment bids return', async () => {
    const opensBefore = await transitions('open');
    const refusedBefore = await lookups('breaker_open');
    const closesBefore = await transitions('closed');
    await redis.kill(); // SIGKILL, as in a crash

    // Sample the breaker gauge while the traffic runs.
    const seen = new Set<number>();
    let sampling = true;
    const sampler = (async () => {
      for (let i = 0; sampling && i < 200; i++) {
        seen.add(await breakerState());
        await sleep(20);
      }
    })();
    const during = await traffic({ maxMs: 1_200, maxRequests: 1_500 });
    sampling = false;
    await sampler;
    expectAllAnsweredInTime(during, 'dead');
    expectPolicyBids(during, 'dead');
    expect(seen.has(2), `breaker states seen: ${[...seen]}`).toBe(true);
    expect(await transitions('open')).toBeGreaterThan(opensBefore);
    expect(await lookups('breaker_open')).toBeGreaterThan(refusedBefore);

    // Back, empty (no persistence): data is written again, and the same bidder picks it up.
    await redis.restart();
    const from = next;
    await seed(from, from + 30_000);
    const recovering = await traffic({ maxMs: 10_000, maxRequests: 10_000, stop: (a) => a.kind === 'auto' && a.cid === 'autos-skip' });
    expectAllAnsweredInTime(recovering, 'restarted');
    expect(recovering.some((a) => a.kind === 'auto' && a.cid === 'autos-skip'), 'segment bids came back after the restart').toBe(true);
    const settled: Answer[] = [];
    for (let i = 0; i < 15; i++) settled.push(await ask());
    expectAllAnsweredInTime(settled, 'restarted, settled');
    expectSegmentBids(settled, 'restarted, settled');
    expect(await breakerState()).toBe(0);
    expect(await transitions('closed')).toBeGreaterThan(closesBefore);
    expect(next).toBeLessThan(from + 30_000); // every user asked for was seeded
  });
});
