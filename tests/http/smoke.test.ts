import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, type TestBidder } from '../helpers/bidder.js';

let bidder: TestBidder;
beforeAll(async () => {
  bidder = await startBidder({ configDir: 'config' });
});
afterAll(() => bidder.close());

const banner = (over: object = {}) => ({
  id: 'req-1',
  imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
  site: { domain: 'news.example', page: 'https://news.example/a' },
  device: { ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 2 },
  ...over,
});

describe('demo bidder', () => {
  it('bids on a plain banner request with a well-formed response', async () => {
    const r = await bidder.post('/bid', banner());
    expect(r.status).toBe(200);
    expect(r.headers['x-openrtb-version']).toBe('2.6');
    const body = r.json();
    expect(body.id).toBe('req-1');
    const bid = body.seatbid[0].bid[0];
    expect(bid.impid).toBe('1');
    expect(bid.price).toBeGreaterThanOrEqual(0.1);
    expect(bid.w).toBe(300);
    expect(bid.h).toBe(250);
    expect(bid.mtype).toBe(1);
    expect(bid.burl).toContain('${AUCTION_PRICE}');
  });

  it('answers an empty body with 400', async () => {
    const r = await bidder.post('/bid', '');
    expect(r.status).toBe(400);
  });

  it('answers an unknown exchange with 404', async () => {
    const r = await bidder.post('/bid/nope', banner());
    expect(r.status).toBe(404);
  });

  it('serves health, readiness and metrics on the admin port', async () => {
    expect((await bidder.get('/healthz')).status).toBe(200);
    const ready = await bidder.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json().campaigns).toBeGreaterThan(0);
    const metrics = await bidder.get('/metrics');
    expect(metrics.text).toMatch(/bidder_bid_requests_total\{exchange="default",outcome="bid"\} [1-9]/);
  });
});
