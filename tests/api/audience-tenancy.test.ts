/**
 * Audience tenancy, route by route and role by role: two advertisers, acme (A) and globex (B), and
 * every kind of key (operator, each advertiser, an agency acting for both, read-only with and
 * without advertisers). A key writes, reads, counts and forgets only memberships of segments owned
 * by its advertisers: B's segments answer A exactly as missing ones do, an upload row (CSV or
 * NDJSON) naming B's segment is rejected like one naming a segment that does not exist, and B's
 * audience, uploads and bids stay as they were, checked in the store and through the bid port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, winner, type ApiHarness } from '../helpers/config-api.js';
import type { HttpResult } from '../helpers/bidder.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { banner } from './fixtures.js';

const bundle: ConfigBundle = {
  defaultExchange: 'default',
  exchanges: [{ id: 'default', seat: 'seat-1', currency: 'USD' }],
  currencies: { base: 'USD', rates: { EUR: 0.9 } },
  advertisers: [
    { id: 'acme', name: 'Acme', domains: ['acme.example'] },
    { id: 'globex', name: 'Globex', domains: ['globex.example'] },
  ],
  campaigns: [
    // B's prospecting campaign, for its own segment only
    { id: 'globex-in', advertiserId: 'globex', bid: { base: 2, max: 3 }, targeting: { segments: { anyOf: ['globex-seg'] } }, creatives: [banner('globex-in-cr')] },
    // B's campaign for everyone but its exclusion segment (bids less, so globex-in wins where both bid)
    { id: 'globex-out', advertiserId: 'globex', bid: { base: 1, max: 1.5 }, targeting: { segments: { exclude: ['globex-excl'] } }, creatives: [banner('globex-out-cr')] },
  ],
};

type Role = 'admin' | 'acme' | 'globex' | 'agency' | 'reader' | 'readerAcme';
const ROLES: readonly Role[] = ['acme', 'readerAcme', 'reader', 'globex', 'agency', 'admin'];
/** The roles that act for B (and so may change B's segments); B must be unchanged by every other. */
const ACTS_FOR_B: ReadonlySet<Role> = new Set(['admin', 'globex', 'agency']);
/** The segment each role uploads into (its own; the read-only keys are refused anyway). */
const HOME: Record<Role, string> = { admin: 'acme-seg', acme: 'acme-seg', globex: 'globex-seg', agency: 'acme-seg', reader: 'acme-seg', readerAcme: 'acme-seg' };
/** Segments an upload row may name, by role (null: uploads are refused, 403). */
const MAY_NAME: Record<Role, readonly string[] | null> = {
  admin: ['acme-seg', 'globex-seg', 'globex-excl', 'shared-seg'],
  acme: ['acme-seg'],
  globex: ['globex-seg', 'globex-excl'],
  agency: ['acme-seg', 'globex-seg', 'globex-excl'],
  reader: null,
  readerAcme: null,
};
/** What every row names (one row each), and one row naming an own segment with a foreign one. */
const ROW_SEGMENTS: readonly string[][] = [['acme-seg'], ['globex-seg'], ['globex-excl'], ['shared-seg'], ['nope-seg'], ['acme-seg', 'globex-excl'], ['globex-seg', 'acme-seg']];
const FORMATS = ['csv', 'ndjson'] as const;

let h: ApiHarness;
const keys = {} as Record<Role, string>;
const B_USERS = ['b-1', 'b-2'];

