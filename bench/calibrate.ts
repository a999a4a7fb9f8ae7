/**
 * Floor calibration: send every request of the mix once, measure the share that gets a bid, and
 * scale all floors until that share is inside the target band (20-40 %, aiming at 30 %).
 * A higher floor can only remove bids, so the share falls as the scale rises: a bracketing search
 * in log space converges in a few passes. The exemplary fixtures' requests of the mix keep their
 * own floors; answerFixtures checks their answers against their fixtures.
 */
import { Agent, request } from 'node:http';
import { setFloorScale, type RequestMix } from './scenario/requests.js';
import { answeredAsExpected } from './scenario/fixtures.js';

export interface CalibrationStep {
  floor_scale: number;
  bid_rate: number;
  statuses: Record<string, number>;
  seconds: number;
}

export interface CalibrationResult {
  floor_scale: number;
  bid_rate: number;
  steps: CalibrationStep[];
  in_band: boolean;
}

export interface CalibrationOptions {
  readonly low?: number;
  readonly high?: number;
  readonly target?: number;
  readonly maxPasses?: number;
  readonly concurrency?: number;
  readonly onStep?: (s: CalibrationStep) => void;
  readonly cancelled?: () => boolean;
}

/** Floors calibrated against a running bidder on `port`, over HTTP. */
export function calibrateFloors(mix: RequestMix, port: number, opts: CalibrationOptions = {}): Promise<CalibrationResult> {
  return searchFloorScale(mix, () => measureBidRate(mix, port, opts.concurrency ?? 8), opts);
}

/**
 * The search itself: `measure` sends every body of the mix once at its current floor scale and
 * reports the bid share (over HTTP for the bench, in process for bench:hot-path).
 */
export async function searchFloorScale(mix: RequestMix, measure: () => Promise<CalibrationStep>, opts: CalibrationOptions = {}): Promise<CalibrationResult> {
  const low = opts.low ?? 0.2;
  const high = opts.high ?? 0.4;
  const target = opts.target ?? 0.3;
  const steps: CalibrationStep[] = [];
  let lo: number | undefined; // a scale that bids too much (floors too low)
  let hi: number | undefined; // a scale that bids too little
  let scale = mix.floorScale;
  let best: CalibrationStep | undefined;
  // One pass to warm the bidder up (JIT, caches, user lookups): a cold first pass no-bids more.
  if (!opts.cancelled?.()) await measure();
  for (let pass = 0; pass < (opts.maxPasses ?? 10); pass++) {
    if (opts.cancelled?.()) break;
    setFloorScale(mix, scale);
    const step = await measure();
    steps.push(step);
    opts.onStep?.(step);
    if (!best || Math.abs(step.bid_rate - target) < Math.abs(best.bid_rate - target)) best = step;
    // Stop near the target (within a quarter of the band's width), not at its edges: under load
    // the bid share drops a little (deadline and shed no-bids).
    if (Math.abs(step.bid_rate - target) <= (high - low) / 4) break;
    // Lower floors no longer add bids (too few campaigns match): floors cannot reach the band.
    const prev = steps[steps.length - 2];
    if (prev && step.bid_rate < low && prev.floor_scale > step.floor_scale && Math.abs(prev.bid_rate - step.bid_rate) < 0.02) break;
    if (step.bid_rate > target) lo = scale;
    else hi = scale;
    if (lo !== undefined && hi !== undefined) scale = Math.sqrt(lo * hi);
    else if (lo !== undefined) scale = lo * (step.bid_rate > 0.7 ? 4 : 2);
    else scale = hi! / (step.bid_rate < 0.05 ? 4 : 2);
    if (scale < 1e-4 || scale > 1e4) break;
  }
  if (!best) return { floor_scale: mix.floorScale, bid_rate: 0, steps, in_band: false }; // cancelled before the first pass
  const chosen = best;
  if (mix.floorScale !== chosen.floor_scale) setFloorScale(mix, chosen.floor_scale);
  return { floor_scale: chosen.floor_scale, bid_rate: chosen.bid_rate, steps, in_band: chosen.bid_rate >= low && chosen.bid_rate <= high };
}

/** Sends every body once (`concurrency` at a time) and returns the share answered 200. */
export async function measureBidRate(mix: RequestMix, port: number, concurrency: number): Promise<CalibrationStep> {
  const t0 = Date.now();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < mix.bodies.length) {
      const body = mix.bodies[next++];
      const status = await post(agent, port, body);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  const bids = statuses['200'] ?? 0;
  const answered = bids + (statuses['204'] ?? 0);
  return {
    floor_scale: Math.round(mix.floorScale * 10_000) / 10_000,
    bid_rate: answered ? Math.round((bids / answered) * 10_000) / 10_000 : 0,
    statuses,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** How the exemplary fixtures of the mix were answered: with their status, and with their bids (the scenario's campaigns compete). */
export interface FixtureAnswers {
  readonly requests: number;
  readonly status_as_expected: number;
  readonly as_expected: number;
  /** Answered with their status but other bids than their fixture's. */
  readonly other_bids: string[];
}

/** Sends each fixture's request of the mix once, one at a time, and compares the answers with their fixtures. */
export async function answerFixtures(mix: RequestMix, port: number): Promise<FixtureAnswers> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let status = 0;
  const otherBids: string[] = [];
  try {
    for (const f of mix.fixtures) {
      const answer = await postReading(agent, port, f.body);
      if (Number(answer.status) !== f.status) continue;
      status++;
      if (!answeredAsExpected(f, f.status, answer.text)) otherBids.push(f.name);
    }
  } finally {
    agent.destroy();
  }
  return { requests: mix.fixtures.length, status_as_expected: status, as_expected: status - otherBids.length, other_bids: otherBids };
}

function post(agent: Agent, port: number, body: Buffer): Promise<string> {
  return postReading(agent, port, body, false).then((a) => a.status);
}

/** POST /bid; `keep`: the answer's body is read into `text` (else discarded). */
function postReading(agent: Agent, port: number, body: Buffer, keep = true): Promise<{ status: string; text: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/bid', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        if (keep) res.on('data', (c: Buffer) => chunks.push(c));
        else res.resume();
        res.on('end', () => resolve({ status: String(res.statusCode ?? 0), text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => resolve({ status: 'error', text: '' }));
      },
    );
    req.on('error', () => resolve({ status: 'error', text: '' }));
    req.setTimeout(10_000, () => req.destroy());
    req.end(body);
  });
}
