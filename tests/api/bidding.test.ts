/**
 * What the config API does to real bids on a real bid port: only approved, unpaused creatives of
 * active campaigns of active advertisers bid; every change reaches the bidder's snapshot (through
 * the change feed and startConfigSync); and no bid ever sees half of a change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, winner, bidRequest, type ApiHarness } from '../helpers/config-api.js';
import { banner, samples, tenants } from './fixtures.js';

let h: ApiHarness;
let adv: string;
beforeAll(async () => {
  h = await startApi({
    bundle: {
      ...tenants,
      // globex bids low, so acme's new campaign (bid 3) wins whenever it may bid at all
      campaigns: [tenants.campaigns![1]],
    },
  });
  adv = await h.key('advertiser', ['acme']);
});
afterAll(() => h?.close());

/** The winning creative once the bidder has caught up with every change so far. */
async function winning(): Promise<string | undefined> {
  await h.settle();
  return winner(h.bidder);
}

describe('only approved creatives bid', () => {
  it('an advertiser\'s new campaign and creative: no bid while pending; bids once an operator approves', async () => {
    expect(await winning()).toBe('globex-cr1');
    expect((await h.call('POST', '/api/v1/campaigns', { ...samples.campaigns('acme-new'), bid: { base: 3, max: 4 } }, { key: adv })).status).toBe(201);
    expect((await h.call('POST', '/api/v1/creatives', samples.creatives('acme-new-cr', 'acme-new'), { key: adv })).status).toBe(201);
    expect(await winning()).toBe('globex-cr1'); // pending: not in the index
    expect((await h.call('POST', '/api/v1/creatives/acme-new-cr/approve', undefined, { key: adv })).status).toBe(403);
    expect(await winning()).toBe('globex-cr1');
    expect((await h.call('POST', '/api/v1/creatives/acme-new-cr/approve')).status).toBe(200);
    expect(await winning()).toBe('acme-new-cr');
  });

  it('the advertiser changing the creative\'s markup sends it back to review: it stops bidding until approved again', async () => {
    expect((await h.call('PATCH', '/api/v1/creatives/acme-new-cr', { html: '<b>swapped</b>' }, { key: adv })).json().status).toBe('pending');
    expect(await winning()).toBe('globex-cr1');
    await h.call('POST', '/api/v1/creatives/acme-new-cr/approve');
    expect(await winning()).toBe('acme-new-cr');
    const r = await h.bidder.post('/bid', bidRequest());
    expect(r.json().seatbid[0].bid[0].adm).toContain('<b>swapped</b>');
  });

  it('a rejected creative does not bid', async () => {
    await h.call('POST', '/api/v1/creatives/acme-new-cr/reject', { reason: 'misleading' });
    expect(await winning()).toBe('globex-cr1');
    await h.call('POST', '/api/v1/creatives/acme-new-cr/approve');
    expect(await winning()).toBe('acme-new-cr');
  });
});

