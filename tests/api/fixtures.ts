/** A small configuration for the config API tests: two advertisers (two tenants), one campaign and creative each. */
import type { ConfigBundle } from '../../src/campaigns/schema.js';

export const banner = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: 'banner' as const, w: 300, h: 250, html: `<div>${id}</div>`, ...extra });

export const tenants: ConfigBundle = {
  defaultExchange: 'default',
  exchanges: [{ id: 'default', seat: 'seat-1', currency: 'USD' }],
  currencies: { base: 'USD', rates: { EUR: 0.9 } },
  advertisers: [
    { id: 'acme', name: 'Acme', domains: ['acme.example'] },
    { id: 'globex', name: 'Globex', domains: ['globex.example'] },
  ],
  campaigns: [
    { id: 'acme-c1', advertiserId: 'acme', name: 'Acme one', bid: { base: 1, max: 2 }, creatives: [banner('acme-cr1')] },
    { id: 'globex-c1', advertiserId: 'globex', name: 'Globex one', bid: { base: 0.5, max: 1 }, creatives: [banner('globex-cr1')] },
  ],
};

/** A valid create body per resource kind, with a fresh id. */
export const samples = {
  advertisers: (id: string) => ({ id, name: `Adv ${id}`, domains: [`${id}.example`] }),
  campaigns: (id: string, advertiserId = 'acme') => ({ id, advertiserId, name: `Campaign ${id}`, bid: { base: 1, max: 2 } }),
  creatives: (id: string, campaignId = 'acme-c1') => ({ id, campaignId, type: 'banner', w: 300, h: 250, html: `<i>${id}</i>` }),
  exchanges: (id: string) => ({ id, seat: `seat-${id}` }),
  audiences: (id: string, advertiserId = 'acme') => ({ id, name: `Segment ${id}`, advertiserId }),
};
