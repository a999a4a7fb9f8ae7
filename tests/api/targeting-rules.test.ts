/**
 * The targeting rules on exchanges, device make and model, connection type, carrier and video
 * placement through the config API: created, read back and bid on; bad values refused with JSON
 * pointers at the field; exchange ids checked against the configured exchanges.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, winner, type ApiHarness } from '../helpers/config-api.js';
import { samples, tenants } from './fixtures.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({
    bundle: {
      ...tenants,
      exchanges: [...tenants.exchanges!, { id: 'second', seat: 'seat-2', currency: 'USD' }, { id: 'third', seat: 'seat-3', currency: 'USD' }],
      // globex bids low and everywhere, so acme's campaign wins wherever its rules let it bid
      campaigns: [tenants.campaigns![1]],
    },
  });
});
afterAll(() => h?.close());

const RULES = {
  exchanges: { allow: ['default', 'third'], block: ['second'] },
  deviceMakes: ['Apple'],
  deviceModels: ['iPhone'],
  connectionTypes: [2, 3],
  carriers: ['Verizon'],
  videoPlacements: [1, 2],
};

const pairs = (r: { json(): any }) => r.json().errors.map((e: { path: string; code: string }) => `${e.path} ${e.code}`).sort();

describe('campaigns with the device, carrier, connection, exchange and placement rules', () => {
  it('are created and read back as written', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', { ...samples.campaigns('rules-all'), targeting: RULES });
    expect(r.status, r.text).toBe(201);
    expect(r.json().targeting).toEqual(RULES);
    expect((await h.call('GET', '/api/v1/campaigns/rules-all')).json().targeting).toEqual(RULES);
  });

  it('bid only where every rule matches (make, model and carrier in any case; the exchange from the URL)', async () => {
    const { videoPlacements: _banner, ...rules } = RULES; // a banner campaign: no placement rule
    expect((await h.call('POST', '/api/v1/campaigns', { ...samples.campaigns('rules-bid'), bid: { base: 3, max: 4 }, targeting: rules })).status).toBe(201);
    expect((await h.call('POST', '/api/v1/creatives', samples.creatives('rules-bid-cr', 'rules-bid'))).status).toBe(201);
    expect((await h.call('POST', '/api/v1/creatives/rules-bid-cr/approve')).status).toBe(200);
    await h.settle();
    const device = { ua: 'Mozilla/5.0', ip: '203.0.113.7', make: 'APPLE', model: 'iphone', carrier: 'verizon', connectiontype: 6 };
    expect(await winnerOn('default', device)).toBe('rules-bid-cr'); // 6 (4G) is under 3 (cellular)
    expect(await winnerOn('third', device)).toBe('rules-bid-cr');
    expect(await winnerOn('second', device)).toBe('globex-cr1'); // blocked exchange
    expect(await winnerOn('default', { ...device, make: 'Samsung' })).toBe('globex-cr1');
    expect(await winnerOn('default', { ...device, model: 'iPhone 15' })).toBe('globex-cr1');
    expect(await winnerOn('default', { ...device, carrier: undefined })).toBe('globex-cr1');
    expect(await winnerOn('default', { ...device, connectiontype: 1 })).toBe('globex-cr1');
  });

  it('bad values are refused, every one at once, each at its field', async () => {
    const r = await h.call('POST', '/api/v1/campaigns', {
      ...samples.campaigns('rules-bad'),
      targeting: {
        exchanges: { allow: ['default', 'nowhere'], block: ['Not An Id'] },
        deviceMakes: [''],
        deviceModels: 'iPhone',
        connectionTypes: [2, 8],
        carriers: [5],
        videoPlacements: [0, 5],
      },
    });
    expect(r.status).toBe(400);
    expect(pairs(r)).toEqual(
      [
        '/targeting/exchanges/block/0 pattern',
        '/targeting/deviceMakes/0 minLength',
        '/targeting/deviceModels type',
        '/targeting/connectionTypes/1 maximum',
        '/targeting/carriers/0 type',
        '/targeting/videoPlacements/0 minimum',
        '/targeting/videoPlacements/1 maximum',
      ].sort(),
    );
    // An unknown exchange is a rule error: reported once the shape is right.
    const unknown = await h.call('POST', '/api/v1/campaigns', { ...samples.campaigns('rules-bad'), targeting: { exchanges: { allow: ['default', 'nowhere'] } } });
    expect(unknown.status).toBe(400);
    expect(unknown.json().errors).toEqual([{ pointer: '/targeting/exchanges/allow/1', path: '/targeting/exchanges/allow/1', code: 'unknown_reference', message: 'no exchange "nowhere"' }]);
    expect((await h.call('GET', '/api/v1/campaigns/rules-bad')).status).toBe(404);
  });

  it('an exchange a campaign names may be paused (its rules still load) but not deleted', async () => {
    expect((await h.call('POST', '/api/v1/exchanges/third/pause')).status).toBe(200);
    await h.settle();
    expect(h.bidder.snapshots.current.exchanges.has('third')).toBe(false);
    expect(h.bidder.snapshots.current.index.byId.has('rules-bid')).toBe(true);
    const del = await h.call('DELETE', '/api/v1/exchanges/third');
    expect(del.status).toBe(400);
    expect(del.json().errors).toContainEqual({
      pointer: '/',
      path: '/',
      code: 'breaks_dependent',
      message: 'campaigns/rules-all#/targeting/exchanges/allow/1: no exchange "third" [unknown_reference]',
    });
    expect((await h.call('POST', '/api/v1/exchanges/third/resume')).status).toBe(200);
  });
});

/** The winning creative of a banner request on `exchange` from `device`, or undefined for a no-bid. */
async function winnerOn(exchange: string, device: Record<string, unknown>): Promise<string | undefined> {
  return winner({ post: (_path, body) => h.bidder.post(`/bid/${exchange}`, body) }, { device });
}
