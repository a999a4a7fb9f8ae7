/**
 * Privacy on the real HTTP bid path (in-process bidder, GDPR_VENDOR_ID set): for a user who is in
 * a segment, a segment campaign wins when user data is allowed; for each signal that forbids user
 * data (in its 2.6 and 2.5 places) the contextual campaign wins instead, the segment campaign does
 * not bid even where it is the only one that fits, and the segment store is not even asked
 * (a counting SegmentStore). Outcomes are counted in bidder_privacy_outcomes_total{reason}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, type TestBidder } from '../helpers/bidder.js';
import { metric } from '../helpers/notice-kit.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import type { MembershipRow, SegmentMeta, SegmentStore, UserSegments } from '../../src/audiences/segment-store.js';
import { PRIVACY_REASONS } from '../../src/privacy/privacy-outcome.js';
import { OUR_VENDOR, OTHER_VENDOR, gppString, tcString } from '../helpers/tcf.js';

/** Delegates to an in-process store and counts every user lookup (sync or async) and the keys asked. */
class CountingSegmentStore implements SegmentStore {
  readonly kind = 'memory' as const;
  lookups = 0;
  readonly keysAsked: string[] = [];
  constructor(private readonly inner: MemorySegmentStore) {}
  lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    this.lookups++;
    this.keysAsked.push(...keys);
    return this.inner.lookup(keys);
  }
  lookupNow(keys: readonly string[]): (UserSegments | undefined)[] {
    this.lookups++;
    this.keysAsked.push(...keys);
    return this.inner.lookupNow(keys);
  }
  addMemberships(rows: readonly MembershipRow[]) {
    return this.inner.addMemberships(rows);
  }
  removeUser(key: string) {
    return this.inner.removeUser(key);
  }
  removeMembership(key: string, segment: string) {
    return this.inner.removeMembership(key, segment);
  }
  putMatch(exchangeKey: string, userKey: string, expiresAt: number) {
    return this.inner.putMatch(exchangeKey, userKey, expiresAt);
  }
  putSegment(meta: SegmentMeta) {
    return this.inner.putSegment(meta);
  }
  getSegment(id: string) {
    return this.inner.getSegment(id);
  }
  listSegments() {
    return this.inner.listSegments();
  }
  dropSegment(id: string) {
    return this.inner.dropSegment(id);
  }
  metaVersion() {
    return this.inner.metaVersion();
  }
  close() {
    return this.inner.close();
  }
}

const banner = (id: string, w = 300, h = 250) => ({ id, type: 'banner' as const, w, h, html: `<div>${id}</div>` });
const bundle: ConfigBundle = {
  exchanges: [{ id: 'default', seat: 'seat-1', currency: 'USD' }],
  currencies: { base: 'USD', rates: {} },
  advertisers: [{ id: 'acme', name: 'Acme', domains: ['acme.example'] }],
  campaigns: [
    {
      id: 'segmented',
      advertiserId: 'acme',
      bid: { base: 5, max: 10 },
      targeting: { segments: { anyOf: ['in-market'] } },
      // The only campaign with a 728x90: where it cannot bid, nobody can.
      creatives: [banner('seg-300'), banner('seg-728', 728, 90)],
    },
    { id: 'contextual', advertiserId: 'acme', bid: { base: 1, max: 2 }, creatives: [banner('ctx-300')] },
  ],
};

const USER = 'user-in-market';
const IFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
let store: CountingSegmentStore;
let bidder: TestBidder;

beforeAll(async () => {
  const inner = new MemorySegmentStore();
  await inner.putSegment({ id: 'in-market', name: 'In market', ttlSeconds: 86_400, createdAt: new Date().toISOString() });
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  await inner.addMemberships([
    { key: `uid:${USER}`, segments: ['in-market'], expiresAt },
    { key: `ifa:${IFA.toLowerCase()}`, segments: ['in-market'], expiresAt },
  ]);
  store = new CountingSegmentStore(inner);
  bidder = await startBidder({ bundle, segmentStore: store, env: { DEBUG_NOBID: '1', GDPR_VENDOR_ID: String(OUR_VENDOR) } });
  await bidder.audiences.refreshRegistry(true);
});
afterAll(() => bidder?.close());

type Parts = { regs?: object; user?: object; device?: object };
let seq = 0;
async function bidFor(parts: Parts, size: [number, number] = [300, 250]): Promise<{ status: number; cid?: string; reason?: string }> {
  const body = {
    id: `p-${++seq}`,
    imp: [{ id: '1', banner: { w: size[0], h: size[1] }, bidfloor: 0.1 }],
    site: { domain: 'news.example' },
    ...parts,
    user: { buyeruid: USER, ...(parts.user ?? {}) },
  };
  const r = await bidder.post('/bid', body);
  if (r.status === 204) return { status: 204, reason: String(r.headers['x-nobid-reason']) };
  expect(r.status, r.text).toBe(200);
  return { status: 200, cid: r.json().seatbid[0].bid[0].cid };
}

