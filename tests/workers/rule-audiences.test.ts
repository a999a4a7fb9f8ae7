/**
 * Rule audiences in the built bidder with WORKERS=2 (as `npm start` runs on a multi-core machine):
 * a rule audience and its campaign made through the config API, an advertiser's pixel called by a
 * browser with our cookie on the exchange port, and then every bid thread bids on that user within
 * 60 s (each request on a new connection, which the kernel spreads over both threads). Another
 * advertiser's pixel for the same user never puts them into this audience, nor does a pixel without
 * consent. Needs the build.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequest } from '../helpers/bidder.js';
import { BidderProcess, TEST_ADMIN_KEY } from '../helpers/bidder-process.js';
import { until } from '../helpers/lanes.js';

let dir: string;
let p: BidderProcess;
let seq = 0;

const api = (method: string, path: string, body?: unknown) =>
  httpRequest(p.adminPort, method, path, body === undefined ? undefined : JSON.stringify(body), { authorization: `Bearer ${TEST_ADMIN_KEY}` });

/** A 970x250 request for `uid` (user.buyeruid): the demo config has no campaign of that size. */
const billboard = (uid: string) => ({
  id: `r${++seq}`,
  tmax: 1000,
  imp: [{ id: '1', banner: { w: 970, h: 250 }, bidfloor: 0.1 }],
  site: { domain: 'news.example', page: 'https://news.example/a' },
  device: { ua: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', ip: '203.0.113.7', geo: { country: 'USA' } },
  user: { buyeruid: uid },
});

/** The campaign of each answer to `n` requests for `uid`, each on a connection of its own. */
async function winners(uid: string, n: number): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const r = await httpRequest(p.port, 'POST', '/bid', JSON.stringify(billboard(uid)), { connection: 'close' });
    out.push(r.status === 200 ? r.json().seatbid[0].bid[0].cid : undefined);
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rules-workers-'));
  await cp('config', join(dir, 'config'), { recursive: true });
  p = await BidderProcess.start({ DEBUG_NOBID: 'true', CONFIG_DIR: join(dir, 'config'), DATA_DIR: join(dir, 'data'), WORKERS: '2' }, 60_000);
  const rule = { source: 'pixel', events: ['visit'], excludeEvents: ['purchase'], lookbackDays: 30 };
  expect((await api('PUT', '/api/v1/audiences/acme-site-visitors', { name: 'Site visitors', advertiserId: 'adv-acme', rule })).status).toBe(201);
  const campaign = { id: 'cmp-rule-970', advertiserId: 'adv-acme', name: 'Visitors billboard', bid: { base: 2, max: 3 }, targeting: { segments: { anyOf: ['acme-site-visitors'] } } };
  const c = await api('POST', '/api/v1/campaigns', campaign);
  expect(c.status, c.text).toBe(201);
  const creative = { id: 'cr-rule-970', campaignId: 'cmp-rule-970', type: 'banner', w: 970, h: 250, html: '<div>billboard</div>' };
  expect((await api('POST', '/api/v1/creatives', creative)).status).toBe(201);
  expect((await api('POST', '/api/v1/creatives/cr-rule-970/approve')).status).toBe(200);
  await until(
    'both workers have the campaign',
    async () => {
      const r = (await httpRequest(p.adminPort, 'GET', '/readyz')).json();
      return r.workers.length === 2 && r.workers.every((w: { configVersion: number }) => w.configVersion === r.configVersion);
    },
    20_000,
  );
}, 120_000);

afterAll(async () => {
  if (p) expect((await p.terminate()).code).toBe(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('rule audiences with WORKERS=2', () => {
  it('pixel with cookie → rule audience → every bid thread bids on that user within 60 s; a purchase takes them out', async () => {
    const uid = 'WorkersVisitor00000001';
    expect(await winners(uid, 4)).toEqual([undefined, undefined, undefined, undefined]); // not a member yet
    const px = await httpRequest(p.port, 'GET', '/px/adv-acme/visit', undefined, { cookie: `dspuid=${uid}` });
    expect(px.status).toBe(200);
    const t0 = Date.now();
    await until('eight bids in a row on the visitor', async () => (await winners(uid, 8)).every((c) => c === 'cmp-rule-970'), 60_000);
    expect(Date.now() - t0).toBeLessThan(60_000);
    await httpRequest(p.port, 'GET', '/px/adv-acme/purchase?value=10', undefined, { cookie: `dspuid=${uid}` });
    await until('no bid on the buyer from any thread', async () => (await winners(uid, 8)).every((c) => c === undefined), 60_000);
  }, 150_000);

  it("another advertiser's pixel for the same user never reaches this audience", async () => {
    const uid = 'WorkersOtherAdv0000001';
    const px = await httpRequest(p.port, 'GET', '/px/adv-northwind/visit', undefined, { cookie: `dspuid=${uid}` });
    expect(px.status).toBe(200);
    // A visit to Acme by another user, after it, shows the pixels were applied by then.
    const witness = 'WorkersWitness00000001';
    await httpRequest(p.port, 'GET', '/px/adv-acme/visit', undefined, { cookie: `dspuid=${witness}` });
    await until('the witness is bid on', async () => (await winners(witness, 4)).every((c) => c === 'cmp-rule-970'), 60_000);
    expect(await winners(uid, 8)).toEqual(new Array(8).fill(undefined));
  }, 90_000);

  it('a user without consent is never stored: GDPR without consent, a US privacy opt-out, GPC', async () => {
    const uid = 'WorkersNoConsent000001';
    const answers = [
      await httpRequest(p.port, 'GET', '/px/adv-acme/visit?gdpr=1', undefined, { cookie: `dspuid=${uid}` }),
      await httpRequest(p.port, 'GET', `/px/adv-acme/visit?us_privacy=1YYN&uid=${uid}`),
      await httpRequest(p.port, 'GET', '/px/adv-acme/visit', undefined, { cookie: `dspuid=${uid}`, 'sec-gpc': '1' }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 204, 200]);
    expect(answers.map((a) => a.headers['set-cookie'])).toEqual([undefined, undefined, undefined]);
    const witness = 'WorkersWitness00000002';
    await httpRequest(p.port, 'GET', '/px/adv-acme/visit', undefined, { cookie: `dspuid=${witness}` });
    await until('the witness is bid on', async () => (await winners(witness, 4)).every((c) => c === 'cmp-rule-970'), 60_000);
    expect(await winners(uid, 8)).toEqual(new Array(8).fill(undefined));
  }, 90_000);
});
