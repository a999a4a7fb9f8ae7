/**
 * Lookalike audiences with WORKERS=2, in the built bidder as a real process: both bid workers
 * sample the users they see and post them to the main thread's one profile store; a lookalike
 * built there (`POST /api/v1/audiences/{id}/rebuild`) learns from seed users seen on either
 * worker, its members reach both workers' segment caches, and a campaign targeting it bids on a
 * member and not on a user unlike the seed.
 *
 * Which worker answered a bid is read from the bid id (`<INSTANCE_ID>_<worker>_`).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BidderProcess, TEST_ADMIN_KEY } from '../helpers/bidder-process.js';
import { httpRequest } from '../helpers/bidder.js';
import { Lane, sumOf, until, type Exchange } from '../helpers/lanes.js';

const LANES = 16;
const SEEDS = 30;
const LIKES = 20;
const OTHERS = 60;
let dir = '';
let p: BidderProcess;
const lanes: Lane[] = [];

const CONFIG = `defaultExchange: default
exchanges:
  - id: default
    seat: seat-1
    currency: USD
advertisers:
  - id: acme
    name: Acme
    domains: [acme.example]
campaigns:
  - id: cmp-all
    advertiserId: acme
    name: Everyone, cheaply
    bid: { base: 0.5, max: 1 }
    creatives:
      - { id: cr-all, type: banner, w: 300, h: 250, html: "<div>all</div>" }
  - id: cmp-like
    advertiserId: acme
    name: People like our buyers
    bid: { base: 3, max: 4 }
    targeting:
      segments: { anyOf: [acme-like] }
    creatives:
      - { id: cr-like, type: banner, w: 300, h: 250, html: "<div>like</div>" }
`;

const admin = (method: string, path: string, body?: unknown, contentType = 'application/json') =>
  httpRequest(p.adminPort, method, path, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), {
    authorization: `Bearer ${TEST_ADMIN_KEY}`,
    'content-type': contentType,
  });

/** Seed and like users read French cooking sites on iPhones; the others American car sites on Android. */
function request(id: string, user: string): string {
  const like = !user.startsWith('other-');
  return JSON.stringify({
    id,
    tmax: 2000,
    imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
    site: like ? { domain: `cooking${id.length % 3}.example`, cat: ['IAB8', 'IAB8-5'] } : { domain: `cars${id.length % 3}.example`, cat: ['IAB2'] },
    device: { devicetype: 4, os: like ? 'iOS' : 'Android', geo: { country: like ? 'FRA' : 'USA' } },
    user: { buyeruid: user },
  });
}

const bidOf = (x: Exchange) => JSON.parse(x.body!).seatbid[0].bid[0] as { id: string; cid: string };
const workerOf = (x: Exchange) => /^lk_(\d+)_/.exec(bidOf(x).id)?.[1];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lookalikes-'));
  await mkdir(join(dir, 'config', 'campaigns'), { recursive: true });
  await writeFile(join(dir, 'config', 'bidder.yaml'), CONFIG);
  p = await BidderProcess.start({
    WORKERS: '2',
    LOOKALIKES: '1',
    PROFILE_SAMPLE_EVERY: '1',
    CONFIG_DIR: join(dir, 'config'),
    DATA_DIR: join(dir, 'data'),
    INSTANCE_ID: 'lk',
    NOTICE_SIGNING_KEYS: 'k1:lookalike-test-secret-0123456789',
    DEBUG_NOBID: '1',
  }, 40_000);
  for (let i = 0; i < LANES; i++) lanes.push(new Lane(p.port));
}, 60_000);

