/**
 * Direct (no HTTP) access to the bidding pipeline for unit tests: bundles validated exactly as
 * config files are, requests parsed by the real parser, `decideFor()` with an explicit clock.
 */
import { bundleFromTexts } from '../../src/campaigns/load-bundle.js';
import { buildSnapshot, type Snapshot } from '../../src/campaigns/snapshot.js';
import type { Campaign, ConfigBundle } from '../../src/campaigns/schema.js';
import { isInvalid, parseBidRequest } from '../../src/openrtb/parse-request.js';
import type { BidRequestView } from '../../src/openrtb/request-view.js';
import { decideFor, type Decision } from '../../src/bidding/bidder.js';
import { nextBit, type Bits } from '../../src/targeting/bitset.js';

export const BASE: ConfigBundle = {
  exchanges: [{ id: 'main', seat: 'seat-main', currency: 'USD' }],
  currencies: { base: 'USD', rates: { EUR: 0.8, GBP: 0.5, JPY: 150 } },
  advertisers: [{ id: 'adv', name: 'Advertiser', domains: ['advertiser.example'] }],
};

/** A campaign bidding 1.00 (max 2.00) with one 300x250 banner `cr-<id>`. */
export function campaign(id: string, extra: Partial<Campaign> = {}): Campaign {
  return {
    id,
    advertiserId: 'adv',
    bid: { base: 1, max: 2 },
    creatives: [{ id: `cr-${id}`, type: 'banner', w: 300, h: 250, html: '<img src="https://cdn.advertiser.example/a.png">' }],
    ...extra,
  };
}

/** Validated like a config file (throws on anything the bidder would refuse), then compiled. */
export function snapshotOf(campaigns: Campaign[], extra: Partial<ConfigBundle> = {}): Snapshot {
  const bundle = bundleFromTexts([{ name: 'test.json', text: JSON.stringify({ ...BASE, ...extra, campaigns }) }]);
  return buildSnapshot(bundle, 1);
}

export function view(request: object): BidRequestView {
  const v = parseBidRequest(JSON.stringify({ id: 'r', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'publisher.example' }, ...request }));
  if (isInvalid(v)) throw new Error(`invalid request: ${v.message}`);
  return v;
}

export function decideAt(snap: Snapshot, nowMs: number, request: object = {}): Decision {
  return decideFor(view(request), snap, snap.defaultExchange, nowMs);
}

/** The campaign ids a decision bids with (one per imp), or the no-bid reason. */
export function outcome(d: Decision): string[] | string {
  return d.noBid ?? d.bids.map((b) => b.campaign.id);
}

/** Set bits as a list of indexes. */
export function bitList(bits: Bits): number[] {
  const out: number[] = [];
  for (let i = nextBit(bits, 0); i >= 0; i = nextBit(bits, i + 1)) out.push(i);
  return out;
}
