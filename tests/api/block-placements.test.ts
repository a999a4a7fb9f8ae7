/**
 * POST /api/v1/campaigns/{id}/block-placements over real HTTP, reading a real event store (chDB):
 * the worst placements of the campaign's report go into its domain and bundle block lists, through
 * the same write as a PATCH (a new revision, an audit entry), kept alongside what was there.
 * Roles and tenancy are in roles.test.ts and tenancy.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { tenants } from './fixtures.js';
import { ChdbDatabase } from '../../src/events/chdb-database.js';
import { migrate } from '../../src/events/migrate.js';
import { EVENT_TABLES, type BidderEvent, type EventBase } from '../../src/events/event-types.js';
import { worstPlacements } from '../../src/api/block-placements.js';

let h: ApiHarness;
let events: ChdbDatabase;
let dir: string;
let acme: string;

const T = Date.parse('2026-03-02T10:00:00Z') / 1000;

function rows(campaign: string, advertiser: string, placement: string, type: 'site' | 'app', impressions: number, clicks: number): BidderEvent[] {
  const out: BidderEvent[] = [];
  const base = (kind: string, i: number): EventBase => ({
    event_id: `${kind}:${campaign}:${placement}:${i}`,
    event_time: T + i,
    exchange: 'x',
    advertiser_id: advertiser,
    campaign_id: campaign,
    creative_id: 'cr',
    bid_id: `${campaign}:${placement}:${i}`,
    request_id: '',
    imp_id: '1',
    deal_id: '',
    placement,
    placement_type: type,
    publisher_id: 'pub',
    country: 'USA',
    device_type: 2,
  });
  for (let i = 0; i < impressions; i++) out.push({ ...base('impression', i), type: 'impression' });
  for (let i = 0; i < clicks; i++) out.push({ ...base('click', i), type: 'click' });
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'block-placements-'));
  events = await ChdbDatabase.open(join(dir, 'chdb'));
  await migrate(events);
  const all = [
    ...rows('acme-c1', 'acme', 'good.example', 'site', 200, 20), // ctr 0.1
    ...rows('acme-c1', 'acme', 'meh.example', 'site', 200, 2), // 0.01
    ...rows('acme-c1', 'acme', 'com.bad.game', 'app', 200, 0), // 0
    ...rows('acme-c1', 'acme', 'tiny.example', 'site', 5, 0), // too few impressions
    ...rows('globex-c1', 'globex', 'globex-worst.example', 'site', 200, 0), // another campaign's
  ];
  for (const type of ['impression', 'click'] as const)
    await events.insert(EVENT_TABLES[type], all.filter((e) => e.type === type) as unknown as Record<string, unknown>[]);
  h = await startApi({ bundle: tenants, reportStore: events });
  acme = await h.key('advertiser', ['acme']);
}, 60_000);

afterAll(async () => {
  await h?.close();
  await events?.close();
  rmSync(dir, { recursive: true, force: true });
});

const ask = { from: '2026-03-02', to: '2026-03-02', metric: 'ctr', worst: 2, minImpressions: 100 };

describe('block-placements', () => {
  it("adds the campaign's worst placements to its domain and bundle block lists, next to what was there, as a new revision with an audit entry", async () => {
    const patched = await h.call('PATCH', '/api/v1/campaigns/acme-c1', { targeting: { domains: { block: ['kept.example'] } } }, { key: acme });
    expect(patched.status, patched.text).toBe(200);
    const before = patched.json().version;

    const r = await h.call('POST', '/api/v1/campaigns/acme-c1/block-placements', ask, { key: acme });
    expect(r.status, r.text).toBe(200);
    const body = r.json();
    expect(body.added).toEqual([
      { placement: 'com.bad.game', placementType: 'app', impressions: 200, value: 0 },
      { placement: 'meh.example', placementType: 'site', impressions: 200, value: 0.01 },
    ]);
    expect(body.alreadyBlocked).toEqual([]);
    expect(body.campaign.version).toBeGreaterThan(before);
    expect(r.headers.etag).toBe(`"${body.campaign.version}"`);
    const stored = (await h.call('GET', '/api/v1/campaigns/acme-c1', undefined, { key: acme })).json();
    expect(stored.targeting.domains.block).toEqual(['kept.example', 'meh.example']);
    expect(stored.targeting.bundles.block).toEqual(['com.bad.game']);
    const history = (await h.call('GET', '/api/v1/campaigns/acme-c1/history', undefined, { key: acme })).json();
    expect(history.items[0]).toMatchObject({ action: 'update' });
    expect(JSON.stringify(history.items[0])).toContain('com.bad.game');
    // The other campaign's placement (worse than all of these) is not this campaign's to block.
    expect(JSON.stringify(stored)).not.toContain('globex-worst');
  });

  it('asked again: the same worst placements are already blocked, nothing is written', async () => {
    const version = (await h.call('GET', '/api/v1/campaigns/acme-c1')).json().version;
    const r = await h.call('POST', '/api/v1/campaigns/acme-c1/block-placements', ask, { key: acme });
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toMatchObject({ added: [], alreadyBlocked: ['com.bad.game', 'meh.example'] });
    expect((await h.call('GET', '/api/v1/campaigns/acme-c1')).json().version).toBe(version);
  });

  it('validates the body and the range like a report; an If-Match that no longer holds is a 412', async () => {
    const bad = await h.call('POST', '/api/v1/campaigns/acme-c1/block-placements', { ...ask, metric: 'spend', worst: 0 }, { key: acme });
    expect(bad.status).toBe(400);
    const range = await h.call('POST', '/api/v1/campaigns/acme-c1/block-placements', { ...ask, from: '2026-03-03', to: '2026-03-01' }, { key: acme });
    expect(range.status).toBe(400);
    expect(range.json().errors).toContainEqual(expect.objectContaining({ path: 'to', code: 'invalid_range' }));
    const stale = await h.call('POST', '/api/v1/campaigns/acme-c1/block-placements', { ...ask, worst: 3, minImpressions: 0 }, { key: acme, headers: { 'if-match': '"1"' } });
    expect(stale.status).toBe(412);
  });
});

describe('worstPlacements', () => {
  const row = (placement: string, placementType: string, m: Partial<Record<'impressions' | 'clicks' | 'conversions' | 'wins' | 'bids' | 'spend', number>>) =>
    ({ placement, placementType, impressions: 0, clicks: 0, conversions: 0, wins: 0, bids: 0, spend: 0, ...m }) as never;

  it('sums the days of a placement; ecpa ranks the dearest first and spend without a conversion worst of all; win rate the lowest', () => {
    const rows = [
      row('a.example', 'site', { impressions: 100, spend: 1, conversions: 1, wins: 5, bids: 10 }),
      row('a.example', 'site', { impressions: 100, spend: 3, conversions: 1, wins: 5, bids: 10 }), // another day: 4 / 2 = 2
      row('b.example', 'site', { impressions: 100, spend: 0.5 }), // no conversion
      row('c.app', 'app', { impressions: 100, spend: 3, conversions: 1, wins: 1, bids: 10 }),
      row('', '', { impressions: 1000, spend: 9 }), // no placement: never blocked
    ];
    expect(worstPlacements(rows, 'ecpa', 0).map((p) => [p.placement, p.value])).toEqual([
      ['b.example', null],
      ['c.app', 3],
      ['a.example', 2],
    ]);
    expect(worstPlacements(rows, 'win_rate', 0).map((p) => [p.placement, p.value])).toEqual([
      ['b.example', null],
      ['c.app', 0.1],
      ['a.example', 0.5],
    ]);
    expect(worstPlacements(rows, 'cvr', 150).map((p) => p.placement)).toEqual(['a.example']);
  });
});
