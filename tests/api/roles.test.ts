/**
 * Keys and roles over real HTTP: authentication (missing, malformed, unknown, paused, revoked keys),
 * keys stored hashed, every role against every resource and action, fields only operators may
 * set, creative approval (advertisers cannot approve, not even their own), rate limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startApi, type ApiHarness } from '../helpers/config-api.js';
import { hashSecret } from '../../src/api/auth.js';
import { samples, tenants } from './fixtures.js';
import { FakeEventDatabase } from '../helpers/fake-event-database.js';
import { OutcomePublisher } from '../../src/models/publisher.js';

let h: ApiHarness;
let adv: string; // advertiser key for acme
let ro: string; // global read-only key
let roAcme: string; // read-only key scoped to acme
let agency: string; // advertiser key for acme and globex
let admin2: string; // a stored admin key
/** Keeps the SQL of the reports asked for (no events: every report is empty). */
const reports = new (class extends FakeEventDatabase {
  private seen: string[] = [];
  override async query<T>(sql?: string): Promise<T[]> {
    this.seen.push(sql ?? '');
    return [];
  }
  /** The one report query `ask` made. */
  async sqlOf(ask: () => Promise<void>): Promise<string> {
    this.seen = [];
    await ask();
    expect(this.seen).toHaveLength(1);
    return this.seen[0];
  }
})();
/** A real trainer, published once: the models report the API serves. */
const publisher = new OutcomePublisher({ outcomeMinExamples: 10, outcomeMinPositives: 1 }, undefined, { priorBits: 10, campaignBits: 6 });
for (let i = 0; i < 20; i++) {
  publisher.trainer.bid(`b${i}`, 'acme-c1', Uint32Array.of(1, 2 + (i % 3)), 1000);
  publisher.trainer.impression(`b${i}`, 1000);
  if (i % 4 === 0) publisher.trainer.click(`b${i}`, 1001);
}
publisher.publish(1_000_000_000);
beforeAll(async () => {
  h = await startApi({
    bundle: tenants,
    reportStore: reports,
    models: () => ({ enabled: true, models: publisher.status().map((m) => ({ ...m, deciles: [...m.deciles] })) }),
  });
  [adv, ro, roAcme, agency, admin2] = await Promise.all([
    h.key('advertiser', ['acme']),
    h.key('read-only'),
    h.key('read-only', ['acme']),
    h.key('advertiser', ['acme', 'globex']),
    h.key('admin'),
  ]);
});
afterAll(() => h?.close());

