/**
 * Location circles: distances against known ones, the latitude-band search against a scan of every
 * circle (property), edges, the antimeridian and poles, and the `geo.type` sources a campaign accepts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LocationSet, distanceKm, type Circle } from '../../src/targeting/locations.js';
import { hasPosition } from '../../src/openrtb/geo.js';

describe('distanceKm', () => {
  it('measures great-circle distances', () => {
    expect(distanceKm(37.7749, -122.4194, 34.0522, -118.2437)).toBeCloseTo(559, 0); // San Francisco - Los Angeles
    expect(distanceKm(51.5074, -0.1278, 48.8566, 2.3522)).toBeCloseTo(344, 0); // London - Paris
    expect(distanceKm(0, 179.99, 0, -179.99)).toBeCloseTo(2.22, 2); // across the antimeridian
    expect(distanceKm(89.99, 0, 89.99, 180)).toBeCloseTo(2.22, 2); // across the pole
    expect(distanceKm(10, 20, 10, 20)).toBe(0);
  });
});

describe('LocationSet', () => {
  const store: Circle = { lat: 37.7793, lon: -122.4193, km: 2 };

  it('holds a position inside a circle or on its edge, not outside', () => {
    const set = new LocationSet([store]);
    expect(set.contains(37.785, -122.41, 1)).toBe(true); // about 1 km away
    expect(set.contains(37.8044, -122.2712, 1)).toBe(false); // Oakland, about 13 km
    const edge = 2 / 111.195; // 2 km north, in degrees of latitude
    expect(set.contains(store.lat + edge * 0.999, store.lon, 1)).toBe(true);
    expect(set.contains(store.lat + edge * 1.001, store.lon, 1)).toBe(false);
    expect(set.contains(undefined, undefined, undefined)).toBe(false);
  });

  it('accepts only the listed geo.type sources, and refuses a position that does not say where it came from', () => {
    const precise = new LocationSet([store], ['gps', 'user']);
    expect(precise.contains(37.785, -122.41, 1)).toBe(true);
    expect(precise.contains(37.785, -122.41, 3)).toBe(true);
    expect(precise.contains(37.785, -122.41, 2)).toBe(false); // derived from the IP address
    expect(precise.contains(37.785, -122.41, undefined)).toBe(false);
    expect(new LocationSet([store]).contains(37.785, -122.41, undefined)).toBe(true); // any source
  });

  it('finds the same circles as a scan of all of them, with many circles of mixed sizes (property)', () => {
    const circle = fc.record({
      lat: fc.double({ min: -89, max: 89, noNaN: true }),
      lon: fc.double({ min: -180, max: 180, noNaN: true }),
      km: fc.double({ min: 0.05, max: 500, noNaN: true }),
    });
    // Positions near the circles' centres as well as anywhere, so that both answers are common.
    const query = (circles: Circle[]) =>
      fc.oneof(
        fc.record({ lat: fc.double({ min: -90, max: 90, noNaN: true }), lon: fc.double({ min: -180, max: 180, noNaN: true }) }),
        fc.record({ i: fc.nat(circles.length - 1), dLat: fc.double({ min: -3, max: 3, noNaN: true }), dLon: fc.double({ min: -3, max: 3, noNaN: true }) }).map(({ i, dLat, dLon }) => ({
          lat: Math.max(-90, Math.min(90, circles[i].lat + dLat)),
          lon: Math.max(-180, Math.min(180, circles[i].lon + dLon)),
        })),
      );
    fc.assert(
      fc.property(
        fc.array(circle, { minLength: 1, maxLength: 300 }).chain((circles) => fc.tuple(fc.constant(circles), fc.array(query(circles), { minLength: 1, maxLength: 50 }))),
        ([circles, queries]) => {
          const set = new LocationSet(circles);
          for (const q of queries) {
            const scan = circles.some((c) => distanceKm(q.lat, q.lon, c.lat, c.lon) <= c.km);
            expect(set.contains(q.lat, q.lon, 1)).toBe(scan);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a position is read only when both coordinates are numbers in range', () => {
    expect(hasPosition({ lat: 37.7, lon: -122.4 })).toBe(true);
    expect(hasPosition({ lat: '37.7', lon: -122.4 })).toBe(false);
    expect(hasPosition({ lat: 91, lon: 0 })).toBe(false);
    expect(hasPosition({ lat: 0, lon: -180.5 })).toBe(false);
    expect(hasPosition({ lat: 10 })).toBe(false);
    expect(hasPosition(undefined)).toBe(false);
  });
});
