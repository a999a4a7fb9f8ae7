/**
 * Which floor a bid faces (OpenRTB 2.6 implementation guidance 7.11.2): a bid through a deal uses
 * the deal's floor guidance; without any there, or in the open market, the Video or Audio object's
 * guidance for a video or audio creative; failing both, the imp's `bidfloor`. Video, Audio and Deal
 * guidance may depend on the creative's duration (`mincpmpersec`, `durfloors`), so the floor is a
 * function of the creative chosen, and the scan's cut-off uses the lowest floor any creative can face.
 */
import type { DealView, DurationFloors, ImpView } from '../openrtb/request-view.js';
import type { CompiledCreative } from '../targeting/compiled-campaign.js';
import type { Currencies } from '../currency/currencies.js';

/**
 * The guidance's floor for a creative of `duration` seconds (CPM, in the guidance's currency), or
 * -1 when it says nothing for that duration (no range holds it and no `mincpmpersec`). Where several
 * apply (a seller should send one form, and ranges may overlap), the highest: a bid under any floor
 * the seller stated may be thrown out.
 */
export function durationFloor(g: DurationFloors, duration: number): number {
  let floor = g.perSecond > 0 ? g.perSecond * duration : -1;
  const ranges = g.ranges;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if (duration >= r.min && duration <= r.max && r.floor > floor) floor = r.floor;
  }
  return floor;
}

/** The lowest floor the guidance can set for a creative at least `minDuration` seconds long (its currency). */
function lowestDurationFloor(g: DurationFloors, minDuration: number): number {
  let low = g.perSecond > 0 ? g.perSecond * minDuration : Infinity;
  for (let i = 0; i < g.ranges.length; i++) if (g.ranges[i].floor < low) low = g.ranges[i].floor;
  return low;
}

/**
 * The floor a bid of `creative` on `imp` faces (through `deal` when given), in `currency`; NaN when a
 * currency has no rate (no bid can be shown to meet it).
 */
export function floorFor(imp: ImpView, deal: DealView | undefined, creative: CompiledCreative, currency: string, currencies: Currencies): number {
  const av = creative.type === 'video' || creative.type === 'audio';
  if (deal !== undefined) {
    let floor = deal.bidFloor > 0 ? deal.bidFloor : -1;
    if (av && deal.durationFloors !== undefined) {
      const f = durationFloor(deal.durationFloors, creative.duration);
      if (f > floor) floor = f;
    }
    if (floor >= 0) return floor === 0 ? 0 : currencies.convert(floor, deal.bidFloorCur, currency);
  }
  if (av) {
    const g = creative.type === 'video' ? imp.video?.durationFloors : imp.audio?.durationFloors;
    if (g !== undefined) {
      const f = durationFloor(g, creative.duration);
      if (f >= 0) return f === 0 ? 0 : currencies.convert(f, imp.bidFloorCur, currency);
    }
  }
  return imp.bidFloor > 0 ? currencies.convert(imp.bidFloor, imp.bidFloorCur, currency) : 0;
}

/**
 * The lowest floor any bid on the imp can face, in `base`: no campaign whose max bid is under it
 * can bid there. Over the open market (unless the imp is a private auction with deals) and every
 * deal; duration guidance counts at the shortest duration the imp accepts. NaN when no floor can be
 * read (a currency without a rate).
 */
export function lowestFloor(imp: ImpView, base: string, currencies: Currencies): number {
  const impFloor = imp.bidFloor > 0 ? currencies.convert(imp.bidFloor, imp.bidFloorCur, base) : 0;
  // What a bid faces when no deal guidance applies: the imp's floor, or the Video/Audio guidance's.
  let media = impFloor;
  if (imp.video?.durationFloors !== undefined) media = lower(media, lowestDurationFloor(imp.video.durationFloors, shortest(imp.video)), imp.bidFloorCur, base, currencies);
  if (imp.audio?.durationFloors !== undefined) media = lower(media, lowestDurationFloor(imp.audio.durationFloors, shortest(imp.audio)), imp.bidFloorCur, base, currencies);
  let lowest = imp.privateAuction && imp.deals.length > 0 ? NaN : media;
  for (let i = 0; i < imp.deals.length; i++) {
    const d = imp.deals[i];
    // A deal's own bidfloor binds every bid through it; without one, its duration guidance binds
    // video and audio bids where a range holds the duration, and the media's floor the rest.
    let f: number;
    if (d.bidFloor > 0) f = currencies.convert(d.bidFloor, d.bidFloorCur, base);
    else if (d.durationFloors === undefined) f = media;
    else f = lower(media, lowestDurationFloor(d.durationFloors, shortest(imp.video, imp.audio)), d.bidFloorCur, base, currencies);
    if (!(f >= lowest)) lowest = f; // also replaces a NaN (a floor that cannot be read) with one that can
  }
  return lowest;
}

/** min(`floor`, `candidate` converted from `cur`); NaN stays NaN only when both are unreadable. */
function lower(floor: number, candidate: number, cur: string, base: string, currencies: Currencies): number {
  if (candidate === Infinity) return floor;
  const c = candidate > 0 ? currencies.convert(candidate, cur, base) : 0;
  return c < floor || floor !== floor ? c : floor;
}

/** The shortest creative duration the imp's video or audio accepts (seconds; 0 when it sets none). */
function shortest(...specs: ({ readonly minDuration: number; readonly requiredDurations: readonly number[] | undefined } | undefined)[]): number {
  let low = Infinity;
  for (const s of specs) {
    if (s === undefined) continue;
    const d = s.requiredDurations && s.requiredDurations.length > 0 ? Math.min(...s.requiredDurations) : s.minDuration;
    if (d < low) low = d;
  }
  return low === Infinity ? 0 : Math.max(0, low);
}
