/**
 * Drives a server and measures it ourselves, response by response:
 * - closed loop (autocannon): `connections` connections, each sending its next request as soon as
 *   the previous one is answered (the server runs flat out: its saturation throughput);
 * - open loop at a fixed rate, paced evenly (paced-sender.ts, the default): request i is due at
 *   start + i / rate and its latency counts from then;
 * - open loop with autocannon's own pacing (`pacer: 'autocannon'`, for comparison with earlier
 *   runs): autocannon paces per connection per second, which sends each second's quota in a
 *   burst; the rate is split over STAGGER instances started 1000/STAGGER ms apart.
 * Bodies are taken in turn from the request mix (one shared counter, so every body is used).
 * Latency, status codes and deadline misses (latency above the request's own tmax) are recorded
 * per response; a line of progress goes to stderr every second.
 */
import autocannon from 'autocannon';
import { pacedRun } from './paced-sender.js';

type Instance = autocannon.Instance;
import { LatencyHistogram, type LatencySummary } from './histogram.js';

export interface DriveTarget {
  /** `http://127.0.0.1:<port>/bid` */
  readonly url: string;
  readonly bodies: readonly Buffer[];
  readonly tmax: readonly number[];
  /** Content type of the bodies (default application/json; `--protobuf`: application/x-protobuf). */
  readonly contentType?: string;
}

export interface PhaseSpec {
  /** e.g. `ceiling`, `fixed`, `ramp-3`, `saturation` */
  readonly name: string;
  /** Shown in progress lines. */
  readonly label: string;
  readonly mode: 'closed' | 'open';
  readonly durationS: number;
  /** Closed loop: connections. Open loop: derived from the rate when absent. */
  readonly connections?: number;
  /** Open loop: requests per second. */
  readonly rate?: number;
  /** Open loop: evenly paced (default) or autocannon's per-connection, per-second budgets. */
  readonly pacer?: Pacer;
}

export type Pacer = 'smooth' | 'autocannon';

export interface StatusCounts {
  '200': number;
  '204': number;
  '4xx': number;
  '5xx': number;
  other: number;
  /** Connection errors (no HTTP answer). */
  errors: number;
  /** No answer within the client timeout. */
  timeouts: number;
}

export interface PhaseResult {
  readonly name: string;
  readonly mode: 'closed' | 'open';
  readonly target_rate: number | null;
  readonly connections: number;
  readonly duration_s: number;
  readonly requests: number;
  readonly qps: number;
  readonly latency: LatencySummary;
  readonly status_counts: StatusCounts;
  /** Share of answered requests that were 200 (a bid). */
  readonly bid_rate: number;
  /** Answers that arrived later than the request's tmax, seen by the client. */
  readonly deadline_misses_client: number;
  /** One point a second: [seconds since start, responses that second, p99 ms that second]. */
  readonly series: [number, number, number][];
  /** Not serialised by the report as is (see report.ts). */
  readonly histogram: LatencyHistogram;
  /** CPU seconds of a driver in another process (wrk); the in-process drivers' is this process's. */
  readonly driver_cpu_s?: number;
}

export interface DriveHooks {
  /** Extra text for each progress line (e.g. the server's RSS). */
  readonly status?: () => string;
  /** Progress lines go here (default stderr). */
  readonly write?: (line: string) => void;
  /** Checked every second; returning true stops the phase early (Ctrl-C). */
  readonly cancelled?: () => boolean;
}

const STAGGER = 10;
const CLIENT_TIMEOUT_S = 5;

export function newStatusCounts(): StatusCounts {
  return { '200': 0, '204': 0, '4xx': 0, '5xx': 0, other: 0, errors: 0, timeouts: 0 };
}

export function addStatusCounts(a: StatusCounts, b: StatusCounts): StatusCounts {
  return {
    '200': a['200'] + b['200'],
    '204': a['204'] + b['204'],
    '4xx': a['4xx'] + b['4xx'],
    '5xx': a['5xx'] + b['5xx'],
    other: a.other + b.other,
    errors: a.errors + b.errors,
    timeouts: a.timeouts + b.timeouts,
  };
}

/**
 * Connections for an open-loop rate: about 20 requests per connection and second, so that each
 * connection's burst is short, in multiples of STAGGER, from 10 to 400.
 */
export function openLoopConnections(rate: number): number {
  return Math.max(STAGGER, Math.min(400, STAGGER * Math.ceil(rate / STAGGER / 20)));
}

