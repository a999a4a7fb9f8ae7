/**
 * The world the exchange simulator and the benchmark scenario share: countries and regions,
 * devices and user agents, sites, apps, publishers, content categories, ad formats, deals,
 * audience segments and user identities. Campaigns generated for the benchmark target these
 * values and generated bid requests carry them, so targeting actually selects and rejects.
 *
 * Everything is derived from indexes (no randomness here), so both sides agree without sharing state.
 */
import { mix32 } from './rng.js';

/** Alpha-3 country, traffic weight, ISO 3166-2 subdivisions (suffixes) and a few cities, time zone. */
export const COUNTRIES: readonly { a3: string; a2: string; weight: number; regions: string[]; cities: string[]; tz: string }[] = [
  { a3: 'USA', a2: 'US', weight: 38, regions: ['CA', 'NY', 'TX', 'FL', 'IL', 'WA', 'MA', 'GA'], cities: ['New York', 'Los Angeles', 'Chicago', 'Houston', 'San Francisco', 'Seattle', 'Boston', 'Miami'], tz: 'America/New_York' },
  { a3: 'GBR', a2: 'GB', weight: 8, regions: ['ENG', 'SCT', 'WLS'], cities: ['London', 'Manchester', 'Edinburgh'], tz: 'Europe/London' },
  { a3: 'DEU', a2: 'DE', weight: 8, regions: ['BE', 'BY', 'HH', 'NW'], cities: ['Berlin', 'Munich', 'Hamburg', 'Cologne'], tz: 'Europe/Berlin' },
  { a3: 'FRA', a2: 'FR', weight: 6, regions: ['IDF', 'ARA', 'PAC'], cities: ['Paris', 'Lyon', 'Marseille'], tz: 'Europe/Paris' },
  { a3: 'CAN', a2: 'CA', weight: 6, regions: ['ON', 'QC', 'BC', 'AB'], cities: ['Toronto', 'Montreal', 'Vancouver', 'Calgary'], tz: 'America/Toronto' },
  { a3: 'BRA', a2: 'BR', weight: 5, regions: ['SP', 'RJ', 'MG'], cities: ['Sao Paulo', 'Rio de Janeiro', 'Belo Horizonte'], tz: 'America/Sao_Paulo' },
  { a3: 'IND', a2: 'IN', weight: 5, regions: ['MH', 'DL', 'KA'], cities: ['Mumbai', 'Delhi', 'Bengaluru'], tz: 'Asia/Kolkata' },
  { a3: 'JPN', a2: 'JP', weight: 4, regions: ['13', '27', '23'], cities: ['Tokyo', 'Osaka', 'Nagoya'], tz: 'Asia/Tokyo' },
  { a3: 'AUS', a2: 'AU', weight: 4, regions: ['NSW', 'VIC', 'QLD'], cities: ['Sydney', 'Melbourne', 'Brisbane'], tz: 'Australia/Sydney' },
  { a3: 'ESP', a2: 'ES', weight: 3, regions: ['MD', 'CT', 'AN'], cities: ['Madrid', 'Barcelona', 'Seville'], tz: 'Europe/Madrid' },
  { a3: 'ITA', a2: 'IT', weight: 3, regions: ['RM', 'MI', 'NA'], cities: ['Rome', 'Milan', 'Naples'], tz: 'Europe/Rome' },
  { a3: 'MEX', a2: 'MX', weight: 3, regions: ['CMX', 'JAL', 'NLE'], cities: ['Mexico City', 'Guadalajara', 'Monterrey'], tz: 'America/Mexico_City' },
  { a3: 'NLD', a2: 'NL', weight: 2, regions: ['NH', 'ZH', 'UT'], cities: ['Amsterdam', 'Rotterdam', 'Utrecht'], tz: 'Europe/Amsterdam' },
  { a3: 'POL', a2: 'PL', weight: 2, regions: ['MZ', 'MA', 'DS'], cities: ['Warsaw', 'Krakow', 'Wroclaw'], tz: 'Europe/Warsaw' },
  { a3: 'SWE', a2: 'SE', weight: 1, regions: ['AB', 'M', 'O'], cities: ['Stockholm', 'Malmo', 'Gothenburg'], tz: 'Europe/Stockholm' },
];

/** Countries whose users are under GDPR (requests carry `regs.gdpr` = 1 and a consent string). */
export const GDPR_COUNTRIES = new Set(['GBR', 'DEU', 'FRA', 'ESP', 'ITA', 'NLD', 'POL', 'SWE']);

