/**
 * An open-loop load generator that paces requests evenly: request i is due at start + i / rate,
 * whatever happened to the ones before it (as wrk2 does). Due requests go out on a 1 ms tick (timers
 * are no finer). Latency is measured from the tick that found the request due, not from when a
 * connection was free to send it, so a server that falls behind is charged for the queue it builds
 * (no coordinated omission), and the sender is not charged to the server for its own tick.
 *
 * Why not autocannon's `overallRate`: it gives each connection a budget per second and lets it
 * spend it as fast as the server answers, so each second starts with every connection sending
 * back to back (a burst at saturation) and ends idle. Its latencies at "80 % load" are those of
 * a saturated server for most of each second. Exchanges do not send like that; this does not either.
 *
 * Requests go out on keep-alive connections (HTTP/1.1, one request in flight per connection, as
 * exchanges do), written from pre-encoded bytes; answers are read with a minimal HTTP/1.1 response
 * parser (status line, Content-Length or chunked transfer encoding, body skipped).
 */
import { connect, type Socket } from 'node:net';

export interface PacedSpec {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly contentType: string;
  readonly bodies: readonly Buffer[];
  /** Requests per second. */
  readonly rate: number;
  readonly durationS: number;
  /** Most connections opened (more are opened only while every open one is busy). */
  readonly maxConnections: number;
  /** A request unanswered this long counts as a timeout and its connection is replaced. */
  readonly timeoutMs: number;
  /** Index of the first body used. */
  readonly firstBody?: number;
  /**
   * Per body: how long a request may wait for a free connection before it is given up (ms), as an
   * exchange gives up on a bidder after `tmax` rather than queue behind it. A given-up request
   * counts as a timeout. Absent: requests wait as long as it takes.
   */
  readonly giveUpMs?: readonly number[];
}

export interface PacedCallbacks {
  /** One answer: HTTP status, latency from the due time (ms), the body index. */
  onResponse(status: number, ms: number, body: number): void;
  /** A request lost with its connection (error, reset, or timeout). */
  onError(kind: 'error' | 'timeout'): void;
  /** Checked every tick; true stops sending (what is in flight is still awaited, briefly). */
  stopped(): boolean;
}

