/**
 * Keep-alive HTTP clients for process-level tests of workers and shutdown. A lane is one
 * connection at a time (an Agent with keepAlive and maxSockets 1), sending its next request when
 * the previous one is answered, like one connection of an exchange. Every outcome is classified
 * precisely, since "no request fails" is only meaningful with a definition of failing:
 * - `answered`: a complete HTTP response (status, headers, whole body);
 * - `refused`: the connection could not be made (nothing was sent);
 * - `closed_unanswered`: the request went out on a REUSED keep-alive connection that the server
 *   closed before any byte of an answer (the idle keep-alive race): HTTP clients retry these on a
 *   new connection (RFC 9112 §9.3.1; Node marks them `req.reusedSocket`);
 * - `failed`: anything else: a reset on a fresh connection, a broken or partial response, a timeout.
 */
import { Agent, request } from 'node:http';

export type Outcome = 'answered' | 'refused' | 'closed_unanswered' | 'failed';

export interface Exchange {
  readonly outcome: Outcome;
  readonly status?: number;
  readonly headers?: Record<string, string | string[] | undefined>;
  readonly body?: string;
  readonly error?: string;
  readonly reused: boolean;
  readonly ms: number;
}

export class Lane {
  agent = new Agent({ keepAlive: true, maxSockets: 1 });
  constructor(public port: number) {}

  /** Drops the connection; the next request opens a new one (to `port`, which may have changed). */
  reconnect(port = this.port): void {
    this.agent.destroy();
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.port = port;
  }

  send(method: string, path: string, body?: string, timeoutMs = 5_000): Promise<Exchange> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      let responded = false;
      let done = false;
      const finish = (x: Omit<Exchange, 'ms'>) => {
        if (done) return;
        done = true;
        resolve({ ...x, ms: performance.now() - t0 });
      };
      const req = request(
        { host: '127.0.0.1', port: this.port, method, path, agent: this.agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
        (res) => {
          responded = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            finish({ outcome: 'answered', status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), reused: req.reusedSocket }),
          );
          res.on('error', (e) => finish({ outcome: 'failed', error: `response: ${e.message}`, reused: req.reusedSocket }));
          res.on('aborted', () => finish({ outcome: 'failed', error: 'response aborted', reused: req.reusedSocket }));
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        const reused = req.reusedSocket;
        if (responded) finish({ outcome: 'failed', error: `after response: ${e.code ?? e.message}`, reused });
        else if (e.code === 'ECONNREFUSED') finish({ outcome: 'refused', error: e.code, reused });
        else if (reused && (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.message === 'socket hang up'))
          finish({ outcome: 'closed_unanswered', error: e.code ?? e.message, reused });
        else finish({ outcome: 'failed', error: e.code ?? e.message, reused });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A request the demo config bids on (Acme run of network, 300x250, in the US). */
export function bidRequest(id: string, size: [number, number] = [300, 250]): string {
  return JSON.stringify({
    id,
    tmax: 2000,
    imp: [{ id: '1', banner: { w: size[0], h: size[1] }, bidfloor: 0.1 }],
    site: { domain: 'news.example', page: 'https://news.example/a' },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 2, geo: { country: 'USA' } },
  });
}

/** Path of a bid's billing notice with the price macro filled in. */
export function billingPath(bid: { burl: string }, price = '0.5'): string {
  return bid.burl.replace(/^https?:\/\/[^/]+/, '').split('${AUCTION_PRICE}').join(price);
}

/** A Prometheus sample's value (0 when absent). */
export function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** Sum of every sample of a metric name (any labels). */
export function sumOf(text: string, name: string): number {
  let n = 0;
  for (const l of text.split('\n')) if (l.startsWith(name + '{') || l.startsWith(name + ' ')) n += Number(l.slice(l.lastIndexOf(' ') + 1));
  return n;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 25 ms until it returns a truthy value or `timeoutMs` passes (then throws `what`). */
export async function until<T>(what: string, f: () => Promise<T> | T, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * One request on a new connection of its own, its body sent in `chunks` pieces over `overMs`
 * (an exchange on a slow link): in flight for that long. Outcomes as Lane.send (never `closed_unanswered`:
 * the connection is not reused).
 */
export function slowPost(port: number, path: string, body: string, chunks: number, overMs: number): Promise<Exchange> {
  const lane = new Lane(port);
  const t0 = performance.now();
  return new Promise<Exchange>((resolve) => {
    let done = false;
    const finish = (x: Omit<Exchange, 'ms'>) => {
      if (done) return;
      done = true;
      lane.close();
      resolve({ ...x, ms: performance.now() - t0 });
    };
    const buf = Buffer.from(body);
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, agent: lane.agent, headers: { 'content-type': 'application/json', 'content-length': buf.length } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => finish({ outcome: 'answered', status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString(), reused: false }));
        res.on('error', (e) => finish({ outcome: 'failed', error: `response: ${e.message}`, reused: false }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => finish({ outcome: e.code === 'ECONNREFUSED' ? 'refused' : 'failed', error: e.code ?? e.message, reused: false }));
    req.setTimeout(overMs + 5_000, () => req.destroy(new Error('timeout')));
    const size = Math.ceil(buf.length / chunks);
    let i = 0;
    const tick = () => {
      if (done) return;
      const piece = buf.subarray(i * size, (i + 1) * size);
      i++;
      if (i >= chunks || piece.length === 0) return void req.end(piece);
      req.write(piece);
      setTimeout(tick, overMs / chunks);
    };
    tick();
  });
}