afterAll(async () => {
  for (const l of lanes) l.close();
  if (p) {
    const exit = await p.terminate(15_000);
    expect(exit, p.logs).toEqual({ code: 0, signal: null });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('lookalikes with WORKERS=2', () => {
  it('a lookalike learns from seed users seen on both workers, and a campaign targeting it bids on a member on either worker', async () => {
    // The seed (uploaded) and the lookalike, through the config API.
    expect((await admin('POST', '/api/v1/audiences', { id: 'acme-buyers', name: 'Buyers', advertiserId: 'acme' })).status).toBe(201);
    const seedCsv = `user_id,id_type\n${Array.from({ length: SEEDS }, (_, i) => `seed-${i},uid`).join('\n')}\n`;
    const up = await admin('POST', '/api/v1/audiences/acme-buyers/members', seedCsv, 'text/csv');
    expect(up.status, up.text).toBe(200);
    const like = await admin('POST', '/api/v1/audiences', { id: 'acme-like', name: 'Like our buyers', advertiserId: 'acme', lookalike: { seed: 'acme-buyers', size: LIKES, refreshHours: 24 } });
    expect(like.status, like.text).toBe(201);

    // Every user is seen, spread over 16 connections (the kernel spreads those over both workers).
    const users = [
      ...Array.from({ length: SEEDS }, (_, i) => `seed-${i}`),
      ...Array.from({ length: LIKES }, (_, i) => `like-${i}`),
      ...Array.from({ length: OTHERS }, (_, i) => `other-${i}`),
    ];
    const seenOn = new Map<string, string>();
    await Promise.all(
      lanes.map(async (lane, l) => {
        for (let i = l; i < users.length; i += LANES) {
          const x = await lane.send('POST', '/bid', request(`see-${i}`, users[i]));
          expect(x.outcome, x.error).toBe('answered');
          expect(x.status, x.body).toBe(200);
          seenOn.set(users[i], workerOf(x)!);
          // Nobody is in the lookalike yet.
          expect(bidOf(x).cid).toBe('cmp-all');
        }
      }),
    );
    const seedWorkers = new Set(users.filter((u) => u.startsWith('seed-')).map((u) => seenOn.get(u)));
    expect(seedWorkers, 'seed users answered by both workers').toEqual(new Set(['1', '2']));

    // Both workers' samples reach the main thread's store (drained every second).
    const metrics = (await until('profiles from both workers', async () => {
      const text = (await p.get('/metrics', true)).text;
      return sumOf(text, 'lookalike_profiles') >= users.length ? text : undefined;
    }, 15_000))!;
    for (const w of ['w1', 'w2']) expect(sumOf(metrics, `lookalike_profile_sightings_total{thread="${w}"}`), w).toBeGreaterThan(0);

    // Built now: every seed user is an example, wherever they were seen.
    const built = await admin('POST', '/api/v1/audiences/acme-like/rebuild');
    expect(built.status, built.text).toBe(200);
    expect(built.json()).toMatchObject({ kind: 'lookalike', positives: SEEDS, members: LIKES });

    // Members now bid with the lookalike campaign on whichever worker takes them (the workers'
    // caches hear of the new members by message, so within moments, not necessarily before the
    // rebuild's answer); users unlike the seed do not.
    const likeWorkers = new Set<string>();
    await Promise.all(
      lanes.map(async (lane, l) => {
        for (let i = l; i < LIKES; i += LANES) {
          let n = 0;
          const x = (await until(`like-${i} bid on with the lookalike`, async () => {
            const r = await lane.send('POST', '/bid', request(`after-like-${i}-${++n}`, `like-${i}`));
            expect(r.status, r.body).toBe(200);
            return bidOf(r).cid === 'cmp-like' ? r : undefined;
          }, 5_000))!;
          likeWorkers.add(workerOf(x)!);
        }
        const o = await lane.send('POST', '/bid', request(`after-other-${l}`, `other-${l}`));
        expect(o.status, o.body).toBe(200);
        expect(bidOf(o).cid, `other-${l}`).toBe('cmp-all');
      }),
    );
    expect(likeWorkers).toEqual(new Set(['1', '2']));
  }, 60_000);

  it('forgetting a user removes their profile from the main thread', async () => {
    const profiles = async () => sumOf((await p.get('/metrics', true)).text, 'lookalike_profiles');
    const before = await profiles();
    for (const lane of lanes.slice(0, 4)) expect((await lane.send('POST', '/bid', request('forget-1', 'forget-me'))).status).toBe(200);
    await until('the profile', async () => (await profiles()) === before + 1, 15_000);
    const r = await admin('DELETE', '/api/v1/users/uid/forget-me/segments');
    expect(r.status, r.text).toBe(200); // a profile, though no segments
    expect(await profiles()).toBe(before);
  });
});
