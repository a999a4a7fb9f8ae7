/**
 * The config API's resources with an operator (admin) key, over real HTTP: every resource through
 * its whole life (create, read, list, replace, update, pause/resume, delete, history), paging and
 * filters, every kind of validation error (all at once, JSON paths, stable codes), unknown fields,
 * server and immutable fields, ETags and If-Match, the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import { samples, tenants } from './fixtures.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({ bundle: tenants });
});
afterAll(() => h?.close());

type Kind = keyof typeof samples;
const KINDS: Kind[] = ['advertisers', 'campaigns', 'creatives', 'exchanges', 'audiences'];
/** A partial update per kind, and the field it changes. */
const PATCHES: Record<Kind, Record<string, unknown>> = {
  advertisers: { name: 'Renamed' },
  campaigns: { bid: { base: 1.5 } },
  creatives: { name: 'Renamed' },
  exchanges: { name: 'Renamed' },
  audiences: { name: 'Renamed' },
};
const pausedField = (kind: Kind, paused: boolean) => (kind === 'creatives' ? { paused } : { status: paused ? 'paused' : 'active' });

describe.each(KINDS)('%s: the whole life of a resource (admin key)', (kind) => {
  const id = `life-${kind}`;
  const base = `/api/v1/${kind}`;

  it('create → 201 with Location, ETag "1", server fields and defaults', async () => {
    const r = await h.call('POST', base, samples[kind](id));
    expect(r.status, r.text).toBe(201);
    expect(r.headers.location).toBe(`${base}/${id}`);
    expect(r.headers.etag).toBe('"1"');
    const body = r.json();
    expect(body).toMatchObject({ ...samples[kind](id), version: 1, createdBy: 'root', updatedBy: 'root' });
    expect(Date.parse(body.createdAt)).not.toBeNaN();
    expect(body.updatedAt).toBe(body.createdAt);
    if (kind === 'creatives') expect(body).toMatchObject({ status: 'pending', paused: false, advertiserId: 'acme' });
    else expect(body.status).toBe('active');
  });

  it('read one and find it in the list', async () => {
    const one = await h.call('GET', `${base}/${id}`);
    expect(one.status).toBe(200);
    expect(one.headers.etag).toBe('"1"');
    expect(one.json().id).toBe(id);
    const list = await h.call('GET', `${base}?limit=500`);
    expect(list.status).toBe(200);
    expect(list.json().items.map((x: { id: string }) => x.id)).toContain(id);
    expect(list.json().total).toBe(list.json().items.length);
  });

  it('PATCH merges (RFC 7396) and bumps the version; a no-op PATCH changes nothing', async () => {
    const r = await h.call('PATCH', `${base}/${id}`, PATCHES[kind], { headers: { 'content-type': 'application/merge-patch+json' } });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.etag).toBe('"2"');
    expect(r.json()).toMatchObject({ version: 2 });
    if (kind === 'campaigns') expect(r.json().bid).toEqual({ base: 1.5, max: 2 });
    else expect(r.json().name).toBe('Renamed');
    const again = await h.call('PATCH', `${base}/${id}`, PATCHES[kind]);
    expect(again.status).toBe(200);
    expect(again.json().version).toBe(2);
  });

  it('If-Match: a stale ETag gets 412 and changes nothing; the current one passes', async () => {
    const stale = await h.call('PATCH', `${base}/${id}`, { name: 'Stale' }, { headers: { 'if-match': '"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.json().code).toBe('precondition_failed');
    expect((await h.call('GET', `${base}/${id}`)).json().version).toBe(2);
    const fresh = await h.call('PATCH', `${base}/${id}`, { name: 'Fresh' }, { headers: { 'if-match': '"2"' } });
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.json()).toMatchObject({ name: 'Fresh', version: 3 });
    expect((await h.call('POST', `${base}/${id}/pause`, undefined, { headers: { 'if-match': '"2"' } })).status).toBe(412);
    expect((await h.call('DELETE', `${base}/${id}`, undefined, { headers: { 'if-match': '"2"' } })).status).toBe(412);
  });

  it('If-None-Match: 304 for a GET of the current ETag; PUT with "*" refuses to replace', async () => {
    const r = await h.call('GET', `${base}/${id}`, undefined, { headers: { 'if-none-match': '"3"' } });
    expect(r.status).toBe(304);
    expect(r.text).toBe('');
    const put = await h.call('PUT', `${base}/${id}`, samples[kind](id), { headers: { 'if-none-match': '*' } });
    expect(put.status).toBe(412);
  });

  it('PUT replaces the whole resource: fields left out are gone, status is kept', async () => {
    await h.call('POST', `${base}/${id}/pause`);
    const full = { ...samples[kind](id) } as Record<string, unknown>;
    delete full.name;
    const r = await h.call('PUT', `${base}/${id}`, kind === 'advertisers' ? { ...full, name: 'Only name' } : full);
    expect(r.status, r.text).toBe(200);
    const body = r.json();
    if (kind === 'advertisers') expect(body.name).toBe('Only name');
    else if (kind === 'audiences') expect(body.name).toBe(id); // an audience's name defaults to its id
    else expect(body.name).toBeUndefined();
    expect(body).toMatchObject(pausedField(kind, true));
    expect(body.createdAt).not.toBe(body.updatedAt);
  });

  it('pause and resume', async () => {
    const resumed = await h.call('POST', `${base}/${id}/resume`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.json()).toMatchObject(pausedField(kind, false));
    const paused = await h.call('POST', `${base}/${id}/pause`);
    expect(paused.json()).toMatchObject(pausedField(kind, true));
    const twice = await h.call('POST', `${base}/${id}/pause`);
    expect(twice.json().version).toBe(paused.json().version); // already paused: nothing to do
    await h.call('POST', `${base}/${id}/resume`);
  });

  it('DELETE is soft: 404 afterwards, out of lists, but kept (includeDeleted) with its history; the id is not reused', async () => {
    const before = (await h.call('GET', `${base}/${id}`)).json();
    const del = await h.call('DELETE', `${base}/${id}`);
    expect(del.status, del.text).toBe(200);
    expect(Date.parse(del.json().deletedAt)).not.toBeNaN();
    expect(del.json().version).toBe(before.version + 1);
    const gone = await h.call('GET', `${base}/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.json().code).toBe('not_found');
    expect((await h.call('GET', `${base}?limit=500`)).json().items.map((x: { id: string }) => x.id)).not.toContain(id);
    expect((await h.call('GET', `${base}?limit=500&includeDeleted=true`)).json().items.map((x: { id: string }) => x.id)).toContain(id);
    const kept = await h.call('GET', `${base}/${id}?includeDeleted=true`);
    expect(kept.status).toBe(200);
    expect(kept.json()).toMatchObject({ id, deletedAt: del.json().deletedAt });
    for (const [method, path] of [
      ['PATCH', `${base}/${id}`],
      ['POST', `${base}/${id}/pause`],
      ['DELETE', `${base}/${id}`],
    ])
      expect((await h.call(method, path, method === 'PATCH' ? { name: 'x' } : undefined)).status).toBe(404);
    const reuse = await h.call('POST', base, samples[kind](id));
    expect(reuse.status).toBe(409);
    expect(reuse.json().code).toBe('conflict');

    const history = await h.call('GET', `${base}/${id}/history?limit=100`);
    expect(history.status).toBe(200);
    const actions = history.json().items.map((e: { action: string }) => e.action);
    expect(actions[0]).toBe('delete');
    expect(actions.at(-1)).toBe('create');
    expect(actions).toEqual(expect.arrayContaining(['update', 'replace', 'pause', 'resume']));
    const [last] = history.json().items;
    expect(last).toMatchObject({ kind, id, actor: { keyId: 'root', role: 'admin' }, before: { id, version: before.version }, after: { id, deletedAt: del.json().deletedAt } });
    expect(Date.parse(last.at)).not.toBeNaN();
  });
});

describe('paging and filters', () => {
  it('pages through every campaign exactly once, in id order, with the cursor', async () => {
    for (let i = 0; i < 7; i++) expect((await h.call('POST', '/api/v1/campaigns', samples.campaigns(`page-${i}`, i % 2 ? 'globex' : 'acme'))).status).toBe(201);
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await h.call('GET', `/api/v1/campaigns?limit=3&q=page-${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.json().total).toBe(7);
      ids.push(...r.json().items.map((c: { id: string }) => c.id));
      cursor = r.json().nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(ids).toEqual(Array.from({ length: 7 }, (_, i) => `page-${i}`));
  });

  it('filters: advertiserId, status, text; creatives by campaign, approval status and type', async () => {
    await h.call('POST', '/api/v1/campaigns/page-2/pause');
    const byAdv = (await h.call('GET', '/api/v1/campaigns?advertiserId=globex&q=page')).json();
    expect(byAdv.items.map((c: { id: string }) => c.id)).toEqual(['page-1', 'page-3', 'page-5']);
    const paused = (await h.call('GET', '/api/v1/campaigns?status=paused&q=page')).json();
    expect(paused.items.map((c: { id: string }) => c.id)).toEqual(['page-2']);
    const byName = (await h.call('GET', '/api/v1/campaigns?q=acme%20ONE')).json();
    expect(byName.items.map((c: { id: string }) => c.id)).toEqual(['acme-c1']);
    const approved = (await h.call('GET', '/api/v1/creatives?status=approved&campaignId=acme-c1&type=banner')).json();
    expect(approved.items.map((c: { id: string }) => c.id)).toEqual(['acme-cr1']);
    expect((await h.call('GET', '/api/v1/creatives?type=video')).json().total).toBe(0);
  });

  it('a bad query is refused with every problem at once (400 bad_query)', async () => {
    const r = await h.call('GET', '/api/v1/campaigns?limit=0&status=sleeping&colour=red');
    expect(r.status).toBe(400);
    expect(r.json().code).toBe('bad_query');
    expect(r.json().errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: '?limit', code: 'minimum' }),
        expect.objectContaining({ path: '?status', code: 'enum' }),
        expect.objectContaining({ path: '?colour', code: 'unknown_field' }),
      ]),
    );
  });
});

