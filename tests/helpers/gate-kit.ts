/**
 * A bid app with a RequestGate in the test process (the lag is the test's to set), plus a raw
 * HTTP/1.1 client on one TCP connection: the tests need to send half a body, see an answer
 * arrive before the rest, and reuse or watch the very same connection.
 */
import { connect, type Socket } from 'node:net';
import type { TemplatedApp } from 'uWebSockets.js';
import { loadSettings } from '../../src/settings/settings.js';
import { loadBundleFromDir } from '../../src/campaigns/load-bundle.js';
import { buildSnapshot, SnapshotRef } from '../../src/campaigns/snapshot.js';
import { BidderMetrics } from '../../src/metrics/bidder-metrics.js';
import { buildBidApp } from '../../src/app.js';
import { listenExclusive, type Listening } from '../../src/http/listen.js';
import { RequestGate, type GateOptions } from '../../src/http/request-gate.js';
import { NoticeSigner, parseSigningKeys } from '../../src/events/notice-signer.js';
import { MemoryNoticeDedupe } from '../../src/events/notice-dedupe.js';
import { NoticeMetrics } from '../../src/metrics/notice-metrics.js';
import type { BidderEvent, EventSink } from '../../src/events/event-types.js';
import type { NoticeRouteDeps } from '../../src/http/notice-routes.js';
import { TrackedDedupe } from '../../src/workers/remote.js';

export class Sink implements EventSink {
  readonly events: BidderEvent[] = [];
  write(e: BidderEvent): void {
    this.events.push(e);
  }
  async writeDurable(e: BidderEvent): Promise<void> {
    this.events.push(e);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface GatedBidder {
  readonly port: number;
  readonly app: TemplatedApp;
  readonly listening: Listening;
  readonly gate: RequestGate;
  readonly metrics: BidderMetrics;
  readonly events: Sink;
  readonly dedupe: TrackedDedupe;
  /** The lag the gate sees (ms); the test sets it. */
  lagMs: number;
  close(): void;
}

export async function startGated(
  options: Partial<GateOptions> = {},
  env: Record<string, string> = {},
  notices: Partial<Omit<NoticeRouteDeps, 'snapshots' | 'signer' | 'events' | 'dedupe' | 'metrics'>> = {},
): Promise<GatedBidder> {
  const settings = loadSettings({
    HOST: '127.0.0.1',
    PORT: '0',
    ADMIN_PORT: '0',
    INSTANCE_ID: 'gate',
    DEFAULT_TMAX_MS: '2000',
    TMAX_CAP_MS: '2000',
    DEBUG_NOBID: '1',
    ...env,
  });
  const snapshots = new SnapshotRef(buildSnapshot(await loadBundleFromDir('config'), 1));
  const metrics = new BidderMetrics({ defaultMetrics: false });
  const events = new Sink();
  const dedupe = new TrackedDedupe(new MemoryNoticeDedupe(3600));
  const b = {
    lagMs: 0,
  } as GatedBidder;
  const gate = new RequestGate({ shedLagMs: 20, maxInFlight: 0, ...options }, { lagAt: () => b.lagMs });
  const app = buildBidApp({
    settings,
    snapshots,
    metrics,
    signer: new NoticeSigner(parseSigningKeys('test:0123456789abcdef0123456789abcdef')),
    isReady: () => true,
    gate,
    notices: { events, dedupe, metrics: new NoticeMetrics(metrics.registry), maxAgeSec: 3600, ...notices },
  });
  const listening = await listenExclusive(app, '127.0.0.1', 0);
  return Object.assign(b, {
    port: listening.port,
    app,
    listening,
    gate,
    metrics,
    events,
    dedupe,
    close() {
      listening.close();
      (app as unknown as { close(): void }).close();
    },
  });
}

/** A request the demo config bids on. */
export function bidBody(id: string): string {
  return JSON.stringify({
    id,
    tmax: 2000,
    imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
    site: { domain: 'news.example', page: 'https://news.example/a' },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.5', devicetype: 2 },
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One TCP connection speaking HTTP/1.1 by hand. `next()` waits for the next complete response
 * (Content-Length bodies, or none for 204).
 */
export class RawConnection {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Headers of a POST with a Content-Length of the whole body, and the first `sendBytes` of it. */
  post(path: string, body: string, sendBytes = body.length): void {
    this.write(`POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, sendBytes)}`);
  }

  get(path: string): void {
    this.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
  }

  /** The next response, or undefined if the connection closed first; throws after `timeoutMs`. */
  async next(timeoutMs = 5_000): Promise<RawResponse | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.take();
      if (r) return r;
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response within ${timeoutMs} ms (have ${JSON.stringify(this.buf.slice(0, 200))})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves once the server has closed the connection (true) or after `timeoutMs` (false). */
  async whenClosed(timeoutMs = 2_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  private take(): RawResponse | undefined {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const lines = this.buf.slice(0, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const length = status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
    if (this.buf.length < end + 4 + length) return undefined;
    const body = this.buf.slice(end + 4, end + 4 + length);
    this.buf = this.buf.slice(end + 4 + length);
    return { status, headers, body };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A Prometheus sample's value (0 when absent). */
export function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
