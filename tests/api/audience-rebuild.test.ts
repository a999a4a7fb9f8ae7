/**
 * `POST /api/v1/audiences/{id}/rebuild` over real HTTP: a lookalike trained on the profiles of
 * the users seen and published to the segment store; a rule audience recomputed from the event
 * store; who may ask (operators, the owning advertiser; read-only keys 403); unknown, deleted and
 * other advertisers' audiences answering 404 alike; 409 for an uploaded or paused audience and
 * while a rebuild runs; and a lookalike seeded from another advertiser's audience refused exactly
 * as one seeded from a segment that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import type { HttpResult } from '../helpers/bidder.js';
import { FakeEventDatabase } from '../helpers/fake-event-database.js';
import { samples, tenants } from './fixtures.js';
import { AudienceRebuilds } from '../../src/audiences/rebuilds.js';
import type { SegmentMeta } from '../../src/audiences/segment-store.js';

/** An event store whose queries wait for `release` while `hold` is set (a rule rebuild that takes its time). */
class GatedEvents extends FakeEventDatabase {
  hold = false;
  queries = 0;
  private waiting: (() => void)[] = [];
  override async query<T>(): Promise<T[]> {
    this.queries++;
    if (this.hold) await new Promise<void>((r) => this.waiting.push(r));
    return [];
  }
  get waitingQueries(): number {
    return this.waiting.length;
  }
  releaseQueries(): void {
    this.hold = false;
    for (const r of this.waiting.splice(0)) r();
  }
}

const T0 = Date.UTC(2026, 0, 5, 20);
let h: ApiHarness;
const events = new GatedEvents();
let acme: string;
let globex: string;
let roAcme: string;

/** 40 seed users and 40 like them (French iOS users of cooking sites, evenings); 200 others (US Android car fans, mornings). */
function seeUsers(): void {
  for (let i = 0; i < 40; i++)
    for (const who of [`uid:seed-${i}`, `uid:like-${i}`])
      h.profiles.observe({ key: who, country: 'FRA', os: 'ios', deviceType: 4, categories: ['IAB8', 'IAB8-5'], domain: `cooking${i % 4}.example`, nowMs: T0 });
  for (let i = 0; i < 200; i++)
    h.profiles.observe({ key: `uid:other-${i}`, country: 'USA', os: 'android', deviceType: 4, categories: ['IAB2'], domain: `cars${i % 4}.example`, nowMs: T0 - 12 * 3_600_000 });
}

const post = (id: string, key?: string) => h.call('POST', `/api/v1/audiences/${id}/rebuild`, undefined, key ? { key } : {});
const upload = async (id: string, csv: string, key: string) => {
  const r = await h.call('POST', `/api/v1/audiences/${id}/members`, csv, { key, headers: { 'content-type': 'text/csv' } });
  expect(r.status, r.text).toBe(200);
};
const memberOf = async (key: string, segment: string) => (await h.bidder.audiences.store.lookup([key]))[0]?.some((m) => m.segment === segment) ?? false;

beforeAll(async () => {
  h = await startApi({ bundle: tenants, reportStore: events });
  [acme, globex, roAcme] = await Promise.all([h.key('advertiser', ['acme']), h.key('advertiser', ['globex']), h.key('read-only', ['acme'])]);
  seeUsers();
  expect((await h.call('POST', '/api/v1/audiences', samples.audiences('acme-buyers', 'acme'), { key: acme })).status).toBe(201);
  await upload('acme-buyers', `user_id,id_type\n${Array.from({ length: 40 }, (_, i) => `seed-${i},uid`).join('\n')}\n`, acme);
  expect((await h.call('POST', '/api/v1/audiences', samples.audiences('globex-buyers', 'globex'), { key: globex })).status).toBe(201);
  await upload('globex-buyers', 'user_id,id_type\nseed-1,uid\n', globex);
  const like = await h.call('POST', '/api/v1/audiences', { id: 'acme-like', name: 'Like our buyers', advertiserId: 'acme', lookalike: { seed: 'acme-buyers', size: 40, refreshHours: 24 } }, { key: acme });
  expect(like.status, like.text).toBe(201);
  const rule = await h.call('POST', '/api/v1/audiences', { id: 'acme-visitors', name: 'Visitors', advertiserId: 'acme', rule: { source: 'pixel', events: ['visit'], lookbackDays: 30 } }, { key: acme });
  expect(rule.status, rule.text).toBe(201);
});
afterAll(() => h?.close());

