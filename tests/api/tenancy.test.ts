/**
 * Tenant isolation: advertiser A (acme) cannot list, read, change or delete advertiser B's (globex)
 * campaigns, creatives, audiences or advertiser record, by guessing ids or through filters. B's
 * resources answer exactly as missing ones do (404, never 403, never their data), and B's data is
 * unchanged by every attempt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import type { HttpResult } from '../helpers/bidder.js';
import { samples, tenants } from './fixtures.js';

let h: ApiHarness;
let a: string; // acme's key
let b: string; // globex's key
/** Every resource of B, as the admin sees them before the attacks. */
let snapshotOfB: string;

const bResources = {
  advertisers: 'globex',
  campaigns: 'globex-c1',
  creatives: 'globex-cr1',
  audiences: 'globex-seg',
} as const;

async function everythingOfB(): Promise<string> {
  const parts: unknown[] = [];
  for (const [kind, id] of Object.entries(bResources)) parts.push((await h.call('GET', `/api/v1/${kind}/${id}`)).json());
  parts.push((await h.call('GET', `/api/v1/audiences/globex-seg`)).json().approximateSize);
  return JSON.stringify(parts);
}

beforeAll(async () => {
  h = await startApi({ bundle: tenants });
  [a, b] = await Promise.all([h.key('advertiser', ['acme']), h.key('advertiser', ['globex'])]);
  expect((await h.call('POST', '/api/v1/audiences', samples.audiences('globex-seg', 'globex'))).status).toBe(201);
  expect((await h.call('POST', '/api/v1/audiences', samples.audiences('acme-seg', 'acme'))).status).toBe(201);
  expect((await h.call('POST', '/api/v1/audiences', { id: 'shared-seg', name: 'Third party' })).status).toBe(201);
  const up = await h.call('POST', '/api/v1/audiences/globex-seg/members', 'user_id,id_type\nu1,uid\nu2,uid\n', { key: b, headers: { 'content-type': 'text/csv' } });
  expect(up.status, up.text).toBe(200);
  snapshotOfB = await everythingOfB();
});
afterAll(() => h?.close());

/** The error body with the id taken out, so "B's" and "missing" can be compared. */
const shape = (r: HttpResult, id: string) => ({ status: r.status, body: r.text.split(id).join('<id>') });

const FILTERS: Record<string, string[]> = {
  advertisers: ['?status=active'],
  campaigns: ['?advertiserId=globex', '?status=active'],
  creatives: ['?advertiserId=globex', '?campaignId=globex-c1', '?status=approved'],
  audiences: ['?advertiserId=globex', '?status=active'],
};

describe.each(Object.entries(bResources))('%s of another advertiser', (kind, id) => {
  const base = `/api/v1/${kind}`;
  const sample = (samples as Record<string, (id: string) => object>)[kind];

  it('is not in A\'s list, not even when A filters for it', async () => {
    for (const q of ['', '?limit=500', '?includeDeleted=true', `?q=${id}`, '?q=globex', ...FILTERS[kind]]) {
      const r = await h.call('GET', `${base}${q}`, undefined, { key: a });
      expect(r.status, q).toBe(200);
      const ids = r.json().items.map((x: { id: string }) => x.id);
      expect(ids, q).not.toContain(id);
      expect(r.text, q).not.toContain('globex');
    }
  });

  it('answers every request by id exactly as a missing one (404, never 403, never its data)', async () => {
    const requests: [string, string, ((id: string) => unknown)?][] = [
      ['GET', ''],
      ['GET', '?includeDeleted=true'],
      ['GET', '/history'],
      ['PATCH', '', () => ({ name: 'Pwned' })],
      ['POST', '/pause'],
      ['POST', '/resume'],
      ['DELETE', ''],
      ...(kind === 'campaigns' ? [['POST', '/block-placements', () => ({ from: '2026-01-01', to: '2026-01-02', metric: 'ctr', worst: 3 })] as [string, string, () => unknown]] : []),
      ...(kind === 'audiences' ? [['POST', '/rebuild'] as [string, string]] : []),
    ];
    let n = 0;
    for (const [method, suffix, payload] of requests) {
      const missing = `no-such-${kind}-${++n}`;
      const theirs = await h.call(method, `${base}/${id}${suffix}`, payload?.(id), { key: a });
      const none = await h.call(method, `${base}/${missing}${suffix}`, payload?.(missing), { key: a });
      if (kind === 'advertisers' && method !== 'GET' && method !== 'PATCH') {
        // Pausing or deleting advertisers is for operators: 403 whichever the id, so nothing is told apart.
        expect(theirs.status, `${method} ${suffix}`).toBe(403);
      } else {
        expect(theirs.status, `${method} ${suffix}: ${theirs.text}`).toBe(404);
      }
      expect(shape(theirs, id), `${method} ${suffix}`).toEqual(shape(none, missing));
      expect(theirs.text).not.toContain('globex.example');
    }
  });

  it('PUT on its id is a 404, not a replacement (and not a creation under that id)', async () => {
    const r = await h.call('PUT', `${base}/${id}`, { ...sample(id), name: 'Pwned' }, { key: a });
    expect(r.status, r.text).toBe(404);
    expect(r.json().code).toBe('not_found');
    if (kind === 'advertisers') {
      // Advertiser keys cannot create advertisers: a free id answers the same 404.
      const free = await h.call('PUT', `${base}/free-adv`, { ...sample('free-adv') }, { key: a });
      expect(shape(free, 'free-adv')).toEqual(shape(r, id));
    }
  });

  it('stayed exactly as it was', async () => {
    expect(await everythingOfB()).toBe(snapshotOfB);
  });
});

