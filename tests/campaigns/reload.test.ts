/**
 * Reloading configuration into a running bidder: a good change swaps the snapshot (and bids with
 * it at once); a bad one is refused with its field errors, counted, and the old snapshot keeps bidding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reloadSnapshot } from '../../src/campaigns/config-source.js';
import { ConfigError } from '../../src/errors.js';
import { startBidder, type TestBidder } from '../helpers/bidder.js';

const BASE_YAML = `
exchanges:
  - { id: default, seat: seat-1 }
advertisers:
  - { id: adv-1, name: Advertiser One, domains: [one.example] }
campaigns:
  - id: cmp-old
    advertiserId: adv-1
    bid: { base: 1, max: 2 }
    creatives: [{ id: cr-old, type: banner, w: 300, h: 250, html: "<b>old</b>" }]
`;

const NEW_CAMPAIGN = JSON.stringify({
  campaigns: [
    {
      id: 'cmp-new',
      advertiserId: 'adv-1',
      bid: { base: 3, max: 4 },
      creatives: [{ id: 'cr-new', type: 'banner', w: 970, h: 250, html: '<b>new</b>' }],
    },
  ],
});

const request = (w: number, h: number) => ({ id: `req-${w}x${h}`, imp: [{ id: '1', banner: { w, h } }], site: { domain: 'news.example' } });

function reloads(text: string, result: 'ok' | 'refused'): number {
  const m = new RegExp(`^bidder_config_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

let dir: string;
let bidder: TestBidder;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bidder-reload-'));
  await writeFile(join(dir, 'base.yaml'), BASE_YAML);
  bidder = await startBidder({ configDir: dir });
});
afterAll(async () => {
  bidder?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('reloadSnapshot', () => {
  it('a good change swaps the snapshot: version + 1, and the new campaign bids at once', async () => {
    const before = bidder.snapshots.current;
    expect(before.version).toBe(1);
    expect((await bidder.post('/bid', request(970, 250))).status).toBe(204);

    await writeFile(join(dir, 'new.json'), NEW_CAMPAIGN);
    const r = await reloadSnapshot(dir, bidder.snapshots, bidder.metrics);
    expect(r.ok).toBe(true);
    expect(bidder.snapshots.current).not.toBe(before);
    expect(bidder.snapshots.current.version).toBe(2);
    expect(bidder.snapshots.current.index.campaigns.length).toBe(2);

    const fresh = await bidder.post('/bid', request(970, 250));
    expect(fresh.status).toBe(200);
    expect(fresh.json().seatbid[0].bid[0]).toMatchObject({ cid: 'cmp-new', crid: 'cr-new', w: 970, h: 250, price: 3 });
    expect((await bidder.post('/bid', request(300, 250))).json().seatbid[0].bid[0].cid).toBe('cmp-old');

    const text = await bidder.metricsText();
    expect(reloads(text, 'ok')).toBe(1);
    expect(reloads(text, 'refused')).toBe(0);
    expect(text).toMatch(/^bidder_config_version 2$/m);
    expect(text).toMatch(/^bidder_campaigns_live 2$/m);
    expect((await bidder.get('/readyz')).json()).toMatchObject({ configVersion: 2, campaigns: 2 });
  });

  it.each([
    ['a schema error', 'broken.yaml', 'campaigns:\n  - { id: cmp-x, advertiserId: adv-1, bid: { base: 1, max: 2 }, creatives: [{ id: cr-x, type: banner, w: wide, h: 1, html: x }] }\n', 'broken.yaml#/campaigns/0/creatives/0/w', 'type'],
    ['a rule error', 'broken.yaml', 'campaigns:\n  - { id: cmp-x, advertiserId: adv-nope, bid: { base: 1, max: 2 }, creatives: [{ id: cr-x, type: banner, w: 1, h: 1, html: x }] }\n', 'broken.yaml#/campaigns/0/advertiserId', 'unknown_reference'],
    ['a YAML syntax error', 'broken.yaml', 'campaigns: [ {', 'broken.yaml', 'parse_error'],
    ['a duplicate of a live campaign', 'broken.json', NEW_CAMPAIGN, 'new.json#/campaigns/0/id', 'duplicate_id'],
  ])('a bad change (%s) is refused: old snapshot kept and still bidding, refusal counted', async (_name, file, text, path, code) => {
    const live = bidder.snapshots.current;
    const refusedBefore = reloads(await bidder.metricsText(), 'refused');

    await writeFile(join(dir, file), text);
    try {
      const r = await reloadSnapshot(dir, bidder.snapshots, bidder.metrics);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error).toBeInstanceOf(ConfigError);
      const errors = (r.error as ConfigError).errors;
      expect(errors.map((e) => `${e.path} ${e.code}`)).toContain(`${path} ${code}`);
    } finally {
      await unlink(join(dir, file));
    }

    expect(bidder.snapshots.current).toBe(live);
    expect(bidder.snapshots.current.version).toBe(2);
    const metrics = await bidder.metricsText();
    expect(reloads(metrics, 'refused')).toBe(refusedBefore + 1);
    expect(metrics).toMatch(/^bidder_config_version 2$/m);

    const bid = await bidder.post('/bid', request(970, 250));
    expect(bid.status).toBe(200);
    expect(bid.json().seatbid[0].bid[0].cid).toBe('cmp-new');
    expect((await bidder.get('/readyz')).json()).toMatchObject({ configVersion: 2 });
  });

  it('a refused directory (gone) keeps the snapshot too', async () => {
    const live = bidder.snapshots.current;
    const r = await reloadSnapshot(join(dir, 'missing'), bidder.snapshots, bidder.metrics);
    expect(r.ok).toBe(false);
    expect(bidder.snapshots.current).toBe(live);
    expect((await bidder.post('/bid', request(300, 250))).status).toBe(200);
  });

  it('after refusals, the next good change goes live as version 3', async () => {
    await unlink(join(dir, 'new.json'));
    const r = await reloadSnapshot(dir, bidder.snapshots, bidder.metrics);
    expect(r.ok).toBe(true);
    expect(bidder.snapshots.current.version).toBe(3);
    expect((await bidder.post('/bid', request(970, 250))).status).toBe(204);
    expect((await bidder.post('/bid', request(300, 250))).status).toBe(200);
    expect(reloads(await bidder.metricsText(), 'ok')).toBe(2);
  });
});