export interface PacedResult {
  /** Requests due in the run. */
  readonly due: number;
  readonly sent: number;
  readonly answered: number;
  /** Connections opened in all. */
  readonly connections: number;
  /** Requests given up unsent after waiting longer than their `giveUpMs` (counted as timeouts too). */
  readonly givenUp: number;
  /** Seconds from the first due time to the last answer (or the end of the run). */
  readonly seconds: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');

interface Conn {
  socket: Socket;
  busy: boolean;
  /** Due time (ms, performance.now clock) and body of the request in flight. */
  dueAt: number;
  body: number;
  sentAt: number;
  buf: Buffer | undefined;
  dead: boolean;
}

export function pacedRun(spec: PacedSpec, cb: PacedCallbacks): Promise<PacedResult> {
  const requests = spec.bodies.map((b) =>
    Buffer.concat([
      Buffer.from(
        `POST ${spec.path} HTTP/1.1\r\nHost: ${spec.host}:${spec.port}\r\nContent-Type: ${spec.contentType}\r\nContent-Length: ${b.length}\r\n\r\n`,
        'latin1',
      ),
      b,
    ]),
  );
  const n = requests.length;
  const interval = 1000 / spec.rate;
  const total = Math.max(1, Math.round(spec.rate * spec.durationS));
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  /** Requests due but not yet sent (no idle connection): [dueAt, body] pairs, oldest first. */
  const backlog: number[] = [];
  let backlogHead = 0;
  let opened = 0;
  let opening = 0;
  let nextIndex = 0;
  let sent = 0;
  let answered = 0;
  /** Sent requests that will never be answered: their connection failed, or the watchdog gave up on them. */
  let lost = 0;
  let givenUp = 0;
  let lastAnswerAt = 0;
  let bodyCursor = (spec.firstBody ?? 0) % Math.max(1, n);
  const start = performance.now() + 20; // a moment to open the first connections

  return new Promise<PacedResult>((resolve) => {
    let finished = false;
    /** `expired`: the run's time is up with requests unanswered or never sent: each counts as a timeout. */
    const finish = (expired = false) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      if (expired) {
        for (const c of all) if (c.busy) cb.onError('timeout');
        for (let i = backlogHead; i < backlog.length; i += 2) cb.onError('timeout');
      }
      for (const c of all) c.socket.destroy();
      resolve({ due: nextIndex, sent, answered, givenUp, connections: opened, seconds: Math.max(0.001, ((lastAnswerAt || performance.now()) - start) / 1000) });
    };

    const open = (): void => {
      opened++;
      opening++;
      const c: Conn = { socket: connect({ host: spec.host, port: spec.port, noDelay: true }), busy: false, dueAt: 0, body: 0, sentAt: 0, buf: undefined, dead: false };
      all.add(c);
      c.socket.once('connect', () => {
        opening--;
        release(c);
      });
      c.socket.on('data', (chunk: Buffer) => onData(c, chunk));
      const onLost = () => {
        if (c.dead) return;
        if (c.socket.connecting) opening--;
        c.dead = true;
        all.delete(c);
        const i = idle.indexOf(c);
        if (i >= 0) idle.splice(i, 1);
        if (c.busy) {
          lost++;
          cb.onError('error');
        }
      };
      c.socket.on('error', onLost);
      c.socket.on('close', onLost);
    };

    /** A connection is free: it takes the oldest waiting request, or waits for the next one. */
    const release = (c: Conn): void => {
      c.busy = false;
      const now = performance.now();
      while (backlogHead < backlog.length) {
        const dueAt = backlog[backlogHead++];
        const body = backlog[backlogHead++];
        if (backlogHead > 4096 && backlogHead * 2 > backlog.length) {
          backlog.splice(0, backlogHead);
          backlogHead = 0;
        }
        if (spec.giveUpMs !== undefined && now - dueAt > spec.giveUpMs[body]) {
          givenUp++;
          cb.onError('timeout'); // the exchange would have moved on without us
          continue;
        }
        return send(c, dueAt, body);
      }
      idle.push(c);
    };

    const send = (c: Conn, dueAt: number, body: number): void => {
      c.busy = true;
      c.dueAt = dueAt;
      c.body = body;
      c.sentAt = performance.now();
      sent++;
      c.socket.write(requests[body]);
    };

    const onData = (c: Conn, chunk: Buffer): void => {
      let buf = c.buf ? Buffer.concat([c.buf, chunk]) : chunk;
      for (;;) {
        const end = buf.indexOf(CRLF2);
        if (end < 0) break;
        const status = (buf[9] - 48) * 100 + (buf[10] - 48) * 10 + (buf[11] - 48);
        const headers = buf.toString('latin1', 0, end).toLowerCase();
        const total = headers.includes('\r\ntransfer-encoding: chunked') ? chunkedEnd(buf, end + 4) : end + 4 + contentLength(headers);
        if (total < 0 || buf.length < total) break;
        if (c.busy) {
          const now = performance.now();
          answered++;
          lastAnswerAt = now;
          cb.onResponse(status, now - c.dueAt, c.body);
          buf = buf.subarray(total);
          if (headers.includes('\r\nconnection: close')) {
            // The server closes this one: forget it (a new one opens when one is needed).
            c.dead = true;
            all.delete(c);
            c.socket.destroy();
            if (backlogHead < backlog.length && all.size < spec.maxConnections) open();
            return;
          }
          release(c);
        } else buf = buf.subarray(total); // an answer nobody waits for (cannot happen with one in flight)
      }
      c.buf = buf.length ? Buffer.from(buf) : undefined;
    };

    // Due requests go out every millisecond (timers are no finer); each is charged from its own due time.
    const tick = (): void => {
      if (finished) return;
      const now = performance.now();
      const stop = cb.stopped();
      while (!stop && nextIndex < total && start + nextIndex * interval <= now) {
        const dueAt = now;
        nextIndex++;
        const body = bodyCursor;
        bodyCursor = bodyCursor + 1 === n ? 0 : bodyCursor + 1;
        const c = idle.pop();
        if (c) send(c, dueAt, body);
        else {
          backlog.push(dueAt, body);
          if (all.size < spec.maxConnections && opening < 16) open();
        }
      }
      const waiting = backlog.length - backlogHead;
      // Every connection gone (closed by the server) with requests waiting: open one, or they never go.
      if (waiting > 0 && opening === 0 && all.size < spec.maxConnections && idle.length === 0) open();
      const outstanding = sent - answered - lost + waiting / 2;
      if ((nextIndex >= total || stop) && outstanding <= 0) return finish();
      if ((nextIndex >= total || stop) && now > start + total * interval + spec.timeoutMs) return finish(!stop);
      setTimeout(tick, 1);
    };

    // Requests unanswered past the timeout: counted, their connections replaced.
    const watchdog = setInterval(() => {
      const now = performance.now();
      for (const c of all)
        if (c.busy && now - c.sentAt > spec.timeoutMs) {
          c.busy = false;
          lost++;
          cb.onError('timeout');
          c.socket.destroy();
        }
    }, 250);

    for (let i = 0; i < Math.min(spec.maxConnections, Math.max(4, Math.ceil(spec.rate / 500))); i++) open();
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
}

/** Content-Length from lower-cased response headers (0 when absent, as for 204). */
/**
 * Where a chunked body that starts at `pos` ends (after its last chunk and trailers), or -1 while
 * it has not all arrived.
 */
function chunkedEnd(buf: Buffer, pos: number): number {
  for (;;) {
    const eol = buf.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) return -1;
    const size = parseInt(buf.toString('latin1', pos, eol), 16); // stops at a chunk extension (;...)
    if (!(size >= 0)) return -1; // not a chunk size: left to the client timeout
    pos = eol + 2;
    if (size === 0) {
      // Trailers, if any, then an empty line.
      if (buf.length < pos + 2) return -1;
      if (buf[pos] === 13 && buf[pos + 1] === 10) return pos + 2;
      const end = buf.indexOf(CRLF2, pos);
      return end < 0 ? -1 : end + 4;
    }
    if (buf.length < pos + size + 2) return -1;
    pos += size + 2;
  }
}

function contentLength(headers: string): number {
  const at = headers.indexOf('\r\ncontent-length:');
  if (at < 0) return 0;
  let i = at + 17;
  while (headers.charCodeAt(i) === 32) i++;
  let v = 0;
  for (let c = headers.charCodeAt(i); c >= 48 && c <= 57; c = headers.charCodeAt(++i)) v = v * 10 + (c - 48);
  return v;
}
