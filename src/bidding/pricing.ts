/**
 * Prices. A campaign bids its base CPM times the multipliers that apply to the request and user,
 * never above its max bid. When a floor sits above that price but within max bid, the bid is
 * raised to the floor; when even max bid cannot meet the floor, there is no bid.
 */
import type { BidRequestView, DealView, ImpView } from '../openrtb/request-view.js';
import type { CompiledCampaign, CompiledCreative } from '../targeting/compiled-campaign.js';
import type { DeviceFacts } from '../targeting/targeting-index.js';
import type { Currencies } from '../currency/currencies.js';
import type { Audience } from '../audiences/audience-service.js';
import { segmentMultiplier } from './audience-rules.js';
import { floorFor } from './floors.js';

/**
 * The campaign's wanted CPM for this request, in the campaign's currency, capped at max bid. `base`:
 * bid.base, or what the impression is worth to the campaign's goal (models/outcome-models.ts).
 */
export function campaignPrice(
  c: CompiledCampaign,
  req: BidRequestView,
  device: DeviceFacts,
  audience: Audience,
  dealMultiplier: number,
  base: number = c.baseBid,
): number {
  let price = base * dealMultiplier;
  const m = c.multipliers;
  if (m) {
    if (m.deviceType && device.deviceType !== undefined) price *= m.deviceType.get(device.deviceType) ?? 1;
    if (m.os && device.os !== undefined) price *= m.os.get(device.os) ?? 1;
    if (m.country && req.country !== undefined) price *= m.country.get(req.country) ?? 1;
    if (m.domain && req.domain !== undefined) price *= m.domain.get(req.domain) ?? 1;
    if (m.bundle && req.bundle !== undefined) price *= m.bundle.get(req.bundle) ?? 1;
    if (m.segment) price *= segmentMultiplier(m.segment, audience);
  }
  return price < c.maxBid ? price : c.maxBid;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
const ceil4 = (x: number) => Math.ceil(x * 1e4 - 1e-7) / 1e4;
const floor4 = (x: number) => Math.floor(x * 1e4 + 1e-7) / 1e4;

/**
 * The price to bid in `currency` for `creative`, or -1 when the floor it faces (floors.ts: the
 * deal's guidance, else the Video or Audio object's for its duration, else the imp's) cannot be met
 * within max bid, or a currency has no rate. `raise` false (a price from a goal: what the impression
 * is worth): a floor above the wanted price is not met by paying more, the price is -1 instead.
 */
export function biddablePrice(
  c: CompiledCampaign,
  wanted: number,
  imp: ImpView,
  deal: DealView | undefined,
  creative: CompiledCreative,
  currency: string,
  currencies: Currencies,
  raise = true,
): number {
  const floor = floorFor(imp, deal, creative, currency, currencies);
  const max = floor4(currencies.convert(c.maxBid, c.currency, currency));
  let price = Math.min(round4(currencies.convert(wanted, c.currency, currency)), max);
  if (!(price >= floor)) {
    if (!raise) return -1;
    price = ceil4(floor);
  }
  if (!(price <= max) || !(price > 0)) return -1;
  return price;
}

/** `wanted` (in the campaign's currency) as a price in `currency`, within max bid: what biddablePrice starts from, before any floor. */
export function priceIn(c: CompiledCampaign, wanted: number, currency: string, currencies: Currencies): number {
  return Math.min(round4(currencies.convert(wanted, c.currency, currency)), floor4(currencies.convert(c.maxBid, c.currency, currency)));
}
