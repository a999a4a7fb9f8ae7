/**
 * Country codes. OpenRTB says ISO-3166-1 alpha-3, but many exchanges send alpha-2;
 * both are normalised to upper-case alpha-3 (campaign rules and requests alike).
 */
import countries from 'i18n-iso-countries';

const alpha3 = new Map<string, string>();
for (const [a2, a3] of Object.entries(countries.getAlpha2Codes()) as [string, string][]) {
  const three = countries.alpha2ToAlpha3(a2);
  if (three) {
    alpha3.set(a2, three);
    alpha3.set(three, three);
  }
  void a3;
}

/** `us`, `US`, `usa` → `USA`; unknown codes → undefined. */
export function normalizeCountry(code: string | undefined): string | undefined {
  if (!code) return undefined;
  const hit = alpha3.get(code);
  return hit ?? alpha3.get(code.toUpperCase());
}

/**
 * A region key: `<alpha-3 country>-<subdivision>` upper-cased. Campaigns write ISO 3166-2 (`US-CA`);
 * requests carry `geo.country` and `geo.region` (`CA`, sometimes `US-CA`).
 */
export function regionKey(country: string | undefined, region: string | undefined): string | undefined {
  if (!country || !region) return undefined;
  const dash = region.indexOf('-');
  const sub = dash >= 0 ? region.slice(dash + 1) : region;
  return `${country}-${sub.toUpperCase()}`;
}

/** Campaign side: `US-CA` → `USA-CA`. */
export function regionRuleKey(rule: string): string | undefined {
  const dash = rule.indexOf('-');
  const country = normalizeCountry(rule.slice(0, dash));
  return country ? `${country}-${rule.slice(dash + 1).toUpperCase()}` : undefined;
}

export function cityKey(city: string | undefined): string | undefined {
  return city ? city.trim().toLowerCase() : undefined;
}

/** The longest postal rule, in characters (spaces and hyphens included): the schema holds rules to it. */
export const POSTAL_RULE_MAX = 16;

/**
 * A postal code as rules and requests are compared: upper-cased, without spaces and hyphens
 * (`sw1a 1aa` → `SW1A1AA`, `94105-1234` → `941051234`); undefined when nothing is left.
 */
export function postalKey(code: string | undefined): string | undefined {
  if (!code) return undefined;
  const key = code.replace(/[\s-]+/g, '').toUpperCase();
  return key.length > 0 ? key : undefined;
}

/**
 * A request's postal code and each of its leading parts of two characters or more, so that a rule
 * on a prefix covers the codes under it: `94105` the ZIP+4 codes `94105-xxxx`, `941` a US
 * three-digit area, `SW1A` a UK outward code.
 */
export function postalPrefixes(key: string): string[] {
  const out: string[] = [];
  // No rule is longer than POSTAL_RULE_MAX: longer prefixes of an (arbitrarily long) request code cannot match one.
  for (let n = Math.min(key.length, POSTAL_RULE_MAX); n >= 2; n--) out.push(key.slice(0, n));
  return out;
}

/** A `geo` object's latitude and longitude, when both are numbers in range. */
export function hasPosition(geo: { lat?: unknown; lon?: unknown } | undefined): boolean {
  if (geo === undefined) return false;
  const { lat, lon } = geo;
  return typeof lat === 'number' && typeof lon === 'number' && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180;
}
