/**
 * Load shedding at the gate, in the test process with the lag under the test's control:
 * an overloaded thread answers bid requests 204 before their body is read (the answer arrives
 * while half the body is still unsent), the keep-alive connection stays usable afterwards, the
 * in-flight cap sheds too (requests whose body is still arriving do not count against it), notices are never shed, and every shed request is counted.
 * Plus the real LoopLag: a busy event loop is seen, and the lag reading falls back once it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bidBody, RawConnection, sample, startGated, type GatedBidder } from '../helpers/gate-kit.js';
import { LoopLag, RequestGate } from '../../src/http/request-gate.js';

let b: GatedBidder;
const conns: RawConnection[] = [];
beforeAll(async () => {
  b = await startGated({ shedLagMs: 20, maxInFlight: 3 });
});
afterAll(() => {
  for (const c of conns) c.destroy();
  b?.close();
});

async function open(): Promise<RawConnection> {
  const c = await RawConnection.open(b.port);
  conns.push(c);
  return c;
}

describe('shedding on event-loop lag', () => {
  it('answers 204 before the body is read, then serves the same connection normally', async () => {
    const c = await open();
    const body = bidBody('shed-1');
    b.lagMs = 50;
    c.post('/bid', body, 40); // headers and 40 bytes of the body; the rest is held back
    const r = await c.next(1_000);
    expect(r?.status).toBe(204);
    expect(r?.headers['x-nobid-reason']).toBe('overloaded');
    expect(r?.headers['x-openrtb-version']).toBe('2.6');
    expect(r?.headers['connection']).toBeUndefined(); // keep-alive
    expect(b.gate.inFlight).toBe(0);

    // The rest of the shed body, then a whole request on the same connection once the lag is gone:
    // uWS must have discarded the unread body, or this request would be garbage.
    c.write(body.slice(40));
    b.lagMs = 0;
    c.post('/bid', bidBody('after-shed'));
    const next = await c.next();
    expect(next?.status).toBe(200);
    expect(JSON.parse(next!.body).id).toBe('after-shed');
    expect(c.closed).toBe(false);
  });

  it('sheds only above the threshold', async () => {
    const c = await open();
    b.lagMs = 20; // at the threshold: still taken
    c.post('/bid', bidBody('at-threshold'));
    expect((await c.next())?.status).toBe(200);
    b.lagMs = 21;
    c.post('/bid', bidBody('above'));
    expect((await c.next())?.headers['x-nobid-reason']).toBe('overloaded');
    b.lagMs = 0;
  });

  it('never sheds notices', async () => {
    const c = await open();
    b.lagMs = 0;
    c.post('/bid', bidBody('for-notice'));
    const bid = JSON.parse((await c.next())!.body);
    const burl: string = bid.seatbid[0].bid[0].burl;
    const path = burl.replace(/^https?:\/\/[^/]+/, '').split('${AUCTION_PRICE}').join('0.5');
    b.lagMs = 500;
    const before = b.events.events.length;
    c.get(path);
    expect((await c.next())?.status).toBe(204);
    c.post('/bid', bidBody('still-shed'));
    expect((await c.next())?.headers['x-nobid-reason']).toBe('overloaded');
    b.lagMs = 0;
    await new Promise((r) => setTimeout(r, 20));
    const billing = b.events.events.slice(before).filter((e) => e.type === 'billing');
    expect(billing.map((e) => e.bid_id)).toEqual([bid.seatbid[0].bid[0].id]);
  });
});

describe('shedding on the in-flight cap', () => {
  it('requests still waiting for their body do not count against the cap: 3 slow bodies, and others are still taken', async () => {
    b.lagMs = 0;
    const waiting = await Promise.all([open(), open(), open(), open()]);
    const bodies = waiting.map((_, i) => bidBody(`slow-${i}`));
    waiting.forEach((c, i) => c.post('/bid', bodies[i], 10));
    for (let i = 0; i < 50 && b.gate.pendingBodies.size < 4; i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.gate.pendingBodies.size).toBe(4);
    expect(b.gate.inFlight).toBe(0);

    // Over the cap of 3 in requests begun, yet a whole request on another connection is answered normally.
    const other = await open();
    other.post('/bid', bidBody('normal'));
    const r = await other.next(1_000);
    expect(r?.status).toBe(200);
    expect(JSON.parse(r!.body).id).toBe('normal');

    waiting.forEach((c, i) => c.write(bodies[i].slice(10)));
    for (const [i, c] of waiting.entries()) {
      const done = await c.next();
      expect(done?.status).toBe(200);
      expect(JSON.parse(done!.body).id).toBe(`slow-${i}`);
    }
    expect(b.gate.busy).toBe(0);
  });

  it('sheds while 3 requests with their body in are being worked on, and takes requests again once they are done', async () => {
    b.lagMs = 0;
    // Three requests whose body arrived and which are still being worked on (an audience lookup, say).
    const working = [0, 1, 2].map(() => ({ since: performance.now(), expire() {} }));
    for (const w of working) b.gate.arrived(w);
    expect(b.gate.inFlight).toBe(3);
    const c = await open();
    c.post('/bid', bidBody('over-cap'), 10);
    const r = await c.next(1_000);
    expect(r?.status).toBe(204);
    expect(r?.headers['x-nobid-reason']).toBe('overloaded');
    for (const w of working) b.gate.leave(w, true);
    expect(b.gate.inFlight).toBe(0);
    c.write(bidBody('over-cap').slice(10));
    c.post('/bid', bidBody('under-cap'));
    expect((await c.next())?.status).toBe(200);
  });

  it('an aborted request leaves the gate', async () => {
    const c = await open();
    c.post('/bid', bidBody('abandoned'), 10);
    for (let i = 0; i < 50 && b.gate.busy < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.gate.pendingBodies.size).toBe(1);
    c.destroy();
    for (let i = 0; i < 50 && b.gate.busy > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.gate.busy).toBe(0);
  });
});

describe('shed metrics', () => {
  it('counts outcome="shed" and reason="overloaded", once per shed request', async () => {
    const text = await b.metrics.registry.metrics();
    // 1 (lag) + 1 (above threshold) + 1 (notice test) + 1 (cap) = 4
    expect(sample(text, 'bidder_bid_requests_total{exchange="default",outcome="shed"}')).toBe(4);
    expect(sample(text, 'bidder_no_bids_total{exchange="default",reason="overloaded"}')).toBe(4);
  });
});

describe('LoopLag', () => {
  it('sees a busy event loop while it is busy, and forgets it once the loop is free again', async () => {
    const lag = new LoopLag(10);
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(lag.lagAt(performance.now())).toBeLessThan(20);
      const gate = new RequestGate({ shedLagMs: 20, maxInFlight: 0 }, lag);
      // Block the loop for 60 ms, then ask at once (as a request handled right after it would).
      const end = performance.now() + 60;
      while (performance.now() < end);
      expect(lag.lagAt(performance.now())).toBeGreaterThan(40);
      expect(gate.admit()).toBe(false);
      // The timer fires, notes the 50 ms lateness; after two calm intervals the lag is gone.
      await new Promise((r) => setTimeout(r, 40));
      expect(lag.lagAt(performance.now())).toBeLessThan(20);
      expect(gate.admit()).toBe(true);
      expect(lag.takeMax()).toBeGreaterThan(40);
    } finally {
      lag.stop();
    }
  });

  it('stops its timer while no request asks, and starts it again on the next one', async () => {
    const lag = new LoopLag(5, 4);
    try {
      expect(lag.running).toBe(true);
      await new Promise((r) => setTimeout(r, 60)); // well past 4 quiet intervals of 5 ms
      expect(lag.running).toBe(false);
      expect(lag.takeMax()).toBeLessThan(20); // a scrape reads it without waking it
      expect(lag.running).toBe(false);
      expect(lag.lagAt(performance.now())).toBe(0); // the first request after the quiet spell
      expect(lag.running).toBe(true);
      // Running again, it sees a busy loop as before.
      const end = performance.now() + 40;
      while (performance.now() < end);
      expect(lag.lagAt(performance.now())).toBeGreaterThan(20);
      // Requests keep it running.
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 5));
        lag.lagAt(performance.now());
      }
      expect(lag.running).toBe(true);
      lag.stop();
      expect(lag.lagAt(performance.now())).toBe(0);
      expect(lag.running).toBe(false); // stopped for good
    } finally {
      lag.stop();
    }
  });
});
