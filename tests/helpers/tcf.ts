/**
 * Real TCF v2 consent strings, built with the IAB Tech Lab's encoder (`@iabtechlabtcf/core`) against
 * a small in-memory Global Vendor List (the encoder needs one; the bidder's decoder does not), and
 * real GPP strings built with `@iabgpp/cmpapi`'s GppModel.
 */
import { GVL, PurposeRestriction, RestrictionType, Segment, SegmentEncoder, TCModel, TCString } from '@iabtechlabtcf/core';
import { GppModel } from '@iabgpp/cmpapi';

/** Our vendor id in these tests (GDPR_VENDOR_ID), and another vendor. */
export const OUR_VENDOR = 755;
export const OTHER_VENDOR = 77;

const purposes: Record<string, object> = {};
for (let i = 1; i <= 11; i++) purposes[i] = { id: i, name: `purpose ${i}`, description: '', illustrations: [] };
const vendor = (id: number) => ({
  id,
  name: `vendor ${id}`,
  purposes: [1, 2, 3, 4, 7],
  legIntPurposes: [],
  flexiblePurposes: [2, 3, 4],
  specialPurposes: [],
  features: [],
  specialFeatures: [],
  cookieMaxAgeSeconds: 0,
  usesCookies: true,
  cookieRefresh: false,
  usesNonCookieAccess: false,
  urls: [],
});

function testGvl(): GVL {
  return new GVL({
    gvlSpecificationVersion: 3,
    vendorListVersion: 100,
    tcfPolicyVersion: 5,
    lastUpdated: '2024-01-01T00:00:00Z',
    purposes,
    specialPurposes: {},
    features: {},
    specialFeatures: {},
    stacks: {},
    dataCategories: {},
    vendors: { [OUR_VENDOR]: vendor(OUR_VENDOR), [OTHER_VENDOR]: vendor(OTHER_VENDOR) },
  } as never);
}

export interface ConsentSpec {
  purposes?: number[];
  vendors?: number[];
  /** Publisher restrictions: [vendor, purpose, type]. */
  restrictions?: [number, number, RestrictionType][];
}

/** A TC string. Default: consent for purposes 1-4 and 7, for both vendors. */
export function tcString(spec: ConsentSpec = {}): string {
  const m = new TCModel(testGvl());
  m.cmpId = 10;
  m.cmpVersion = 1;
  m.isServiceSpecific = true;
  m.publisherCountryCode = 'DE';
  m.purposeConsents.set(spec.purposes ?? [1, 2, 3, 4, 7]);
  m.vendorConsents.set(spec.vendors ?? [OUR_VENDOR, OTHER_VENDOR]);
  for (const [v, p, t] of spec.restrictions ?? []) m.publisherRestrictions.add(v, new PurposeRestriction(p, t));
  return TCString.encode(m);
}

/**
 * A core-segment-only TC string written without the encoder's semantic pass, which (rightly) drops
 * legitimate-interest bits for purposes 3 and 4: so a CMP that sets them anyway can be simulated.
 */
export function tcStringWithLegitimateInterest(consentPurposes: number[], liPurposes: number[], vendors: number[]): string {
  const m = new TCModel();
  m.version = 2;
  m.cmpId = 10;
  m.cmpVersion = 1;
  m.consentLanguage = 'EN';
  m.vendorListVersion = 100;
  m.policyVersion = 5;
  m.purposeConsents.set(consentPurposes);
  m.purposeLegitimateInterests.set(liPurposes);
  m.vendorConsents.set(vendors);
  m.vendorLegitimateInterests.set(vendors);
  return SegmentEncoder.encode(m, Segment.CORE);
}

export { RestrictionType };

/** A GPP string with the given sections' fields set (section name → field → value). */
export function gppString(sections: Record<string, Record<string, unknown>>): string {
  const g = new GppModel();
  for (const [section, fields] of Object.entries(sections))
    for (const [field, value] of Object.entries(fields)) g.setFieldValue(section, field, value);
  return g.encode();
}

/** A GPP string carrying a TCF EU v2 section (id 2) that is exactly `tc`. */
export function gppWithTcf(tc: string, more: Record<string, Record<string, unknown>> = {}): string {
  const g = new GppModel();
  g.decodeSection('tcfeuv2', tc);
  for (const [section, fields] of Object.entries(more))
    for (const [field, value] of Object.entries(fields)) g.setFieldValue(section, field, value);
  return g.encode();
}