describe('rebuilding a lookalike now', () => {
  it('trains on the users seen and publishes the most similar outside the seed', async () => {
    expect(await memberOf('uid:like-0', 'acme-like')).toBe(false);
    const r = await post('acme-like', acme);
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toMatchObject({ id: 'acme-like', kind: 'lookalike', members: 40, removed: 0, positives: 40 });
    expect(r.json().builtAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    for (let i = 0; i < 40; i++) expect(await memberOf(`uid:like-${i}`, 'acme-like'), `like-${i}`).toBe(true);
    for (const k of ['uid:seed-0', 'uid:other-0', 'uid:other-199']) expect(await memberOf(k, 'acme-like'), k).toBe(false);
  });

  it('a second rebuild after the users changed replaces the members (the ones no longer best are removed)', async () => {
    // Ten of the "like" users are forgotten: they can no longer be chosen, and leave the audience.
    for (let i = 0; i < 10; i++) h.profiles.forget(`uid:like-${i}`);
    const r = await post('acme-like');
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toMatchObject({ kind: 'lookalike', members: 40, removed: 10 });
    expect(await memberOf('uid:like-0', 'acme-like')).toBe(false);
    expect(await memberOf('uid:like-39', 'acme-like')).toBe(true);
  });
});

describe('rebuilding a rule audience now', () => {
  it('recomputes it from the event store; a second call while it runs is 409 rebuild_running', async () => {
    events.hold = true;
    const asked = events.queries;
    const first = post('acme-visitors', acme);
    await expect.poll(() => events.waitingQueries, { timeout: 5_000 }).toBe(1);
    const second = await post('acme-visitors', acme);
    expect(second.status, second.text).toBe(409);
    expect(second.json().code).toBe('rebuild_running');
    events.releaseQueries();
    const done = await first;
    expect(done.status, done.text).toBe(200);
    expect(done.json()).toMatchObject({ id: 'acme-visitors', kind: 'rule', members: 0, removed: 0 });
    expect(events.queries).toBe(asked + 1);
    // Done: it can be rebuilt again.
    expect((await post('acme-visitors', acme)).status).toBe(200);
  });
});

describe('who may rebuild what', () => {
  const shape = (r: HttpResult, id: string) => ({ status: r.status, body: r.text.split(id).join('<id>') });

  it('an uploaded audience: 409 not_rebuildable; a paused one: 409 paused (and again after resume: 200)', async () => {
    const up = await post('acme-buyers', acme);
    expect(up.status).toBe(409);
    expect(up.json().code).toBe('not_rebuildable');
    expect((await h.call('POST', '/api/v1/audiences/acme-visitors/pause', undefined, { key: acme })).status).toBe(200);
    const paused = await post('acme-visitors', acme);
    expect(paused.status).toBe(409);
    expect(paused.json().code).toBe('paused');
    expect((await h.call('POST', '/api/v1/audiences/acme-visitors/resume', undefined, { key: acme })).status).toBe(200);
    expect((await post('acme-visitors', acme)).status).toBe(200);
  });

  it("another advertiser's audience answers exactly as a missing one (404); a deleted one too", async () => {
    const theirs = await post('acme-like', globex);
    const none = await post('no-such-audience', globex);
    expect(theirs.status).toBe(404);
    expect(shape(theirs, 'acme-like')).toEqual(shape(none, 'no-such-audience'));
    expect(theirs.text).not.toMatch(/lookalike|acme-buyers|Like our buyers/);
    await h.call('POST', '/api/v1/audiences', { id: 'acme-gone', name: 'Gone', advertiserId: 'acme', rule: { source: 'pixel', events: ['visit'], lookbackDays: 7 } }, { key: acme });
    expect((await h.call('DELETE', '/api/v1/audiences/acme-gone', undefined, { key: acme })).status).toBe(200);
    const gone = await post('acme-gone', acme);
    expect(shape(gone, 'acme-gone')).toEqual(shape(await post('no-such-audience', acme), 'no-such-audience'));
  });

  it('read-only keys: 403, even for their own advertiser; operators: any advertiser\'s', async () => {
    const ro = await post('acme-like', roAcme);
    expect(ro.status).toBe(403);
    expect(ro.json().code).toBe('forbidden');
    expect((await post('acme-like')).status).toBe(200);
  });
});

describe("a lookalike's seed", () => {
  it("another advertiser's segment is refused exactly as a missing one, and nothing is created", async () => {
    const make = (id: string, seed: string) =>
      h.call('POST', '/api/v1/audiences', { id, name: 'Sneaky', advertiserId: 'acme', lookalike: { seed, size: 10, refreshHours: 24 } }, { key: acme });
    const theirs = await make('acme-sneaky-1', 'globex-buyers');
    const none = await make('acme-sneaky-2', 'no-such-seed');
    expect(theirs.status).toBe(400);
    expect(theirs.json().errors).toEqual([{ pointer: '/lookalike/seed', path: '/lookalike/seed', code: 'invalid', message: 'no segment "globex-buyers" of advertiser "acme" to build from' }]);
    expect(none.json().errors).toEqual([{ pointer: '/lookalike/seed', path: '/lookalike/seed', code: 'invalid', message: 'no segment "no-such-seed" of advertiser "acme" to build from' }]);
    expect(theirs.text.split('globex-buyers').join('<seed>').split('acme-sneaky-1').join('<id>')).toBe(none.text.split('no-such-seed').join('<seed>').split('acme-sneaky-2').join('<id>'));
    expect((await h.call('GET', '/api/v1/audiences/acme-sneaky-1')).status).toBe(404);
    // Nor by moving an existing lookalike onto it.
    const patch = await h.call('PATCH', '/api/v1/audiences/acme-like', { lookalike: { seed: 'globex-buyers', size: 10, refreshHours: 24 } }, { key: acme });
    expect(patch.status).toBe(400);
    expect((await h.call('GET', '/api/v1/audiences/acme-like')).json().lookalike.seed).toBe('acme-buyers');
  });
});

describe('a bidder that does not build a kind', () => {
  it('says so (503 rebuild_unavailable is decided by the rebuilder): no lookalike builder, or no event store yet', () => {
    const off = new AudienceRebuilds(h.bidder.audiences, undefined, () => undefined);
    const meta = (extra: Partial<SegmentMeta>): SegmentMeta => ({ id: 'x', name: 'x', ttlSeconds: 60, createdAt: '2026-01-01T00:00:00Z', ...extra });
    expect(off.unavailable(meta({ lookalike: { seed: 's', size: 1, refreshHours: 1 } }))).toMatch(/LOOKALIKES/);
    expect(off.unavailable(meta({ rule: { source: 'pixel', events: ['visit'], lookbackDays: 1 } }))).toMatch(/event store/);
    expect(off.isRunning('x')).toBe(false);
  });
});
