/**
 * Outcome models with WORKERS=2, as a real process: the one trainer on the main thread learns from
 * both workers' bids, and from clicks that land on the other worker than their bid's (bid ids are
 * `<holder>-<n>`; the label is joined on the main thread), and the tables it publishes change the
 * prices of both workers. Quality shows on /metrics and GET /api/v1/models.
 *
 * Which worker answered is read from the bid id, which starts with `<INSTANCE_ID>_<worker>_`.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidderProcess } from '../helpers/bidder-process.js';
import { bidRequest, Lane, sample, until } from '../helpers/lanes.js';
import { clickUrl, impressionPixel, pathOf } from '../helpers/notice-kit.js';

const LANES = 12;
const TRAIN = 40;
let dir = '';
let p: BidderProcess;
const lanes: Lane[] = [];

// One cpc campaign: 1 CPM (its fallback) until the click model is ready, then 0.01 x P(click) x 1000.
const CAMPAIGN = `
advertisers:
  - { id: adv-goal, name: Goal advertiser, domains: [goal.example] }
campaigns:
  - id: cmp-cpc
    advertiserId: adv-goal
    name: Priced per click
    bid: { base: 1, max: 20 }
    goal: { type: cpc, target: 0.01, explore: 0 }
    creatives:
      - { id: cr-cpc, type: banner, w: 300, h: 250, imageUrl: "https://cdn.goal.example/a.png", landingUrl: "https://goal.example/" }
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outcome-workers-'));
  await mkdir(join(dir, 'config', 'campaigns'), { recursive: true });
  await cp('config/exchanges.yaml', join(dir, 'config', 'exchanges.yaml'));
  await cp('config/currencies.yaml', join(dir, 'config', 'currencies.yaml'));
  await writeFile(join(dir, 'config', 'campaigns', 'goal.yaml'), CAMPAIGN);
  p = await BidderProcess.start({
    WORKERS: '2',
    CONFIG_DIR: join(dir, 'config'),
    DATA_DIR: join(dir, 'data'),
    INSTANCE_ID: 'om',
    NOTICE_SIGNING_KEYS: 'k1:outcome-workers-secret-0123456789',
    SHED_LAG_MS: '200',
    OUTCOME_MODELS: '1',
    OUTCOME_PUBLISH_SECONDS: '1',
    OUTCOME_MIN_EXAMPLES: String(TRAIN),
    OUTCOME_MIN_POSITIVES: String(TRAIN),
  }, 45_000); // a loaded machine starts two workers slowly
  for (let i = 0; i < LANES; i++) lanes.push(new Lane(p.port));
}, 60_000);

afterAll(async () => {
  for (const l of lanes) l.close();
  if (p) {
    const exit = await p.terminate(15_000);
    expect(exit, p.logs).toEqual({ code: 0, signal: null });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

interface Bid {
  readonly id: string;
  readonly price: number;
  readonly adm: string;
  readonly worker: string;
}

let n = 0;
async function bidOn(lane: Lane): Promise<Bid> {
  const x = await lane.send('POST', '/bid', bidRequest(`om-${++n}`));
  expect(x.status, x.body).toBe(200);
  const bid = JSON.parse(x.body!).seatbid[0].bid[0];
  return { id: bid.id, price: bid.price, adm: bid.adm, worker: /^om_(\d+)_/.exec(bid.id)![1] };
}

describe('outcome models with WORKERS=2', () => {
  it('trains on the main thread from both workers (labels landing on the other worker), and both price from its tables', async () => {
    // Which worker holds each lane's connection (kernel's choice; both take some: 12 lanes on one, p ≈ 5e-4).
    const byWorker = new Map<string, Lane[]>();
    for (const lane of lanes) {
      const b = await bidOn(lane);
      expect(b.price).toBe(1); // not ready: the CPM fallback
      byWorker.set(b.worker, [...(byWorker.get(b.worker) ?? []), lane]);
    }
    expect([...byWorker.keys()].sort()).toEqual(['1', '2']);
    const other = (w: string) => byWorker.get(w === '1' ? '2' : '1')!;

    // Every bid is shown and clicked, its notices sent on a connection of the other worker.
    const workersTrained = new Set<string>();
    for (let i = 0; i < TRAIN; i++) {
      const b = await bidOn(lanes[i % LANES]);
      workersTrained.add(b.worker);
      const to = other(b.worker)[i % other(b.worker).length];
      expect((await to.send('GET', pathOf(impressionPixel(b.adm)!))).status).toBe(200);
      expect((await to.send('GET', pathOf(clickUrl(b.adm)!))).status).toBe(302);
    }
    expect([...workersTrained].sort()).toEqual(['1', '2']);

    // Published within a second or so: every worker now prices the goal from the model.
    await until('both workers price from the model', async () => {
      const prices = await Promise.all([...byWorker.values()].map(async (ls) => (await bidOn(ls[0])).price));
      return prices.every((x) => x > 1) || undefined;
    }, 20_000);
    for (const [w, ls] of byWorker) {
      const b = await bidOn(ls[ls.length - 1]);
      expect(b.worker).toBe(w);
      expect(b.price).toBeGreaterThan(1);
    }

    const metrics = (await p.get('/metrics', true)).text;
    expect(sample(metrics, 'bidder_model_ready{model="click"}')).toBe(1);
    expect(sample(metrics, 'bidder_model_examples_trained{model="click"}')).toBe(TRAIN);
    expect(sample(metrics, 'bidder_model_last_publish_timestamp_seconds{model="click"}')).toBeGreaterThan(Date.now() / 1000 - 60);
    const models = (await p.get('/api/v1/models', true)).json();
    expect(models.enabled).toBe(true);
    expect(models.models.find((m: { model: string }) => m.model === 'click')).toMatchObject({ ready: true, trained: TRAIN, positives: TRAIN, holdoutExamples: TRAIN });
  }, 60_000);
});
