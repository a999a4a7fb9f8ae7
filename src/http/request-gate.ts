/**
 * Admission and draining for one bid thread (the main thread with WORKERS=1, else each worker).
 *
 * - Load shedding. Before a bid request's body is read, `admit()` decides whether this thread can
 *   take it: not when its event loop lags more than `shedLagMs`, nor when `maxInFlight` requests are
 *   already being worked on (body arrived; parsing, bidding or waiting for an audience lookup).
 *   Requests whose body is still arriving do not count: they cost the thread nothing until it
 *   arrives, and a few thousand slow clients must not crowd out the exchanges. A refused request gets a 204 at once;
 *   uWS discards the unread body and the keep-alive connection stays usable (tests/http/shedding.test.ts).
 *   Shedding is cheap (no body copy, no parse, no bidding), so a thread that sheds catches up
 *   instead of queueing ever more work behind its deadline.
 * - Slow bodies: a body still arriving `bodyTimeoutMs` after its headers is answered 408 and its
 *   connection closed; beyond `maxPendingBodies` bodies arriving at once, the newest get 503 and a
 *   close. One sweep timer per thread does both (no timer per request).
 * - In-flight accounting: every admitted request `leave()`s exactly once (answered or aborted), so
 *   the drain knows when the last one is done.
 * - Draining: once `draining` is set, every answer on the bid port says `Connection: close`
 *   (see `closeAware`), moving keep-alive clients off this bidder one request at a time. So does the
 *   answer to a request that itself said `Connection: close`.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';

const now = () => performance.now();

/**
 * Event-loop lag from a cheap timer. Every `intervalMs` the timer notes how late it fired; the lag
 * seen by a request at time `t` is the larger of the last lateness and how overdue the timer is at
 * `t`. The second part is live: while one long loop iteration (a burst of requests, a slow
 * synchronous task) is still running, requests late in that iteration see it grow, without waiting
 * for the timer to fire. Cost on the hot path: two subtractions and a comparison.
 *
 * The timer runs only while requests ask (`lagAt`): after `idleTicks` intervals without one it
 * stops, and the next request starts it again (that request reads no lag: nothing was queued
 * behind a loop no request reached). An idle bid thread then sleeps instead of waking 100 times a
 * second: with the 10 ms timer an idle bidder's main thread spent about 15 ms of CPU a second.
 */
export class LoopLag {
  private last = now();
  private lastDrift = 0;
  private maxDrift = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A request asked since the timer last fired. */
  private asked = true;
  private quietTicks = 0;
  private stopped = false;

  constructor(
    private readonly intervalMs = 10,
    /** Intervals without a request before the timer stops (50 × 10 ms: half a second). */
    private readonly idleTicks = 50,
  ) {
    this.start();
  }

  /** Whether the timer is running (false while idle). */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Milliseconds of lag as seen at `t` (performance.now()), by a request. */
  lagAt(t: number): number {
    if (this.timer === undefined) {
      if (!this.stopped) this.start();
      return 0;
    }
    this.asked = true;
    return this.read(t);
  }

