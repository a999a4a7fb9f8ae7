/**
 * The mock exchange: sends generated bid requests to a bidder at a chosen rate, runs an auction
 * (first or second price) of each bid against simulated competitors, and then behaves as the
 * exchange and the user's browser would: win notice (nurl) shortly after the auction, loss notice
 * (lurl) for lost bids, the impression pixel for most wins, billing (burl) some seconds after the
 * win for rendered ads, and a click for a small share of impressions. Only 127.0.0.1 / localhost
 * are ever called.
 */
import { Agent, request } from 'node:http';
import { RequestGenerator } from './requests.js';
import { Rng } from './rng.js';
import { DEFAULT_COMPETITORS, LOSS, competitorBids, floorOfBid, round4, runAuction, type AuctionType, type CompetitorModel } from './auction.js';
import { findTrackers, isLocalUrl, substituteMacros, type AuctionMacros } from './notices.js';

export type NoticeKind = 'win' | 'billing' | 'loss' | 'impression' | 'click';
export const NOTICE_KINDS: readonly NoticeKind[] = ['win', 'billing', 'loss', 'impression', 'click'];

export type Range = readonly [number, number];

/**
 * Where notices go. `sticky`: to the origin their URL names (or `noticeOrigin`), which is the
 * instance that made the bid when each names itself. `balanced`: each to one of the instances
 * (`bidder` and `moreBidders`) at random, as when exchanges reach a fleet's notices through one
 * load-balanced address: most land on an instance that did not make the bid.
 */
export type NoticeMode = 'sticky' | 'balanced';
export const NOTICE_MODES: readonly NoticeMode[] = ['sticky', 'balanced'];

export interface SimulationOptions {
  /** Base URL of the bidder's exchange-facing port, e.g. `http://127.0.0.1:8080`. */
  readonly bidder: string;
  /** More instances of the same bidder (same configuration and signing keys): requests go round-robin over all, as through a load balancer. */
  readonly moreBidders?: readonly string[];
  readonly noticeMode: NoticeMode;
  /** Exchange id: requests go to `/bid/<exchange>` (default: `/bid`). */
  readonly exchange?: string;
  /** Bid requests per second. */
  readonly rate: number;
  readonly durationS: number;
  readonly auction: AuctionType;
  readonly competitors: CompetitorModel;
  readonly seed: number | string;
  /** User population of the generated requests (as uploaded by the benchmark). */
  readonly users: number;
  readonly floorScale: number;
  /** Probabilities: win notice per win, loss notice per loss, impression per win, billing per rendered impression, click per impression. */
  readonly probabilities: Readonly<Record<NoticeKind, number>>;
  /** Delays (ms, uniform in [min, max]): win and loss after the auction, impression after the win, billing after the win, click after the impression. */
  readonly delaysMs: Readonly<Record<NoticeKind, Range>>;
  /**
   * Call notice URLs (paths under /notice/) on this origin instead of the one they name: for a
   * bidder whose NOTICE_BASE_URL is a public (e.g. https) name while it runs here. Local only.
   */
  readonly noticeOrigin?: string;
  /** Requests in flight at most; more are skipped and counted (the client cannot keep up). */
  readonly maxInFlight: number;
  /** Called while requests are being sent: every second, or every 10 s in long runs. */
  readonly onProgress?: (s: SimulationSummary) => void;
  /** Stop sending early (Ctrl-C); pending notices are still sent. */
  readonly signal?: AbortSignal;
}

export const DEFAULT_OPTIONS: Omit<SimulationOptions, 'bidder'> = {
  rate: 100,
  durationS: 10,
  auction: 'second',
  competitors: DEFAULT_COMPETITORS,
  seed: 'simulator',
  noticeMode: 'sticky',
  users: 1_000_000,
  floorScale: 1,
  probabilities: { win: 1, loss: 1, impression: 0.9, billing: 1, click: 0.01 },
  delaysMs: { win: [5, 50], loss: [5, 100], impression: [100, 1_500], billing: [1_000, 5_000], click: [500, 5_000] },
  maxInFlight: 2_000,
};

export interface NoticeStats {
  sent: number;
  /** HTTP status → count ('error' for no answer). */
  statuses: Record<string, number>;
  /** Tracker URLs not on this machine, which are never called. */
  skipped_external: number;
}