describe('pause, resume and delete reach the bids', () => {
  it('creative paused / resumed', async () => {
    await h.call('POST', '/api/v1/creatives/acme-new-cr/pause', undefined, { key: adv });
    expect(await winning()).toBe('globex-cr1');
    await h.call('POST', '/api/v1/creatives/acme-new-cr/resume', undefined, { key: adv });
    expect(await winning()).toBe('acme-new-cr');
  });

  it('campaign paused / resumed', async () => {
    await h.call('POST', '/api/v1/campaigns/acme-new/pause', undefined, { key: adv });
    expect(await winning()).toBe('globex-cr1');
    await h.call('POST', '/api/v1/campaigns/acme-new/resume', undefined, { key: adv });
    expect(await winning()).toBe('acme-new-cr');
  });

  it('advertiser paused by an operator: all its campaigns stop', async () => {
    await h.call('POST', '/api/v1/advertisers/acme/pause');
    expect(await winning()).toBe('globex-cr1');
    await h.call('POST', '/api/v1/advertisers/acme/resume');
    expect(await winning()).toBe('acme-new-cr');
  });

  it('a price change shows in the bid', async () => {
    await h.call('PATCH', '/api/v1/campaigns/acme-new', { bid: { base: 3.5 } }, { key: adv });
    await h.settle();
    const r = await h.bidder.post('/bid', bidRequest());
    expect(r.json().seatbid[0].bid[0].price).toBeCloseTo(3.5, 6);
  });

  it('campaign deleted: gone from bids for good', async () => {
    await h.call('DELETE', '/api/v1/campaigns/acme-new', undefined, { key: adv });
    expect(await winning()).toBe('globex-cr1');
  });

  it('exchanges: a new exchange is served at /bid/{id} once created, and 404 once paused', async () => {
    expect((await h.bidder.post('/bid/newex', bidRequest())).status).toBe(404);
    await h.call('POST', '/api/v1/exchanges', { id: 'newex', seat: 'seat-new' });
    await h.settle();
    const r = await h.bidder.post('/bid/newex', bidRequest());
    expect(r.status).toBe(200);
    expect(r.json().seatbid[0].seat).toBe('seat-new');
    await h.call('POST', '/api/v1/exchanges/newex/pause');
    await h.settle();
    expect((await h.bidder.post('/bid/newex', bidRequest())).status).toBe(404);
  });

  it('audiences: a paused segment stops counting for bidding; resumed, it counts again', async () => {
    const key = await h.key('advertiser', ['globex']);
    await h.call('POST', '/api/v1/audiences', samples.audiences('vip', 'globex'), { key });
    const up = await h.call('POST', '/api/v1/audiences/vip/members', 'user_id,id_type\nvip-user,uid\n', { key, headers: { 'content-type': 'text/csv' } });
    expect(up.json().accepted).toBe(1);
    await h.call('PATCH', '/api/v1/campaigns/globex-c1', { targeting: { segments: { anyOf: ['vip'] } } }, { key });
    const vip = { user: { buyeruid: 'vip-user' } };
    expect(await winning()).toBeUndefined(); // nobody else is in the segment
    expect(await winner(h.bidder, vip)).toBe('globex-cr1');
    await h.call('POST', '/api/v1/audiences/vip/pause', undefined, { key });
    expect(await winner(h.bidder, vip)).toBeUndefined();
    await h.call('POST', '/api/v1/audiences/vip/resume', undefined, { key });
    expect(await winner(h.bidder, vip)).toBe('globex-cr1');
    await h.call('DELETE', '/api/v1/audiences/vip', undefined, { key });
    expect(await winner(h.bidder, vip)).toBeUndefined();
    await h.call('PATCH', '/api/v1/campaigns/globex-c1', { targeting: null }, { key });
  });
});

describe('no bid ever sees half a change', () => {
  it('while two whole configurations are imported back and forth, every bid belongs entirely to one of them', async () => {
    // Configuration A: campaign "flip" bids 2.0 with creative flip-a. Configuration B: it bids 3.0 with
    // creative flip-b, and flip-a is gone. A bid of flip-a at 3.0, or flip-b at 2.0, would be half of a change.
    const doc = (price: number, crid: string) => ({
      format: 'rtb-bidder-config/1',
      defaultExchange: 'default',
      currencies: tenants.currencies,
      exchanges: [{ id: 'default', seat: 'seat-1', currency: 'USD' }],
      advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
      campaigns: [{ id: 'flip', advertiserId: 'acme', bid: { base: price, max: price } }],
      creatives: [{ ...banner(crid), campaignId: 'flip', status: 'approved' }],
    });
    const configs = [doc(2, 'flip-a'), doc(3, 'flip-b')];
    expect((await h.call('POST', '/api/v1/import?mode=replace', configs[1])).status).toBe(200);
    await h.settle();
    const seen = new Map<string, number>();
    let importing = true;
    const importer = (async () => {
      for (let i = 0; i < 30; i++) {
        const r = await h.call('POST', '/api/v1/import?mode=replace', configs[i % 2]);
        expect(r.status, r.text).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      importing = false;
    })();
    const bidders = Array.from({ length: 4 }, async () => {
      while (importing) {
        const r = await h.bidder.post('/bid', bidRequest());
        expect([200, 204]).toContain(r.status);
        if (r.status !== 200) continue;
        const bid = r.json().seatbid[0].bid[0];
        const pair = `${bid.crid}@${bid.price}`;
        seen.set(pair, (seen.get(pair) ?? 0) + 1);
      }
    });
    await Promise.all([importer, ...bidders]);
    expect([...seen.keys()].sort()).toEqual(['flip-a@2', 'flip-b@3']);
    expect(Math.min(...seen.values())).toBeGreaterThan(5); // both configurations were really live while bidding
    expect(h.bidder.snapshots.current.version).toBe(await h.store.version());
  });
});
