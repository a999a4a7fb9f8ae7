/**
 * The exchange's auction for one impression: our bid against simulated competitors whose bids
 * are log-normal around the floor. First price: the highest bid wins and pays itself. Second
 * price: the highest bid wins and pays the second highest bid (or the floor) plus one increment,
 * never more than its own bid. Prices are CPM in one currency (the caller converts).
 */
import type { Rng } from './rng.js';

export type AuctionType = 'first' | 'second';

/** OpenRTB loss reason codes (2.5 section 5.25) the simulator sends. */
export const LOSS = {
  WON: 0,
  INVALID_BID: 3,
  BELOW_FLOOR: 100,
  LOST_TO_HIGHER_BID: 102,
} as const;

export interface CompetitorModel {
  /** How many other bidders may bid. */
  readonly competitors: number;
  /** Probability that each one bids. */
  readonly bidProbability: number;
  /** Their bids' median, as a multiple of the floor. */
  readonly medianOverFloor: number;
  /** Sigma of the underlying normal (spread of their bids). */
  readonly sigma: number;
  /** Stands in for the floor when an imp has none (CPM). */
  readonly referencePrice: number;
}

export const DEFAULT_COMPETITORS: CompetitorModel = {
  competitors: 4,
  bidProbability: 0.7,
  medianOverFloor: 1.5,
  sigma: 0.5,
  referencePrice: 0.5,
};

/** Competitors' bids at or above the floor (those below it are not in the auction). */
export function competitorBids(rng: Rng, floor: number, model: CompetitorModel = DEFAULT_COMPETITORS): number[] {
  const base = floor > 0 ? floor : model.referencePrice;
  const out: number[] = [];
  for (let i = 0; i < model.competitors; i++) {
    if (!rng.chance(model.bidProbability)) continue;
    const bid = round4(rng.lognormal(base * model.medianOverFloor, model.sigma));
    if (bid >= floor) out.push(bid);
  }
  return out;
}

export interface AuctionInput {
  readonly type: AuctionType;
  /** The imp's floor in the auction currency (0: none). */
  readonly floor: number;
  /** Our bid price (undefined: we did not bid). */
  readonly ourBid: number | undefined;
  readonly competitors: readonly number[];
  /** Second price increment (default 0.01). */
  readonly increment?: number;
}

export interface AuctionOutcome {
  readonly winner: 'us' | 'competitor' | 'none';
  /** What the winner pays (CPM); 0 when nobody won. */
  readonly clearingPrice: number;
  /** The lowest bid that would have won (OpenRTB 2.6 `${AUCTION_MIN_TO_WIN}`). */
  readonly minToWin: number;
  /** For our bid: LOSS.WON, or why it lost. Undefined when we did not bid. */
  readonly lossReason: number | undefined;
  /** The highest competing bid (0 when none). */
  readonly highestOther: number;
}

export function runAuction(a: AuctionInput): AuctionOutcome {
  const inc = a.increment ?? 0.01;
  const others = [...a.competitors].filter((b) => b >= a.floor).sort((x, y) => y - x);
  const top = others[0] ?? 0;
  const second = others[1] ?? 0;
  const ours = a.ourBid;
  if (ours !== undefined && ours < a.floor) {
    // Our bid does not clear the floor: out of the auction.
    const rest = decide(a.type, others[0], others[1], a.floor, inc);
    return { ...rest, minToWin: round4(Math.max(a.floor, top + (top ? inc : 0))), lossReason: LOSS.BELOW_FLOOR, highestOther: top };
  }
  if (ours === undefined) {
    const rest = decide(a.type, others[0], others[1], a.floor, inc);
    return { ...rest, minToWin: round4(Math.max(a.floor, top + (top ? inc : 0))), lossReason: undefined, highestOther: top };
  }
  // Ties go to the competitor (it was first in the exchange's order).
  if (ours > top) {
    const pay = a.type === 'first' ? ours : Math.max(a.floor, top) + inc;
    return {
      winner: 'us',
      clearingPrice: round4(Math.min(ours, pay)),
      minToWin: round4(Math.max(a.floor, top + (top ? inc : 0))),
      lossReason: LOSS.WON,
      highestOther: top,
    };
  }
  const pay = a.type === 'first' ? top : Math.min(top, Math.max(a.floor, ours, second) + inc);
  return {
    winner: 'competitor',
    clearingPrice: round4(pay),
    minToWin: round4(top + inc),
    lossReason: LOSS.LOST_TO_HIGHER_BID,
    highestOther: top,
  };
}

function decide(type: AuctionType, top: number | undefined, second: number | undefined, floor: number, inc: number): Pick<AuctionOutcome, 'winner' | 'clearingPrice'> {
  if (top === undefined) return { winner: 'none', clearingPrice: 0 };
  return { winner: 'competitor', clearingPrice: round4(type === 'first' ? top : Math.min(top, Math.max(floor, second ?? 0) + inc)) };
}

export const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

type Json = Record<string, unknown>;

/**
 * The floor a bid faces, as an exchange applies OpenRTB 2.6 implementation guidance 7.11.2: through
 * a deal, the deal's floor guidance (`bidfloor`, or `mincpmpersec` / `durfloors` for a video or audio
 * bid of known `dur`); without any there, or in the open market, a video or audio bid's `mincpmpersec`
 * or `durfloors` range in its media object; failing both (and without a bid), the imp's `bidfloor`.
 * The highest where several forms or ranges apply. Amount as sent, with its currency (USD by default).
 */
export function floorOfBid(imp: Json, bid: { dealid?: string; mtype?: number; dur?: number } | undefined): { amount: number; cur: string } {
  const media = bid?.mtype === 2 ? 'video' : bid?.mtype === 3 ? 'audio' : undefined;
  const dur = media !== undefined && typeof bid?.dur === 'number' ? bid.dur : undefined;
  const deal = bid?.dealid === undefined ? undefined : (((imp.pmp as Json | undefined)?.deals as Json[] | undefined) ?? []).find((d) => d.id === bid.dealid);
  if (deal) {
    const flat = typeof deal.bidfloor === 'number' && deal.bidfloor > 0 ? deal.bidfloor : undefined;
    const byDuration = dur === undefined ? undefined : durationGuidance(deal, dur);
    if (flat !== undefined || byDuration !== undefined) return { amount: Math.max(flat ?? 0, byDuration ?? 0), cur: String(deal.bidfloorcur ?? 'USD') };
  }
  const cur = String(imp.bidfloorcur ?? 'USD');
  const spec = media === undefined ? undefined : (imp[media] as Json | undefined);
  const byDuration = spec === undefined || dur === undefined ? undefined : durationGuidance(spec, dur);
  if (byDuration !== undefined) return { amount: byDuration, cur };
  return { amount: Number(imp.bidfloor ?? 0), cur };
}

/** A Video, Audio or Deal object's duration floor for `dur` seconds; undefined when it gives none. */
function durationGuidance(o: Json, dur: number): number | undefined {
  let floor = typeof o.mincpmpersec === 'number' && o.mincpmpersec > 0 ? o.mincpmpersec * dur : undefined;
  for (const r of Array.isArray(o.durfloors) ? (o.durfloors as Json[]) : []) {
    const lo = typeof r.mindur === 'number' ? r.mindur : 0;
    const hi = typeof r.maxdur === 'number' ? r.maxdur : Infinity;
    const f = typeof r.bidfloor === 'number' ? r.bidfloor : 0;
    if (dur >= lo && dur <= hi && (floor === undefined || f > floor)) floor = f;
  }
  return floor;
}