export interface SimulationSummary {
  seconds: number;
  requests: { sent: number; skipped: number; answered: number; statuses: Record<string, number>; late: number; achieved_rate: number };
  imps: number;
  bids: number;
  invalid_bids: number;
  /** Auctions of imps we bid on. */
  wins: number;
  losses: number;
  win_rate: number;
  /** Auctions won by a competitor (including imps we did not bid on) and those with no bid at all. */
  others_won: number;
  unsold: number;
  currency: string;
  /** Sum of clearing prices of billed impressions / 1000, in the response currency of each bid converted to USD. */
  spend: number;
  avg_bid_cpm: number;
  avg_clearing_cpm: number;
  notices: Record<NoticeKind, NoticeStats>;
  /** Wins whose ad had no impression pixel (secure imps with a plain-http notice base, or VAST without <Impression>). */
  wins_without_pixel: number;
  latency_ms: { p50: number; p99: number; max: number };
}

/** Conversion table the simulated exchange uses (units per USD), the same as the demo and benchmark configs. */
const RATES: Record<string, number> = { USD: 1, EUR: 0.92, GBP: 0.79, JPY: 151.2, CAD: 1.37, AUD: 1.52 };
const convert = (amount: number, from: string, to: string) => (amount / (RATES[from] ?? NaN)) * (RATES[to] ?? NaN);

interface Bid {
  id?: string;
  impid?: string;
  price?: number;
  adm?: string;
  nurl?: string;
  burl?: string;
  lurl?: string;
  adid?: string;
  crid?: string;
  dealid?: string;
  mtype?: number;
  dur?: number;
}

export function checkLocal(url: string): void {
  if (!isLocalUrl(url)) throw new Error(`the simulator only talks to 127.0.0.1 / localhost, not ${url}`);
}