  /** The largest lag since the last call (for a gauge read at scrape time; does not wake the timer). */
  takeMax(): number {
    const m = this.timer === undefined ? this.maxDrift : Math.max(this.maxDrift, this.read(now()));
    this.maxDrift = 0;
    return m;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private read(t: number): number {
    const overdue = t - this.last - this.intervalMs;
    return overdue > this.lastDrift ? overdue : this.lastDrift;
  }

  private start(): void {
    this.last = now();
    this.lastDrift = 0;
    this.asked = true;
    this.quietTicks = 0;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    const t = now();
    this.lastDrift = Math.max(0, t - this.last - this.intervalMs);
    if (this.lastDrift > this.maxDrift) this.maxDrift = this.lastDrift;
    this.last = t;
    if (this.asked) {
      this.asked = false;
      this.quietTicks = 0;
    } else if (++this.quietTicks >= this.idleTicks) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

export interface GateOptions {
  /** Shed new bid requests while the event loop lags more than this (ms); 0: never on lag. */
  readonly shedLagMs: number;
  /** Shed new bid requests while this many (with their body arrived) are in flight on this thread; 0: no cap. */
  readonly maxInFlight: number;
  /** A body still arriving this long after the request's headers gets 408 and its connection closed; 0: never. */
  readonly bodyTimeoutMs?: number;
  /** At most this many bodies arriving at once on this thread; the newest beyond it get 503 and a close; 0: no cap. */
  readonly maxPendingBodies?: number;
}

/** A request whose body is still arriving: expired by the gate's sweep. */
export interface PendingBody {
  /** performance.now() when its headers were read. */
  readonly since: number;
  /** The body timeout passed (answer 408), or the body is one too many arriving (`overCap`: 503); then close. */
  expire(overCap: boolean): void;
}

type Inc = { inc(n?: number): void };

export class RequestGate {
  /** Admitted bid requests with their body arrived, not yet answered or aborted, on this thread (the overload cap). */
  inFlight = 0;
  /** Admitted bid requests whose body is still arriving. */
  readonly pendingBodies = new Set<PendingBody>();
  /** Set at SIGTERM: answers close their connection. */
  draining = false;
  /** performance.now() of the last request (any route) begun while draining: the drain waits for a quiet moment. */
  lastRequestAt = 0;
  private idle: (() => void)[] = [];
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    readonly options: GateOptions,
    readonly lag: Pick<LoopLag, 'lagAt'> | undefined,
    /** Counts every bid request this thread sees (admitted or shed). */
    private readonly seen: Inc = { inc() {} },
  ) {}

  /**
   * True: take the request; it then waits for its body (`awaitBody`), which `arrived()` (from then
   * on it counts against the cap) or not, and `leave()`s once answered, aborted or timed out.
   * False: shed it.
   */
  admit(): boolean {
    this.seen.inc();
    const o = this.options;
    if (o.maxInFlight > 0 && this.inFlight >= o.maxInFlight) return false;
    if (o.shedLagMs > 0 && this.lag !== undefined && this.lag.lagAt(now()) > o.shedLagMs) return false;
    return true;
  }

  /**
   * An admitted request starts waiting for its body (uWS delivers it after the route handler
   * returns, usually in the same tick): the sweep answers it 408 past the body timeout, or 503 when
   * it is beyond `maxPendingBodies` (the newest are refused).
   */
  awaitBody(p: PendingBody): void {
    this.pendingBodies.add(p);
    if (this.sweeper === undefined && ((this.options.bodyTimeoutMs ?? 0) > 0 || (this.options.maxPendingBodies ?? 0) > 0)) this.startSweep();
  }

  /** The body of `p` arrived: from now on it counts against the in-flight cap. */
  arrived(p: PendingBody): void {
    this.pendingBodies.delete(p);
    this.inFlight++;
  }

  /** `p` is done (answered, aborted or timed out); `arrived` says whether it counted against the cap. */
  leave(p: PendingBody | undefined, arrived: boolean): void {
    if (p !== undefined) this.pendingBodies.delete(p);
    if (arrived && --this.inFlight < 0) this.inFlight = 0;
    if (this.busy === 0 && this.idle.length > 0) for (const w of this.idle.splice(0)) w();
  }

  /** Admitted requests not yet answered, their body arrived or not (what a drain waits for). */
  get busy(): number {
    return this.inFlight + this.pendingBodies.size;
  }

  /**
   * One timer per thread, not one per request: every quarter of the body timeout (5 to 50 ms) it
   * expires the bodies older than the timeout, so a body is cut off between 1 and 1.25 timeouts
   * after its headers (a little more on a lagging loop), then refuses the newest beyond the cap on
   * bodies arriving. The timer runs only while bodies are awaited (it stops itself once none is).
   */
  private startSweep(): void {
    const timeout = this.options.bodyTimeoutMs ?? 0;
    const cap = this.options.maxPendingBodies ?? 0;
    this.sweeper = setInterval(() => {
      if (this.pendingBodies.size === 0) return this.stop();
      if (timeout > 0) {
        const cutoff = now() - timeout;
        // Sets iterate in insertion order, which is the order of `since`: stop at the first young one.
        for (const p of this.pendingBodies) {
          if (p.since > cutoff) break;
          this.pendingBodies.delete(p);
          p.expire(false);
        }
      }
      if (cap > 0 && this.pendingBodies.size > cap) {
        let keep = cap;
        for (const p of this.pendingBodies) {
          if (keep-- > 0) continue;
          this.pendingBodies.delete(p);
          p.expire(true);
        }
      }
    }, Math.min(50, Math.max(5, Math.floor((timeout || 200) / 4))));
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Resolves true once nothing is in flight, false after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.busy === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idle = this.idle.filter((w) => w !== done);
        resolve(false);
      }, Math.max(0, timeoutMs));
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idle.push(done);
    });
  }
}

