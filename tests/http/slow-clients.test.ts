/**
 * Slow clients on the bid port: a body that does not arrive within the body timeout gets 408 and
 * its connection closed (by one sweep per thread, not a timer per request); a cap on bodies arriving
 * at once refuses more with 503 and a close; and none of it takes the overload cap from whole requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { bidBody, RawConnection, sample, startGated, type GatedBidder } from '../helpers/gate-kit.js';
import { effectiveBodyTimeoutMs, loadSettings } from '../../src/settings/settings.js';

let b: GatedBidder;
const conns: RawConnection[] = [];
beforeAll(async () => {
  b = await startGated({ shedLagMs: 0, maxInFlight: 2, bodyTimeoutMs: 150, maxPendingBodies: 6 });
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

describe('the body timeout', () => {
  it('answers 408 and closes the connection when the body is not in within the timeout', async () => {
    const c = await open();
    const t0 = Date.now();
    c.post('/bid', bidBody('trickle'), 15);
    const r = await c.next(3_000);
    expect(r?.status).toBe(408);
    expect(r?.headers['connection']?.toLowerCase()).toBe('close');
    expect(r?.body).toMatch(/not received in time/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(await c.whenClosed()).toBe(true);
    expect(b.gate.busy).toBe(0);
    const text = await b.metrics.registry.metrics();
    expect(sample(text, 'bidder_rejected_requests_total{exchange="default",reason="body_timeout"}')).toBe(1);
  });

  it('a body that arrives in pieces within the timeout is answered normally', async () => {
    const c = await open();
    const body = bidBody('in-pieces');
    c.post('/bid', body, 20);
    await new Promise((r) => setTimeout(r, 30));
    c.write(body.slice(20));
    const r = await c.next();
    expect(r?.status).toBe(200);
    expect(JSON.parse(r!.body).id).toBe('in-pieces');
  });

  it('slow bodies over the in-flight cap (2) do not shed whole requests; past the pending cap (6) the newest get 503 and a close', async () => {
    const slow: RawConnection[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await open();
      c.post('/bid', bidBody(`slow-${i}`), 10);
      slow.push(c);
      for (let j = 0; j < 50 && b.gate.pendingBodies.size < i + 1; j++) await new Promise((r) => setTimeout(r, 2));
    }
    expect(b.gate.pendingBodies.size).toBe(6);
    // Six requests begun, three times the in-flight cap: a whole request is still taken.
    const normal = await open();
    normal.post('/bid', bidBody('normal'));
    const r = await normal.next(1_000);
    expect(r?.status).toBe(200);
    const extra = await open();
    extra.post('/bid', bidBody('one-too-many'), 10);
    const refused = await extra.next(1_000);
    expect(refused?.status).toBe(503);
    expect(refused?.headers['connection']?.toLowerCase()).toBe('close');
    expect(await extra.whenClosed()).toBe(true);
    for (const c of slow) expect((await c.next(3_000))?.status).toBe(408);
    expect(b.gate.busy).toBe(0);
  });
});

/** Headers with a Content-Length of `size`, then (after `pauseMs`, whatever came back meanwhile) the body in two halves `pauseMs` apart; what came back, and any socket error. */
function oversized(port: number, size: number, pauseMs: number): Promise<{ data: string; error: string | undefined; closed: boolean }> {
  return new Promise((resolve) => {
    // Half-open allowed: like a client busy sending its body, it keeps sending after the bidder's FIN.
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let data = '';
    let error: string | undefined;
    const timer = setTimeout(() => finish(false), 5_000);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data, error, closed });
    };
    s.on('connect', () => {
      s.write(`POST /bid HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`);
      const half = Math.floor(size / 2);
      setTimeout(() => s.write(Buffer.alloc(half, 0x20)), pauseMs);
      setTimeout(() => s.end(Buffer.alloc(size - half, 0x20)), 2 * pauseMs);
    });
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    s.on('close', () => finish(true));
  });
}

describe('a body over the limit by Content-Length', () => {
  it('gets its 413 and then a clean close, not a reset, while the client is still sending the body', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await oversized(b.port, 256 * 1024 + 1_000, 30);
      expect(r.data).toMatch(/^HTTP\/1\.1 413 /);
      expect(r.data).toMatch(/\r\nConnection: close\r\n/i);
      expect(r.data).toMatch(/\r\n\r\nbody too large$/);
      expect(r.error).toBeUndefined(); // no EPIPE / ECONNRESET: the bidder read the body before closing
      expect(r.closed).toBe(true);
    }
    expect(b.gate.busy).toBe(0);
  });
});

describe('BODY_TIMEOUT_MS', () => {
  it('defaults to 300 ms, is never past TMAX_CAP_MS, and 0 turns it off', () => {
    const base = { PORT: '0', ADMIN_PORT: '0' };
    expect(effectiveBodyTimeoutMs(loadSettings({ ...base, TMAX_CAP_MS: '1000' }))).toBe(300);
    expect(effectiveBodyTimeoutMs(loadSettings(base))).toBe(200); // the default TMAX_CAP_MS
    expect(effectiveBodyTimeoutMs(loadSettings({ ...base, BODY_TIMEOUT_MS: '50' }))).toBe(50);
    expect(effectiveBodyTimeoutMs(loadSettings({ ...base, BODY_TIMEOUT_MS: '0' }))).toBe(0);
  });
});
