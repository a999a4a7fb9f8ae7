/**
 * The built bidder with WORKERS=2, as a real process: both workers serve one bid port, /metrics
 * adds them up, a SIGHUP reaches every worker, a worker that dies is replaced while the other
 * keeps serving, an artificially lagged event loop sheds, and the main thread's port check still
 * refuses a port a leftover process holds.
 *
 * Which worker answered is read from the bid id, which starts with `<INSTANCE_ID>_<worker>_`.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidderProcess } from '../helpers/bidder-process.js';
import { freePort } from '../helpers/redis-server.js';
import { bidRequest, Lane, sample, sleep, sumOf, until, type Exchange } from '../helpers/lanes.js';

const LANES = 16;
let dir = '';
let p: BidderProcess;
const lanes: Lane[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workers-'));
  await cp('config', join(dir, 'config'), { recursive: true });
  p = await BidderProcess.start({
    WORKERS: '2',
    CONFIG_DIR: join(dir, 'config'),
    DATA_DIR: join(dir, 'data'),
    INSTANCE_ID: 'wk',
    NOTICE_SIGNING_KEYS: 'k1:workers-test-secret-0123456789',
    DEBUG_NOBID: '1',
    BIDDER_TEST_HOOKS: '1',
    // Functional tests: a loaded CI machine must not shed these requests; the shedding test lowers nothing, it lags.
    SHED_LAG_MS: '200',
  });
  for (let i = 0; i < LANES; i++) lanes.push(new Lane(p.port));
}, 30_000);

afterAll(async () => {
  for (const l of lanes) l.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (p) {
    const exit = await p.terminate(15_000);
    // Every test leaves the bidder able to stop cleanly.
    expect(exit, p.logs).toEqual({ code: 0, signal: null });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

const metrics = async () => (await p.get('/metrics', true)).text;
const workerOf = (x: Exchange) => /^wk_(\d+)_/.exec(JSON.parse(x.body!).seatbid[0].bid[0].id)?.[1];

describe('WORKERS=2', () => {
  it('both workers serve the one bid port, and /metrics adds them up', async () => {
    const before = await metrics();
    expect(sample(before, 'bidder_workers')).toBe(2);
    const ready = (await p.get('/readyz', true)).json();
    expect(ready.workers.map((w: { worker: number; ready: boolean }) => [w.worker, w.ready])).toEqual([
      [1, true],
      [2, true],
    ]);

    const byWorker: Record<string, number> = {};
    const PER_LANE = 10;
    await Promise.all(
      lanes.map(async (lane, i) => {
        for (let j = 0; j < PER_LANE; j++) {
          const x = await lane.send('POST', '/bid', bidRequest(`spread-${i}-${j}`));
          expect(x.outcome, x.error).toBe('answered');
          expect(x.status).toBe(200);
          const w = workerOf(x)!;
          byWorker[w] = (byWorker[w] ?? 0) + 1;
        }
      }),
    );
    // 16 connections spread by the kernel (SO_REUSEPORT): both workers took some (all on one: p ≈ 3e-5).
    expect(Object.keys(byWorker).sort()).toEqual(['1', '2']);

    const total = LANES * PER_LANE;
    const text = await metrics();
    expect(sumOf(text, 'bidder_bid_requests_total') - sumOf(before, 'bidder_bid_requests_total')).toBe(total);
    expect(sample(text, 'bidder_bid_requests_total{exchange="default",outcome="bid"}')).toBe(total);
    // The per-thread counter agrees with what the clients saw, worker by worker.
    for (const w of ['1', '2']) expect(sample(text, `bidder_thread_bid_requests_total{thread="w${w}"}`)).toBe(byWorker[w]);
    // Bid events came from both workers into the one writer on the main thread.
    await until('bid events at the writer', async () => sample(await metrics(), 'events_received_total{type="bid"}') === total);
    // Main-thread metrics are there once, not summed per worker.
    expect(sample(text, 'bidder_config_version')).toBe(1);
  });

  it('a SIGHUP reload reaches every worker: all connections see the new campaign', async () => {
    const wide = (id: string) => bidRequest(id, [970, 250]);
    for (const [i, lane] of lanes.entries()) {
      const x = await lane.send('POST', '/bid', wide(`before-${i}`));
      expect(x.status).toBe(204);
      expect(x.headers?.['x-nobid-reason']).toBe('no_campaign');
    }
    await writeFile(
      join(dir, 'config', 'campaigns', 'zz-reload.yaml'),
      `campaigns:
  - id: cmp-reload-970
    advertiserId: adv-acme
    name: Billboard added by reload
    bid: { base: 2.0, max: 3.0 }
    creatives:
      - { id: cr-reload-970x250, type: banner, w: 970, h: 250, imageUrl: "https://cdn.acmeshoes.example/r/970x250.png", landingUrl: "https://acmeshoes.example/" }
`,
    );
    p.child.kill('SIGHUP');
    await until('both workers at version 2', async () => {
      const r = (await p.get('/readyz', true)).json();
      return r.configVersion === 2 && r.workers.every((w: { configVersion: number }) => w.configVersion === 2);
    });
    const seen = new Set<string>();
    for (const [i, lane] of lanes.entries()) {
      const x = await lane.send('POST', '/bid', wide(`after-${i}`));
      expect(x.status, x.body).toBe(200);
      expect(JSON.parse(x.body!).seatbid[0].bid[0].cid).toBe('cmp-reload-970');
      seen.add(workerOf(x)!);
    }
    expect([...seen].sort()).toEqual(['1', '2']);
    expect(p.logs).toMatch(/"msg":"configuration reloaded","version":2,"campaigns":\d+,"workers":\[1,2\]/);
  });

  it('a worker that dies is replaced; only requests on its own connections fail, and traffic keeps flowing', async () => {
    const before = await metrics();
    const totalBefore = sumOf(before, 'bidder_bid_requests_total');
    // Each lane's worker, from its last answer (every lane has one from the tests above).
    const laneWorker = new Map<Lane, string>();
    for (const [i, lane] of lanes.entries()) laneWorker.set(lane, workerOf(await lane.send('POST', '/bid', bidRequest(`who-${i}`)))!);
    const onOne = lanes.filter((l) => laneWorker.get(l) === '1');
    expect(onOne.length).toBeGreaterThan(0);

    let crashAt = 0;
    const log: { lane: number; x: Exchange; at: number; workerBefore: string | undefined }[] = [];
    const stopAt = Date.now() + 3_000;
    const run = lanes.map(async (lane, i) => {
      for (let n = 0; Date.now() < stopAt; n++) {
        const workerBefore = laneWorker.get(lane);
        const x = await lane.send('POST', '/bid', bidRequest(`kill-${i}-${n}`));
        log.push({ lane: i, x, at: Date.now(), workerBefore });
        if (x.outcome === 'answered' && x.status === 200) laneWorker.set(lane, workerOf(x)!);
        else laneWorker.set(lane, undefined as unknown as string); // a new connection: worker unknown until answered
      }
    });
    await sleep(800);
    crashAt = Date.now();
    expect(await crashViaAdmin()).toBe(202);
    await Promise.all(run);

    const failures = log.filter((e) => e.x.outcome !== 'answered' || e.x.status !== 200);
    // What may fail: only requests on connections worker 1 held when it died: the one in flight on each, or one sent
    // into the connection as it closed. At most one per such lane, never on a lane worker 2 served, and never a
    // broken answer: the connection is closed, nothing half-written.
    for (const f of failures) {
      expect(f.workerBefore, JSON.stringify(f)).toBe('1');
      expect(['closed_unanswered', 'failed']).toContain(f.x.outcome);
      expect(f.x.status).toBeUndefined();
      expect(f.at).toBeGreaterThanOrEqual(crashAt);
    }
    const perLane = new Map<number, number>();
    for (const f of failures) perLane.set(f.lane, (perLane.get(f.lane) ?? 0) + 1);
    for (const n of perLane.values()) expect(n).toBe(1);
    expect(failures.length).toBeLessThanOrEqual(onOne.length);
    // Traffic kept flowing: answers in every 250 ms window after the crash, on every lane.
    for (let t = crashAt; t < stopAt - 250; t += 250) expect(log.some((e) => e.at >= t && e.at < t + 250 && e.x.status === 200)).toBe(true);
    for (let i = 0; i < LANES; i++) expect(log.some((e) => e.lane === i && e.at > crashAt + 500 && e.x.status === 200)).toBe(true);

    // Replaced: two workers again, one restart, and the replacement takes new connections.
    await until('worker 1 replaced', async () => sample(await metrics(), 'bidder_workers') === 2);
    const after = await metrics();
    expect(sample(after, 'bidder_worker_restarts_total')).toBe(1);
    expect(p.logs).toMatch(/"msg":"bid worker failed; closing its connections and exiting","worker":1/);
    expect(p.logs).toMatch(/"msg":"bid worker replaced","worker":1/);
    // The dead worker's counters stayed in the aggregate: it never goes backwards.
    expect(sumOf(after, 'bidder_bid_requests_total')).toBeGreaterThanOrEqual(totalBefore + log.filter((e) => e.x.status === 200).length);
    const fresh = Array.from({ length: LANES }, () => new Lane(p.port));
    try {
      const workers = new Set<string>();
      for (const [i, lane] of fresh.entries()) workers.add(workerOf(await lane.send('POST', '/bid', bidRequest(`fresh-${i}`)))!);
      expect([...workers].sort()).toEqual(['1', '2']);
    } finally {
      for (const l of fresh) l.close();
    }
  });

  it('an artificially lagged event loop sheds bid requests with fast 204s, and bids again once it recovers', async () => {
    const shedBefore = sample(await metrics(), 'bidder_bid_requests_total{exchange="default",outcome="shed"}');
    // Each bid thread busy 250 ms out of every 260 ms for 1.5 s: far over SHED_LAG_MS (200).
    expect(await lagViaAdmin()).toBe(202);
    await sleep(300);
    const during: Exchange[] = [];
    const stop = Date.now() + 800;
    await Promise.all(
      lanes.map(async (lane, i) => {
        for (let n = 0; Date.now() < stop; n++) during.push(await lane.send('POST', '/bid', bidRequest(`lag-${i}-${n}`)));
      }),
    );
    expect(during.every((x) => x.outcome === 'answered')).toBe(true);
    const shed = during.filter((x) => x.status === 204 && x.headers?.['x-nobid-reason'] === 'overloaded');
    expect(shed.length).toBeGreaterThan(0);
    // Shed answers cost no parsing or bidding: at most the busy stretch they waited behind, plus a little.
    for (const x of shed) expect(x.ms).toBeLessThan(400);
    await sleep(1_000); // the lag has ended
    await until('bidding again', async () => (await lanes[0].send('POST', '/bid', bidRequest('recovered'))).status === 200, 2_000);
    for (const [i, lane] of lanes.entries()) expect((await lane.send('POST', '/bid', bidRequest(`ok-${i}`))).status).toBe(200);
    const text = await metrics();
    expect(sample(text, 'bidder_bid_requests_total{exchange="default",outcome="shed"}') - shedBefore).toBe(shed.length);
    expect(sample(text, 'bidder_no_bids_total{exchange="default",reason="overloaded"}')).toBeGreaterThanOrEqual(shed.length);
  });
});

describe('port check', () => {
  it('refuses to start the workers on a port a leftover process holds (SO_REUSEPORT would share it silently)', async () => {
    const port = await freePort();
    const holder = spawn(
      process.execPath,
      ['-e', `const u=require('uWebSockets.js');u.App().any('/*',r=>r.end('old')).listen('127.0.0.1',${port},s=>console.log(s?'LISTENING':'FAILED'));setTimeout(()=>{},30000)`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(holder);
    const line = await new Promise<string>((resolve) => createInterface({ input: holder.stdout! }).once('line', resolve));
    expect(line).toBe('LISTENING');
    const err = await BidderProcess.start({ WORKERS: '2', PORT: String(port), DATA_DIR: join(dir, 'data-port'), INSTANCE_ID: 'pc' }).then(
      (b) => {
        b.kill();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(new RegExp(`bidder exited at start-up \\(1\\)[\\s\\S]*cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    holder.kill('SIGKILL');
  });
});

// Test hooks live on the admin port.
async function crashViaAdmin(): Promise<number> {
  return (await fetch(`http://127.0.0.1:${p.adminPort}/debug/workers/1/crash`, { method: 'POST' })).status;
}
async function lagViaAdmin(): Promise<number> {
  return (await fetch(`http://127.0.0.1:${p.adminPort}/debug/lag?busy=250&every=260&for=1500`, { method: 'POST' })).status;
}
