/**
 * Postal codes and languages as rules and requests are compared: normalisation, and that every
 * rule the schema accepts can be reached by some request code's prefixes.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { POSTAL_RULE_MAX, postalKey, postalPrefixes } from '../../src/openrtb/geo.js';
import { languageAndPrimary, languageKey } from '../../src/targeting/language.js';
import { validateBundleShape } from '../../src/campaigns/validate.js';

describe('postal codes', () => {
  it('ignore case, spaces and hyphens', () => {
    expect(postalKey('sw1a 1aa')).toBe('SW1A1AA');
    expect(postalKey('94105-1234')).toBe('941051234');
    expect(postalKey(' - ')).toBeUndefined();
    expect(postalKey(undefined)).toBeUndefined();
  });

  it('a request code offers each leading part of 2 characters or more, never longer than the longest rule', () => {
    expect(postalPrefixes('SW1A1AA')).toEqual(['SW1A1AA', 'SW1A1A', 'SW1A1', 'SW1A', 'SW1', 'SW']);
    const long = postalPrefixes('X'.repeat(10_000)); // a hostile request: bounded work
    expect(long.length).toBe(POSTAL_RULE_MAX - 1);
    expect(long[0].length).toBe(POSTAL_RULE_MAX);
  });

  it('every rule the schema accepts is among the prefixes of a code that starts with it (property)', () => {
    const bundleWith = (rule: string) => ({
      advertisers: [{ id: 'adv', name: 'A', domains: ['a.example'] }],
      campaigns: [{ id: 'c', advertiserId: 'adv', bid: { base: 1, max: 2 }, targeting: { postalCodes: [rule] }, creatives: [{ id: 'cr', type: 'banner', w: 1, h: 1, html: 'x' }] }],
    });
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{2,20}$/), fc.stringMatching(/^[A-Za-z0-9 -]{1,20}$/)), fc.stringMatching(/^[A-Za-z0-9]{0,6}$/), (rule, rest) => {
        if (validateBundleShape(bundleWith(rule)).length > 0) return; // refused: nothing to reach
        const key = postalKey(rule)!;
        expect(postalPrefixes(postalKey(rule + rest)!)).toContain(key);
      }),
      { numRuns: 500 },
    );
  });
});

describe('languages', () => {
  it('compare lower-cased with _ read as -, and offer the primary language of a regional form', () => {
    expect(languageKey('pt_BR')).toBe('pt-br');
    expect(languageAndPrimary('pt-br')).toEqual(['pt-br', 'pt']);
    expect(languageAndPrimary('en')).toEqual(['en']);
    expect(languageKey('  ')).toBeUndefined();
  });
});
