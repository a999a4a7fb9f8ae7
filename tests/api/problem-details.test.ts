/**
 * Every refusal on the admin port is an RFC 9457 problem document sent as application/problem+json:
 * type, title, status (the HTTP status), detail, instance (the request path) and the stable `code`
 * extension, with field errors as JSON pointers. Walks 400/401/403/404/405/412/413/415/429 on the
 * config API, the audience uploads, reports and the kill switch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiHarness } from '../helpers/config-api.js';
import type { HttpResult } from '../helpers/bidder.js';
import { samples, tenants } from './fixtures.js';

let h: ApiHarness;
let limited: ApiHarness;
let advertiserKey: string;

beforeAll(async () => {
  [h, limited] = await Promise.all([startApi({ bundle: tenants }), startApi({ bundle: tenants, rateLimit: { perSecond: 0.001, burst: 1 } })]);
  advertiserKey = await h.key('advertiser', ['acme']);
});
afterAll(async () => {
  await h?.close();
  await limited?.close();
});

function expectProblem(r: HttpResult, status: number, code: string, instance?: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toBe('application/problem+json');
  const p = r.json();
  expect(p).toMatchObject({ type: `urn:rtb-bidder:problem:${code}`, title: expect.any(String), status, detail: expect.any(String), code });
  expect(p.title.length).toBeGreaterThan(0);
  if (instance !== undefined) expect(p.instance).toBe(instance);
  return p;
}

describe('problem details (RFC 9457) on the admin port', () => {
  it('400 validation_failed: every field error with a JSON pointer into the body', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', { ...samples.campaigns('pd-1'), colour: 'red', bid: { base: 'one' } });
    const p = expectProblem(r, 400, 'validation_failed', '/api/v1/campaigns');
    expect(p.title).toBe('Bad Request');
    expect(p.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/colour', path: '/colour', code: 'unknown_field', message: expect.any(String) },
        expect.objectContaining({ pointer: '/bid/base', path: '/bid/base', code: 'type' }),
      ]),
    );
  });

  it('400 bad_json and bad_query', async () => {
    expectProblem(await h.call('POST', '/api/v1/campaigns', '{"id":'), 400, 'bad_json', '/api/v1/campaigns');
    const q = expectProblem(await h.call('GET', '/api/v1/campaigns?limit=nope'), 400, 'bad_query', '/api/v1/campaigns');
    expect(q.errors.length).toBeGreaterThan(0);
  });

  it('401 with WWW-Authenticate, 403 for a role that may not', async () => {
    const r = await h.call('GET', '/api/v1/campaigns', undefined, { key: 'nope-not-a-key' });
    expectProblem(r, 401, 'unauthorized', '/api/v1/campaigns');
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    const p = expectProblem(await h.call('GET', '/api/v1/keys', undefined, { key: advertiserKey }), 403, 'forbidden', '/api/v1/keys');
    expect(p.title).toBe('Forbidden');
  });

  it('404 for a missing resource and for an unknown endpoint; 405 with Allow', async () => {
    expectProblem(await h.call('GET', '/api/v1/campaigns/none-such'), 404, 'not_found', '/api/v1/campaigns/none-such');
    expectProblem(await h.call('GET', '/api/v1/no-such-endpoint'), 404, 'not_found', '/api/v1/no-such-endpoint');
    const m = await h.call('PUT', '/api/v1/campaigns');
    expectProblem(m, 405, 'method_not_allowed', '/api/v1/campaigns');
    expect(m.headers.allow).toBe('GET, POST');
  });

  it('412 for a stale If-Match', async () => {
    const r = await h.call('PATCH', '/api/v1/campaigns/acme-c1', { name: 'x' }, { headers: { 'if-match': '"999999"' } });
    expectProblem(r, 412, 'precondition_failed', '/api/v1/campaigns/acme-c1');
  });

  it('413 for a body over the limit, 415 for an upload of another type', async () => {
    expectProblem(await h.call('POST', '/api/v1/campaigns', 'x'.repeat(5 * 1024 * 1024)), 413, 'body_too_large', '/api/v1/campaigns');
    const u = await h.call('POST', '/api/v1/audiences/pd-seg/members', 'alice,uid\n', { headers: { 'content-type': 'text/xml' } });
    expectProblem(u, 415, 'unsupported_media_type');
  });

  it('429 with Retry-After on the config API, uploads and reports alike', async () => {
    expect((await limited.call('GET', '/api/v1/me')).status).toBe(200);
    const r = await limited.call('GET', '/api/v1/campaigns');
    expectProblem(r, 429, 'rate_limited', '/api/v1/campaigns');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expectProblem(await limited.call('POST', '/api/v1/audiences/pd-seg/members', 'alice,uid\n', { headers: { 'content-type': 'text/csv' } }), 429, 'rate_limited', '/api/v1/audiences/pd-seg/members');
    expectProblem(await limited.call('GET', '/api/v1/reports?groupBy=day&from=2024-01-01&to=2024-01-02'), 429, 'rate_limited', '/api/v1/reports');
  });

  it('reports: field errors name the query parameter', async () => {
    const p = expectProblem(await h.call('GET', '/api/v1/reports?groupBy=day&from=yesterday&to=2024-01-02'), 400, 'validation_failed');
    expect(p.errors).toEqual([expect.objectContaining({ path: 'from', code: 'invalid_datetime' })]);
    expect(p.errors[0].pointer).toBeUndefined();
  });
});
