/**
 * Location targeting: a campaign's circles (centre and radius in km, a store and the streets
 * around it), matched against the request's `geo.lat`/`geo.lon`. Thousands of circles (every store
 * of a chain) are kept sorted by latitude, so a request looks only at those in the band of
 * latitudes the largest circle could reach, and measures great-circle distance to each of them.
 */

/** OpenRTB `geo.type`: 1 GPS or other location services, 2 derived from the IP address, 3 given by the user. */
export type LocationSource = 'gps' | 'ip' | 'user';
const SOURCE_OF_TYPE: Record<number, LocationSource> = { 1: 'gps', 2: 'ip', 3: 'user' };

export interface Circle {
  readonly lat: number;
  readonly lon: number;
  readonly km: number;
}

const EARTH_KM = 6371.0088;
const KM_PER_DEGREE = (Math.PI / 180) * EARTH_KM;
const RAD = Math.PI / 180;

export class LocationSet {
  private readonly lats: Float64Array;
  private readonly lons: Float64Array;
  private readonly kms: Float64Array;
  /** The band of latitudes around a position in which a circle's centre can be: the largest radius, in degrees. */
  private readonly reachDeg: number;
  private readonly sources: ReadonlySet<LocationSource> | undefined;

  /** `sources`: the `geo.type`s a position may come from (a request that does not say is then refused); undefined: any. */
  constructor(circles: readonly Circle[], sources?: readonly LocationSource[]) {
    const sorted = [...circles].sort((a, b) => a.lat - b.lat);
    this.lats = Float64Array.from(sorted, (c) => c.lat);
    this.lons = Float64Array.from(sorted, (c) => c.lon);
    this.kms = Float64Array.from(sorted, (c) => c.km);
    let largest = 0;
    for (const c of sorted) if (c.km > largest) largest = c.km;
    this.reachDeg = largest / KM_PER_DEGREE;
    this.sources = sources && sources.length > 0 ? new Set(sources) : undefined;
  }

  /**
   * Whether a request's `lat`/`lon` (undefined when it has none) lie in one of the circles (edges
   * included), from an accepted `geo.type`.
   */
  contains(lat: number | undefined, lon: number | undefined, geoType: number | undefined): boolean {
    if (lat === undefined || lon === undefined) return false;
    if (this.sources !== undefined) {
      const source = geoType === undefined ? undefined : SOURCE_OF_TYPE[geoType];
      if (source === undefined || !this.sources.has(source)) return false;
    }
    const lats = this.lats;
    const n = lats.length;
    // The first circle whose centre is no further south than the band reaches.
    let lo = 0;
    let hi = n;
    const south = lat - this.reachDeg;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (lats[mid] < south) lo = mid + 1;
      else hi = mid;
    }
    const north = lat + this.reachDeg;
    for (let i = lo; i < n && lats[i] <= north; i++) if (distanceKm(lat, lon, lats[i], this.lons[i]) <= this.kms[i]) return true;
    return false;
  }
}

/** Great-circle distance (haversine) in km. */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}
