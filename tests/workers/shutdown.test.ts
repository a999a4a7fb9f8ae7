/**
 * SIGTERM under load, end to end, with the built bidder as a real process (WORKERS=2) in a small
 * fleet: bidder A is stopped while 12 keep-alive connections keep sending bid requests and
 * billing notices; bidder B is the rest of the fleet. A load balancer in the test sends new
 * connections to A while A's /readyz answers 200 (polled every 50 ms, like an endpoint
 * controller, slower than the bidder) and to B otherwise; A's SHUTDOWN_DELAY_MS covers that lag,
 * as a preStop pause does in Kubernetes.
 *
 * "No request fails" means, for every request the test sends:
 * - it gets a complete, well-formed answer: 200 with a BidResponse for its own id, or an empty
 *   204, or a 204 for a notice; or
 * - its connection is refused (nothing sent), or it went out on a reused keep-alive connection
 *   that the server closed before answering anything: then it is retried on a new connection,
 *   as HTTP clients do, and the retry is answered; and A never processed the attempt (its id is
 *   not in A's request log, where every request A parses is logged here);
 * - nothing else: no reset of a fresh connection, no half answer, no 5xx, no timeout.
 * "No event is lost": every billing notice A answered 204 (before SIGTERM and during the drain)
 * is in A's event store after it exits, and so is every bid and every request it answered.
 * And A exits 0 within SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BidderProcess } from '../helpers/bidder-process.js';
import { ChdbDatabase } from '../../src/events/chdb-database.js';
import { billingPath, bidRequest, Lane, sleep, slowPost, type Exchange } from '../helpers/lanes.js';

const LANES = 12;
const DELAY_MS = 500;
const TIMEOUT_MS = 6_000;
let dir = '';
let a: BidderProcess;
let b: BidderProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shutdown-'));
  const common = {
    CONFIG_DIR: 'config',
    NOTICE_SIGNING_KEYS: 'k1:shutdown-test-secret-0123456789',
    BID_LOG_SAMPLE_RATE: '1',
    REQUEST_LOG_SAMPLE_RATE: '1',
    // Every request A takes must be parsed (and so logged); a shed one would be answered without.
    SHED_LAG_MS: '0',
    SHED_MAX_IN_FLIGHT: '0',
    // The slow requests below trickle their body over 1.2 s on purpose: no body timeout here.
    BODY_TIMEOUT_MS: '0',
  };
  [a, b] = await Promise.all([
    BidderProcess.start({ ...common, WORKERS: '2', DATA_DIR: join(dir, 'a'), INSTANCE_ID: 'a', SHUTDOWN_DELAY_MS: String(DELAY_MS), SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS) }),
    BidderProcess.start({ ...common, WORKERS: '1', DATA_DIR: join(dir, 'b'), INSTANCE_ID: 'b' }),
  ]);
}, 40_000);

afterAll(async () => {
  a?.kill();
  b?.kill();
  await Promise.all([a?.exited, b?.exited]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Sent {
  readonly kind: 'bid' | 'notice';
  readonly id: string; // request id, or bid id for a notice
  readonly attempts: { port: number; x: Exchange }[];
}

it('SIGTERM under load: every request answered or cleanly retried, every event stored, exit 0 in time', async () => {
  // --- Before SIGTERM: bids on A, and their billing notices.
  const warm = new Lane(a.port);
  const noticedBeforeSigterm: string[] = [];
  for (let i = 0; i < 100; i++) {
    const x = await warm.send('POST', '/bid', bidRequest(`pre-${i}`));
    expect(x.status).toBe(200);
    const bid = JSON.parse(x.body!).seatbid[0].bid[0];
    expect((await warm.send('GET', billingPath(bid))).status).toBe(204);
    noticedBeforeSigterm.push(bid.id);
  }
  warm.close();

  // --- The load balancer: A while it is ready, else B.
  let aReady = true;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      aReady = await fetch(`http://127.0.0.1:${a.adminPort}/readyz`).then((r) => r.status === 200, () => false);
      await sleep(50);
    }
  })();
  const pick = () => (aReady ? a.port : b.port);

  const sent: Sent[] = [];
  let stop = false;
  let closeAnswers = 0;
  const lanes = Array.from({ length: LANES }, () => new Lane(pick()));
  /** Sends until answered (retrying only what may be retried); records every attempt. */
  async function exchange(lane: Lane, s: Sent, method: string, path: string, body?: string): Promise<Exchange> {
    for (let attempt = 0; ; attempt++) {
      const port = lane.port;
      const x = await lane.send(method, path, body);
      s.attempts.push({ port, x });
      if (x.outcome === 'answered') {
        if (String(x.headers?.connection).toLowerCase() === 'close') {
          closeAnswers++;
          lane.reconnect(pick());
        }
        return x;
      }
      if (x.outcome === 'failed' || attempt >= 3) return x;
      lane.reconnect(pick()); // refused or closed unanswered: a new connection, through the balancer
    }
  }
  const load = lanes.map(async (lane, i) => {
    for (let n = 0; !stop; n++) {
      const id = `load-${i}-${n}`;
      const s: Sent = { kind: 'bid', id, attempts: [] };
      sent.push(s);
      const x = await exchange(lane, s, 'POST', '/bid', bidRequest(id));
      if (x.status !== 200) continue;
      const bid = JSON.parse(x.body!).seatbid?.[0]?.bid?.[0];
      if (!bid) continue;
      const notice: Sent = { kind: 'notice', id: bid.id, attempts: [] };
      sent.push(notice);
      await exchange(lane, notice, 'GET', billingPath(bid));
    }
  });

  await sleep(900);
  // Requests still in flight when A's listener closes: each on a connection of its own made before
  // SIGTERM, its body trickling in over 1.2 s (past the 0.5 s delay). The drain must let them finish.
  const slow = Array.from({ length: 4 }, (_, i) => slowPost(a.port, '/bid', bidRequest(`slow-${i}`), 12, 1_200));
  await sleep(100);
  const sigtermAt = Date.now();
  a.child.kill('SIGTERM');
  const exit = await a.exited;
  const exitMs = Date.now() - sigtermAt;
  const slowAnswers = await Promise.all(slow);
  await sleep(500); // B keeps taking the traffic
  stop = true;
  await Promise.all(load);
  polling = false;
  await poller;
  for (const l of lanes) l.close();

  // --- A exited cleanly and in time.
  expect(exit, a.logs).toEqual({ code: 0, signal: null });
  expect(exitMs).toBeLessThan(DELAY_MS + TIMEOUT_MS);
  expect(a.logs).toMatch(/"msg":"bid traffic drained".*"clean":true,"inFlightLeft":0/);

  // --- No request failed: the slow ones were answered, after the listener had closed.
  for (const [i, x] of slowAnswers.entries()) {
    expect(x.outcome, `slow-${i}: ${x.error}`).toBe('answered');
    expect([200, 204]).toContain(x.status);
    expect(x.ms).toBeGreaterThan(DELAY_MS + 400);
  }
  const attempts = sent.flatMap((s) => s.attempts.map((t) => ({ s, ...t })));
  const failed = attempts.filter((t) => t.x.outcome === 'failed');
  expect(failed.map((t) => `${t.s.id} → ${t.port}: ${t.x.error}`)).toEqual([]);
  for (const s of sent) {
    const last = s.attempts[s.attempts.length - 1].x;
    expect(last.outcome, `${s.kind} ${s.id}: ${JSON.stringify(s.attempts)}`).toBe('answered');
    if (s.kind === 'notice') expect(last.status).toBe(204);
    else if (last.status === 200) expect(JSON.parse(last.body!).id).toBe(s.id);
    else expect([last.status, last.body]).toEqual([204, '']);
  }
  const byA = (kind: Sent['kind']) =>
    sent.filter((s) => s.kind === kind && s.attempts.some((t) => t.port === a.port && t.x.outcome === 'answered'));
  // Load really ran on A through the drain, and moved to B.
  expect(byA('bid').length).toBeGreaterThan(50);
  expect(sent.filter((s) => s.attempts.some((t) => t.port === b.port && t.x.outcome === 'answered')).length).toBeGreaterThan(50);
  expect(closeAnswers).toBeGreaterThan(0);
  const answeredByAAfterSigterm = attempts.filter((t) => t.port === a.port && t.x.outcome === 'answered' && t.x.headers?.connection === 'close');
  expect(answeredByAAfterSigterm.length).toBeGreaterThan(0);

  // --- No event lost: A's store, read after A exited.
  const store = await ChdbDatabase.open(join(dir, 'a', 'chdb'));
  try {
    const ids = async (sql: string) => new Set((await store.query<{ id: string }>(sql)).map((r) => r.id));
    const billings = await ids('SELECT DISTINCT event_id AS id FROM billings');
    const bids = await ids('SELECT DISTINCT bid_id AS id FROM bids');
    const requests = await ids('SELECT DISTINCT request_id AS id FROM requests');
    for (const id of noticedBeforeSigterm) expect(billings.has(`billing:${id}`), `billing before SIGTERM ${id}`).toBe(true);
    for (const s of byA('notice')) expect(billings.has(`billing:${s.id}`), `billing answered by A ${s.id}`).toBe(true);
    for (let i = 0; i < slowAnswers.length; i++) expect(requests.has(`slow-${i}`), `slow-${i} in the request log`).toBe(true);
    for (const s of byA('bid')) {
      expect(requests.has(s.id), `request answered by A ${s.id}`).toBe(true);
      const answer = s.attempts.find((t) => t.port === a.port && t.x.outcome === 'answered')!.x;
      if (answer.status === 200) expect(bids.has(JSON.parse(answer.body!).seatbid[0].bid[0].id)).toBe(true);
    }
    // Attempts closed unanswered by A and answered elsewhere were never processed by A.
    const retriedAway = sent.filter(
      (s) => s.kind === 'bid' && s.attempts.some((t) => t.port === a.port && t.x.outcome !== 'answered') && !s.attempts.some((t) => t.port === a.port && t.x.outcome === 'answered'),
    );
    for (const s of retriedAway) expect(requests.has(s.id), `retried request ${s.id} was processed by A`).toBe(false);
    const dropped = await store.query<{ n: string }>('SELECT count() AS n FROM requests');
    expect(Number(dropped[0].n)).toBeGreaterThanOrEqual(byA('bid').length + 100);
  } finally {
    await store.close();
  }
  expect(a.logs).not.toMatch(/events dropped/);

  // B stops cleanly too (it took the rest).
  expect(await b.terminate()).toEqual({ code: 0, signal: null });
}, 55_000);
