/**
 * What a 204 to a billing or conversion notice is worth when the process dies: the built bidder
 * (`dist/`) takes billing and conversion notices on keep-alive connections and is SIGKILLed at a
 * random moment, 10 times by default (WORKERS=1 and WORKERS=2 in turn: the workers' notices go through the
 * main thread's writer). Its event store is unreachable, so every event stays in the spool; after
 * each kill the spool is replayed by a new writer on the same DATA_DIR, as the next start would.
 * Every notice that was answered 204 must be there: none missing, over all trials.
 * `NOTICE_CRASH_TRIALS=200 npx vitest run tests/events/notice-crash.test.ts` kills it more often.
 */
import { Agent, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { BidderProcess } from '../helpers/bidder-process.js';
import { FakeEventDatabase } from '../helpers/fake-event-database.js';
import { EventWriter } from '../../src/events/event-writer.js';
import { EventMetrics } from '../../src/metrics/event-metrics.js';
import { NoticeSigner, parseSigningKeys } from '../../src/events/notice-signer.js';
import { identityQuery, type BidIdentity } from '../../src/events/bid-identity.js';
import { clickToken } from '../../src/events/click-token.js';

const TRIALS = Math.max(2, Number(process.env.NOTICE_CRASH_TRIALS) || 10);
const CONNECTIONS = 8;
const KEYS = 'crash:notice-crash-secret-0123456789';
const signer = new NoticeSigner(parseSigningKeys(KEYS));

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'notice-crash-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const identity = (bidId: string): BidIdentity => ({
  bidId,
  requestId: `r-${bidId}`,
  impId: '1',
  exchange: 'default',
  advertiserId: 'adv-acme',
  campaignId: 'cmp-acme-ron',
  creativeId: 'cr-acme-ron-300x250',
  dealId: '',
  price: 2,
  currency: 'USD',
  issuedAt: Math.floor(Date.now() / 1000),
});

/** One notice: its path and the event id it records. */
function notice(trial: number, n: number): { path: string; eventId: string } {
  const bidId = `t${trial}-b${n}`;
  if (n % 2 === 0) return { path: `/notice/billing/default?${identityQuery(identity(bidId), signer)}&p=1.25&pc=USD`, eventId: `billing:${bidId}` };
  const token = clickToken(identity(bidId), Math.floor(Date.now() / 1000), signer);
  const order = `o-${bidId}`;
  return { path: `/notice/conversion?click=${encodeURIComponent(token)}&order=${order}&value=9.5&currency=USD`, eventId: `conversion:adv-acme:${order}` };
}

function get(port: number, agent: Agent, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

interface Trial {
  workers: number;
  acked: number;
  recovered: number;
  missing: string[];
  refused: number;
}

async function trial(i: number): Promise<Trial> {
  const workers = i % 2 === 0 ? 1 : 2;
  const dataDir = join(work, `data-${i}`);
  const p = await BidderProcess.start({
    WORKERS: String(workers),
    DATA_DIR: dataDir,
    CONFIG_DIR: 'config',
    // Unreachable: nothing leaves the spool, so the spool is the whole record.
    CLICKHOUSE_URL: 'http://127.0.0.1:1/crash',
    NOTICE_SIGNING_KEYS: KEYS,
    INSTANCE_ID: `crash${i}`,
  });
  const acked: string[] = [];
  let refused = 0;
  let next = 0;
  let killed = false;
  const agents: Agent[] = [];
  const lanes = Array.from({ length: CONNECTIONS }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    while (!killed) {
      const { path, eventId } = notice(i, next++);
      const status = await get(p.port, agent, path).catch(() => 0);
      if (status === 204) acked.push(eventId);
      else if (status !== 0) refused++; // 0: no answer (the kill)
    }
  });
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 500));
  p.kill();
  await p.exited;
  killed = true;
  await Promise.all(lanes);
  for (const a of agents) a.destroy();

  // The next start: a writer on the same DATA_DIR replays the spool.
  const store = new FakeEventDatabase();
  const writer = new EventWriter({ store, dataDir, metrics: new EventMetrics(new Registry()), log: () => {} });
  await writer.close();
  const have = new Set(store.ids());
  return { workers, acked: acked.length, recovered: have.size, missing: acked.filter((id) => !have.has(id)), refused };
}

it(`every billing and conversion notice answered 204 survives a SIGKILL (${TRIALS} trials)`, async () => {
  const results: Trial[] = [];
  for (let i = 0; i < TRIALS; i++) results.push(await trial(i));
  console.log(
    `notice crash: ${TRIALS} kills, ${results.reduce((s, r) => s + r.acked, 0)} notices acknowledged, ` +
      `${results.reduce((s, r) => s + r.missing.length, 0)} of them missing\n` +
      results.map((r, i) => `  #${i} workers=${r.workers}: acked ${r.acked}, recovered ${r.recovered}, missing ${r.missing.length}, refused ${r.refused}`).join('\n'),
  );
  for (const r of results) expect(r.acked).toBeGreaterThan(0);
  expect(results.flatMap((r) => r.missing)).toEqual([]);
  // Every answer the bidder gave was a 204 (the store being down does not matter).
  expect(results.reduce((s, r) => s + r.refused, 0)).toBe(0);
}, TRIALS * 15_000); // on a loaded 2-core machine a start of the built bidder alone has taken 15 s
