/** The bench's evenly paced open-loop sender (bench/paced-sender.ts) against a real HTTP server. */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pacedRun, type PacedCallbacks } from '../../bench/paced-sender.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server whose answer to each body is chosen by `answer`; it records what arrived and when. */
async function serve(answer: (body: string, res: ServerResponse) => void): Promise<{ port: number; arrivals: { at: number; body: string; length: string | undefined }[] }> {
  const arrivals: { at: number; body: string; length: string | undefined }[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      arrivals.push({ at: performance.now(), body, length: req.headers['content-length'] });
      answer(body, res);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, arrivals };
}

function collect(): PacedCallbacks & { statuses: number[]; latencies: number[]; bodies: number[]; errors: string[] } {
  const c = {
    statuses: [] as number[],
    latencies: [] as number[],
    bodies: [] as number[],
    errors: [] as string[],
    onResponse(status: number, ms: number, body: number) {
      c.statuses.push(status);
      c.latencies.push(ms);
      c.bodies.push(body);
    },
    onError(kind: 'error' | 'timeout') {
      c.errors.push(kind);
    },
    stopped: () => false,
  };
  return c;
}

const bodies = ['{"n":0}', '{"n":1}', '{"n":2,"long":"' + 'x'.repeat(3000) + '"}'].map((s) => Buffer.from(s));

