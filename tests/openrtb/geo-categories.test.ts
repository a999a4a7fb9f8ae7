import { describe, expect, it } from 'vitest';
import { cityKey, normalizeCountry, regionKey, regionRuleKey } from '../../src/openrtb/geo.js';
import { parentCategory, withParentCategories } from '../../src/openrtb/categories.js';

describe('countries', () => {
  it('alpha-2 and alpha-3, any case, normalise to upper-case alpha-3', () => {
    for (const c of ['US', 'us', 'USA', 'usa', 'Usa']) expect(normalizeCountry(c), c).toBe('USA');
    expect(normalizeCountry('GB')).toBe('GBR');
    expect(normalizeCountry('DEU')).toBe('DEU');
  });

  it('anything else is unknown', () => {
    for (const c of ['XX', 'XXX', 'U', 'USAA', '', undefined, 'UK']) expect(normalizeCountry(c), String(c)).toBeUndefined();
  });
});

describe('regions and cities', () => {
  it('request side: country + subdivision, in either form', () => {
    expect(regionKey('USA', 'CA')).toBe('USA-CA');
    expect(regionKey('USA', 'us-ca')).toBe('USA-CA');
    expect(regionKey(undefined, 'CA')).toBeUndefined();
    expect(regionKey('USA', undefined)).toBeUndefined();
  });

  it('rule side: ISO 3166-2 with an alpha-2 or alpha-3 country', () => {
    expect(regionRuleKey('US-CA')).toBe('USA-CA');
    expect(regionRuleKey('usa-ca')).toBe('USA-CA');
    expect(regionRuleKey('GB-ENG')).toBe('GBR-ENG');
    expect(regionRuleKey('XX-CA')).toBeUndefined();
  });

  it('cities compare trimmed and lower-cased', () => {
    expect(cityKey(' San Francisco ')).toBe('san francisco');
    expect(cityKey(undefined)).toBeUndefined();
  });
});

describe('IAB categories', () => {
  it('tier-2 codes have their tier-1 parent; others have none', () => {
    expect(parentCategory('IAB1-5')).toBe('IAB1');
    expect(parentCategory('IAB18-3')).toBe('IAB18');
    expect(parentCategory('IAB1')).toBeUndefined();
    expect(parentCategory('iab1-5')).toBeUndefined();
    expect(parentCategory('-5')).toBeUndefined();
  });

  it('withParentCategories merges lists, adds parents once, ignores non-strings and non-arrays', () => {
    expect(withParentCategories(['IAB1-5', 'IAB1-6'], ['IAB2'], undefined, 'IAB3', [7, '', 'IAB1'])).toEqual(['IAB1-5', 'IAB1', 'IAB1-6', 'IAB2']);
    expect(withParentCategories()).toEqual([]);
  });
});
