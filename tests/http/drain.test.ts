/**
 * Draining one bid thread (drainBidServer), in the test process: answers close their connection
 * once draining, the listener stays open through the delay and closes after it, requests already
 * in flight and requests arriving on open keep-alive connections are answered, idle keep-alive
 * connections are closed at the end, and the deadline cuts off what is still running.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { bidBody, RawConnection, startGated, type GatedBidder } from '../helpers/gate-kit.js';
import { drainBidServer } from '../../src/http/bid-server.js';
import { startBidder } from '../helpers/bidder.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

async function bidder(): Promise<GatedBidder> {
  const b = await startGated();
  cleanup.push(() => b.close());
  return b;
}

async function open(b: GatedBidder): Promise<RawConnection> {
  const c = await RawConnection.open(b.port);
  cleanup.push(() => c.destroy());
  return c;
}

/** Resolves with 'connected' or the connect error code. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function signedBillingPath(c: RawConnection, id: string): Promise<{ path: string; bidId: string }> {
  c.post('/bid', bidBody(id));
  const bid = JSON.parse((await c.next())!.body).seatbid[0].bid[0];
  return { path: bid.burl.replace(/^https?:\/\/[^/]+/, '').split('${AUCTION_PRICE}').join('0.5'), bidId: bid.id };
}

describe('answers while draining', () => {
  it('every kind of answer closes its connection: bid, no-bid, notice, 404, bad request', async () => {
    const b = await bidder();
    const pre = await open(b);
    const notice = await signedBillingPath(pre, 'n1');
    b.gate.draining = true;

    const cases: [string, (c: RawConnection) => void, number][] = [
      ['bid', (c) => c.post('/bid', bidBody('d1')), 200],
      ['no-bid', (c) => c.post('/bid', JSON.stringify({ id: 'x', imp: [{ id: '1', banner: { w: 1, h: 1 } }] })), 204],
      ['notice', (c) => c.get(notice.path), 204],
      ['404', (c) => c.get('/nothing-here'), 404],
      ['400', (c) => c.post('/bid', '{"id":'), 400],
    ];
    for (const [name, send, status] of cases) {
      const c = await open(b);
      send(c);
      const r = await c.next();
      expect(r?.status, name).toBe(status);
      expect(r?.headers['connection']?.toLowerCase(), name).toBe('close');
      // Answers with a body are closed by uWS itself; a 204 relies on the client (RFC 9112: it must
      // close on "Connection: close"), and the drain's end closes whatever is left.
      if (status !== 204) expect(await c.whenClosed(), name).toBe(true);
    }
    // A request that started before the drain was answered normally.
    expect(b.events.events.some((e) => e.type === 'billing' && e.bid_id === notice.bidId)).toBe(true);
  });
});

describe('a request that says Connection: close', () => {
  it('gets "Connection: close" on every kind of answer, and the socket closed; other requests keep theirs open', async () => {
    const b = await bidder();
    const body = (id: string) => bidBody(id);
    const closing = (path: string, payload: string) =>
      `POST ${path} HTTP/1.1\r\nHost: t\r\nConnection: Close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`;
    const cases: [string, string, number][] = [
      ['bid', closing('/bid', body('c1')), 200],
      ['no-bid', closing('/bid', JSON.stringify({ id: 'x', imp: [{ id: '1', banner: { w: 1, h: 1 } }] })), 204],
      ['400', closing('/bid', '{"id":'), 400],
    ];
    for (const [name, raw, status] of cases) {
      const c = await open(b);
      c.write(raw);
      const r = await c.next();
      expect(r?.status, name).toBe(status);
      expect(r?.headers['connection']?.toLowerCase(), name).toBe('close');
      expect(await c.whenClosed(), name).toBe(true);
    }
    // Without it, keep-alive as usual: no header, the same connection answers again.
    const keep = await open(b);
    keep.post('/bid', body('k1'));
    const first = await keep.next();
    expect(first?.status).toBe(200);
    expect(first?.headers['connection']).toBeUndefined();
    keep.post('/bid', body('k2'));
    expect((await keep.next())?.status).toBe(200);
  });
});

describe('the admin port and Connection: close', () => {
  it('answers with "Connection: close" and closes, on plain and JSON API routes alike', async () => {
    const b = await startBidder({});
    cleanup.push(() => void b.close());
    for (const path of ['/healthz', '/readyz', '/api/v1/audiences', '/no-such-path']) {
      const c = await RawConnection.open(b.adminPort);
      cleanup.push(() => c.destroy());
      c.write(`GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
      const r = await c.next();
      expect(r?.status, path).toBeGreaterThan(0);
      expect(r?.headers['connection']?.toLowerCase(), path).toBe('close');
      expect(await c.whenClosed(), path).toBe(true);
    }
  });
});

describe('drainBidServer', () => {
  it('finishes in-flight requests, answers requests on open connections, then closes every connection', async () => {
    const b = await bidder();
    const idle = await open(b);
    idle.post('/bid', bidBody('before'));
    expect((await idle.next())?.status).toBe(200);
    const busy = await open(b);
    const body = bidBody('in-flight');
    busy.post('/bid', body, 20);
    const late = await open(b);
    const notice = await signedBillingPath(late, 'late-notice');
    for (let i = 0; i < 50 && b.gate.busy < 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.gate.busy).toBe(1);

    const drained = drainBidServer(b.app, b.listening, b.gate, { delayMs: 0, deadline: Date.now() + 5_000, pending: () => b.dedupe.pending });
    // The listener is closed at once (no delay): new connections are refused...
    expect(await tryConnect(b.port)).toBe('ECONNREFUSED');
    // ...but a request on an open keep-alive connection is answered, and recorded.
    late.get(notice.path);
    const n = await late.next();
    expect(n?.status).toBe(204);
    expect(n?.headers['connection']).toBe('close');
    // The in-flight request completes and is answered.
    busy.write(body.slice(20));
    const r = await busy.next();
    expect(r?.status).toBe(200);
    expect(JSON.parse(r!.body).id).toBe('in-flight');

    const result = await drained;
    expect(result.inFlightLeft).toBe(0);
    expect(result.ms).toBeLessThan(2_000);
    // The idle keep-alive connection, which never sent another request, is closed by the server.
    expect(await idle.whenClosed()).toBe(true);
    expect(await late.whenClosed()).toBe(true);
    expect(b.events.events.some((e) => e.type === 'billing' && e.bid_id === notice.bidId)).toBe(true);
  });

  it('keeps listening through the delay, with every answer closing its connection', async () => {
    const b = await bidder();
    const t0 = Date.now();
    const drained = drainBidServer(b.app, b.listening, b.gate, { delayMs: 300, deadline: Date.now() + 5_000 });
    await new Promise((r) => setTimeout(r, 50));
    const c = await open(b); // still accepted during the delay
    c.post('/bid', bidBody('during-delay'));
    const r = await c.next();
    expect(r?.status).toBe(200);
    expect(r?.headers['connection']).toBe('close');
    const result = await drained;
    // The delay was waited out (a Node timer may fire up to a millisecond early by Date.now()'s reckoning).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(298);
    expect(result.inFlightLeft).toBe(0);
    expect(await tryConnect(b.port)).toBe('ECONNREFUSED');
  });

  it('waits for pending work (notice dedupe checks) before closing', async () => {
    const b = await bidder();
    let pending = 1;
    setTimeout(() => (pending = 0), 200);
    const t0 = Date.now();
    const r = await drainBidServer(b.app, b.listening, b.gate, { delayMs: 0, deadline: Date.now() + 5_000, pending: () => pending });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(r.inFlightLeft).toBe(0);
  });

  it('cuts off a request still in flight at the deadline', async () => {
    const b = await bidder();
    const stuck = await open(b);
    stuck.post('/bid', bidBody('never-finished'), 10);
    for (let i = 0; i < 50 && b.gate.busy < 1; i++) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    const r = await drainBidServer(b.app, b.listening, b.gate, { delayMs: 0, deadline: Date.now() + 300 });
    expect(r.inFlightLeft).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(await stuck.whenClosed()).toBe(true);
    // The abort handler ran: the request left the gate.
    expect(b.gate.busy).toBe(0);
  });
});