describe('pacedRun', () => {
  it('sends rate × duration requests spread evenly over the run, cycling the bodies from firstBody', async () => {
    const { port, arrivals } = await serve((body, res) => {
      if (body.includes('"n":1')) res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"pad":"' + 'y'.repeat(2000) + '"}');
    });
    const c = collect();
    const r = await pacedRun({ host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 400, durationS: 1.5, maxConnections: 50, timeoutMs: 2000, firstBody: 1 }, c);
    expect(r.due).toBe(600);
    expect(r.sent).toBe(600);
    expect(r.answered).toBe(600);
    expect(c.errors).toEqual([]);
    // The first four sent are bodies 1, 2, 0, 1; answers on different connections may come back in
    // another order, so compare them as a multiset (starting at body 0 would give 0, 0, 1, 2).
    expect([...c.bodies.slice(0, 4)].sort()).toEqual([0, 1, 1, 2]);
    expect(c.statuses.filter((s) => s === 204)).toHaveLength(200);
    expect(c.statuses.filter((s) => s === 200)).toHaveLength(400);
    expect(arrivals.every((a) => Number(a.length) === Buffer.byteLength(a.body))).toBe(true);
    // Even pacing: every 100 ms window of the run gets about 40 requests (a per-second burst would not).
    const t0 = arrivals[0].at;
    const windows = new Array(15).fill(0);
    for (const a of arrivals) windows[Math.min(14, Math.floor((a.at - t0) / 100))]++;
    for (const w of windows.slice(0, 14)) expect(w).toBeGreaterThan(25);
    expect(Math.max(...windows)).toBeLessThan(60);
    expect(r.connections).toBeLessThan(50);
  });

  it('charges a slow server for the queue it builds: latency counts from when a request was due', async () => {
    // One request at a time, 20 ms each, offered 100/s: the server keeps up with 50/s, so waits grow.
    let busy = Promise.resolve();
    const { port } = await serve((_b, res) => {
      busy = busy.then(() => new Promise<void>((r) => setTimeout(() => (res.writeHead(204).end(), r()), 20)));
    });
    const c = collect();
    await pacedRun({ host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 100, durationS: 1, maxConnections: 200, timeoutMs: 5000 }, c);
    expect(c.statuses).toHaveLength(100);
    expect(Math.max(...c.latencies)).toBeGreaterThan(400); // the last one waited for ~50 before it
  });

  it('reads chunked answers whole: the next answer on the connection is never taken from the last one\'s body', async () => {
    // One connection, offered more than it can carry, so every answer is followed at once by the
    // next request on it; each answer is chunked (no Content-Length), with a body that looks like a status line.
    const { port } = await serve((_b, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
      res.write('HTTP/1.1 999 not a status\r\n\r\n');
      res.end('x'.repeat(300));
    });
    const c = collect();
    const r = await pacedRun({ host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 2000, durationS: 0.2, maxConnections: 1, timeoutMs: 3000 }, c);
    expect(r.answered).toBe(400);
    expect(c.errors).toEqual([]);
    expect(new Set(c.statuses)).toEqual(new Set([200]));
    expect(c.bodies.slice(0, 6)).toEqual([0, 1, 2, 0, 1, 2]); // one connection: answers in order, each to its own request
  });

  it('follows Connection: close by opening new connections, losing nothing', async () => {
    let n = 0;
    const { port } = await serve((_b, res) => {
      if (n++ % 3 === 0) res.setHeader('connection', 'close');
      res.writeHead(204).end();
    });
    const c = collect();
    const r = await pacedRun({ host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 200, durationS: 1, maxConnections: 20, timeoutMs: 2000 }, c);
    expect(r.answered).toBe(200);
    expect(c.errors).toEqual([]);
    expect(r.connections).toBeGreaterThan(20); // the closed ones were replaced
  });

  it('counts unanswered requests as timeouts and still ends', async () => {
    const { port } = await serve((body, res) => {
      if (!body.includes('"n":0')) res.writeHead(204).end(); // requests with body 0 hang
    });
    const c = collect();
    const started = performance.now();
    const r = await pacedRun({ host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 30, durationS: 1, maxConnections: 40, timeoutMs: 300 }, c);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(c.errors.filter((e) => e === 'timeout')).toHaveLength(10);
    expect(r.answered).toBe(20);
  });

  it('does not wait out the timeout for requests whose connection was lost', async () => {
    const { port } = await serve((body, res) => {
      if (body.includes('"n":0')) res.socket?.destroy(); // a connection reset for body 0
      else res.writeHead(204).end();
    });
    const c = collect();
    const started = performance.now();
    const r = await pacedRun({ host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 30, durationS: 1, maxConnections: 40, timeoutMs: 5000 }, c);
    expect(performance.now() - started).toBeLessThan(2500); // not 1 s + the 5 s timeout
    expect(c.errors.filter((e) => e === 'error')).toHaveLength(10);
    expect(r.answered).toBe(20);
  });

  it('stops sending when told to', async () => {
    const { port } = await serve((_b, res) => res.writeHead(204).end());
    const c = collect();
    const started = performance.now();
    let stop = false;
    setTimeout(() => (stop = true), 200);
    const r = await pacedRun({ host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 100, durationS: 10, maxConnections: 10, timeoutMs: 1000 }, { ...c, stopped: () => stop });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(r.answered).toBeGreaterThan(5);
    expect(r.answered).toBeLessThan(60);
  });
});

describe('pacedRun, as an exchange', () => {
  it('gives up requests that waited longer than their giveUpMs for a connection, counting them as timeouts', async () => {
    // One connection, 50 ms per answer, 100 requests/s offered: most requests would wait seconds.
    const { port } = await serve((_b, res) => setTimeout(() => res.writeHead(204).end(), 50));
    const c = collect();
    const r = await pacedRun(
      { host: '127.0.0.1', port, path: '/bid', contentType: 'application/json', bodies, rate: 100, durationS: 1, maxConnections: 1, timeoutMs: 2000, giveUpMs: [100, 100, 100] },
      c,
    );
    expect(r.givenUp).toBeGreaterThan(50);
    expect(c.errors.filter((e) => e === 'timeout')).toHaveLength(r.givenUp);
    expect(r.answered + r.givenUp).toBe(100);
    expect(Math.max(...c.latencies)).toBeLessThan(100 + 50 + 40); // nothing answered after waiting much past its give-up time
  });
});