describe('other ways in', () => {
  it('creating with B\'s id: a conflict that says nothing about B\'s resource', async () => {
    for (const [kind, id] of [
      ['campaigns', 'globex-c1'],
      ['creatives', 'globex-cr1'],
      ['audiences', 'globex-seg'],
    ] as const) {
      const r = await h.call('POST', `/api/v1/${kind}`, (samples as Record<string, (id: string) => object>)[kind](id), { key: a });
      expect(r.status).toBe(409);
      expect(r.text).not.toMatch(/globex\.example|Globex one|Segment globex/);
    }
  });

  it('a creative cannot join B\'s campaign: the same error as for a campaign that does not exist', async () => {
    const theirs = await h.call('POST', '/api/v1/creatives', samples.creatives('sneaky', 'globex-c1'), { key: a });
    const none = await h.call('POST', '/api/v1/creatives', samples.creatives('sneaky', 'nope-c1'), { key: a });
    expect(theirs.status).toBe(400);
    expect(theirs.json().errors).toEqual([{ pointer: '/campaignId', path: '/campaignId', code: 'unknown_reference', message: 'no campaign "globex-c1"' }]);
    expect(none.json().errors).toEqual([{ pointer: '/campaignId', path: '/campaignId', code: 'unknown_reference', message: 'no campaign "nope-c1"' }]);
  });

  it('a campaign cannot be created for B, nor moved to B', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', samples.campaigns('sneaky-c', 'globex'), { key: a });
    expect(r.status).toBe(403);
    expect(r.json().errors).toEqual([expect.objectContaining({ path: '/advertiserId', code: 'forbidden_field' })]);
    const move = await h.call('PATCH', '/api/v1/campaigns/acme-c1', { advertiserId: 'globex' }, { key: a });
    expect(move.status).toBe(403);
    expect((await h.call('GET', '/api/v1/campaigns/sneaky-c')).status).toBe(404);
  });

  it('a campaign cannot target B\'s first-party segment: the same error as for a segment that does not exist; its own and shared ones are fine', async () => {
    const target = (seg: string) => ({ ...samples.campaigns(`seg-${seg}`), targeting: { segments: { anyOf: [seg] } }, multipliers: { segment: { [seg]: 1.2 } } });
    const theirs = await h.call('POST', '/api/v1/campaigns', target('globex-seg'), { key: a });
    expect(theirs.status).toBe(400);
    expect(theirs.json().errors).toEqual([
      { pointer: '/targeting/segments/anyOf/0', path: '/targeting/segments/anyOf/0', code: 'unknown_segment', message: 'no segment "globex-seg" this advertiser may use' },
      { pointer: '/multipliers/segment/globex-seg', path: '/multipliers/segment/globex-seg', code: 'unknown_segment', message: 'no segment "globex-seg" this advertiser may use' },
    ]);
    const none = await h.call('POST', '/api/v1/campaigns', target('nope-seg'), { key: a });
    expect(none.json().errors.map((e: { code: string }) => e.code)).toEqual(['unknown_segment', 'unknown_segment']);
    expect((await h.call('POST', '/api/v1/campaigns', target('acme-seg'), { key: a })).status).toBe(201);
    expect((await h.call('POST', '/api/v1/campaigns', target('shared-seg'), { key: a })).status).toBe(201);
  });

  it('uploads into B\'s segment: 404 as for a missing one of someone else; progress of B\'s uploads is invisible', async () => {
    const r = await h.call('POST', '/api/v1/audiences/globex-seg/members', 'user_id,id_type\nevil,uid\n', { key: a, headers: { 'content-type': 'text/csv' } });
    expect(r.status).toBe(404);
    expect(r.json().code).toBe('not_found');
    const list = await h.call('GET', '/api/v1/audience-uploads', undefined, { key: a });
    expect(list.status).toBe(200);
    expect(list.json().uploads.map((u: { segmentId: string }) => u.segmentId)).not.toContain('globex-seg');
    const bList = await h.call('GET', '/api/v1/audience-uploads', undefined, { key: b });
    const [upload] = bList.json().uploads;
    expect(upload.segmentId).toBe('globex-seg');
    expect((await h.call('GET', `/api/v1/audience-uploads/${upload.uploadId}`, undefined, { key: a })).status).toBe(404);
    expect((await h.call('GET', `/api/v1/audience-uploads/${upload.uploadId}`, undefined, { key: b })).status).toBe(200);
    // and A's own upload into a new segment creates it as A's
    const own = await h.call('POST', '/api/v1/audiences/acme-new/members', 'user_id,id_type\nu9,uid\n', { key: a, headers: { 'content-type': 'text/csv' } });
    expect(own.status, own.text).toBe(200);
    expect((await h.call('GET', '/api/v1/audiences/acme-new', undefined, { key: a })).json()).toMatchObject({ advertiserId: 'acme', createdBy: a.split('_')[1] });
    // uploads need a key at all
    expect((await h.call('POST', '/api/v1/audiences/acme-new/members', 'user_id,id_type\nu9,uid\n', { key: null, headers: { 'content-type': 'text/csv' } })).status).toBe(401);
  });

  it('the audit log shows A only A\'s entries, whatever A asks for', async () => {
    for (const q of ['', '?advertiserId=globex', '?kind=campaigns&id=globex-c1', '?limit=500']) {
      const r = await h.call('GET', `/api/v1/audit${q}`, undefined, { key: a });
      expect(r.status).toBe(200);
      for (const e of r.json().items) expect(e.advertiserId, q).toBe('acme');
      expect(r.text).not.toContain('globex');
    }
    expect((await h.call('GET', '/api/v1/audit?limit=500', undefined, { key: a })).json().items.length).toBeGreaterThan(0);
  });

  it('B is still exactly as it was', async () => {
    expect(await everythingOfB()).toBe(snapshotOfB);
  });
});