export async function runSimulation(options: Partial<SimulationOptions> & { bidder: string }): Promise<SimulationSummary> {
  const o: SimulationOptions = { ...DEFAULT_OPTIONS, ...options };
  const bidders = [o.bidder, ...(o.moreBidders ?? [])];
  for (const b of bidders) checkLocal(b);
  if (o.noticeOrigin) checkLocal(o.noticeOrigin);
  if (!NOTICE_MODES.includes(o.noticeMode)) throw new Error(`the notice mode is one of ${NOTICE_MODES.join(', ')}`);
  const noticeOrigin = o.noticeOrigin ? new URL(o.noticeOrigin).origin : undefined;
  const origins = bidders.map((b) => new URL(b).origin);
  const routeRng = new Rng(`route:${o.seed}`); // its own stream: the auctions come out the same in either mode
  /** Where a tracker or notice URL is actually called. */
  const route = (url: string): string => {
    if (!noticeOrigin && o.noticeMode === 'sticky') return url;
    try {
      const u = new URL(url);
      if (!u.pathname.startsWith('/notice/')) return url;
      const origin = o.noticeMode === 'balanced' ? origins[routeRng.int(0, origins.length - 1)] : noticeOrigin;
      return `${origin}${u.pathname}${u.search}`;
    } catch {
      return url;
    }
  };
  const bidUrls = bidders.map((b) => new URL(`${b.replace(/\/+$/, '')}/bid${o.exchange ? `/${encodeURIComponent(o.exchange)}` : ''}`).href);
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const gen = new RequestGenerator(`${o.seed}`, { users: o.users, floorScale: o.floorScale });
  const rng = new Rng(`auction:${o.seed}`);
  const runId = Date.now().toString(36);

  const notices = Object.fromEntries(NOTICE_KINDS.map((k) => [k, { sent: 0, statuses: {}, skipped_external: 0 } as NoticeStats])) as Record<NoticeKind, NoticeStats>;
  const statuses: Record<string, number> = {};
  // Latency percentiles from a uniform sample of at most LATENCY_SAMPLE answers (runs may last days).
  const latencies: number[] = [];
  let latencyCount = 0;
  let latencyMax = 0;
  let sent = 0;
  let skipped = 0;
  let answered = 0;
  let late = 0;
  let inFlight = 0;
  let imps = 0;
  let bids = 0;
  let invalidBids = 0;
  let wins = 0;
  let losses = 0;
  let othersWon = 0;
  let unsold = 0;
  let spendUsd = 0;
  let bidSumUsd = 0;
  let clearSumUsd = 0;
  let winsWithoutPixel = 0;
  const pending = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  const t0 = Date.now();

  const delay = (kind: NoticeKind) => {
    const [a, b] = o.delaysMs[kind];
    return a + rng.next() * Math.max(0, b - a);
  };
  const later = (ms: number, fn: () => void) => {
    const p = new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        try {
          fn();
        } finally {
          resolve();
        }
      }, ms);
      timers.add(t);
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  };
  const callNotice = (kind: NoticeKind, target: string | undefined) => {
    if (!target) return;
    const url = route(target);
    const stats = notices[kind];
    if (!isLocalUrl(url)) {
      stats.skipped_external++;
      return;
    }
    stats.sent++;
    const p = call(agent, 'GET', url).then(({ status }) => {
      const key = status === 0 ? 'error' : String(status);
      stats.statuses[key] = (stats.statuses[key] ?? 0) + 1;
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  };

  const handleResponse = (req: Record<string, unknown>, status: number, body: string, ms: number, tmax: number) => {
    statuses[status === 0 ? 'error' : String(status)] = (statuses[status === 0 ? 'error' : String(status)] ?? 0) + 1;
    if (status === 0) return;
    answered++;
    latencyCount++;
    if (ms > latencyMax) latencyMax = ms;
    if (latencies.length < LATENCY_SAMPLE) latencies.push(ms);
    else {
      const k = Math.floor(Math.random() * latencyCount);
      if (k < LATENCY_SAMPLE) latencies[k] = ms;
    }
    const reqImps = req.imp as Record<string, unknown>[];
    imps += reqImps.length;
    const isLate = ms > tmax;
    if (isLate) late++;
    let resp: { id?: string; bidid?: string; cur?: string; seatbid?: { seat?: string; bid?: Bid[] }[] } | undefined;
    if (status === 200 && !isLate) {
      try {
        resp = JSON.parse(body);
      } catch {
        resp = undefined;
      }
    }
    const cur = resp?.cur ?? 'USD';
    const ourBids = new Map<string, { bid: Bid; seat?: string }>();
    for (const sb of resp?.seatbid ?? []) for (const b of sb.bid ?? []) if (b.impid !== undefined) ourBids.set(b.impid, { bid: b, seat: sb.seat });
    for (const imp of reqImps) {
      const impId = String(imp.id);
      const ours = ourBids.get(impId);
      // The floor our bid faces, in the response currency: the deal's, the video or audio spot's for
      // its duration, or the imp's (floorOfBid); without a bid of ours, the imp's.
      const faced = floorOfBid(imp, ours?.bid);
      const floor = faced.amount > 0 ? round4(convert(faced.amount, faced.cur, cur)) : 0;
      const competing = competitorBids(rng, floor, o.competitors);
      if (!ours) {
        const outcome = runAuction({ type: o.auction, floor, ourBid: undefined, competitors: competing });
        if (outcome.winner === 'none') unsold++;
        else othersWon++;
        continue;
      }
      bids++;
      const bid = ours.bid;
      const price = Number(bid.price);
      if (!Number.isFinite(price) || price <= 0 || !Number.isFinite(floor)) {
        invalidBids++;
        sendLoss(bid, req, resp, impId, cur, LOSS.INVALID_BID, undefined, undefined, ours.seat);
        continue;
      }
      bidSumUsd += convert(price, cur, 'USD');
      const outcome = runAuction({ type: o.auction, floor, ourBid: price, competitors: competing });
      const macros: AuctionMacros = {
        auctionId: String(req.id),
        bidId: resp?.bidid ?? bid.id ?? '',
        impId,
        seatId: ours.seat,
        adId: bid.adid ?? bid.crid,
        currency: cur,
        price: outcome.clearingPrice,
        minToWin: outcome.minToWin,
        loss: outcome.lossReason,
      };
      if (outcome.winner !== 'us') {
        losses++;
        othersWon += outcome.winner === 'competitor' ? 1 : 0;
        sendLoss(bid, req, resp, impId, cur, outcome.lossReason ?? LOSS.LOST_TO_HIGHER_BID, outcome.clearingPrice, outcome.minToWin, ours.seat);
        continue;
      }
      wins++;
      clearSumUsd += convert(outcome.clearingPrice, cur, 'USD');
      if (rng.chance(o.probabilities.win)) later(delay('win'), () => callNotice('win', bid.nurl && substituteMacros(bid.nurl, macros)));
      const adm = bid.adm ? substituteMacros(bid.adm, macros) : undefined;
      const trackers = findTrackers(adm);
      if (!trackers.impressions.some((u) => isLocalUrl(route(u)))) winsWithoutPixel++;
      if (rng.chance(o.probabilities.impression)) {
        const clicks = rng.chance(o.probabilities.click);
        const billed = rng.chance(o.probabilities.billing);
        later(delay('impression'), () => {
          for (const url of trackers.impressions) callNotice('impression', url);
          if (clicks && trackers.clicks.length) later(delay('click'), () => callNotice('click', trackers.clicks[0]));
        });
        if (billed)
          later(delay('billing'), () => {
            if (bid.burl) spendUsd += convert(outcome.clearingPrice, cur, 'USD') / 1000;
            callNotice('billing', bid.burl && substituteMacros(bid.burl, macros));
          });
      }
    }
  };

  const sendLoss = (bid: Bid, req: Record<string, unknown>, resp: { bidid?: string } | undefined, impId: string, cur: string, reason: number, clearing: number | undefined, minToWin: number | undefined, seat: string | undefined) => {
    if (!bid.lurl || !rng.chance(o.probabilities.loss)) return;
    const macros: AuctionMacros = { auctionId: String(req.id), bidId: resp?.bidid ?? bid.id ?? '', impId, seatId: seat, adId: bid.adid ?? bid.crid, currency: cur, price: clearing, minToWin, loss: reason };
    later(delay('loss'), () => callNotice('loss', substituteMacros(bid.lurl!, macros)));
  };

  const summary = (): SimulationSummary => {
    const seconds = (Date.now() - t0) / 1000;
    const sorted = latencies.slice().sort((a, b) => a - b);
    const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0);
    return {
      seconds: Math.round(seconds * 100) / 100,
      requests: { sent, skipped, answered, statuses: { ...statuses }, late, achieved_rate: Math.round(sent / Math.max(0.001, Math.min(seconds, o.durationS))) },
      imps,
      bids,
      invalid_bids: invalidBids,
      wins,
      losses,
      win_rate: bids ? Math.round((wins / bids) * 10_000) / 10_000 : 0,
      others_won: othersWon,
      unsold,
      currency: 'USD',
      spend: Math.round(spendUsd * 1e6) / 1e6,
      avg_bid_cpm: bids ? Math.round((bidSumUsd / bids) * 10_000) / 10_000 : 0,
      avg_clearing_cpm: wins ? Math.round((clearSumUsd / wins) * 10_000) / 10_000 : 0,
      notices: JSON.parse(JSON.stringify(notices)),
      wins_without_pixel: winsWithoutPixel,
      latency_ms: { p50: round3(q(50)), p99: round3(q(99)), max: round3(latencyMax) },
    };
  };

  // Open-loop sending: every 5 ms, send what the rate says is due.
  await new Promise<void>((resolve) => {
    const endAt = t0 + o.durationS * 1000;
    let lastProgress = t0;
    // Progress every second for short runs, less often for long ones (at most ~100 lines, at least every 10 s).
    const progressMs = 1000 * Math.max(1, Math.min(10, Math.round(o.durationS / 100)));
    const tick = setInterval(() => {
      const now = Date.now();
      const stop = now >= endAt || o.signal?.aborted;
      const due = Math.floor(((Math.min(now, endAt) - t0) / 1000) * o.rate) - sent - skipped;
      for (let i = 0; i < due && !stop; i++) {
        if (inFlight >= o.maxInFlight) {
          skipped++;
          continue;
        }
        const g = gen.next(`sim-${runId}-${(sent + skipped).toString(36)}`);
        const body = JSON.stringify(g.request);
        sent++;
        inFlight++;
        const started = performance.now();
        const p = call(agent, 'POST', bidUrls[sent % bidUrls.length], body, g.tmax + 1_000).then((r) => {
          inFlight--;
          handleResponse(g.request, r.status, r.body, performance.now() - started, g.tmax);
        });
        pending.add(p);
        void p.then(() => pending.delete(p));
      }
      if (o.onProgress && now - lastProgress >= progressMs) {
        lastProgress = now;
        o.onProgress(summary());
      }
      if (stop) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  // Let the requests in flight finish and every scheduled notice go out.
  while (pending.size) await Promise.race([...pending]);
  agent.destroy();
  return summary();
}

interface CallResult {
  status: number;
  body: string;
}

function call(agent: Agent, method: 'GET' | 'POST', url: string, body?: string, timeoutMs = 10_000): Promise<CallResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || 80,
        path: u.pathname + u.search,
        method,
        agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const LATENCY_SAMPLE = 50_000;
