/**
 * Privacy outcomes, through the real request parser and privacyOutcome: each signal in its 2.6 and
 * its 2.5 (`ext`) place; real TCF v2 strings (IAB encoder) with and without what we need; malformed
 * consent strings (no consent, never an error); US privacy strings; GPP strings (IAB encoder) with
 * US national / state opt-outs, GPC, USP v1 and TCF EU sections.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TCString } from '@iabtechlabtcf/core';
import { isInvalid, parseBidRequest } from '../../src/openrtb/parse-request.js';
import type { BidRequestView } from '../../src/openrtb/request-view.js';
import { PRIVACY_OUTCOMES, PRIVACY_REASONS, privacyOutcome, usPrivacyOptOut, type PrivacyReason, type PrivacySettings } from '../../src/privacy/privacy-outcome.js';
import { clearTcfCache, tcfVerdict } from '../../src/privacy/tcf.js';
import { clearGppCache } from '../../src/privacy/gpp.js';
import {
  OTHER_VENDOR,
  OUR_VENDOR,
  RestrictionType,
  gppString,
  gppWithTcf,
  tcString,
  tcStringWithLegitimateInterest,
} from '../helpers/tcf.js';

const SETTINGS: PrivacySettings = { gdprVendorId: OUR_VENDOR };
const IFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';

type Parts = { regs?: object; user?: object; device?: object };
function view(parts: Parts): BidRequestView {
  const v = parseBidRequest(
    JSON.stringify({ id: 'r1', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { domain: 'news.example' }, ...parts }),
  );
  if (isInvalid(v)) throw new Error(`test request refused: ${v.message}`);
  return v;
}
const reason = (parts: Parts, settings = SETTINGS): PrivacyReason => privacyOutcome(view(parts), settings).reason;

/** The same signal in its 2.6 place and in its 2.5 ext place. */
const gdprPlaces = (gdpr: number, consent?: string): [string, Parts][] => [
  ['2.6 regs.gdpr + user.consent', { regs: { gdpr }, user: consent === undefined ? {} : { consent } }],
  ['2.5 regs.ext.gdpr + user.ext.consent', { regs: { ext: { gdpr } }, user: consent === undefined ? {} : { ext: { consent } } }],
  ['2.6 regs.gdpr + 2.5 user.ext.consent', { regs: { gdpr }, user: consent === undefined ? {} : { ext: { consent } } }],
  ['2.5 regs.ext.gdpr + 2.6 user.consent', { regs: { ext: { gdpr } }, user: consent === undefined ? {} : { consent } }],
];

beforeEach(() => {
  clearTcfCache();
  clearGppCache();
});

describe('privacyOutcome: no signals', () => {
  it('allows user data when nothing restricts it', () => {
    expect(privacyOutcome(view({ user: { buyeruid: 'u1' }, device: { ifa: IFA } }), SETTINGS)).toEqual({ userData: true, reason: 'allowed' });
  });
  it('gives userData false for every reason but allowed', () => {
    for (const r of PRIVACY_REASONS) expect(PRIVACY_OUTCOMES[r]).toEqual({ userData: r === 'allowed', reason: r });
    expect(privacyOutcome(view({ regs: { coppa: 1 } }), SETTINGS)).toEqual({ userData: false, reason: 'coppa' });
  });
});

