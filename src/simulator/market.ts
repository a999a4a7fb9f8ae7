/**
 * A ground-truth market for outcome bidding: every request has a hidden click and conversion
 * probability, a seeded function of its features (inventory, placement size, device type,
 * country, hour), and competing bids come from a seeded log-normal around the floor. The bidder's
 * models never read this: they learn from the clicks and conversions it draws.
 *
 * Shape: the inventory (3,000 domains and bundles, most with little traffic) carries most of the
 * spread, as on real exchanges; conversions a few per cent of clicks, and far more than 10x between
 * the best and worst placements. The traffic is Zipf-shaped, so the few head sites' effects would
 * move the average CTR from one seed to the next (0.07 % to 0.5 % over seven seeds with a fixed
 * intercept): the intercept is fitted per seed instead, on a sample of the simulator's own traffic
 * (its own seed, not the measured stream), so the average CTR is `meanCtr` (0.3 %) whatever the seed.
 */
import type { BidRequestView } from '../openrtb/request-view.js';
import { parseBidRequest } from '../openrtb/parse-request.js';
import { isRefusal } from '../openrtb/protobuf-codec.js';
import { RequestGenerator } from './requests.js';
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

/** The average CTR the intercept is fitted to, and the size of the traffic sample it is fitted on. */
export const MEAN_CTR = 0.003;
const CALIBRATION_SAMPLE = 10_000;
const HOUR_MS = 3_600_000;
/** Fitted intercepts by seed and mean (a fit costs a sample of generated requests). */
const intercepts = new Map<string, number>();

/** Inventory key: the app bundle, else the site's domain (the parser has already dropped `www.`). */
const inventoryOf = (req: BidRequestView) => req.bundle ?? req.domain;

export class GroundTruth {
  private readonly seed: number;
  private readonly intercept: number;
  constructor(
    seed: number | string,
    readonly meanCtr: number = MEAN_CTR,
  ) {
    this.seed = typeof seed === 'string' ? hashString(seed) : seed >>> 0;
    const key = `${this.seed}|${meanCtr}`;
    let b = intercepts.get(key);
    if (b === undefined) intercepts.set(key, (b = this.fit(meanCtr)));
    this.intercept = b;
  }

  /** The intercept at which the mean CTR over a sample of generated traffic (a day of hours) is `mean`. */
  private fit(mean: number): number {
    const gen = new RequestGenerator(`${this.seed}|calibration`, { users: 0, unknownUserShare: 1 });
    const logits = new Float64Array(CALIBRATION_SAMPLE);
    for (let i = 0; i < logits.length; i++) {
      const v = parseBidRequest(Buffer.from(JSON.stringify(gen.next().request)), 64);
      if (isRefusal(v)) throw new Error(`generated request refused: ${v.message}`);
      logits[i] = this.clickLogit(v, (i % 24) * HOUR_MS);
    }
    let lo = -20;
    let hi = 0;
    for (let k = 0; k < 50; k++) {
      const b = (lo + hi) / 2;
      let s = 0;
      for (let i = 0; i < logits.length; i++) s += sigmoid(b + logits[i]);
      if (s / logits.length > mean) hi = b;
      else lo = b;
    }
    return (lo + hi) / 2;
  }

  private effect(field: string, value: string | number | undefined, sd: number): number {
    if (value === undefined) return 0;
    return sd * normalOf(hashString(`${field}|${value}`) ^ this.seed);
  }

  /** The click logit without the intercept. */
  private clickLogit(req: BidRequestView, nowMs: number): number {
    const imp = req.imps[0];
    const size = imp.banner?.sizes[0] ?? (imp.video ? 'video' : imp.native ? 'native' : 'audio');
    const hour = Math.floor(nowMs / HOUR_MS) % 24;
    return (
      this.effect('inventory', inventoryOf(req), 1.2) +
      this.effect('size', size, 0.45) +
      this.effect('device', req.deviceType, 0.3) +
      this.effect('country', req.country, 0.25) +
      0.2 * Math.sin((2 * Math.PI * hour) / 24)
    );
  }

  /** The hidden probabilities of the request's first imp. `nowMs` sets the hour. */
  of(req: BidRequestView, nowMs: number): Truth {
    const cvrLogit = -3.4 + this.effect('inventory-cvr', inventoryOf(req), 0.5) + this.effect('device-cvr', req.deviceType, 0.2);
    return { ctr: sigmoid(this.intercept + this.clickLogit(req, nowMs)), cvr: sigmoid(cvrLogit) };
  }
}

/** The best competing bid (CPM): log-normal around the floor (1.00 when there is none), never under it. */
export function competingBid(floor: number, rng: Rng): number {
  const u = Math.max(rng.next(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  const around = floor > 0 ? floor : 1;
  return Math.max(floor, around * Math.exp(0.35 + 0.5 * z));
}