const as = (role: Role, method: string, path: string, body?: unknown, headers?: Record<string, string>) => h.call(method, path, body, { key: keys[role], headers });
const members = async (userId: string) => {
  const [m] = await h.bidder.audiences.store.lookup([`uid:${userId}`]);
  return (m ?? []).map((x) => x.segment).sort();
};
const winnerFor = (buyeruid: string) => winner(h.bidder, { user: { buyeruid } });
/** The error body with the id taken out, so "B's" and "missing" can be compared. */
/** Status and body with the id masked; `otherPath`: compared with a request on another path, so the problem's `instance` (the path) is left out. */
const shape = (r: HttpResult, id: string, otherPath = false) => ({
  status: r.status,
  body: (otherPath ? r.text.replace(/,"instance":"[^"]*"/, '') : r.text).split(id).join('<id>'),
});

function uploadBody(format: 'csv' | 'ndjson', rows: { user: string; segments: string[] }[]): string {
  if (format === 'csv') return ['user_id,id_type,segments', ...rows.map((r) => `${r.user},uid,${r.segments.join('|')}`)].join('\n') + '\n';
  return rows.map((r) => JSON.stringify({ user_id: r.user, id_type: 'uid', segments: r.segments })).join('\n') + '\n';
}
const CONTENT_TYPE = { csv: 'text/csv', ndjson: 'application/x-ndjson' } as const;

/** Everything of B an outsider could change: metadata (with size and version), its users, its uploads, its bids. */
async function everythingOfB(): Promise<string> {
  const parts: unknown[] = [];
  for (const id of ['globex-seg', 'globex-excl']) parts.push((await h.call('GET', `/api/v1/audiences/${id}?includeDeleted=true`)).json());
  for (const u of B_USERS) parts.push(await members(u));
  parts.push((await as('globex', 'GET', '/api/v1/audience-uploads')).json());
  parts.push(await winnerFor('b-1'), await winnerFor('nobody'));
  return JSON.stringify(parts);
}

beforeAll(async () => {
  h = await startApi({ bundle });
  keys.admin = await h.key('admin');
  keys.acme = await h.key('advertiser', ['acme']);
  keys.globex = await h.key('advertiser', ['globex']);
  keys.agency = await h.key('advertiser', ['acme', 'globex']);
  keys.reader = await h.key('read-only');
  keys.readerAcme = await h.key('read-only', ['acme']);
  for (const [id, advertiserId] of [['acme-seg', 'acme'], ['globex-seg', 'globex'], ['globex-excl', 'globex'], ['shared-seg', undefined]] as const) {
    const r = await h.call('POST', '/api/v1/audiences', { id, name: `Segment ${id}`, ...(advertiserId ? { advertiserId } : {}) });
    expect(r.status, r.text).toBe(201);
  }
  const up = await as('globex', 'POST', '/api/v1/audiences/globex-seg/members?uploadId=globex-up', 'user_id,id_type\nb-1,uid\nb-2,uid\n', { 'content-type': 'text/csv' });
  expect(up.json()).toMatchObject({ accepted: 2, rejected: 0 });
  for (const role of ROLES) {
    const r = await as('globex', 'POST', '/api/v1/audiences/globex-seg/members', `user_id,id_type\nb-forget-${role},uid\n`, { 'content-type': 'text/csv' });
    expect(r.json()).toMatchObject({ accepted: 1 });
  }
  await h.settle();
  // The bid path as B expects it: its segment's users get globex-in, everyone else globex-out.
  expect(await winnerFor('b-1')).toBe('globex-in-cr');
  expect(await winnerFor('nobody')).toBe('globex-out-cr');
});
afterAll(() => h?.close());

/** One request per audience route aimed at B, and what each role gets (404: exactly as for a missing id). */
interface RouteCase {
  readonly route: string;
  /** The request on `id` (B's segment or upload, or a missing one to compare 404s with). */
  readonly req: (id: string, role: Role) => [string, string, unknown?, Record<string, string>?];
  /** B's id the request names (default globex-seg). */
  readonly target?: (role: Role) => string;
  /**
   * The request whose 404 B's must equal, on a missing id (default: the same request). A PUT or an
   * upload on a missing id creates it, so theirs are compared with reading a missing segment: ids are
   * global, and a taken one answers 404 as for campaigns.
   */
  readonly missing?: (id: string) => [string, string];
  readonly want: Record<Role, number>;
}
const READ = { admin: 200, acme: 404, globex: 200, agency: 200, reader: 200, readerAcme: 404 };
const WRITE = { admin: 200, acme: 404, globex: 200, agency: 200, reader: 403, readerAcme: 403 };
const MOVE = { admin: 400, acme: 403, globex: 403, agency: 400, reader: 403, readerAcme: 403 };
const CASES: RouteCase[] = [
  { route: 'GET /audiences/{id}', req: (id) => ['GET', `/api/v1/audiences/${id}`], want: READ },
  { route: 'GET /audiences/{id}?includeDeleted=true', req: (id) => ['GET', `/api/v1/audiences/${id}?includeDeleted=true`], want: READ },
  { route: 'GET /audiences/{id}/history', req: (id) => ['GET', `/api/v1/audiences/${id}/history`], want: READ },
  { route: 'PATCH /audiences/{id}', req: (id, role) => ['PATCH', `/api/v1/audiences/${id}`, { name: `Renamed by ${role}` }], want: WRITE },
  {
    // Taking B's segment over: a foreign id answers as a taken one does for campaigns (404); owners are fixed.
    route: 'PUT /audiences/{id} naming acme as owner',
    req: (id, role) => ['PUT', `/api/v1/audiences/${id}`, { name: `Taken by ${role}`, advertiserId: 'acme' }],
    missing: (id) => ['GET', `/api/v1/audiences/${id}`],
    want: { admin: 400, acme: 404, globex: 403, agency: 400, reader: 403, readerAcme: 403 },
  },
  { route: 'POST /audiences/{id}/pause', req: (id) => ['POST', `/api/v1/audiences/${id}/pause`], want: WRITE },
  { route: 'POST /audiences/{id}/resume', req: (id) => ['POST', `/api/v1/audiences/${id}/resume`], want: WRITE },
  { route: 'DELETE /audiences/{id}', req: (id) => ['DELETE', `/api/v1/audiences/${id}`], target: (role) => `globex-del-${role}`, want: WRITE },
  {
    route: 'POST /audiences/{id}/members (csv)',
    req: (id, role) => ['POST', `/api/v1/audiences/${id}/members`, `direct-csv-${role},uid\n`, { 'content-type': 'text/csv' }],
    missing: (id) => ['GET', `/api/v1/audiences/${id}`],
    want: WRITE,
  },
  {
    route: 'POST /audiences/{id}/members (ndjson)',
    req: (id, role) => ['POST', `/api/v1/audiences/${id}/members`, JSON.stringify({ user_id: `direct-nd-${role}`, id_type: 'uid' }) + '\n', { 'content-type': 'application/x-ndjson' }],
    missing: (id) => ['GET', `/api/v1/audiences/${id}`],
    want: WRITE,
  },
  { route: 'GET /audience-uploads/{uploadId}', req: (id) => ['GET', `/api/v1/audience-uploads/${id}`], target: () => 'globex-up', want: READ },
];

describe.each(ROLES)('%s key', (role) => {
  const actsForB = ACTS_FOR_B.has(role);
  let before: string;
  beforeAll(async () => {
    before = await everythingOfB();
  });

  it.each(CASES)('$route', async ({ req, target, missing, want }) => {
    const id = target?.(role) ?? 'globex-seg';
    if (id.startsWith('globex-del-')) expect((await h.call('POST', '/api/v1/audiences', { id, name: 'doomed', advertiserId: 'globex' })).status).toBe(201);
    const [method, path, body, headers] = req(id, role);
    const r = await as(role, method, path, body, headers);
    expect(r.status, r.text).toBe(want[role]);
    if (want[role] === 404) {
      const none = `no-such-${role}`;
      const [m2, p2, b2, h2] = missing ? missing(none) : req(none, role);
      expect(shape(r, id, !!missing)).toEqual(shape(await as(role, m2, p2, b2, h2), none, !!missing));
    }
    // 403 forbidden: the role never may; forbidden_field: an owner outside the key's advertisers.
    if (want[role] === 403) expect(r.json().code).toBe(role.startsWith('reader') ? 'forbidden' : 'forbidden_field');
    if (id.startsWith('globex-del-')) expect((await h.call('GET', `/api/v1/audiences/${id}`)).status).toBe(want[role] === 200 ? 404 : 200);
    if (path.includes('/resume')) await h.settle(); // B's campaigns bid again before the next check
  });

  it('lists: B\'s segment and B\'s upload only for keys that see B, whatever the filter', async () => {
    const sees = READ[role] === 200;
    for (const q of ['', '?limit=500', '?advertiserId=globex', '?q=globex', '?includeDeleted=true']) {
      const r = await as(role, 'GET', `/api/v1/audiences${q}`);
      expect(r.status, q).toBe(200);
      expect(r.json().items.map((d: { id: string }) => d.id).includes('globex-seg'), q).toBe(sees);
      if (!sees) expect(r.text, q).not.toContain('globex');
    }
    const uploads = await as(role, 'GET', '/api/v1/audience-uploads');
    expect(uploads.status).toBe(200);
    expect(uploads.json().uploads.some((u: { segmentId: string }) => u.segmentId.startsWith('globex')), uploads.text).toBe(sees);
  });

  it('PUT or upload creating a segment for B: only for keys that act for B', async () => {
    const put = await as(role, 'PUT', `/api/v1/audiences/new-${role}`, { name: 'New', advertiserId: 'globex' });
    expect(put.status, put.text).toBe(actsForB ? 201 : 403);
    if (!actsForB) expect(put.json().code).toBe(role.startsWith('reader') ? 'forbidden' : 'forbidden_field');
    const up = await as(role, 'POST', `/api/v1/audiences/new-up-${role}/members?advertiserId=globex`, `x-${role},uid\n`, { 'content-type': 'text/csv' });
    expect(up.status, up.text).toBe(actsForB ? 200 : 403);
    for (const id of [`new-${role}`, `new-up-${role}`]) {
      const r = await h.call('GET', `/api/v1/audiences/${id}`);
      expect(r.status, id).toBe(actsForB ? 200 : 404);
      if (actsForB) expect(r.json().advertiserId).toBe('globex');
    }
    expect(await members(`x-${role}`)).toEqual(actsForB ? [`new-up-${role}`] : []);
  });

  it('moving its own segment to the other advertiser: refused', async () => {
    const own = HOME[role];
    const other = own === 'globex-seg' ? 'acme' : 'globex';
    const r = await as(role, 'PATCH', `/api/v1/audiences/${own}`, { advertiserId: other });
    // 403 forbidden_field: an owner outside the key's advertisers; 400 immutable: owners are fixed for everyone.
    expect(r.status, r.text).toBe(MOVE[role]);
    if (MOVE[role] === 400) expect(r.json().errors).toContainEqual(expect.objectContaining({ path: '/advertiserId', code: 'immutable' }));
    else expect(r.json().code).toBe(role.startsWith('reader') ? 'forbidden' : 'forbidden_field');
    expect((await h.call('GET', `/api/v1/audiences/${own}`)).json().advertiserId).toBe(own === 'globex-seg' ? 'globex' : 'acme');
  });

  it('DELETE /users/{idType}/{userId}/segments: operators only (it forgets every advertiser\'s segments)', async () => {
    const r = await as(role, 'DELETE', `/api/v1/users/uid/b-forget-${role}/segments`);
    expect(r.status, r.text).toBe(role === 'admin' ? 200 : 403);
    expect(await members(`b-forget-${role}`)).toEqual(role === 'admin' ? [] : ['globex-seg']);
  });

  it.each(FORMATS)('upload rows (%s): a row naming a segment the key may not write is rejected whole, with its line, as "unknown segment"', async (format) => {
    const rows = ROW_SEGMENTS.map((segments, i) => ({ user: `row-${role}-${format}-${i}`, segments }));
    const r = await as(role, 'POST', `/api/v1/audiences/${HOME[role]}/members?uploadId=rows-${role}-${format}`, uploadBody(format, rows), { 'content-type': CONTENT_TYPE[format] });
    const may = MAY_NAME[role];
    if (may === null) {
      expect(r.status, r.text).toBe(403);
      for (const row of rows) expect(await members(row.user)).toEqual([]);
      return;
    }
    expect(r.status, r.text).toBe(200);
    const first = format === 'csv' ? 2 : 1; // the CSV header is line 1
    const expectedErrors: { line: number; message: string }[] = [];
    for (const [i, row] of rows.entries()) {
      const refused = row.segments.find((s) => !may.includes(s));
      if (refused) expectedErrors.push({ line: first + i, message: `unknown segment "${refused}"` });
      // A refused row writes nothing, not even the upload's own segment or the row's own ones.
      expect(await members(row.user), `row ${i}: ${row.segments}`).toEqual(refused ? [] : [...new Set([HOME[role], ...row.segments])].sort());
    }
    expect(r.json()).toMatchObject({ state: 'done', accepted: rows.length - expectedErrors.length, rejected: expectedErrors.length });
    expect(r.json().errors).toEqual(expectedErrors);
  });

  it('the injected users do not change B\'s bids', async () => {
    await h.settle();
    // B's campaigns: globex-in for users in globex-seg, else globex-out unless the user is in globex-excl.
    const expected = (segments: string[]) => (segments.includes('globex-seg') ? 'globex-in-cr' : segments.includes('globex-excl') ? undefined : 'globex-out-cr');
    for (const format of FORMATS)
      for (const i of ROW_SEGMENTS.keys()) {
        const user = `row-${role}-${format}-${i}`;
        const got = await winnerFor(user);
        expect(got, `${user}: ${ROW_SEGMENTS[i]}`).toBe(expected(await members(user)));
        // Whoever does not act for B leaves its bids as for anyone: not won by globex-in, not excluded.
        if (!ACTS_FOR_B.has(role)) expect(got, `${user}: ${ROW_SEGMENTS[i]}`).toBe('globex-out-cr');
      }
    // and those who may write B's segments do change B's bids, so the checks above see the real bid path
    if (MAY_NAME[role]?.includes('globex-seg')) expect(await winnerFor(`row-${role}-csv-1`)).toBe('globex-in-cr');
  });

  it(`leaves B exactly as it was${actsForB ? ' (not checked: this key acts for B)' : ''}`, async () => {
    if (actsForB) return;
    expect(await everythingOfB()).toBe(before);
  });
});

describe('upload progress', () => {
  it('an upload reusing the name of B\'s upload neither replaces nor reveals B\'s progress', async () => {
    const mine = await as('acme', 'POST', '/api/v1/audiences/acme-seg/members?uploadId=globex-up', 'user_id,id_type\na-9,uid\n', { 'content-type': 'text/csv' });
    expect(mine.json()).toMatchObject({ uploadId: 'globex-up', segmentId: 'acme-seg', accepted: 1 });
    const b = await as('globex', 'GET', '/api/v1/audience-uploads/globex-up');
    expect(b.status, b.text).toBe(200);
    expect(b.json()).toMatchObject({ segmentId: 'globex-seg', accepted: 2 });
    const a = await as('acme', 'GET', '/api/v1/audience-uploads/globex-up');
    expect(a.json()).toMatchObject({ segmentId: 'acme-seg', accepted: 1 });
    expect((await as('globex', 'GET', '/api/v1/audience-uploads')).json().uploads.filter((u: { uploadId: string }) => u.uploadId === 'globex-up')).toEqual([
      expect.objectContaining({ segmentId: 'globex-seg' }),
    ]);
    // The operator sees both, the latest first.
    const both = (await h.call('GET', '/api/v1/audience-uploads')).json().uploads.filter((u: { uploadId: string }) => u.uploadId === 'globex-up');
    expect(both.map((u: { segmentId: string }) => u.segmentId)).toEqual(['acme-seg', 'globex-seg']);
    expect((await h.call('GET', '/api/v1/audience-uploads/globex-up')).json().segmentId).toBe('acme-seg');
  });
});
