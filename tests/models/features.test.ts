/**
 * Feature hashing: stable across runs and releases (trained tables depend on it), field-separated,
 * and built from what the request view holds.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FeatureVector, FIELD, MAX_FEATURES, creativeHash, hashFeature, hashNumber } from '../../src/models/features.js';
import { view } from '../bidding/support.js';

const DEVICE = { deviceType: 4, os: 'ios', browser: undefined };

describe('hashFeature', () => {
  it('is stable: the same values as when the tables were first trained', () => {
    // Pinned: a change here silently invalidates every trained model.
    expect([hashFeature(FIELD.domain, 'news.example'), hashFeature(FIELD.country, 'USA'), hashNumber(FIELD.deviceType, 4), creativeHash('cr-1')]).toEqual(PINNED);
  });

  it('separates fields: the same value in two fields is two features', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(hashFeature(FIELD.domain, s)).not.toBe(hashFeature(FIELD.bundle, s));
      }),
    );
  });

  it('is a uint32 whose low bits spread (a 2^10 table sees nearly every slot from 5,000 domains)', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const h = hashFeature(FIELD.domain, `site${i}.example`);
      expect(h >>> 0).toBe(h);
      seen.add(h & 1023);
    }
    expect(seen.size).toBeGreaterThan(1000);
  });
});

describe('FeatureVector', () => {
  const req = view({
    site: { domain: 'news.example', publisher: { id: 'pub-1' } },
    device: { geo: { country: 'USA', region: 'CA' }, devicetype: 4, os: 'iOS' },
    imp: [{ id: '1', banner: { w: 300, h: 250 } }, { id: '2', video: { mimes: ['video/mp4'], w: 640, h: 480 } }],
  });

  it('holds request, imp and creative features, and each part is replaced in place', () => {
    const f = new FeatureVector();
    f.setRequest(req, DEVICE, 'main', Date.UTC(2026, 0, 5, 10), new Set(['s1', 's2']));
    const requestPart = Array.from(f.hashes.subarray(0, f.length));
    expect(requestPart).toContain(hashFeature(FIELD.domain, 'news.example'));
    expect(requestPart).toContain(hashFeature(FIELD.publisher, 'pub-1'));
    expect(requestPart).toContain(hashFeature(FIELD.segment, 's2'));
    expect(requestPart).toContain(hashFeature(FIELD.exchange, 'main'));
    f.setImp(req.imps[0]);
    f.setCreative(creativeHash('cr-a'));
    const a = f.copy();
    expect(Array.from(a.subarray(0, requestPart.length))).toEqual(requestPart);
    expect(Array.from(a)).toContain(hashFeature(FIELD.size, '300x250'));
    expect(a[a.length - 1]).toBe(creativeHash('cr-a'));
    f.setCreative(creativeHash('cr-b'));
    expect(f.length).toBe(a.length);
    expect(f.hashes[f.length - 1]).toBe(creativeHash('cr-b'));
    f.setImp(req.imps[1]);
    f.setCreative(creativeHash('cr-a'));
    expect(Array.from(f.copy())).not.toContain(hashFeature(FIELD.size, '300x250'));
    expect(f.length).toBe(a.length);
  });

  it('never exceeds MAX_FEATURES, whatever the segments', () => {
    const f = new FeatureVector();
    f.setRequest(req, { deviceType: 4, os: 'ios', browser: 'chrome' }, 'main', 0, new Set(Array.from({ length: 500 }, (_, i) => `s${i}`)));
    f.setImp(req.imps[0]);
    f.setCreative(1);
    expect(f.length).toBeLessThanOrEqual(MAX_FEATURES);
  });

  it('the hour of week is a feature: the same request a week apart hashes alike, an hour apart not', () => {
    const at = (ms: number) => {
      const f = new FeatureVector();
      f.setRequest(req, DEVICE, 'main', ms, undefined);
      return Array.from(f.copy());
    };
    const t = Date.UTC(2026, 0, 5, 10, 30);
    expect(at(t + 7 * 24 * 3600_000)).toEqual(at(t));
    expect(at(t + 3600_000)).not.toEqual(at(t));
  });
});

const PINNED = [1174987131, 606859656, 2768485382, 2841100894];