describe('privacy on the bid path', () => {
  it('exports every privacy reason at 0 before any request', async () => {
    const text = await bidder.metricsText();
    for (const reason of PRIVACY_REASONS) expect(text).toContain(`bidder_privacy_outcomes_total{reason="${reason}"} 0`);
  });

  it('with user data allowed, the segment campaign wins and the store is asked', async () => {
    const before = store.lookups;
    expect(await bidFor({})).toEqual({ status: 200, cid: 'segmented' });
    expect(await bidFor({}, [728, 90])).toEqual({ status: 200, cid: 'segmented' });
    expect(await bidFor({ regs: { gdpr: 1 }, user: { consent: tcString() } })).toEqual({ status: 200, cid: 'segmented' });
    expect(await bidFor({ regs: { ext: { gdpr: 1 } }, user: { ext: { consent: tcString() } } })).toEqual({ status: 200, cid: 'segmented' });
    expect(store.lookups).toBeGreaterThan(before);
    expect(store.keysAsked).toContain(`uid:${USER}`);
    expect(metric(await bidder.metricsText(), 'bidder_privacy_outcomes_total', { reason: 'allowed' })).toBe(4);
  });

  const noConsent = tcString({ vendors: [OTHER_VENDOR] });
  const optOut = gppString({ usnat: { SaleOptOut: 1, SharingOptOut: 2, TargetedAdvertisingOptOut: 2 } });
  const cases: [string, Parts, string][] = [
    ['2.6 regs.gdpr = 1, no consent string', { regs: { gdpr: 1 } }, 'gdpr_no_consent'],
    ['2.5 regs.ext.gdpr = 1, no consent string', { regs: { ext: { gdpr: 1 } } }, 'gdpr_no_consent'],
    ['2.6 user.consent without our vendor', { regs: { gdpr: 1 }, user: { consent: noConsent } }, 'gdpr_no_consent'],
    ['2.5 user.ext.consent without our vendor', { regs: { ext: { gdpr: 1 } }, user: { ext: { consent: noConsent } } }, 'gdpr_no_consent'],
    ['2.6 malformed user.consent', { regs: { gdpr: 1 }, user: { consent: 'not-a-tc-string' } }, 'gdpr_malformed'],
    ['2.5 malformed user.ext.consent', { regs: { ext: { gdpr: 1 } }, user: { ext: { consent: 'CO' } } }, 'gdpr_malformed'],
    ['regs.coppa = 1', { regs: { coppa: 1 } }, 'coppa'],
    ['2.6 regs.us_privacy 1YYN', { regs: { us_privacy: '1YYN' } }, 'us_privacy_opt_out'],
    ['2.5 regs.ext.us_privacy 1YYN', { regs: { ext: { us_privacy: '1YYN' } } }, 'us_privacy_opt_out'],
    ['2.6 regs.gpp usnat sale opt-out', { regs: { gpp: optOut, gpp_sid: [7] } }, 'gpp_opt_out'],
    ['2.5 regs.ext.gpp usnat sale opt-out', { regs: { ext: { gpp: optOut, gpp_sid: [7] } } }, 'gpp_opt_out'],
    ['device.lmt = 1', { device: { lmt: 1, ifa: IFA } }, 'lmt'],
    ['all-zero device.ifa', { device: { ifa: '00000000-0000-0000-0000-000000000000' } }, 'lmt'],
  ];

  for (const [label, parts, reason] of cases)
    it(`${label}: the contextual campaign wins, the segment one does not bid, the store is not asked (${reason})`, async () => {
      const lookups = store.lookups;
      const counted = metric(await bidder.metricsText(), 'bidder_privacy_outcomes_total', { reason });
      expect(await bidFor(parts)).toEqual({ status: 200, cid: 'contextual' });
      // Where only the segment campaign fits, nothing bids.
      expect(await bidFor(parts, [728, 90])).toEqual({ status: 204, reason: 'no_campaign' });
      expect(store.lookups).toBe(lookups);
      expect(metric(await bidder.metricsText(), 'bidder_privacy_outcomes_total', { reason })).toBe(counted + 2);
    });

  it('the device id of an lmt user is not asked for either', async () => {
    const asked = store.keysAsked.length;
    await bidFor({ device: { lmt: 1, ifa: IFA } });
    expect(store.keysAsked.length).toBe(asked);
    expect(store.keysAsked).not.toContain(`ifa:${IFA.toLowerCase()}`);
  });
});
