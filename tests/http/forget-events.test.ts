/**
 * `DELETE /api/v1/users/{idType}/{userId}/segments` forgets what events taught us about the user,
 * over real HTTP with a real event store (chDB): the rule memberships their pixel and their click
 * put them in (under both event keys), their pixel rows, and the user key on their notice rows, so
 * that the scheduled rebuild does not bring them back. Another user who did the same is kept, by
 * the online path and by the rebuild. (Lookalike profiles: tests/audiences/lookalikes.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import type { SegmentMeta } from '../../src/audiences/segment-store.js';
import { eventKey } from '../../src/audiences/rule-audiences.js';
import { RuleRebuilder } from '../../src/audiences/rule-rebuild.js';
import { ChdbDatabase } from '../../src/events/chdb-database.js';
import { migrate } from '../../src/events/migrate.js';
import { EVENT_TABLES } from '../../src/events/event-types.js';
import { UserKeyer } from '../../src/events/user-key.js';
import { userHash } from '../../src/money/frequency.js';
import { httpRequest, startBidder, type TestBidder } from '../helpers/bidder.js';
import { clickUrl, pathOf, RecordingSink } from '../helpers/notice-kit.js';

const banner = (id: string, w: number, h: number) => ({ id, type: 'banner' as const, w, h, html: `<div>${id}</div>` });
const bundle: ConfigBundle = {
  exchanges: [{ id: 'ex1', seat: 's' }],
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
  campaigns: [
    { id: 'acme-prospect', advertiserId: 'acme', bid: { base: 2, max: 3 }, creatives: [{ ...banner('p', 160, 600), html: '<a href="${DSP_CLICK_URL}">p</a>', landingUrl: 'https://acme.example/shop' }] },
    { id: 'acme-retarget', advertiserId: 'acme', bid: { base: 2, max: 3 }, targeting: { segments: { anyOf: ['acme-visitors'] } }, creatives: [banner('a', 300, 250)] },
  ],
};
const segment = (id: string, rule: SegmentMeta['rule']): SegmentMeta => ({
  id, name: id, advertiserId: 'acme', ttlSeconds: rule!.lookbackDays * 86_400, createdAt: new Date().toISOString(), rule,
});
const VISITORS = segment('acme-visitors', { source: 'pixel', events: ['visit'], lookbackDays: 30 });
const CLICKERS = segment('acme-clickers', { source: 'notices', events: ['click'], campaignIds: ['acme-prospect'], lookbackDays: 7 });

// The test bidder's user key secret (tests/helpers/bidder.ts).
const keyer = new UserKeyer('test-user-key-secret');
const pixelKey = (uid: string) => keyer.key(uid);
const noticeKey = (uid: string) => keyer.key(userHash([`uid:${uid}`])!);

const FORGOTTEN = 'ForgetMeVisitor0000001';
const KEPT = 'KeepMeVisitor000000001';

let dir: string;
let events: ChdbDatabase;
let store: MemorySegmentStore;
let sink: RecordingSink;
let bidder: TestBidder;
let written = 0;

/** What the event writer would have stored by now: the sink's pixel and notice rows, into chDB. */
async function flush(): Promise<void> {
  const rows = sink.events.slice(written).filter((e) => e.type === 'pixel' || e.type === 'impression' || e.type === 'click');
  written = sink.events.length;
  for (const type of ['pixel', 'impression', 'click'] as const) {
    const of = rows.filter((e) => e.type === type);
    if (of.length) await events.insert(EVENT_TABLES[type], of as unknown as Record<string, unknown>[]);
  }
}