const ROUTE_METHODS = new Set(['get', 'post', 'put', 'del', 'patch', 'options', 'head', 'any', 'connect', 'trace']);
type Handler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;

/**
 * The app as route registration sees it, with every handler wrapped: when the request said
 * `Connection: close`, or while the gate (if any) is draining, the handler gets a response whose
 * `end`/`endWithoutBody` also close the connection and say so. Otherwise the wrapper costs one
 * header read and a boolean check per request. Both ports use it (the admin port without a gate).
 */
export function closeAware(app: TemplatedApp, gate?: Pick<RequestGate, 'draining' | 'lastRequestAt'>): TemplatedApp {
  const wrapped: TemplatedApp = new Proxy(app, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !ROUTE_METHODS.has(key) || typeof value !== 'function') return value;
      return (pattern: string, handler: Handler) => {
        (value as (p: string, h: Handler) => TemplatedApp).call(target, pattern, (res, req) => {
          // A client that sent `Connection: close` is told so too (RFC 9112 §9.6): uWS closes the socket
          // after such a request but does not say it, and some keep-alive pools then reuse a dead socket.
          const asked = asksToClose(req.getHeader('connection'));
          if (gate?.draining === true) gate.lastRequestAt = now();
          handler(asked || gate?.draining === true ? closingResponse(res, asked) : res, req);
        });
        return wrapped;
      };
    },
  });
  return wrapped;
}

const asksToClose = (connection: string) => connection !== '' && /close/i.test(connection);

/**
 * A response that closes its connection when it ends. With a body uWS does it itself
 * (`end(body, true)`: `Connection: close`, then the socket is shut down once written). A 204 has
 * no body and must not carry `Content-Length` (uWS would write `Content-Length: 0` for
 * `endWithoutBody(0, true)`), so it gets the header alone: HTTP/1.1 clients must close on it, and
 * whatever stays open is closed when the drain ends.
 *
 * When the request itself said `Connection: close` (`requestAsked`), uWS closes the socket after the
 * answer anyway but leaves the header out (even for `end(body, true)`), so it is written here.
 */
export function closingResponse(res: HttpResponse, requestAsked = false): HttpResponse {
  const proxy: HttpResponse = new Proxy(res, {
    get(target, key) {
      if (key === 'end')
        return (body?: Parameters<HttpResponse['end']>[0]) => {
          if (requestAsked) target.writeHeader('connection', 'close').end(body);
          else target.end(body, true);
          return proxy;
        };
      if (key === 'endWithoutBody')
        return (reportedContentLength?: number) => {
          if (reportedContentLength === undefined) target.writeHeader('connection', 'close').endWithoutBody();
          else target.endWithoutBody(reportedContentLength, true);
          return proxy;
        };
      const value = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const r = (value as (...a: unknown[]) => unknown).apply(target, args);
        return r === target ? proxy : r;
      };
    },
    set(target, key, value) {
      return Reflect.set(target, key, value);
    },
  });
  return proxy;
}
