/**
 * A ground-truth market for outcome bidding: every request has a hidden click and conversion
 * probability, a seeded function of its features (inventory, placement size, device type,
 * country, hour), and competing bids come from a seeded log-normal around the floor. The bidder's
 * models never read this: they learn from the clicks and conversions it draws.
 *
 * Shape: the inventory (3,000 domains and bundles, most with little traffic) carries most of the
 * spread, as on real exchanges; average CTR about 0.3 %, conversions a few per cent of clicks, and
 * far more than 10x between the best and worst placements.
 */
import type { BidRequestView } from '../openrtb/request-view.js';
import { hashString, mix32, type Rng } from './rng.js';

/** A standard normal from a 32-bit hash (two uniforms, Box-Muller), so an effect is fixed per value and seed. */
function normalOf(h: number): number {
  const u = (mix32(h) + 1) / 4294967297;
  const v = mix32(h ^ 0x9e3779b9) / 4294967296;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export interface Truth {
  /** P(click | impression). */
  readonly ctr: number;
  /** P(conversion | click). */
  readonly cvr: number;
}

export class GroundTruth {
  private readonly seed: number;
  constructor(seed: number | string) {
    this.seed = typeof seed === 'string' ? hashString(seed) : seed >>> 0;
  }

  private effect(field: string, value: string | number | undefined, sd: number): number {
    if (value === undefined) return 0;
    return sd * normalOf(hashString(`${field}|${value}`) ^ this.seed);
  }

  /** The hidden probabilities of the request's first imp. `nowMs` sets the hour. */
  of(req: BidRequestView, nowMs: number): Truth {
    const imp = req.imps[0];
    const size = imp.banner?.sizes[0] ?? (imp.video ? 'video' : imp.native ? 'native' : 'audio');
    const hour = Math.floor(nowMs / 3_600_000) % 24;
    const logit =
      -7.6 +
      this.effect('inventory', req.bundle ?? req.domain, 1.2) +
      this.effect('size', size, 0.45) +
      this.effect('device', req.deviceType, 0.3) +
      this.effect('country', req.country, 0.25) +
      0.2 * Math.sin((2 * Math.PI * hour) / 24);
    const cvrLogit = -3.4 + this.effect('inventory-cvr', req.bundle ?? req.domain, 0.5) + this.effect('device-cvr', req.deviceType, 0.2);
    return { ctr: sigmoid(logit), cvr: sigmoid(cvrLogit) };
  }
}

/** The best competing bid (CPM): log-normal around the floor (1.00 when there is none), never under it. */
export function competingBid(floor: number, rng: Rng): number {
  const u = Math.max(rng.next(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  const around = floor > 0 ? floor : 1;
  return Math.max(floor, around * Math.exp(0.35 + 0.5 * z));
}