async function mutationsDone(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [row] = await events.query<{ n: number | string }>('SELECT count() AS n FROM system.mutations WHERE is_done = 0 AND database = currentDatabase()');
    if (Number(row.n) === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const count = async (sql: string) => Number((await events.query<{ n: number | string }>(sql))[0].n);
const segmentsOf = async (key: string) => ((await store.lookup([eventKey(key)]))[0] ?? []).map((m) => m.segment).sort();

/** A pixel visit with our cookie, and a click on the prospecting campaign's ad, for `uid`. */
async function visitAndClick(uid: string): Promise<void> {
  expect((await httpRequest(bidder.port, 'GET', '/px/acme/visit', undefined, { cookie: `dspuid=${uid}` })).status).toBe(200);
  const bid = await bidder.post('/bid/ex1', { id: `r-${uid}`, imp: [{ id: '1', banner: { w: 160, h: 600 } }], site: { domain: 'news.example' }, user: { buyeruid: uid } });
  expect(bid.status).toBe(200);
  const click = clickUrl(bid.json().seatbid[0].bid[0].adm)!;
  expect((await httpRequest(bidder.port, 'GET', pathOf(click))).status).toBe(302);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forget-events-'));
  events = await ChdbDatabase.open(join(dir, 'data'), { database: 'dsp' });
  await migrate(events);
  store = new MemorySegmentStore();
  await store.putSegment(VISITORS);
  await store.putSegment(CLICKERS);
  sink = new RecordingSink();
  bidder = await startBidder({ bundle, segmentStore: store, events: sink, reportStore: events });
  for (const uid of [FORGOTTEN, KEPT]) await visitAndClick(uid);
  await flush();
}, 60_000);

afterAll(async () => {
  bidder?.close();
  await events?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('DELETE /api/v1/users/{idType}/{userId}/segments forgets what events taught', () => {
  it('before: both users are in both rule audiences, online, and their rows carry their user keys', async () => {
    for (const uid of [FORGOTTEN, KEPT]) {
      expect(await segmentsOf(pixelKey(uid))).toEqual(['acme-visitors']);
      expect(await segmentsOf(noticeKey(uid))).toEqual(['acme-clickers']);
      expect(await count(`SELECT count() AS n FROM pixels WHERE user_key = '${pixelKey(uid)}'`)).toBe(1);
      expect(await count(`SELECT count() AS n FROM clicks WHERE user_key = '${noticeKey(uid)}'`)).toBe(1);
    }
  });

  it('removes the memberships, the pixel rows and the user key of the notice rows; the click itself is still counted', async () => {
    const r = await httpRequest(bidder.adminPort, 'DELETE', `/api/v1/users/uid/${FORGOTTEN}/segments`);
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toEqual({ key: `uid:${FORGOTTEN}`, removed: true });
    expect(await segmentsOf(pixelKey(FORGOTTEN))).toEqual([]);
    expect(await segmentsOf(noticeKey(FORGOTTEN))).toEqual([]);
    await mutationsDone();
    expect(await count(`SELECT count() AS n FROM pixels WHERE user_key = '${pixelKey(FORGOTTEN)}'`)).toBe(0);
    expect(await count(`SELECT count() AS n FROM clicks WHERE user_key = '${noticeKey(FORGOTTEN)}'`)).toBe(0);
    expect(await count(`SELECT count() AS n FROM clicks`)).toBe(2);
    // The other user is untouched.
    expect(await segmentsOf(pixelKey(KEPT))).toEqual(['acme-visitors']);
    expect(await count(`SELECT count() AS n FROM pixels WHERE user_key = '${pixelKey(KEPT)}'`)).toBe(1);
  });

  it('the scheduled rebuild does not bring the forgotten user back, and keeps the other', async () => {
    await bidder.audiences.refreshRegistry(true);
    const results = await new RuleRebuilder(events, bidder.audiences, 3_600_000).tick();
    expect(results.map((x) => [x.segment, x.members]).sort()).toEqual([['acme-clickers', 1], ['acme-visitors', 1]]);
    expect(await segmentsOf(pixelKey(FORGOTTEN))).toEqual([]);
    expect(await segmentsOf(noticeKey(FORGOTTEN))).toEqual([]);
    expect(await segmentsOf(pixelKey(KEPT))).toEqual(['acme-visitors']);
    expect(await segmentsOf(noticeKey(KEPT))).toEqual(['acme-clickers']);
  });

  it('the forgotten user is not bid on as a member; forgetting them again finds nothing', async () => {
    const bid = await bidder.post('/bid/ex1', { id: 'r-after', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'news.example' }, user: { buyeruid: FORGOTTEN } });
    expect(bid.status).toBe(204);
    expect((await httpRequest(bidder.adminPort, 'DELETE', `/api/v1/users/uid/${FORGOTTEN}/segments`)).status).toBe(404);
  });
});
