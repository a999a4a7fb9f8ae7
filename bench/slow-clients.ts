/**
 * The slow-clients profile (`npm run bench -- --slow-clients <n>`): `<n>` connections each send a
 * bid request's headers and then trickle its body at 1 byte a second, while the usual fixed-rate
 * load (1,000 req/s by default) runs on other connections. A trickler whose connection is closed
 * (408 after the body timeout, or 503 beyond MAX_PENDING_BODIES) waits a second and starts again on
 * a new connection, so `<n>` slow clients keep pressing for the whole phase. What it shows: the
 * share of normal requests answered normally (not shed) and the bidder's own p99, with and without.
 *
 * The tricklers run in a child process of their own (`trickle()`), so that they do not slow the load
 * generator's event loop; one timer there sends the next byte of every body each second.
 * Each trickler holds a socket in that process and one in the bidder: `<n>` of 2,500 needs a file
 * descriptor limit (`ulimit -n`) above 5,000 or so; `fdLimit()` reads it so the bench can say so
 * before it starts instead of failing half-way.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface SlowClientCounts {
  /** Connections opened (the first ones and every restart). */
  opened: number;
  /** Answers the tricklers got, by status (408, 503, ...). */
  answers: Record<string, number>;
  /** Connections closed (or reset) by the bidder without an answer. */
  closedUnanswered: number;
  /** Connections that could not be opened. */
  connectErrors: number;
}

/** The soft limit on open files of a child of this process (and so of the bidder it starts). */
export function fdLimit(): number {
  try {
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Infinity : Number(out);
  } catch {
    return NaN;
  }
}

/** Descriptors `n` tricklers need here and in the bidder, with room for everything else. */
export const fdsNeeded = (n: number) => 2 * n + 1_000;

export class SlowClients {
  readonly counts: SlowClientCounts = { opened: 0, answers: {}, closedUnanswered: 0, connectErrors: 0 };
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private ticker: NodeJS.Timeout | undefined;
  private readonly bodies = new Map<Socket, { sent: number }>();

  /** Opens `n` tricklers against `port` (paced: 500 connections per 50 ms, not a burst). */
  async start(port: number, path: string, body: string, n: number): Promise<void> {
    this.ticker = setInterval(() => {
      for (const [s, b] of this.bodies) if (b.sent < body.length) s.write(body[b.sent++]);
    }, 1_000);
    for (let i = 0; i < n && !this.stopped; i++) {
      this.open(port, path, body);
      if (i % 500 === 499) await new Promise((r) => setTimeout(r, 50));
    }
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  private open(port: number, path: string, body: string): void {
    if (this.stopped) return;
    const s = connect(port, '127.0.0.1');
    this.sockets.add(s);
    this.counts.opened++;
    let answered = false;
    let connected = false;
    s.setNoDelay(true);
    s.on('connect', () => {
      connected = true;
      s.write(`POST ${path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
      this.bodies.set(s, { sent: 0 });
    });
    s.on('data', (d: Buffer) => {
      if (answered) return;
      answered = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'));
      const status = m ? m[1] : 'other';
      this.counts.answers[status] = (this.counts.answers[status] ?? 0) + 1;
    });
    s.on('error', () => {});
    s.on('close', () => {
      this.bodies.delete(s);
      this.sockets.delete(s);
      if (!connected) this.counts.connectErrors++;
      else if (!answered) this.counts.closedUnanswered++;
      // A client that was cut off tries again a second later.
      this.later(1_000, () => this.open(port, path, body));
    });
  }

  /** Open tricklers right now. */
  get open_(): number {
    return this.sockets.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
  }
}

/** `n` tricklers in a child process; `stop()` ends them and resolves with what they saw. */
export function trickle(port: number, path: string, body: string, n: number): { ready: Promise<number>; stop(): Promise<SlowClientCounts> } {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--trickle', String(port), path, String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send(body);
  let onCounts: ((c: SlowClientCounts) => void) | undefined;
  const ready = new Promise<number>((resolve) =>
    child.on('message', (m: { open?: number; counts?: SlowClientCounts }) => {
      if (m.open !== undefined) resolve(m.open);
      if (m.counts !== undefined) onCounts?.(m.counts);
    }),
  );
  return {
    ready,
    stop: () =>
      new Promise((resolve) => {
        onCounts = (c) => {
          child.kill();
          resolve(c);
        };
        child.send('stop');
      }),
  };
}

if (process.argv[2] === '--trickle') {
  const [port, path, n] = [Number(process.argv[3]), process.argv[4], Number(process.argv[5])];
  const clients = new SlowClients();
  process.once('message', (body: string) => {
    void clients.start(port, path, body, n).then(async () => {
      await new Promise((r) => setTimeout(r, 1_000));
      process.send!({ open: clients.open_ });
    });
    process.on('message', (m) => {
      if (m !== 'stop') return;
      clients.stop();
      process.send!({ counts: clients.counts });
    });
  });
}