describe('authentication', () => {
  it('no key, another scheme, a malformed, unknown or wrong key: 401 with WWW-Authenticate, the same for all', async () => {
    const wrongSecret = `${adv.slice(0, 21)}${'A'.repeat(43)}`; // dsp_<16 hex id>_<secret>
    for (const authorization of [undefined, 'Basic YWRtaW46YWRtaW4=', 'Bearer', 'Bearer nope', `Bearer dsp_0123456789abcdef_${'x'.repeat(43)}`, `Bearer ${wrongSecret}`]) {
      const r = await h.call('GET', '/api/v1/campaigns', undefined, { key: null, headers: authorization ? { authorization } : {} });
      expect(r.status, authorization).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(r.json().code).toBe('unauthorized');
    }
  });

  it('the bootstrap key (DSP_ADMIN_KEY) and stored keys work; /me says who is calling', async () => {
    expect((await h.call('GET', '/api/v1/me')).json()).toEqual({ keyId: 'root', name: 'DSP_ADMIN_KEY', role: 'admin' });
    const me = (await h.call('GET', '/api/v1/me', undefined, { key: agency })).json();
    expect(me).toMatchObject({ role: 'advertiser', advertiserIds: ['acme', 'globex'] });
    expect((await h.call('GET', '/api/v1/campaigns', undefined, { key: admin2 })).status).toBe(200);
  });

  it('keys are stored hashed with a salt: the record holds neither the key nor its secret, and the API never shows salt or hash', async () => {
    const r = await h.call('POST', '/api/v1/keys', { name: 'hashed', role: 'read-only' });
    expect(r.status).toBe(201);
    const { key, id, prefix } = r.json();
    expect(key).toMatch(/^dsp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(prefix)).toBe(true);
    const stored = (await h.store.get('keys', id))!;
    const raw = JSON.stringify(stored);
    const secret = key.slice(21); // dsp_<16 hex id>_<secret>
    expect(raw).not.toContain(secret);
    expect(stored.hash).toBe(hashSecret(stored.salt as string, secret));
    expect(stored.salt).toMatch(/^[0-9a-f]{32}$/);
    const shown = [(await h.call('GET', `/api/v1/keys/${id}`)).text, (await h.call('GET', '/api/v1/keys?limit=500')).text, (await h.call('GET', `/api/v1/audit?kind=keys&id=${id}`)).text];
    for (const text of shown) {
      expect(text).not.toContain(stored.hash as string);
      expect(text).not.toContain(stored.salt as string);
      expect(text).not.toContain(secret);
    }
    // Two keys never share a salt.
    const other = (await h.call('POST', '/api/v1/keys', { name: 'other', role: 'read-only' })).json();
    expect((await h.store.get('keys', other.id))!.salt).not.toBe(stored.salt);
  });

  it('a paused key is refused until resumed; a revoked key for good', async () => {
    const key = await h.key('read-only');
    const id = key.split('_')[1];
    expect((await h.call('POST', `/api/v1/keys/${id}/pause`)).status).toBe(200);
    expect((await h.call('GET', '/api/v1/me', undefined, { key })).status).toBe(401);
    expect((await h.call('POST', `/api/v1/keys/${id}/resume`)).status).toBe(200);
    expect((await h.call('GET', '/api/v1/me', undefined, { key })).status).toBe(200);
    const revoked = await h.call('DELETE', `/api/v1/keys/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json().revokedAt).toBeDefined();
    expect((await h.call('GET', '/api/v1/me', undefined, { key })).status).toBe(401);
    expect((await h.call('POST', `/api/v1/keys/${id}/resume`)).status).toBe(404);
    expect((await h.call('GET', '/api/v1/keys?limit=500')).json().items.map((k: { id: string }) => k.id)).not.toContain(id);
    expect((await h.call('GET', '/api/v1/keys?limit=500&includeRevoked=true')).json().items.map((k: { id: string }) => k.id)).toContain(id);
  });

  it('key creation is validated: an advertiser key needs advertisers that exist; an admin key has none', async () => {
    const r = await h.call('POST', '/api/v1/keys', { name: 'x', role: 'advertiser' });
    expect(r.json().errors).toEqual([expect.objectContaining({ path: '/advertiserIds', code: 'required' })]);
    const unknown = await h.call('POST', '/api/v1/keys', { name: 'x', role: 'advertiser', advertiserIds: ['acme', 'nope'] });
    expect(unknown.json().errors).toEqual([expect.objectContaining({ path: '/advertiserIds/1', code: 'unknown_reference' })]);
    const scopedAdmin = await h.call('POST', '/api/v1/keys', { name: 'x', role: 'admin', advertiserId: 'acme' });
    expect(scopedAdmin.json().errors).toEqual([expect.objectContaining({ path: '/advertiserIds', code: 'not_allowed' })]);
    const bad = await h.call('POST', '/api/v1/keys', { name: '', role: 'owner', colour: 1 });
    expect(bad.json().errors.map((e: { path: string }) => e.path).sort()).toEqual(['/colour', '/name', '/role']);
    const single = await h.call('POST', '/api/v1/keys', { name: 'one', role: 'advertiser', advertiserId: 'globex' });
    expect(single.status).toBe(201);
    expect(single.json().advertiserIds).toEqual(['globex']);
  });
});

/** [method, path, body] per action on a resource kind, with fresh ids. */
let n = 0;
function actions(kind: keyof typeof samples, existing: string) {
  const id = `role-${kind}-${++n}`;
  const base = `/api/v1/${kind}`;
  return {
    list: ['GET', base],
    read: ['GET', `${base}/${existing}`],
    history: ['GET', `${base}/${existing}/history`],
    create: ['POST', base, samples[kind](id)],
    update: ['PATCH', `${base}/${existing}`, { name: `Renamed ${n}` }],
    pause: ['POST', `${base}/${existing}/pause`],
    resume: ['POST', `${base}/${existing}/resume`],
    ...(kind === 'campaigns' ? { blockPlacements: ['POST', `${base}/${existing}/block-placements`, { from: '2026-01-01', to: '2026-01-02', metric: 'ctr', worst: 5 }] } : {}),
    // role-rule: acme's rule audience (an uploaded one cannot be rebuilt: 409, whoever asks)
    ...(kind === 'audiences' ? { rebuild: ['POST', `${base}/role-rule/rebuild`] } : {}),
  } as Record<string, [string, string, unknown?]>;
}

describe('what each role may do (403 for what the role can never do)', () => {
  const existing = { advertisers: 'acme', campaigns: 'acme-c1', creatives: 'acme-cr1', exchanges: 'role-ex', audiences: 'role-seg' } as const;
  beforeAll(async () => {
    expect((await h.call('POST', '/api/v1/audiences', samples.audiences('role-seg'))).status).toBe(201);
    expect((await h.call('POST', '/api/v1/exchanges', samples.exchanges('role-ex'))).status).toBe(201);
    const rule = { ...samples.audiences('role-rule'), rule: { source: 'pixel', events: ['visit'], lookbackDays: 30 } };
    expect((await h.call('POST', '/api/v1/audiences', rule)).status).toBe(201);
  });

  const expectStatus = async (key: string, action: string, [method, path, body]: [string, string, unknown?], ok: boolean) => {
    const r = await h.call(method, path, body, { key });
    if (ok) expect(r.status, `${action} ${method} ${path}: ${r.text}`).toBeLessThan(300);
    else {
      expect(r.status, `${action} ${method} ${path}: ${r.text}`).toBe(403);
      expect(r.json().code).toBe('forbidden');
    }
  };

  it('admin: everything', async () => {
    for (const kind of Object.keys(existing) as (keyof typeof existing)[])
      for (const [action, req] of Object.entries(actions(kind, existing[kind]))) await expectStatus(ADMIN_KEY, action, req, true);
  });

  it('read-only: reads everything (and the audit log, and exports), changes nothing, no keys', async () => {
    for (const kind of Object.keys(existing) as (keyof typeof existing)[])
      for (const [action, req] of Object.entries(actions(kind, existing[kind])))
        await expectStatus(ro, action, req, ['list', 'read', 'history'].includes(action));
    await expectStatus(ro, 'approve', ['POST', '/api/v1/creatives/acme-cr1/approve'], false);
    await expectStatus(ro, 'delete', ['DELETE', '/api/v1/campaigns/acme-c1'], false);
    await expectStatus(ro, 'put', ['PUT', '/api/v1/campaigns/acme-c1', samples.campaigns('acme-c1')], false);
    await expectStatus(ro, 'keys', ['GET', '/api/v1/keys'], false);
    await expectStatus(ro, 'create key', ['POST', '/api/v1/keys', { name: 'x', role: 'admin' }], false);
    await expectStatus(ro, 'audit', ['GET', '/api/v1/audit'], true);
    await expectStatus(ro, 'export', ['GET', '/api/v1/export'], true);
    await expectStatus(ro, 'import', ['POST', '/api/v1/import', { format: 'rtb-bidder-config/1' }], false);
    await expectStatus(ro, 'kill switch', ['GET', '/api/v1/kill-switch'], false);
    await expectStatus(ro, 'stop bidding', ['PUT', '/api/v1/kill-switch', { on: true }], false);
    expect((await h.call('GET', '/api/v1/campaigns?limit=500', undefined, { key: ro })).json().items.map((c: { id: string }) => c.id)).toContain('globex-c1');
  });

  it('advertiser: manages its campaigns, creatives and audiences; reads and edits its advertiser; nothing else', async () => {
    const may: Record<string, string[]> = {
      advertisers: ['list', 'read', 'history', 'update'],
      campaigns: ['list', 'read', 'history', 'create', 'update', 'pause', 'resume', 'blockPlacements'],
      creatives: ['list', 'read', 'history', 'create', 'update', 'pause', 'resume'],
      audiences: ['list', 'read', 'history', 'create', 'update', 'pause', 'resume', 'rebuild'],
      exchanges: [],
    };
    // role-seg is acme's; created by admin above.
    for (const kind of Object.keys(existing) as (keyof typeof existing)[])
      for (const [action, req] of Object.entries(actions(kind, existing[kind]))) await expectStatus(adv, action, req, may[kind].includes(action));
    await expectStatus(adv, 'create', ['POST', '/api/v1/campaigns', samples.campaigns('adv-del')], true);
    await expectStatus(adv, 'delete own campaign', ['DELETE', '/api/v1/campaigns/adv-del'], true);
    await expectStatus(adv, 'replace own campaign', ['PUT', '/api/v1/campaigns/acme-c1', samples.campaigns('acme-c1')], true);
    await expectStatus(adv, 'delete advertiser', ['DELETE', '/api/v1/advertisers/acme'], false);
    await expectStatus(adv, 'approve', ['POST', '/api/v1/creatives/acme-cr1/approve'], false);
    await expectStatus(adv, 'reject', ['POST', '/api/v1/creatives/acme-cr1/reject', { reason: 'x' }], false);
    await expectStatus(adv, 'keys', ['GET', '/api/v1/keys'], false);
    await expectStatus(adv, 'create key', ['POST', '/api/v1/keys', { name: 'x', role: 'admin' }], false);
    await expectStatus(adv, 'audit', ['GET', '/api/v1/audit'], true);
    await expectStatus(adv, 'export', ['GET', '/api/v1/export'], false);
    await expectStatus(adv, 'import', ['POST', '/api/v1/import', { format: 'rtb-bidder-config/1' }], false);
    await expectStatus(adv, 'forget user', ['DELETE', '/api/v1/users/uid/u1/segments'], false);
    await expectStatus(adv, 'kill switch', ['GET', '/api/v1/kill-switch'], false);
    await expectStatus(adv, 'stop own campaign', ['PUT', '/api/v1/kill-switch', { on: true, campaign: 'acme-c1' }], false);
  });

  it('a read-only key scoped to an advertiser reads only that advertiser', async () => {
    const list = (await h.call('GET', '/api/v1/campaigns?limit=500', undefined, { key: roAcme })).json();
    expect(list.items.every((c: { advertiserId: string }) => c.advertiserId === 'acme')).toBe(true);
    expect((await h.call('GET', '/api/v1/campaigns/globex-c1', undefined, { key: roAcme })).status).toBe(404);
    expect((await h.call('PATCH', '/api/v1/campaigns/acme-c1', { name: 'x' }, { key: roAcme })).status).toBe(403);
    expect((await h.call('POST', '/api/v1/campaigns/acme-c1/block-placements', { from: '2026-01-01', to: '2026-01-02', metric: 'ctr', worst: 1 }, { key: roAcme })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/exchanges', undefined, { key: roAcme })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/export', undefined, { key: roAcme })).status).toBe(403);
  });

  it('an agency key acts for several advertisers, and must say which one owns a new campaign', async () => {
    const ids = (await h.call('GET', '/api/v1/campaigns?limit=500', undefined, { key: agency })).json().items.map((c: { advertiserId: string }) => c.advertiserId);
    expect(new Set(ids)).toEqual(new Set(['acme', 'globex']));
    const { advertiserId: _a, ...body } = samples.campaigns('agency-1');
    const r = await h.call('POST', '/api/v1/campaigns', body, { key: agency });
    expect(r.status).toBe(400);
    expect(r.json().errors).toContainEqual(expect.objectContaining({ path: '/advertiserId', code: 'required' }));
    expect((await h.call('POST', '/api/v1/campaigns', { ...body, advertiserId: 'globex' }, { key: agency })).status).toBe(201);
  });
});

describe('outcome models: operators and unscoped read-only keys read them; keys scoped to advertisers never do', () => {
  // The models learn from every advertiser's traffic at once: no advertiser's key may read them.
  const table: [string, () => string | null, number][] = [
    ['no key', () => null, 401],
    ['bootstrap admin', () => ADMIN_KEY, 200],
    ['stored admin', () => admin2, 200],
    ['global read-only', () => ro, 200],
    ['read-only scoped to acme', () => roAcme, 403],
    ['advertiser acme', () => adv, 403],
    ['agency (acme, globex)', () => agency, 403],
  ];
  for (const [who, key, status] of table)
    it(`${who}: GET /api/v1/models is ${status}`, async () => {
      const r = await h.call('GET', '/api/v1/models', undefined, { key: key() });
      expect(r.status, r.text).toBe(status);
      if (status === 200) {
        const body = r.json();
        expect(body.enabled).toBe(true);
        expect(body.models.map((m: { model: string }) => m.model)).toEqual(['click', 'conversion']);
        expect(body.models[0]).toMatchObject({ ready: true, fallback: null, trained: 20, positives: 5, holdoutExamples: 20, holdoutPositives: 5 });
        expect(body.models[0].deciles).toHaveLength(10);
        expect(body.models[1]).toMatchObject({ ready: false, fallback: 'cold_start' });
      } else if (status === 403) {
        expect(r.json().code).toBe('forbidden');
        expect(r.text).not.toMatch(/deciles|auc/);
      }
    });

  it('the models report has no write methods', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const r = await h.call(method, '/api/v1/models');
      expect([404, 405], `${method}: ${r.status} ${r.text}`).toContain(r.status);
    }
  });
});

describe('reports: operators read every advertiser\'s, scoped keys their advertisers\' only', () => {
  it('no key: 401; admin and global read-only keys: every advertiser; advertiser and scoped read-only keys: theirs', async () => {
    const path = '/api/v1/reports?groupBy=campaign,day&from=2026-01-01&to=2026-01-02';
    expect((await h.call('GET', path, undefined, { key: null })).status).toBe(401);
    const asked = (key: string) => async () => {
      const r = await h.call('GET', path, undefined, { key });
      expect(r.status, r.text).toBe(200);
      expect(r.json()).toMatchObject({ rows: [], groupBy: ['campaign', 'day'] });
    };
    for (const key of [ADMIN_KEY, ro]) {
      const sql = await reports.sqlOf(asked(key));
      expect(sql).not.toContain('advertiser_id IN');
    }
    expect(await reports.sqlOf(asked(adv))).toContain("advertiser_id IN ('acme')");
    expect(await reports.sqlOf(asked(roAcme))).toContain("advertiser_id IN ('acme')");
    expect(await reports.sqlOf(asked(agency))).toContain("advertiser_id IN ('acme', 'globex')");
    // the report route still reads its query through the guard
    expect((await h.call('GET', '/api/v1/reports?groupBy=colour', undefined, { key: ADMIN_KEY })).status).toBe(400);
    expect((await h.call('GET', '/api/v1/reports?groupBy=colour', undefined, { key: adv })).status).toBe(400);
  });
});

describe('fields only operators may set: refused (403 forbidden_field, every one listed), never silently applied', () => {
  it('approval status, spend counters, owner, advertiser status', async () => {
    const cr = await h.call('POST', '/api/v1/creatives', { ...samples.creatives('adv-cr-1'), status: 'approved' }, { key: adv });
    expect(cr.status).toBe(403);
    expect(cr.json()).toMatchObject({ code: 'forbidden_field', errors: [{ pointer: '/status', path: '/status', code: 'forbidden_field' }] });
    expect((await h.call('GET', '/api/v1/creatives/adv-cr-1')).status).toBe(404); // nothing was created

    const c = await h.call('POST', '/api/v1/campaigns', { ...samples.campaigns('adv-c-1', 'globex'), spend: { amount: 0 } }, { key: adv });
    expect(c.status).toBe(403);
    expect(c.json().errors.map((e: { path: string }) => e.path).sort()).toEqual(['/advertiserId', '/spend']);

    const a = await h.call('PATCH', '/api/v1/advertisers/acme', { status: 'paused', name: 'Acme Inc' }, { key: adv });
    expect(a.status).toBe(403);
    const after = (await h.call('GET', '/api/v1/advertisers/acme')).json();
    expect(after.status).toBe('active');
    expect(after.name).not.toBe('Acme Inc'); // refused whole: not even the allowed part applied

    expect((await h.call('POST', '/api/v1/creatives', samples.creatives('adv-cr-0'), { key: adv })).json().status).toBe('pending');
    const own = await h.call('PATCH', '/api/v1/creatives/adv-cr-0', { status: 'approved', reason: 'self-approved' }, { key: adv });
    expect(own.status).toBe(403);
    expect(own.json().errors.map((e: { path: string }) => e.path).sort()).toEqual(['/reason', '/status']);
    expect((await h.call('GET', '/api/v1/creatives/adv-cr-0')).json().status).toBe('pending');
  });

  it('the same fields with the values they already have are fine (a GET → PUT round trip)', async () => {
    const cr = (await h.call('GET', '/api/v1/creatives/acme-cr1', undefined, { key: adv })).json();
    const r = await h.call('PUT', '/api/v1/creatives/acme-cr1', { ...cr, name: 'Round trip' }, { key: adv });
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toMatchObject({ status: 'approved', name: 'Round trip' }); // a name is not what the creative shows: still approved
    const c = (await h.call('GET', '/api/v1/campaigns/acme-c1', undefined, { key: adv })).json();
    expect((await h.call('PUT', '/api/v1/campaigns/acme-c1', { ...c, name: 'RT' }, { key: adv })).status).toBe(200);
    const created = await h.call('POST', '/api/v1/creatives', { ...samples.creatives('adv-cr-2'), status: 'pending' }, { key: adv });
    expect(created.status).toBe(201);
  });

  it('operators may set them', async () => {
    const r = await h.call('PATCH', '/api/v1/campaigns/acme-c1', { spend: { amount: 12.5, currency: 'USD' } });
    expect(r.status).toBe(200);
    expect(r.json().spend).toEqual({ amount: 12.5, currency: 'USD' });
    // and an advertiser's PUT that leaves spend out keeps it
    const c = (await h.call('GET', '/api/v1/campaigns/acme-c1', undefined, { key: adv })).json();
    const { spend: _s, ...withoutSpend } = c;
    const put = await h.call('PUT', '/api/v1/campaigns/acme-c1', withoutSpend, { key: adv });
    expect(put.json().spend).toEqual({ amount: 12.5, currency: 'USD' });
  });
});

describe('creative approval', () => {
  it('an advertiser\'s creative starts pending; the advertiser cannot approve it; an operator can', async () => {
    const r = await h.call('POST', '/api/v1/creatives', samples.creatives('appr-1'), { key: adv });
    expect(r.status).toBe(201);
    expect(r.json().status).toBe('pending');
    expect((await h.call('POST', '/api/v1/creatives/appr-1/approve', undefined, { key: adv })).status).toBe(403);
    expect((await h.call('POST', '/api/v1/creatives/appr-1/approve', undefined, { key: agency })).status).toBe(403);
    expect((await h.call('GET', '/api/v1/creatives/appr-1')).json().status).toBe('pending');
    const ok = await h.call('POST', '/api/v1/creatives/appr-1/approve', undefined, { key: admin2 });
    expect(ok.json()).toMatchObject({ status: 'approved', reviewedBy: admin2.split('_')[1] });
  });

  it('an advertiser changing what an approved creative shows sends it back to review; pausing it does not', async () => {
    const paused = await h.call('POST', '/api/v1/creatives/appr-1/pause', undefined, { key: adv });
    expect(paused.json()).toMatchObject({ status: 'approved', paused: true });
    const changed = await h.call('PATCH', '/api/v1/creatives/appr-1', { html: '<b>new</b>' }, { key: adv });
    expect(changed.status).toBe(200);
    expect(changed.json()).toMatchObject({ status: 'pending', paused: true });
    expect(changed.json().reviewedBy).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('a key over its limit gets 429 with Retry-After; other keys are not affected; it recovers', async () => {
    const key = await h.key('read-only', undefined, { rateLimit: { perSecond: 2, burst: 3 } });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<ApiHarness['call']>> | undefined;
    for (let i = 0; i < 5; i++) {
      const r = await h.call('GET', '/api/v1/me', undefined, { key });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(limited!.json().code).toBe('rate_limited');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await h.call('GET', '/api/v1/me', undefined, { key: ro })).status).toBe(200);
    // A fixed window of ceil(burst / perSecond) = 2 s: Retry-After is the rest of it, and then the key may go on.
    expect(Number(limited!.headers['retry-after'])).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, Number(limited!.headers['retry-after']) * 1000 + 100));
    expect((await h.call('GET', '/api/v1/me', undefined, { key })).status).toBe(200);
  });

  it('the uploads behind the same key share its limit', async () => {
    const key = await h.key('advertiser', ['acme'], { rateLimit: { perSecond: 0.5, burst: 1 } });
    expect((await h.call('GET', '/api/v1/audience-uploads', undefined, { key })).status).toBe(200);
    const r = await h.call('GET', '/api/v1/audience-uploads', undefined, { key });
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('2');
  });
});