export async function drive(target: DriveTarget, spec: PhaseSpec, hooks: DriveHooks = {}): Promise<PhaseResult> {
  const write = hooks.write ?? ((l: string) => process.stderr.write(l));
  const n = target.bodies.length;
  let next = Math.floor(Math.random() * n); // each phase starts somewhere else in the mix
  const hist = new LatencyHistogram();
  let second = new LatencyHistogram();
  const status = newStatusCounts();
  let misses = 0;
  const series: [number, number, number][] = [];
  const started = Date.now();

  const requests = [
    {
      method: 'POST',
      path: new URL(target.url).pathname,
      setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
        const i = next;
        next = next + 1 === n ? 0 : next + 1;
        context.i = i;
        return { ...req, body: target.bodies[i] };
      },
    },
  ];
  const headers = { 'content-type': target.contentType ?? 'application/json' };

  const onResponse = (client: { requestIterator: { context: Record<string, unknown> } }, code: number, _bytes: number, ms: number) => {
    hist.recordMs(ms);
    second.recordMs(ms);
    if (code === 200) status['200']++;
    else if (code === 204) status['204']++;
    else if (code >= 400 && code < 500) status['4xx']++;
    else if (code >= 500) status['5xx']++;
    else status.other++;
    const i = client.requestIterator.context.i;
    if (typeof i === 'number' && ms > target.tmax[i]) misses++;
  };

  // Instances: one for a closed loop; STAGGER staggered ones for an open loop.
  const plans: { delayMs: number; connections: number; rate?: number }[] = [];
  if (spec.mode === 'closed') plans.push({ delayMs: 0, connections: spec.connections ?? 32 });
  else {
    const rate = Math.max(1, Math.round(spec.rate ?? 100));
    const conns = spec.connections ?? openLoopConnections(rate);
    const k = Math.min(STAGGER, rate);
    for (let j = 0; j < k; j++) {
      const share = Math.floor(rate / k) + (j < rate % k ? 1 : 0);
      plans.push({ delayMs: Math.round((j * 1000) / k), connections: Math.max(1, Math.min(share, Math.round(conns / k))), rate: share });
    }
  }
  const totalConnections = plans.reduce((s, p) => s + p.connections, 0);

  const instances: Instance[] = [];
  const perInstance: { count: number; start: number; end: number }[] = [];
  let cancelled = false;
  const ticker = setInterval(() => {
    const t = Math.round((Date.now() - started) / 1000);
    const count = second.count;
    const p99 = second.percentileMs(99);
    series.push([t, count, Math.round(p99 * 1000) / 1000]);
    second = new LatencyHistogram();
    const extra = hooks.status ? `  ${hooks.status()}` : '';
    const bid = status['200'] + status['204'] ? Math.round((100 * status['200']) / (status['200'] + status['204'])) : 0;
    write(
      `  ${spec.label.padEnd(26)} ${String(t).padStart(3)}/${Math.ceil(spec.durationS)}s  ${fmtInt(count).padStart(7)} req/s  p99 ${p99.toFixed(2).padStart(7)} ms  bids ${bid}%${extra}\n`,
    );
    if (!cancelled && hooks.cancelled?.()) {
      cancelled = true;
      for (const inst of instances) inst.stop();
    }
  }, 1000);

  if (spec.mode === 'open' && (spec.pacer ?? 'smooth') === 'smooth') {
    const url = new URL(target.url);
    const rate = Math.max(1, spec.rate ?? 100);
    let paced;
    try {
      paced = await pacedRun(
        {
          host: url.hostname,
          port: Number(url.port),
          path: url.pathname,
          contentType: headers['content-type'],
          bodies: target.bodies,
          rate,
          durationS: Math.max(1, spec.durationS),
          maxConnections: spec.connections ?? openLoopConnections(rate),
          timeoutMs: CLIENT_TIMEOUT_S * 1000,
          firstBody: next,
          giveUpMs: target.tmax, // as an exchange: a request not sent within its tmax is dropped (a timeout)
        },
        {
          onResponse: (code, ms, body) => onResponse({ requestIterator: { context: { i: body } } }, code, 0, ms),
          onError: (kind) => {
            if (kind === 'timeout') status.timeouts++;
            else status.errors++;
          },
          stopped: () => cancelled || hooks.cancelled?.() === true,
        },
      );
    } finally {
      clearInterval(ticker);
    }
    return result(paced.answered / paced.seconds, paced.seconds, paced.connections);
  }

  const runs = plans.map(
    (p, j) =>
      new Promise<void>((resolve, reject) => {
        const begin = () => {
          if (cancelled) return resolve();
          const record = { count: 0, start: Date.now(), end: 0 };
          perInstance[j] = record;
          const inst = autocannon(
            {
              url: target.url,
              method: 'POST',
              headers,
              connections: p.connections,
              pipelining: 1,
              duration: Math.max(1, spec.durationS),
              timeout: CLIENT_TIMEOUT_S,
              ...(p.rate ? { overallRate: p.rate } : {}),
              requests,
            },
            (err, result) => {
              record.end = Date.now();
              if (err) return reject(err);
              status.timeouts += result.timeouts;
              resolve();
            },
          );
          inst.on('response', (client, code, bytes, ms) => {
            record.count++;
            onResponse(client, code, bytes, ms);
          });
          inst.on('reqError', () => {
            status.errors++;
          });
          instances.push(inst);
        };
        if (p.delayMs) setTimeout(begin, p.delayMs);
        else begin();
      }),
  );
  try {
    await Promise.all(runs);
  } finally {
    clearInterval(ticker);
  }
  // Throughput: each instance's responses over its own run time, summed (staggered starts overlap).
  let qps = 0;
  let duration = 0;
  for (const r of perInstance) {
    if (!r) continue;
    const secs = Math.max(0.001, ((r.end || Date.now()) - r.start) / 1000);
    qps += r.count / secs;
    duration = Math.max(duration, secs);
  }
  return result(qps, duration, totalConnections);

  function result(qps: number, duration: number, connections: number): PhaseResult {
    const answered = status['200'] + status['204'];
    return {
      name: spec.name,
      mode: spec.mode,
      target_rate: spec.mode === 'open' ? Math.round(spec.rate ?? 0) : null,
      connections,
      duration_s: Math.round(duration * 100) / 100,
      requests: hist.count,
      qps: Math.round(qps),
      latency: hist.summary(),
      status_counts: status,
      bid_rate: answered ? Math.round((10_000 * status['200']) / answered) / 10_000 : 0,
      deadline_misses_client: misses,
      series,
      histogram: hist,
    };
  }
}

export const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');
