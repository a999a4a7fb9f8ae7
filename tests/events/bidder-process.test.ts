/**
 * End to end, the built bidder as a real process against a real ClickHouse 18.16: bids through
 * POST /bid, their win, billing and impression notices sent while ClickHouse is stopped and
 * restarted in the middle, then SIGTERM. Every event (notices, bid log, request log) must be in
 * ClickHouse exactly once by event_id, and the reports must show the right wins and spend.
 * Second case: ClickHouse is down through the notices and the shutdown, so the events stay in the
 * spool; a bidder started again on the same DATA_DIR delivers them, exactly once. Third: notices
 * still arriving on a keep-alive connection after SIGTERM are refused, never acknowledged and lost.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ClickHouseServer } from '../helpers/clickhouse-server.js';
import { BidderProcess } from '../helpers/bidder-process.js';
import { bannerRequest, impressionPixel, metric, pathOf, sleep, substitute, until } from '../helpers/notice-kit.js';
import { TempDirs } from '../helpers/temp-dirs.js';

let ch: ClickHouseServer;
const procs: BidderProcess[] = [];
const KEYS = 'k1:process-test-secret-0123456789';

beforeAll(async () => {
  ch = await ClickHouseServer.start();
});

afterAll(async () => {
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
  await ch?.dispose();
  await temp.removeAll();
});

const temp = new TempDirs();
const tempDir = (name: string) => temp.make(name);

async function startBidder(database: string, dataDir: string, instance: string): Promise<BidderProcess> {
  const p = await BidderProcess.start({
    CONFIG_DIR: 'config',
    DATA_DIR: dataDir,
    CLICKHOUSE_URL: `http://default:@127.0.0.1:${ch.httpPort}/${database}`,
    NOTICE_SIGNING_KEYS: KEYS,
    REQUEST_LOG_SAMPLE_RATE: '1',
    BID_LOG_SAMPLE_RATE: '1',
    INSTANCE_ID: instance,
  });
  procs.push(p);
  return p;
}

/** SQL on `database`, rows as tab-separated lines. */
async function sql(database: string, query: string): Promise<string[]> {
  const res = await fetch(`${ch.baseUrl}/?database=${database}`, { method: 'POST', body: query });
  const text = await res.text();
  if (!res.ok) throw new Error(`clickhouse ${res.status}: ${text}`);
  return text.split('\n').filter((l) => l !== '');
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T, R>(items: readonly T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

interface PlacedBid {
  id: string;
  price: number;
  requestId: string;
  clear: number;
  notices: { type: 'win' | 'billing' | 'impression'; path: string }[];
}

/** `n` bids through POST /bid, each with its win (nurl), billing (burl) and impression (pixel) notice, macros filled in. */
async function placeBids(b: BidderProcess, n: number, tag: string): Promise<PlacedBid[]> {
  return pool(
    Array.from({ length: n }, (_, i) => i),
    16,
    async (i) => {
      const requestId = `${tag}-req-${i}`;
      const r = await b.post('/bid', bannerRequest(requestId));
      expect(r.status, r.text).toBe(200);
      const bid = r.json().seatbid[0].bid[0];
      const clear = +(bid.price * (0.5 + (i % 5) * 0.1)).toFixed(4);
      const price = { price: String(clear), minToWin: '', currency: 'USD' };
      return {
        id: bid.id,
        price: bid.price,
        requestId,
        clear,
        notices: [
          { type: 'win', path: pathOf(substitute(bid.nurl, price)) },
          { type: 'billing', path: pathOf(substitute(bid.burl, price)) },
          { type: 'impression', path: pathOf(impressionPixel(bid.adm)!) },
        ],
      };
    },
  );
}

async function sendNotices(b: BidderProcess, list: PlacedBid['notices']): Promise<void> {
  const statuses = await pool(list, 8, async (n) => (await b.get(n.path)).status);
  const want = list.map((n) => (n.type === 'impression' ? 200 : 204));
  expect(statuses).toEqual(want);
}

const TABLES = { requests: 'request', bids: 'bid', wins: 'win', billings: 'billing', impressions: 'impression' } as const;

/** Every expected event exactly once by event_id, per table; returns rows stored before merges. */
async function checkExactlyOnce(db: string, bids: PlacedBid[]): Promise<{ raw: number; duplicates: number }> {
  let raw = 0;
  let duplicates = 0;
  for (const [table, type] of Object.entries(TABLES)) {
    const ids = await sql(db, `SELECT event_id FROM ${table}`);
    raw += ids.length;
    const distinct = new Set(ids);
    const [uniq] = await sql(db, `SELECT uniqExact(event_id) FROM ${table}`);
    expect(Number(uniq), `${table}: uniqExact(event_id)`).toBe(bids.length);
    expect(distinct.size, `${table}: distinct ids`).toBe(bids.length);
    if (type === 'request') {
      const reqIds = await sql(db, `SELECT DISTINCT request_id FROM ${table}`);
      expect(reqIds.sort(), `${table}: request ids`).toEqual(bids.map((b) => b.requestId).sort());
    } else {
      expect([...distinct].sort(), `${table}: ids`).toEqual(bids.map((b) => `${type}:${b.id}`).sort());
    }
    duplicates += (await sql(db, `SELECT event_id, count() AS n FROM ${table} GROUP BY event_id HAVING n > 1`)).length;
    // Copies of one event (a retried insert that had landed) share their sorting key and partition:
    // a merge keeps one. After it, no event_id may be there twice.
    await sql(db, `OPTIMIZE TABLE ${table} FINAL`);
    expect(await sql(db, `SELECT event_id, count() AS n FROM ${table} GROUP BY event_id HAVING n > 1`), `${table}: duplicates after merge`).toEqual([]);
  }
  return { raw, duplicates };
}

async function spoolFiles(dataDir: string): Promise<string[]> {
  return (await readdir(join(dataDir, 'spool')).catch(() => [] as string[])).filter((f) => f.endsWith('.ndjson'));
}

const metricSum = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

/** The report totals over all campaigns, yesterday through tomorrow (UTC). */
async function reportTotals(b: BidderProcess): Promise<Record<string, number>> {
  const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
  const r = await b.get(`/api/v1/reports?groupBy=campaign,day&from=${day(-1)}&to=${day(1)}`, true);
  expect(r.status, r.text).toBe(200);
  const totals: Record<string, number> = {};
  for (const row of r.json().rows as Record<string, unknown>[])
    for (const k of ['requests', 'bids', 'wins', 'billings', 'impressions', 'clicks', 'spend']) totals[k] = (totals[k] ?? 0) + Number(row[k]);
  return totals;
}

it('every event of a bidder process arrives exactly once across a ClickHouse stop and restart, and reports show the right wins and spend', async () => {
  const db = 'e2e_outage';
  const dataDir = await tempDir('bidder-e2e');
  const b = await startBidder(db, dataDir, 'p1');
  const N = 300;
  const bids = await placeBids(b, N, 'run1');
  expect(new Set(bids.map((x) => x.id)).size).toBe(N);
  const all = bids.flatMap((x) => x.notices);
  expect(all).toHaveLength(3 * N);

  const third = all.length / 3;
  const t0 = Date.now();
  const phases: string[] = [];
  const phase = (name: string) => phases.push(`${name} ${Date.now() - t0}ms`);
  await sendNotices(b, all.slice(0, third));
  phase('first third');
  await ch.stop();
  phase('clickhouse stopped');
  await sendNotices(b, all.slice(third, 2 * third));
  // Let the writer try (and fail) to insert while the server is away.
  expect(await until(async () => metricSum((await b.get('/metrics', true)).text, 'events_insert_errors_total') > 0, 10_000), b.logs).toBe(true);
  await sleep(1_500); // a few retries with backoff
  phase('inserts failed');
  await ch.restart();
  phase('clickhouse restarted');
  await sendNotices(b, all.slice(2 * third));
  phase('last third');

  const m = (await b.get('/metrics', true)).text;
  for (const type of ['win', 'billing', 'impression']) expect(metric(m, 'notices_total', { type, result: 'accepted' }), type).toBe(N);
  const exit = await b.terminate();
  phase('bidder exited');
  expect(exit, b.logs).toEqual({ code: 0, signal: null });
  expect(metricSum(m, 'events_dropped_total')).toBe(0);
  expect(b.logs).not.toContain('events dropped');
  expect(await spoolFiles(dataDir), 'spool after a clean exit with the store up').toEqual([]);
  console.log(phases.join(', '));

  const { raw, duplicates } = await checkExactlyOnce(db, bids);
  const insertErrors = metricSum(m, 'events_insert_errors_total');
  console.log(
    `bidder-process (outage): ${5 * N} events sent (${N} requests, ${N} bids, ${3 * N} notices), ${raw} rows stored before merges, ` +
      `${duplicates} event ids stored twice before merges, ${insertErrors} failed inserts retried`,
  );

  // Reports, from a second start of the bidder on the same store.
  const again = await startBidder(db, await tempDir('bidder-e2e-report'), 'p2');
  const totals = await reportTotals(again);
  const spend = bids.reduce((s, x) => s + x.clear, 0) / 1000;
  expect(totals).toMatchObject({ requests: N, bids: N, wins: N, billings: N, impressions: N, clicks: 0 });
  expect(totals.spend).toBeCloseTo(spend, 9);
  expect((await again.terminate()).code).toBe(0);
}, 55_000);

it('events left in the spool at exit (ClickHouse down through the shutdown) are delivered by the next start, exactly once', async () => {
  const db = 'e2e_spool';
  const dataDir = await tempDir('bidder-spool');
  const b = await startBidder(db, dataDir, 'p3');
  const N = 100;
  const bids = await placeBids(b, N, 'run2');
  await ch.stop();
  await sendNotices(b, bids.flatMap((x) => x.notices));
  const m = (await b.get('/metrics', true)).text;
  // A second SIGTERM while it flushes (npm and a process-group kill both forward one) changes nothing.
  b.child.kill('SIGTERM');
  await sleep(100);
  const exit = await b.terminate();
  expect(exit, b.logs).toEqual({ code: 0, signal: null });
  expect(b.logs).toContain('already stopping');
  expect(metricSum(m, 'events_dropped_total')).toBe(0);
  expect(b.logs).not.toContain('events dropped');
  const left = await spoolFiles(dataDir);
  expect(left.length, 'segments left for the next start').toBeGreaterThan(0);
  expect(b.logs).toContain('event writer closed with events left in the spool');

  await ch.restart();
  const b2 = await startBidder(db, dataDir, 'p4');
  const counts = async () => {
    const out: number[] = [];
    for (const t of Object.keys(TABLES)) out.push(Number((await sql(db, `SELECT uniqExact(event_id) FROM ${t}`).catch(() => ['0']))[0]));
    return out;
  };
  const delivered = await until(async () => (await counts()).every((n) => n >= N) && (await spoolFiles(dataDir)).length === 0, 20_000);
  expect(delivered, `counts ${await counts()}, spool ${await spoolFiles(dataDir)}\n${b2.logs}`).toBe(true);
  await sleep(200);
  expect((await b2.terminate()).code, b2.logs).toBe(0);
  expect(await spoolFiles(dataDir)).toEqual([]);
  const { raw, duplicates } = await checkExactlyOnce(db, bids);
  console.log(`bidder-process (spool replay): ${5 * N} events sent, ${left.length} spool segments left at exit, ${raw} rows stored, ${duplicates} duplicate ids before merges`);
  const totals = await reportTotals(await startBidder(db, await tempDir('bidder-spool-report'), 'p5'));
  expect(totals).toMatchObject({ requests: N, bids: N, wins: N, billings: N, impressions: N });
  expect(totals.spend).toBeCloseTo(bids.reduce((s, x) => s + x.clear, 0) / 1000, 9);
}, 55_000);

it('notices on a keep-alive connection after SIGTERM are refused (503), never acknowledged and then dropped', async () => {
  const db = 'e2e_drain';
  const dataDir = await tempDir('bidder-drain');
  const b = await startBidder(db, dataDir, 'p6');
  const bids = await placeBids(b, 150, 'run3');
  const billing = bids.map((x) => x.notices.find((n) => n.type === 'billing')!.path);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port: b.port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      r.on('error', reject);
      r.end();
    });
  try {
    expect(await send(billing[0])).toBe(204);
    let acknowledged = 1;
    let refusedWith = '';
    b.child.kill('SIGTERM');
    for (let i = 1; i < billing.length && !refusedWith; i++) {
      try {
        const status = await send(billing[i]);
        if (status === 204) acknowledged++;
        else refusedWith = String(status);
      } catch (e) {
        refusedWith = (e as Error).message;
      }
      await sleep(5);
    }
    expect(refusedWith, 'the bidder stopped taking notices').not.toBe('');
    // 503, or the connection closed without an answer (the drain closes idle keep-alive connections at
    // its end; a request racing that close sees a reset or a hang-up): never an acknowledgment.
    expect(['503', 'ECONNRESET', 'ECONNREFUSED', 'socket hang up'].some((s) => refusedWith.includes(s)), refusedWith).toBe(true);
    expect(await b.terminate(), b.logs).toEqual({ code: 0, signal: null });
    expect(b.logs).not.toContain('events dropped');
    const [stored] = await sql(db, `SELECT uniqExact(event_id) FROM billings`);
    expect(Number(stored), `acknowledged ${acknowledged}, then ${refusedWith}`).toBe(acknowledged);
  } finally {
    agent.destroy();
  }
}, 30_000);