describe('validation: every error at once, with JSON paths and stable codes', () => {
  it('schema errors on a campaign: unknown field, wrong type, missing field, bad enum, bad format', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', {
      id: 'bad-1',
      advertiserId: 'acme',
      status: 'sleeping',
      start: 'yesterday',
      bid: { base: 'one' },
      colour: 'red',
      targeting: { countries: ['US'], deviceTypes: [9] },
    });
    expect(r.status).toBe(400);
    const error = r.json();
    expect(error.code).toBe('validation_failed');
    const got = error.errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`);
    expect(got).toEqual(
      expect.arrayContaining([
        '/colour unknown_field',
        '/status enum',
        '/start format',
        '/bid/base type',
        '/bid/max required',
        '/targeting/deviceTypes/0 maximum',
      ]),
    );
    for (const e of error.errors) expect(typeof e.message).toBe('string');
    expect((await h.call('GET', '/api/v1/campaigns/bad-1')).status).toBe(404);
  });

  it('cross-field rules come together with schema errors where they can (a typo does not hide a bid above max)', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', {
      id: 'bad-2',
      advertiserId: 'acme',
      bid: { base: 5, max: 2 },
      currency: 'JPY',
      start: '2026-02-01T00:00:00Z',
      end: '2026-01-01T00:00:00Z',
      targeting: { countries: ['ZZ'], ipRanges: { allow: ['not-a-cidr'] }, dayparting: { timezone: 'Mars/Olympus', windows: [{ days: ['mon'], from: 5, to: 3 }] } },
      colour: 'red',
    });
    expect(r.status).toBe(400);
    const got = r.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`);
    expect(got.sort()).toEqual(
      [
        '/colour unknown_field',
        '/bid/base out_of_range',
        '/currency unknown_currency',
        '/end out_of_range',
        '/targeting/countries/0 unknown_country',
        '/targeting/ipRanges/allow/0 invalid_cidr',
        '/targeting/dayparting/timezone unknown_timezone',
        '/targeting/dayparting/windows/0/to out_of_range',
      ].sort(),
    );
  });

  it('budgets in units and flight pacing through the API: refused with every error, accepted and read back when valid', async () => {
    const bad = await h.call('POST', '/api/v1/campaigns', {
      ...samples.campaigns('units-bad'),
      start: '2026-01-01T00:00:00Z',
      budget: { impressions: { daily: 500, total: 100 }, clicks: {}, flightPacing: 'even' },
    });
    expect(bad.status).toBe(400);
    const got = bad.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`);
    expect(got.sort()).toEqual(['/budget/clicks required', '/budget/impressions/daily out_of_range', '/end required'].sort());
    const body = {
      ...samples.campaigns('units-ok'),
      start: '2026-01-01T00:00:00Z',
      end: '2026-02-01T00:00:00Z',
      budget: { total: 300, flightPacing: 'even', impressions: { daily: 1000 }, clicks: { total: 40 }, conversions: { daily: 3 } },
    };
    const ok = await h.call('POST', '/api/v1/campaigns', body);
    expect(ok.status, ok.text).toBe(201);
    expect((await h.call('GET', '/api/v1/campaigns/units-ok')).json().budget).toEqual(body.budget);
  });

  it('creatives: validated against their own type; type-specific rules; a campaign that does not exist', async () => {
    const noMarkup = await h.call('POST', '/api/v1/creatives', { id: 'bad-cr', campaignId: 'acme-c1', type: 'banner', w: 300, h: 250 });
    expect(noMarkup.status).toBe(400);
    expect(noMarkup.json().errors).toEqual([{ pointer: '/', path: '/', code: 'required', message: 'a banner needs html or imageUrl' }]);
    const video = await h.call('POST', '/api/v1/creatives', { id: 'bad-v', campaignId: 'nope', type: 'video', duration: 0, mimes: [] });
    const got = video.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`);
    expect(got).toEqual(expect.arrayContaining(['/vast required', '/protocols required', '/duration minimum', '/mimes minItems', '/campaignId unknown_reference']));
    const kind = await h.call('POST', '/api/v1/creatives', { id: 'bad-k', campaignId: 'acme-c1', type: 'hologram' });
    expect(kind.status).toBe(400);
    expect(kind.json().errors).toEqual([{ pointer: '/type', path: '/type', code: 'discriminator', message: 'must be one of: banner, video, audio, native' }]);
  });

  it('the body must be a JSON object', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', '{"id": ');
    expect(r.status).toBe(400);
    expect(r.json().code).toBe('bad_json');
    const arr = await h.call('POST', '/api/v1/campaigns', [1, 2]);
    expect(arr.status).toBe(400);
    expect(arr.json().errors).toEqual([{ pointer: '/', path: '/', code: 'type', message: 'must be a JSON object' }]);
  });

  it('server fields may be repeated unchanged (GET → PUT round trip), never changed; ids and owners never change', async () => {
    const got = (await h.call('GET', '/api/v1/campaigns/page-0')).json();
    const roundTrip = await h.call('PUT', '/api/v1/campaigns/page-0', { ...got, name: 'Round trip' });
    expect(roundTrip.status, roundTrip.text).toBe(200);
    expect(roundTrip.json()).toMatchObject({ name: 'Round trip', version: got.version + 1 });
    const r = await h.call('PATCH', '/api/v1/campaigns/page-0', { version: 99, createdBy: 'me', advertiserId: 'globex', id: 'other' });
    expect(r.status).toBe(400);
    expect(r.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`).sort()).toEqual(
      ['/advertiserId immutable', '/createdBy read_only', '/id immutable', '/version read_only'].sort(),
    );
    const wrongId = await h.call('PUT', '/api/v1/campaigns/new-by-put', { ...samples.campaigns('other-id') });
    expect(wrongId.json().errors).toContainEqual(expect.objectContaining({ path: '/id', code: 'id_mismatch' }));
  });

  it('PUT creates when the id is free (201)', async () => {
    const r = await h.call('PUT', '/api/v1/campaigns/new-by-put', samples.campaigns('new-by-put'));
    expect(r.status, r.text).toBe(201);
    expect(r.headers.location).toBe('/api/v1/campaigns/new-by-put');
  });

  it('POST without an id gets a generated one', async () => {
    const { id: _id, ...body } = samples.campaigns('x');
    const r = await h.call('POST', '/api/v1/campaigns', body);
    expect(r.status).toBe(201);
    expect(r.json().id).toMatch(/^cmp-[0-9a-f]{12}$/);
  });
});

describe('changes that would break other resources', () => {
  it('an advertiser losing the domains its campaigns rely on: 400 breaks_dependent naming the campaign', async () => {
    const r = await h.call('PATCH', '/api/v1/advertisers/acme', { domains: null });
    expect(r.status).toBe(400);
    expect(r.json().errors).toContainEqual({
      pointer: '/',
      path: '/',
      code: 'breaks_dependent',
      message: 'campaigns/acme-c1#/adomain: is required when the advertiser has no domains [required]',
    });
  });

  it('deleting an advertiser that still has campaigns: 409 in_use', async () => {
    const r = await h.call('DELETE', '/api/v1/advertisers/globex');
    expect(r.status).toBe(409);
    expect(r.json().code).toBe('in_use');
  });

  it('pausing or deleting the default exchange: refused', async () => {
    for (const [m, p] of [
      ['POST', '/api/v1/exchanges/default/pause'],
      ['DELETE', '/api/v1/exchanges/default'],
    ]) {
      const r = await h.call(m, p);
      expect(r.status).toBe(400);
      expect(r.json().errors[0]).toMatchObject({ code: 'breaks_dependent', message: expect.stringContaining('settings/global#/defaultExchange') });
    }
  });

  it('deleting a campaign deletes its creatives too (soft, audited)', async () => {
    await h.call('POST', '/api/v1/campaigns', samples.campaigns('cascade'));
    await h.call('POST', '/api/v1/creatives', samples.creatives('cascade-cr', 'cascade'));
    expect((await h.call('DELETE', '/api/v1/campaigns/cascade')).status).toBe(200);
    expect((await h.call('GET', '/api/v1/creatives/cascade-cr')).status).toBe(404);
    const audit = (await h.call('GET', '/api/v1/audit?kind=creatives&id=cascade-cr')).json();
    expect(audit.items.map((e: { action: string }) => e.action)).toEqual(['delete', 'create']);
  });
});

describe('creative review', () => {
  it('reject needs a reason; approve records who and when; only a rejection keeps a reason', async () => {
    await h.call('POST', '/api/v1/creatives', samples.creatives('review-1'));
    const noReason = await h.call('POST', '/api/v1/creatives/review-1/reject', {});
    expect(noReason.status).toBe(400);
    expect(noReason.json().errors).toEqual([expect.objectContaining({ path: '/reason', code: 'required' })]);
    const rejected = await h.call('POST', '/api/v1/creatives/review-1/reject', { reason: 'landing page broken' });
    expect(rejected.status).toBe(200);
    expect(rejected.json()).toMatchObject({ status: 'rejected', reason: 'landing page broken', reviewedBy: 'root' });
    const approved = await h.call('POST', '/api/v1/creatives/review-1/approve');
    expect(approved.json()).toMatchObject({ status: 'approved', reviewedBy: 'root' });
    expect(approved.json().reason).toBeUndefined();
    const viaPatch = await h.call('PATCH', '/api/v1/creatives/review-1', { status: 'rejected' });
    expect(viaPatch.status).toBe(400);
    expect(viaPatch.json().errors).toEqual([expect.objectContaining({ path: '/reason', code: 'required' })]);
  });
});

describe('the audit log', () => {
  it('records who, what, when, before and after, queryable with filters and paging', async () => {
    await h.call('POST', '/api/v1/advertisers', samples.advertisers('audited'));
    await h.call('PATCH', '/api/v1/advertisers/audited', { name: 'Audited 2' });
    const r = await h.call('GET', '/api/v1/audit?kind=advertisers&id=audited');
    expect(r.status).toBe(200);
    const [update, create] = r.json().items;
    expect(update).toMatchObject({
      action: 'update',
      kind: 'advertisers',
      id: 'audited',
      advertiserId: 'audited',
      actor: { keyId: 'root', role: 'admin' },
      before: { name: 'Adv audited', version: 1 },
      after: { name: 'Audited 2', version: 2 },
    });
    expect(update.seq).toBeGreaterThan(create.seq);
    expect(update.configVersion).toBeGreaterThan(create.configVersion);
    expect(create).toMatchObject({ action: 'create', before: null, after: { name: 'Adv audited' } });
    const limited = (await h.call('GET', '/api/v1/audit?limit=2')).json();
    expect(limited.items).toHaveLength(2);
    const older = (await h.call(`GET`, `/api/v1/audit?limit=2&cursor=${limited.nextCursor}`)).json();
    expect(older.items[0].seq).toBeLessThan(limited.items[1].seq);
    expect((await h.call('GET', '/api/v1/audit?actor=nobody')).json().items).toEqual([]);
    const bad = await h.call('GET', '/api/v1/audit?since=yesterday');
    expect(bad.status).toBe(400);
  });

  it('carries the request id (x-request-id)', async () => {
    const r = await h.call('PATCH', '/api/v1/advertisers/audited', { name: 'Audited 3' }, { headers: { 'x-request-id': 'req-abc' } });
    expect(r.headers['x-request-id']).toBe('req-abc');
    expect((await h.call('GET', '/api/v1/audit?id=audited&limit=1')).json().items[0].requestId).toBe('req-abc');
  });
});

describe('routing', () => {
  it('a known path with another method: 405 with Allow; an unknown /api/v1 path: JSON 404', async () => {
    const r = await h.call('PATCH', '/api/v1/campaigns');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, POST');
    expect(r.json().code).toBe('method_not_allowed');
    const nf = await h.call('GET', '/api/v1/nothing-here');
    expect(nf.status).toBe(404);
    expect(nf.json().code).toBe('not_found');
  });

  it('a body over the limit: 413', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', 'x'.repeat(5 * 1024 * 1024));
    expect(r.status).toBe(413);
  });
});
