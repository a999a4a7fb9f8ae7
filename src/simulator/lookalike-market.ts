/**
 * A population of users with a hidden propensity to convert, for measuring lookalike audiences
 * (audiences/lookalikes.ts). Each user has a country and region, a device (type, OS, browser),
 * two interests (IAB tier-1 categories) that most of their sightings follow, and a usual time of
 * day. The propensity is a seeded function of those features; the lookalike only ever sees the
 * sightings (the sites, their categories, the hours, geo and device), as the bidder would, never
 * the propensity or the interests themselves.
 *
 * `measureLookalike` draws who converted, takes `seedConverters` of them as the seed segment,
 * builds the lookalike from the profiles, and reports the conversion rate of each decile of the
 * ranking of the users outside the seed against the base rate of all of them.
 */
import { ProfileStore } from '../audiences/profiles.js';
import { scoreLookalike } from '../audiences/lookalikes.js';
import { COUNTRIES, DEVICES, SITE_COUNT, siteDomain } from './vocabulary.js';
import { Rng, hashString, mix32 } from './rng.js';

/** A standard normal fixed by a hash: an effect per value and seed. */
function normalOf(h: number): number {
  const u = (mix32(h) + 1) / 4294967297;
  const v = mix32(h ^ 0x9e3779b9) / 4294967296;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A site's tier-1 category (1-26) and one child, fixed by its index. */
const siteTop = (i: number) => 1 + (mix32(i ^ 0x5bd1e995) % 26);
const siteCategories = (i: number) => [`IAB${siteTop(i)}`, `IAB${siteTop(i)}-${1 + (mix32(i) % 6)}`];

/** Sites grouped by tier-1 category, so a user's interests lead to their sites. */
const SITES_BY_TOP: number[][] = (() => {
  const out: number[][] = Array.from({ length: 27 }, () => []);
  for (let i = 0; i < SITE_COUNT; i++) out[siteTop(i)].push(i);
  return out;
})();

function weighted<T extends { weight: number }>(list: readonly T[], rng: Rng): T {
  const total = list.reduce((s, x) => s + x.weight, 0);
  let r = rng.next() * total;
  for (const x of list) if ((r -= x.weight) < 0) return x;
  return list[list.length - 1];
}

export interface SimUser {
  readonly key: string;
  /** The hidden probability of converting. */
  readonly propensity: number;
}

export interface PopulationOptions {
  readonly users: number;
  readonly seed: string;
  /** The average conversion probability is near exp(base) (default -4). */
  readonly base?: number;
}

/** Generates the users and feeds their sightings to `profiles`; returns them with their hidden propensities. */
export function population(profiles: ProfileStore, o: PopulationOptions): SimUser[] {
  const rng = new Rng(o.seed);
  const salt = hashString(o.seed);
  const effect = (field: string, value: string | number, sd: number) => sd * normalOf(hashString(`${field}|${value}`) ^ salt);
  const day = Date.UTC(2026, 0, 5);
  const users: SimUser[] = [];
  for (let u = 0; u < o.users; u++) {
    const country = weighted(COUNTRIES, rng);
    const region = country.regions[Math.floor(rng.next() * country.regions.length)];
    const device = weighted(DEVICES, rng);
    const interests = [1 + Math.floor(rng.next() * 26), 1 + Math.floor(rng.next() * 26)];
    const usualHour = Math.floor(rng.next() * 24);
    const logit =
      (o.base ?? -4) +
      effect('country', country.a2, 0.3) +
      effect('region', `${country.a2}/${region}`, 0.2) +
      effect('os', device.os, 0.4) +
      effect('interest', interests[0], 0.9) +
      effect('interest', interests[1], 0.9) +
      effect('daypart', Math.floor(usualHour / 6), 0.3);
    const key = `uid:sim-${u}`;
    users.push({ key, propensity: 1 / (1 + Math.exp(-logit)) });
    const sightings = 2 + Math.floor(rng.next() * 8);
    for (let s = 0; s < sightings; s++) {
      // Seven sightings in ten follow an interest; the rest are anywhere.
      const follow = rng.next() < 0.7;
      const pool = follow ? SITES_BY_TOP[interests[Math.floor(rng.next() * 2)]] : undefined;
      const site = pool && pool.length > 0 ? pool[Math.floor(rng.next() * pool.length)] : Math.floor(rng.next() * SITE_COUNT);
      const hour = (usualHour + Math.floor(rng.next() * 3) + 23) % 24;
      profiles.observe({
        key,
        country: country.a2,
        region,
        deviceType: device.devicetype,
        os: device.os,
        browser: device.browser,
        categories: siteCategories(site),
        domain: siteDomain(site),
        nowMs: day + hour * 3_600_000 + s * 86_400_000,
      });
    }
  }
  return users;
}

export interface LiftReport {
  readonly users: number;
  readonly seed: number;
  readonly positivesSeen: number;
  /** Conversion rate of every user outside the seed. */
  readonly baseRate: number;
  /** Conversion rate of each decile of the ranking, best first. */
  readonly deciles: readonly number[];
  /** deciles[0] / baseRate. */
  readonly topDecileLift: number;
  readonly buildSeconds: number;
}

/** Builds a lookalike from `seedConverters` converters of a fresh population and measures its lift. */
export async function measureLookalike(o: PopulationOptions & { seedConverters: number }): Promise<LiftReport> {
  const profiles = new ProfileStore(o.users);
  const users = population(profiles, o);
  const draw = new Rng(`${o.seed}/conversions`);
  const converted = new Set<string>();
  for (const u of users) if (draw.next() < u.propensity) converted.add(u.key);
  const seedMembers = new Set([...converted].slice(0, o.seedConverters));
  if (seedMembers.size < o.seedConverters) throw new Error(`only ${seedMembers.size} converters for a seed of ${o.seedConverters}: raise --users`);
  const started = performance.now();
  const result = await scoreLookalike(profiles, seedMembers, users.length, ['seed'], hashString(o.seed));
  const buildSeconds = (performance.now() - started) / 1000;
  const ranked = result.ranked;
  const rate = (keys: readonly string[]) => keys.filter((k) => converted.has(k)).length / Math.max(1, keys.length);
  const baseRate = rate(ranked);
  const deciles: number[] = [];
  for (let d = 0; d < 10; d++) deciles.push(rate(ranked.slice(Math.floor((d * ranked.length) / 10), Math.floor(((d + 1) * ranked.length) / 10))));
  return { users: users.length, seed: seedMembers.size, positivesSeen: result.positives, baseRate, deciles, topDecileLift: deciles[0] / baseRate, buildSeconds };
}