it('a bid request whose id is a lone surrogate (valid JSON, not UTF-8) is logged with U+FFFD and holds up no event behind it', async () => {
  const db = 'e2e_surrogate';
  const dataDir = await tempDir('bidder-surrogate');
  const b = await startBidder(db, dataDir, 'p4');
  // JSON.stringify writes the lone surrogate as the escape "\ud800": what an exchange could send.
  const odd = await b.post('/bid', bannerRequest('odd-\ud800'));
  expect(odd.status, odd.text).toBe(200);
  expect(odd.json().id).toBe('odd-\ud800'); // echoed as sent
  const bids = await placeBids(b, 5, 'after');
  await sendNotices(b, bids.flatMap((x) => x.notices));
  // The odd request's bid and request rows share a batch with the others: all must arrive.
  expect(await until(async () => Number((await sql(db, `SELECT count() FROM bids`).catch(() => ['0']))[0]) === 6, 15_000), b.logs).toBe(true);
  expect(await sql(db, `SELECT request_id FROM bids WHERE request_id LIKE 'odd-%'`)).toEqual(['odd-\ufffd']);
  expect(await sql(db, `SELECT request_id FROM requests WHERE request_id LIKE 'odd-%'`)).toEqual(['odd-\ufffd']);
  expect(await until(async () => Number((await sql(db, `SELECT count() FROM wins`))[0]) === 5, 15_000)).toBe(true);
  const m = (await b.get('/metrics', true)).text;
  expect(metricSum(m, 'events_insert_errors_total'), b.logs).toBe(0);
  expect(await b.terminate(), b.logs).toEqual({ code: 0, signal: null });
  expect(await spoolFiles(dataDir)).toEqual([]);
});
