/**
 * The config API in the bidder as `npm start` runs it: embedded memory store seeded from CONFIG_DIR,
 * no DSP_ADMIN_KEY (a generated one is printed at start), two worker threads serving bids. A change
 * made through the API reaches the bids of every bid thread; SIGHUP merges config/ in again and
 * keeps what was made through the API; production mode refuses to start without a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequest } from '../helpers/bidder.js';
import { BidderProcess } from '../helpers/bidder-process.js';
import { until } from '../helpers/lanes.js';

let dir: string;
let p: BidderProcess;
let key: string;

const api = (method: string, path: string, body?: unknown, k: string | null = key) =>
  httpRequest(p.adminPort, method, path, body === undefined ? undefined : JSON.stringify(body), k ? { authorization: `Bearer ${k}` } : {});

/** A 970x250 request: the demo config has no campaign of that size. */
const billboard = (id: string) => ({
  id,
  tmax: 1000,
  imp: [{ id: '1', banner: { w: 970, h: 250 }, bidfloor: 0.1 }],
  site: { domain: 'news.example', page: 'https://news.example/a' },
  device: { ua: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', ip: '203.0.113.7', geo: { country: 'USA' } },
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedded-api-'));
  await cp('config', join(dir, 'config'), { recursive: true });
  p = await BidderProcess.start({ DSP_ADMIN_KEY: '', DEBUG_NOBID: 'true', CONFIG_DIR: join(dir, 'config'), DATA_DIR: join(dir, 'data'), WORKERS: '2' });
  const line = p.logs.split('\n').find((l) => l.includes('"msg":"bidder listening"'));
  key = JSON.parse(line!).adminKey;
}, 30_000);

afterAll(async () => {
  if (p) expect((await p.terminate()).code).toBe(0);
  await rm(dir, { recursive: true, force: true });
});

describe('the config API in an embedded bidder', () => {
  it('prints a generated admin key at start, which the API takes; no key gets 401', async () => {
    expect(key).toMatch(/^dsp_admin_/);
    expect(p.logs).toMatch(/"configStore":"memory","configSeededFromFiles":true/);
    expect((await api('GET', '/api/v1/campaigns', undefined, null)).status).toBe(401);
    expect((await api('GET', '/api/v1/campaigns', undefined, 'dsp_admin_wrong')).status).toBe(401);
    const list = await api('GET', '/api/v1/campaigns');
    expect(list.status).toBe(200);
    expect(list.json().items.map((c: { id: string }) => c.id)).toContain('cmp-acme-crm-retargeting');
    expect((await httpRequest(p.adminPort, 'GET', '/api/v1/openapi.json')).json().openapi).toMatch(/^3\./);
  });

  it('without DSP_ADMIN_KEY the audience and report routes need the printed key too, like every /api/v1 route', async () => {
    const csv = 'user_id,id_type,segments\nu-open-1,uid,\nu-open-2,uid,\n';
    const reportPath = '/api/v1/reports?groupBy=campaign,day&from=2026-01-01&to=2026-01-02';
    // No key: 401 everywhere (these answered as an operator before; loopback or not, tenant data needs a key).
    expect((await httpRequest(p.adminPort, 'POST', '/api/v1/audiences/open-seg/members', csv, { 'content-type': 'text/csv' })).status).toBe(401);
    expect((await httpRequest(p.adminPort, 'GET', reportPath)).status).toBe(401);
    expect((await httpRequest(p.adminPort, 'GET', '/api/v1/audiences')).status).toBe(401);
    expect((await httpRequest(p.adminPort, 'GET', '/api/v1/audience-uploads')).status).toBe(401);
    expect((await httpRequest(p.adminPort, 'DELETE', '/api/v1/users/uid/u-open-1/segments')).status).toBe(401);
    expect((await httpRequest(p.adminPort, 'GET', '/api/v1/advertisers')).status).toBe(401);
    // The printed key opens them.
    const auth = { authorization: `Bearer ${key}` };
    const up = await httpRequest(p.adminPort, 'POST', '/api/v1/audiences/open-seg/members', csv, { 'content-type': 'text/csv', ...auth });
    expect(up.status, up.text).toBe(200);
    expect(up.json()).toMatchObject({ accepted: 2, rejected: 0 });
    await until('reports answer with the key', async () => (await httpRequest(p.adminPort, 'GET', reportPath, undefined, auth)).status === 200, 15_000);
    expect((await api('GET', '/api/v1/audiences/open-seg')).json()).toMatchObject({ id: 'open-seg' });
    expect((await api('DELETE', '/api/v1/audiences/open-seg')).status).toBe(200);
  });

  it('a campaign created and approved through the API is bid by both worker threads', async () => {
    expect((await p.post('/bid', billboard('before'))).status).toBe(204);
    const adv = (await api('GET', '/api/v1/advertisers')).json().items[0].id as string;
    expect((await api('POST', '/api/v1/campaigns', { id: 'cmp-api-970', advertiserId: adv, name: 'Billboard', bid: { base: 2, max: 3 } })).status).toBe(201);
    const creative = { id: 'cr-api-970', campaignId: 'cmp-api-970', type: 'banner', w: 970, h: 250, html: '<div>billboard</div>' };
    expect((await api('POST', '/api/v1/creatives', creative)).status).toBe(201);
    const ready = async () => (await httpRequest(p.adminPort, 'GET', '/readyz')).json();
    await new Promise((r) => setTimeout(r, 200)); // the pending creative's version (if it made one) settles
    const pending = (await ready()).configVersion as number;
    expect((await api('POST', '/api/v1/creatives/cr-api-970/approve')).status).toBe(200);
    await until('the main thread and both workers past the approval', async () => {
      const r = await ready();
      return r.configVersion > pending && r.workers.length === 2 && r.workers.every((w: { configVersion: number }) => w.configVersion === r.configVersion);
    });
    // A new connection each (the kernel spreads them over the two threads); every answer carries the new campaign.
    for (let i = 0; i < 8; i++) {
      const r = await httpRequest(p.port, 'POST', '/bid', JSON.stringify(billboard(`after-${i}`)), { connection: 'close' }).catch((e) => {
        throw new Error(`${e.message}\n${p.logs.slice(-3000)}`);
      });
      expect(r.status, JSON.stringify(r.headers)).toBe(200);
      expect(r.json().seatbid[0].bid[0].cid).toBe('cmp-api-970');
    }
  });

  it('SIGHUP merges config/ in again: the files win for what they name, API-made resources stay', async () => {
    const before = (await httpRequest(p.adminPort, 'GET', '/readyz')).json().configVersion as number;
    await writeFile(
      join(dir, 'config', 'campaigns', 'zz-sighup.yaml'),
      `campaigns:
  - id: cmp-file-728-hup
    advertiserId: adv-acme
    name: Leaderboard added by file
    bid: { base: 1.0, max: 2.0 }
    creatives:
      - { id: cr-file-728x90-hup, type: banner, w: 728, h: 90, imageUrl: "https://cdn.acmeshoes.example/r/728x90.png", landingUrl: "https://acmeshoes.example/" }
`,
    );
    p.child.kill('SIGHUP');
    await until('the merged configuration is live', async () => (await httpRequest(p.adminPort, 'GET', '/readyz')).json().configVersion > before);
    const ids = (await api('GET', '/api/v1/campaigns?limit=200')).json().items.map((c: { id: string }) => c.id);
    expect(ids).toContain('cmp-api-970');
    expect(ids).toContain('cmp-file-728-hup');
    expect((await p.post('/bid', billboard('after-hup'))).json().seatbid[0].bid[0].cid).toBe('cmp-api-970');
    expect(p.logs).toMatch(/"msg":"configuration reloaded"/);
  });
});

describe('with DSP_ADMIN_KEY set', () => {
  it('every audience and report route needs the key', async () => {
    const d = await mkdtemp(join(tmpdir(), 'keyed-api-'));
    const keyed = await BidderProcess.start({ DATA_DIR: d }); // the helper sets DSP_ADMIN_KEY
    try {
      expect(keyed.logs).not.toMatch(/"adminKey"/);
      expect((await httpRequest(keyed.adminPort, 'POST', '/api/v1/audiences/s/members', 'u1,uid,\n', { 'content-type': 'text/csv' })).status).toBe(401);
      expect((await httpRequest(keyed.adminPort, 'GET', '/api/v1/reports?groupBy=day&from=2026-01-01&to=2026-01-02')).status).toBe(401);
      expect((await httpRequest(keyed.adminPort, 'DELETE', '/api/v1/audiences/s')).status).toBe(401);
      // 503 until the event store's schema is ready (just after start), then 200 with the key.
      await until('reports answer with the key', async () => (await keyed.get('/api/v1/reports?groupBy=day&from=2026-01-01&to=2026-01-02', true)).status === 200, 15_000);
    } finally {
      expect((await keyed.terminate()).code).toBe(0);
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe('production mode', () => {
  it('refuses to start the config API without DSP_ADMIN_KEY, naming the variable', async () => {
    const d = await mkdtemp(join(tmpdir(), 'prod-api-'));
    try {
      await expect(BidderProcess.start({ DSP_ADMIN_KEY: '', NODE_ENV: 'production', DATA_DIR: d }, 10_000)).rejects.toThrow(/DSP_ADMIN_KEY/);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