export interface DeviceProfile {
  readonly key: string;
  readonly channel: 'site' | 'app' | 'both';
  readonly devicetype: number;
  readonly os: string;
  /** A user-agent template: `{v}` is replaced by a version picked per request. */
  readonly ua: string;
  readonly versions: readonly string[];
  readonly make?: string;
  readonly model?: string;
  readonly weight: number;
  readonly browser?: string;
}

export const DEVICES: readonly DeviceProfile[] = [
  { key: 'win-chrome', channel: 'site', devicetype: 2, os: 'Windows', browser: 'chrome', weight: 20, versions: ['122.0.6261.129', '123.0.6312.122', '124.0.6367.82', '125.0.6422.112', '126.0.6478.127'], ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36' },
  { key: 'win-edge', channel: 'site', devicetype: 2, os: 'Windows', browser: 'edge', weight: 6, versions: ['124.0.2478.80', '125.0.2535.67'], ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/{v}' },
  { key: 'win-firefox', channel: 'site', devicetype: 2, os: 'Windows', browser: 'firefox', weight: 4, versions: ['124.0', '125.0', '126.0'], ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}) Gecko/20100101 Firefox/{v}' },
  { key: 'mac-safari', channel: 'site', devicetype: 2, os: 'Mac OS', browser: 'safari', weight: 7, versions: ['17.3.1', '17.4', '17.4.1', '17.5'], ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15' },
  { key: 'mac-chrome', channel: 'site', devicetype: 2, os: 'Mac OS', browser: 'chrome', weight: 5, versions: ['124.0.0.0', '125.0.0.0'], ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36' },
  { key: 'linux-firefox', channel: 'site', devicetype: 2, os: 'Linux', browser: 'firefox', weight: 1, versions: ['125.0', '126.0'], ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}' },
  { key: 'iphone', channel: 'both', devicetype: 4, os: 'iOS', browser: 'safari', make: 'Apple', model: 'iPhone', weight: 18, versions: ['16_7', '17_3', '17_4', '17_5'], ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' },
  { key: 'ipad', channel: 'both', devicetype: 5, os: 'iOS', browser: 'safari', make: 'Apple', model: 'iPad', weight: 4, versions: ['16_7', '17_4'], ua: 'Mozilla/5.0 (iPad; CPU OS {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' },
  { key: 'android-phone', channel: 'both', devicetype: 4, os: 'Android', browser: 'chrome', make: 'Samsung', model: 'SM-S918B', weight: 20, versions: ['13; SM-S918B', '14; SM-S918B', '14; Pixel 8', '14; Pixel 7a', '13; moto g power'], ua: 'Mozilla/5.0 (Linux; Android {v}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36' },
  { key: 'android-tablet', channel: 'both', devicetype: 5, os: 'Android', browser: 'chrome', make: 'Samsung', model: 'SM-X710', weight: 3, versions: ['13; SM-X710', '14; SM-X710'], ua: 'Mozilla/5.0 (Linux; Android {v}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36' },
  { key: 'ctv-tizen', channel: 'app', devicetype: 3, os: 'Tizen', make: 'Samsung', model: 'QN65', weight: 3, versions: ['6.5', '7.0'], ua: 'Mozilla/5.0 (SMART-TV; Linux; Tizen {v}) AppleWebKit/537.36 (KHTML, like Gecko) 85.0.4183.93/7.0 TV Safari/537.36' },
  { key: 'ctv-roku', channel: 'app', devicetype: 7, os: 'Roku', make: 'Roku', model: 'Ultra', weight: 2, versions: ['12.5', '13.0'], ua: 'Roku/DVP-{v} (11.5.0.4312-46)' },
];

/** Site domains: the demo config's, then generated ones (popularity falls with the index). */
const DEMO_DOMAINS = ['news.example', 'sports.example', 'travel.example', 'blog.example', 'movies.example', 'weather.example'];
const WORDS = [
  'daily', 'metro', 'tech', 'game', 'food', 'style', 'auto', 'money', 'health', 'home', 'travel', 'music', 'film', 'sport',
  'local', 'world', 'cook', 'garden', 'pet', 'kids', 'science', 'market', 'style', 'life', 'city', 'review', 'deal', 'fit',
];
export const SITE_COUNT = 2_000;
export function siteDomain(i: number): string {
  if (i < DEMO_DOMAINS.length) return DEMO_DOMAINS[i];
  const h = mix32(i);
  return `${WORDS[h % WORDS.length]}${WORDS[(h >>> 8) % WORDS.length]}${i}.example`;
}
/** Each publisher owns a handful of sites / apps. */
export function publisherOfSite(i: number): string {
  return `pub-${Math.floor(i / 5)}`;
}

export const APP_COUNT = 1_000;
/** App store ids: Android package names and iOS numeric ids. */
export function appBundle(i: number): string {
  const h = mix32(i + 7_000_000);
  if (i % 3 === 2) return String(1_000_000_000 + (h % 900_000_000));
  return `com.${WORDS[h % WORDS.length]}.${WORDS[(h >>> 8) % WORDS.length]}${i}`;
}
export function appName(i: number): string {
  const h = mix32(i + 7_000_000);
  return `${cap(WORDS[h % WORDS.length])} ${cap(WORDS[(h >>> 8) % WORDS.length])} ${i}`;
}
export function publisherOfApp(i: number): string {
  return `pub-app-${Math.floor(i / 4)}`;
}
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** IAB content taxonomy 1.0 top-level categories with a few children each. */
export const IAB_CATEGORIES: readonly string[] = (() => {
  const out: string[] = [];
  for (let top = 1; top <= 26; top++) {
    out.push(`IAB${top}`);
    for (let sub = 1; sub <= 6; sub++) out.push(`IAB${top}-${sub}`);
  }
  return out;
})();
/** Categories exchanges commonly block (`bcat`). */
export const SENSITIVE_CATEGORIES = ['IAB25', 'IAB26', 'IAB7-39', 'IAB8-18', 'IAB8-5', 'IAB9-9', 'IAB14-1'];

export const BANNER_SIZES: readonly (readonly [number, number, number])[] = [
  // w, h, traffic weight
  [300, 250, 30],
  [728, 90, 14],
  [320, 50, 18],
  [160, 600, 5],
  [300, 600, 7],
  [970, 250, 4],
  [320, 100, 4],
  [336, 280, 3],
  [468, 60, 2],
  [300, 50, 5],
  [320, 480, 4],
  [768, 1024, 2],
];

export const VIDEO_MIMES = ['video/mp4', 'video/webm', 'application/javascript', 'video/3gpp'];
export const AUDIO_MIMES = ['audio/mpeg', 'audio/mp4', 'audio/ogg'];
export const VIDEO_DURATIONS = [6, 15, 30, 60];

/** Deals that exchanges offer in private marketplaces; some campaigns hold them. */
export const DEAL_COUNT = 60;
export const dealId = (i: number) => `deal-${String(i).padStart(3, '0')}`;

/** Audience segments uploaded for users; campaigns target them. */
export const SEGMENT_COUNT = 200;
export const segmentId = (i: number) => `seg-${String(i).padStart(3, '0')}`;
/** The segment every uploaded user is in (the URL segment of the upload). */
export const ALL_USERS_SEGMENT = 'bench-users';

/**
 * User `n`'s identity. Users are known either by our cookie-synced id (`user.buyeruid`, on sites)
 * or by their device's advertising id (`device.ifa`, in apps): two thirds by uid, one third by ifa.
 */
export function userIdentity(n: number): { kind: 'uid' | 'ifa'; id: string } {
  if (n % 3 === 0) return { kind: 'ifa', id: ifaOf(n) };
  return { kind: 'uid', id: `u${n.toString(36)}-${(mix32(n) % 46656).toString(36)}` };
}

/** A stable, well-formed (version 4 style) advertising id for user `n`. */
export function ifaOf(n: number): string {
  const h = (k: number) => mix32(n * 4 + k).toString(16).padStart(8, '0');
  const a = h(1);
  const b = h(2);
  const c = h(3);
  const d = h(4);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-a${c.slice(1, 4)}-${c.slice(4, 8)}${d}`;
}

/**
 * User `n`'s segments (besides ALL_USERS_SEGMENT): 1 to 5 of SEGMENT_COUNT, popular segments
 * much bigger than rare ones. Deterministic in `n`.
 */
export function userSegments(n: number): string[] {
  let h = mix32(n ^ 0x5eed);
  const count = 1 + (h % 5);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    h = mix32(h + i);
    // Squared uniform: index 0 most popular.
    const u = h / 4294967296;
    const idx = Math.floor(u * u * SEGMENT_COUNT);
    const s = segmentId(idx);
    if (!out.includes(s)) out.push(s);
  }
  return out;
}