describe('GDPR and TCF v2', () => {
  const full = tcString();

  for (const [place, parts] of gdprPlaces(1, full))
    it(`allows with full consent (${place})`, () => expect(reason(parts)).toBe('allowed'));

  for (const [place, parts] of gdprPlaces(1))
    it(`gdpr_no_consent when GDPR applies and no consent string is sent (${place})`, () => expect(reason(parts)).toBe('gdpr_no_consent'));

  for (const [place, parts] of gdprPlaces(1, tcString({ vendors: [OTHER_VENDOR] })))
    it(`gdpr_no_consent without vendor consent for our id (${place})`, () => expect(reason(parts)).toBe('gdpr_no_consent'));

  for (const [place, parts] of gdprPlaces(1, 'not-a-consent-string'))
    it(`gdpr_malformed for an unreadable string (${place})`, () => expect(reason(parts)).toBe('gdpr_malformed'));

  for (const [place, parts] of gdprPlaces(0, 'not-a-consent-string'))
    it(`ignores the consent string when GDPR does not apply, gdpr=0 (${place})`, () => expect(reason(parts)).toBe('allowed'));

  it.each([
    ['purpose 1 (store/access)', [2, 3, 4, 7]],
    ['purpose 3 (personalised ads profile)', [1, 2, 4, 7]],
    ['purpose 4 (personalised ads)', [1, 2, 3, 7]],
    ['all purposes', []],
  ])('gdpr_no_consent when %s has no consent', (_label, purposes) => {
    expect(reason({ regs: { gdpr: 1 }, user: { consent: tcString({ purposes }) } })).toBe('gdpr_no_consent');
  });

  it('does not count legitimate interest for purposes 3 and 4 (TCF 2.2)', () => {
    const li = tcStringWithLegitimateInterest([1], [3, 4], [OUR_VENDOR]);
    expect(reason({ regs: { gdpr: 1 }, user: { consent: li } })).toBe('gdpr_no_consent');
    // The same writer with consent for 1, 3 and 4 is accepted, so it is the LI bits that fail above.
    const consent = tcStringWithLegitimateInterest([1, 3, 4], [], [OUR_VENDOR]);
    expect(reason({ regs: { gdpr: 1 }, user: { consent } })).toBe('allowed');
  });

  it('honours publisher restrictions on our vendor for purposes 1, 3 and 4', () => {
    const notAllowed = tcString({ restrictions: [[OUR_VENDOR, 3, RestrictionType.NOT_ALLOWED]] });
    expect(TCString.decode(notAllowed).publisherRestrictions.getRestrictions(OUR_VENDOR)).toHaveLength(1);
    expect(reason({ regs: { gdpr: 1 }, user: { consent: notAllowed } })).toBe('gdpr_no_consent');
    const requireLi = tcString({ restrictions: [[OUR_VENDOR, 4, RestrictionType.REQUIRE_LI]] });
    expect(TCString.decode(requireLi).publisherRestrictions.getRestrictions(OUR_VENDOR)).toHaveLength(1); // it is in the string
    expect(reason({ regs: { gdpr: 1 }, user: { consent: requireLi } })).toBe('gdpr_no_consent');
    const otherVendor = tcString({ restrictions: [[OTHER_VENDOR, 3, RestrictionType.NOT_ALLOWED]] });
    expect(reason({ regs: { gdpr: 1 }, user: { consent: otherVendor } })).toBe('allowed');
    const requireConsent = tcString({ restrictions: [[OUR_VENDOR, 4, RestrictionType.REQUIRE_CONSENT]] });
    expect(reason({ regs: { gdpr: 1 }, user: { consent: requireConsent } })).toBe('allowed');
  });

  it('without GDPR_VENDOR_ID no string consents to us', () => {
    expect(reason({ regs: { gdpr: 1 }, user: { consent: full } }, { gdprVendorId: undefined })).toBe('gdpr_no_consent');
    expect(reason({ user: { buyeruid: 'u1' } }, { gdprVendorId: undefined })).toBe('allowed');
  });

  it('with regs.gdpr absent, a consent string sent is honoured', () => {
    expect(reason({ user: { consent: full } })).toBe('allowed');
    expect(reason({ user: { consent: tcString({ vendors: [OTHER_VENDOR] }) } })).toBe('gdpr_no_consent');
    expect(reason({ user: { ext: { consent: 'garbage' } } })).toBe('gdpr_malformed');
  });

  const malformed = [
    'garbage',
    '!!!',
    'CO',
    'C'.repeat(60),
    '.....',
    'BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA', // a TCF v1 string
    full.slice(0, 12),
    full.replace(/A/g, '_'),
    'x'.repeat(20_000),
  ];
  it.each(malformed.map((s) => [s.length > 40 ? `${s.slice(0, 40)}… (${s.length})` : s, s]))(
    'treats %s as no consent, never as an error',
    (_label, consent) => {
      for (const [, parts] of gdprPlaces(1, consent)) {
        const out = privacyOutcome(view(parts), SETTINGS);
        expect(out.userData).toBe(false);
        expect(out.reason).toBe('gdpr_malformed');
      }
    },
  );

  it('never throws and never allows for arbitrary or mutated strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.base64String({ maxLength: 300 }),
          fc.tuple(fc.nat(full.length - 1), fc.constantFrom('A', '_', '-', '.', 'z', '9')).map(([i, c]) => full.slice(0, i) + c + full.slice(i + 1)),
        ),
        (consent) => {
          const out = privacyOutcome(view({ regs: { gdpr: 1 }, user: { consent } }), SETTINGS);
          expect(PRIVACY_REASONS).toContain(out.reason);
          if (out.userData) {
            // Only a string that really consents may allow: check it with the decoder directly.
            expect(tcfVerdict(consent, OUR_VENDOR)).toBe('consent');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('caches verdicts per vendor id (the same string, another vendor, another verdict)', () => {
    const onlyOther = tcString({ vendors: [OTHER_VENDOR] });
    expect(tcfVerdict(onlyOther, OUR_VENDOR)).toBe('no_consent');
    expect(tcfVerdict(onlyOther, OTHER_VENDOR)).toBe('consent');
    expect(tcfVerdict(onlyOther, OUR_VENDOR)).toBe('no_consent');
  });
});

describe('COPPA', () => {
  it('regs.coppa = 1 forbids user data, before anything else', () => {
    expect(reason({ regs: { coppa: 1 } })).toBe('coppa');
    expect(reason({ regs: { coppa: 1, gdpr: 1 }, user: { consent: tcString() } })).toBe('coppa');
    expect(reason({ regs: { coppa: 0 } })).toBe('allowed');
  });
});

describe('device.lmt and the all-zero ifa', () => {
  it('device.lmt = 1 forbids user data', () => {
    expect(reason({ device: { lmt: 1, ifa: IFA } })).toBe('lmt');
    expect(reason({ device: { lmt: 1 }, user: { buyeruid: 'u1' } })).toBe('lmt');
    expect(reason({ device: { lmt: 0, ifa: IFA } })).toBe('allowed');
  });
  it('an all-zero ifa (no tracking permission) forbids user data', () => {
    expect(reason({ device: { ifa: '00000000-0000-0000-0000-000000000000' }, user: { buyeruid: 'u1' } })).toBe('lmt');
    expect(reason({ device: { ifa: '00000000000000000000000000000000' } })).toBe('lmt');
  });
});

describe('US privacy string', () => {
  const places = (usp: string): [string, Parts][] => [
    ['2.6 regs.us_privacy', { regs: { us_privacy: usp } }],
    ['2.5 regs.ext.us_privacy', { regs: { ext: { us_privacy: usp } } }],
  ];
  for (const [place, parts] of places('1YYN')) it(`1YYN opts out (${place})`, () => expect(reason(parts)).toBe('us_privacy_opt_out'));
  for (const [place, parts] of places('1NYY')) it(`1NYY opts out (${place})`, () => expect(reason(parts)).toBe('us_privacy_opt_out'));
  for (const [place, parts] of places('1YNN')) it(`1YNN does not (${place})`, () => expect(reason(parts)).toBe('allowed'));
  it.each(['1---', '1YN-', 'garbage', 'YY', '2YYN'])('%s carries no opt-out we can read', (usp) => {
    expect(usPrivacyOptOut(usp)).toBe(false);
    expect(reason({ regs: { us_privacy: usp } })).toBe('allowed');
  });
});

describe('GPP', () => {
  const places = (gpp: string, sid?: unknown): [string, Parts][] => [
    ['2.6 regs.gpp + regs.gpp_sid', { regs: sid === undefined ? { gpp } : { gpp, gpp_sid: sid } }],
    ['2.5 regs.ext.gpp + regs.ext.gpp_sid', { regs: { ext: sid === undefined ? { gpp } : { gpp, gpp_sid: sid } } }],
  ];
  const usnat = (fields: Record<string, unknown>) => gppString({ usnat: { SaleOptOutNotice: 1, SharingOptOutNotice: 1, TargetedAdvertisingOptOutNotice: 1, ...fields } });

  it('parses gpp and gpp_sid from both places; a malformed gpp_sid reads as absent', () => {
    expect(view({ regs: { gpp: 'DBABLA~x', gpp_sid: [7] } })).toMatchObject({ gpp: 'DBABLA~x', gppSid: [7] });
    expect(view({ regs: { ext: { gpp: 'DBABLA~x', gpp_sid: [7, 8] } } })).toMatchObject({ gpp: 'DBABLA~x', gppSid: [7, 8] });
    expect(view({ regs: { gpp: 'DBABLA~x', gpp_sid: ['7'] } }).gppSid).toBeUndefined();
  });

  for (const field of ['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut'])
    for (const [place, parts] of places(usnat({ SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2, [field]: 1 }), [7]))
      it(`usnat ${field} = 1 opts out (${place})`, () => expect(reason(parts)).toBe('gpp_opt_out'));

  for (const [place, parts] of places(usnat({ SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2 }), [7]))
    it(`usnat without opt-outs allows (${place})`, () => expect(reason(parts)).toBe('allowed'));

  it('usnat with the GPC flag set opts out', () => {
    const gpp = usnat({ SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2, GpcSegmentIncluded: true, Gpc: true });
    expect(reason({ regs: { gpp, gpp_sid: [7] } })).toBe('gpp_opt_out');
  });

  it('state sections: California sale/sharing, Virginia targeted ads', () => {
    expect(reason({ regs: { gpp: gppString({ usca: { SaleOptOut: 1, SaleOptOutNotice: 1 } }), gpp_sid: [8] } })).toBe('gpp_opt_out');
    expect(reason({ regs: { gpp: gppString({ usca: { SharingOptOut: 1 } }), gpp_sid: [8] } })).toBe('gpp_opt_out');
    expect(reason({ regs: { gpp: gppString({ usca: { SaleOptOut: 2, SharingOptOut: 2 } }), gpp_sid: [8] } })).toBe('allowed');
    expect(reason({ regs: { gpp: gppString({ usva: { TargetedAdvertisingOptOut: 1 } }), gpp_sid: [9] } })).toBe('gpp_opt_out');
    expect(reason({ regs: { gpp: gppString({ usva: { TargetedAdvertisingOptOut: 2 } }), gpp_sid: [9] } })).toBe('allowed');
  });

  it('USP v1 inside GPP (section 6)', () => {
    expect(reason({ regs: { gpp: gppString({ uspv1: { Notice: 'Y', OptOutSale: 'Y', LspaCovered: 'N' } }), gpp_sid: [6] } })).toBe('gpp_opt_out');
    expect(reason({ regs: { gpp: gppString({ uspv1: { Notice: 'Y', OptOutSale: 'N', LspaCovered: 'N' } }), gpp_sid: [6] } })).toBe('allowed');
  });

  it('only the sections gpp_sid lists apply; without gpp_sid every section in the string does', () => {
    const both = gppString({ usnat: { SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2 }, usca: { SaleOptOut: 1 } });
    expect(reason({ regs: { gpp: both, gpp_sid: [7] } })).toBe('allowed');
    expect(reason({ regs: { gpp: both, gpp_sid: [8] } })).toBe('gpp_opt_out');
    expect(reason({ regs: { gpp: both } })).toBe('gpp_opt_out');
    expect(reason({ regs: { gpp: both, gpp_sid: [-1] } })).toBe('allowed');
  });

  it('conservative: an unreadable string, a listed section missing, sections we do not evaluate', () => {
    for (const [, parts] of places('DBABLA~!!!!AAAAAABA.QA', [7])) expect(reason(parts)).toBe('gpp_opt_out');
    for (const [, parts] of places('not gpp at all')) expect(reason(parts)).toBe('gpp_opt_out');
    const onlyUsnat = usnat({ SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2 });
    expect(reason({ regs: { gpp: onlyUsnat, gpp_sid: [7, 8] } })).toBe('gpp_opt_out'); // usca listed, not sent
    expect(reason({ regs: { gpp: gppString({ tcfcav1: { CmpId: 5 } }), gpp_sid: [5] } })).toBe('gpp_opt_out'); // Canada: not evaluated
    expect(reason({ regs: { gpp: onlyUsnat, gpp_sid: [99] } })).toBe('gpp_opt_out'); // unknown section id
  });

  it('TCF EU v2 inside GPP (section 2): GDPR applies and the section is the consent string', () => {
    for (const [, parts] of places(gppWithTcf(tcString()), [2])) expect(reason(parts)).toBe('allowed');
    for (const [, parts] of places(gppWithTcf(tcString({ vendors: [OTHER_VENDOR] })), [2])) expect(reason(parts)).toBe('gdpr_no_consent');
    // Listed but absent from the string, and no user.consent: no consent.
    const onlyUsnat = usnat({ SaleOptOut: 2, SharingOptOut: 2, TargetedAdvertisingOptOut: 2 });
    expect(reason({ regs: { gpp: onlyUsnat, gpp_sid: [2] } })).toBe('gdpr_no_consent');
    // user.consent, when sent, is the consent string.
    expect(reason({ regs: { gpp: onlyUsnat, gpp_sid: [2] }, user: { consent: tcString() } })).toBe('allowed');
    // An unreadable GPP string listing only section 2 leaves the decision to user.consent.
    expect(reason({ regs: { gpp: 'garbage', gpp_sid: [2] }, user: { consent: tcString() } })).toBe('allowed');
    expect(reason({ regs: { gpp: 'garbage', gpp_sid: [2] } })).toBe('gdpr_no_consent');
  });

  it('TCF section consenting but a US section opted out: gpp_opt_out', () => {
    const gpp = gppWithTcf(tcString(), { usnat: { SaleOptOut: 1, SharingOptOut: 2, TargetedAdvertisingOptOut: 2 } });
    expect(reason({ regs: { gpp, gpp_sid: [2, 7] } })).toBe('gpp_opt_out');
    expect(reason({ regs: { gpp, gpp_sid: [2] } })).toBe('allowed');
  });

  it('never throws for arbitrary GPP strings and section lists', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.option(fc.array(fc.integer({ min: -2, max: 30 }), { maxLength: 4 }), { nil: undefined }), (gpp, sid) => {
        const out = privacyOutcome(view({ regs: sid === undefined ? { gpp } : { gpp, gpp_sid: sid } }), SETTINGS);
        expect(PRIVACY_REASONS).toContain(out.reason);
      }),
      { numRuns: 300 },
    );
  });
});
