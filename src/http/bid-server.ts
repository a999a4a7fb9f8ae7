/**
 * One bid thread's server: the bid app with its gate (load shedding, in-flight accounting,
 * `Connection: close` while draining) and the drain itself. Used by the main thread with
 * WORKERS=1 and by every bid worker otherwise.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import { effectiveBodyTimeoutMs, type Settings } from '../settings/settings.js';
import { LoopLag, RequestGate } from './request-gate.js';
import type { Listening } from './listen.js';
import { ThreadMetrics } from '../metrics/thread-metrics.js';

export interface ThreadGate {
  readonly gate: RequestGate;
  readonly lag: LoopLag;
}

/** The gate of a bid thread, with its metrics (`thread` label) in `registry`. */
export function threadGate(
  settings: Pick<Settings, 'shedLagMs' | 'shedMaxInFlight' | 'bodyTimeoutMs' | 'tmaxCapMs' | 'maxPendingBodies'>,
  registry: Registry,
  thread: string,
): ThreadGate {
  const lag = new LoopLag();
  let gate: RequestGate | undefined = undefined;
  const metrics = new ThreadMetrics(registry, thread, () => ({ lag, gate }));
  gate = new RequestGate(
    { shedLagMs: settings.shedLagMs, maxInFlight: settings.shedMaxInFlight, bodyTimeoutMs: effectiveBodyTimeoutMs(settings), maxPendingBodies: settings.maxPendingBodies },
    lag,
    metrics.requests,
  );
  return { gate, lag };
}

export interface DrainOptions {
  /** Keep listening this long first (answers already close their connections): the preStop pause. */
  readonly delayMs: number;
  /** Epoch ms: in-flight requests still running then are cut off. */
  readonly deadline: number;
  /** Other work a request left behind that must finish before the app closes (notice dedupe checks). */
  readonly pending?: () => number;
}

export interface DrainResult {
  /** Requests still in flight at the deadline (their connections were closed under them). */
  readonly inFlightLeft: number;
  readonly ms: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/**
 * Drains one bid thread:
 * 1. `draining`: every answer from now on carries `Connection: close`, so each keep-alive client
 *    moves off with its next request; nothing is refused.
 * 2. After `delayMs` (time for the load balancer to stop sending new connections), the listen
 *    socket closes. uWS keeps the open connections, and requests arriving on them are still
 *    answered, normally (with `Connection: close`).
 * 3. Once nothing is in flight (checked in the same tick as the close, so no request can slip in
 *    between) and no request has begun for QUIET_MS, or at the deadline, `app.close()` closes every
 *    remaining connection. The quiet moment matters: a busy keep-alive client has its next request on
 *    the wire when the drain starts (already sent, not yet read); without the wait that request's
 *    connection was closed under it (a reset). With it, that request is read and answered (with
 *    `Connection: close`), and the connections left at the close are idle ones: a client that sends
 *    on one at that very moment sees the connection close before any byte of its request is read
 *    (the race every HTTP server has with idle keep-alive; it must retry on a new connection).
 *    At the deadline only, connections with requests still in flight are closed too.
 * After it the thread holds no uWS socket, so a worker can exit without aborting the process.
 */
export async function drainBidServer(app: TemplatedApp, listening: Listening, gate: RequestGate, o: DrainOptions): Promise<DrainResult> {
  const t0 = Date.now();
  const pending = o.pending ?? (() => 0);
  gate.draining = true;
  gate.lastRequestAt = performance.now();
  if (o.delayMs > 0) await sleep(Math.min(o.delayMs, o.deadline - Date.now()));
  listening.close();
  const quiet = () => performance.now() - gate.lastRequestAt >= QUIET_MS;
  while (Date.now() < o.deadline && (gate.busy > 0 || pending() > 0 || !quiet())) await sleep(5);
  const inFlightLeft = gate.busy;
  closeApp(app);
  gate.stop();
  return { inFlightLeft, ms: Date.now() - t0 };
}

/** How long no new request may have begun on a draining thread before its connections are closed. */
export const QUIET_MS = 100;

/** Closes the listen sockets and every connection of the app (uWS.js `app.close()`, missing from its typings). */
export function closeApp(app: TemplatedApp): void {
  (app as unknown as { close(): void }).close();
}

/** Test hook (BIDDER_TEST_HOOKS=1): keeps this thread's event loop busy `busyMs` out of every `everyMs`, for `forMs`. */
export function busyLoop(busyMs: number, everyMs: number, forMs: number): NodeJS.Timeout {
  const until = Date.now() + forMs;
  const t: NodeJS.Timeout = setInterval(() => {
    if (Date.now() >= until) return clearInterval(t);
    const end = performance.now() + busyMs;
    while (performance.now() < end);
  }, everyMs);
  t.unref();
  return t;
}
