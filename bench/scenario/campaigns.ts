/**
 * Benchmark campaigns: a seeded, deterministic set of advertisers and campaigns with mixed
 * targeting (geo, device, OS, browser, site/app lists, publishers, categories, day-parting, IP
 * ranges, audience segments, deals) and creatives of every kind, written as a config directory
 * the bidder loads with CONFIG_DIR (YAML for exchanges and currencies, JSON for the campaigns).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { Campaign, ConfigBundle, Creative } from '../../src/campaigns/schema.js';
import { Rng } from '../../src/simulator/rng.js';
import {
  APP_COUNT,
  BANNER_SIZES,
  COUNTRIES,
  DEAL_COUNT,
  IAB_CATEGORIES,
  SEGMENT_COUNT,
  SITE_COUNT,
  appBundle,
  dealId,
  publisherOfSite,
  segmentId,
  siteDomain,
} from '../../src/simulator/vocabulary.js';

export interface CampaignOptions {
  readonly seed: number | string;
  readonly campaigns: number;
}

type Kind = 'banner' | 'video' | 'audio' | 'native' | 'banner+native';
const KINDS: readonly (readonly [Kind, number])[] = [
  ['banner', 50],
  ['video', 18],
  ['audio', 8],
  ['native', 16],
  ['banner+native', 8],
];
const BASE_MEDIAN: Record<Kind, number> = { banner: 0.7, video: 4, audio: 2, native: 0.9, 'banner+native': 0.8 };
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const WEEKEND = ['sat', 'sun'] as const;
const OS_NAMES = ['ios', 'android', 'windows', 'mac os', 'linux', 'tizen'];
const BROWSERS = ['chrome', 'safari', 'firefox', 'edge'];

export const BENCH_EXCHANGES = {
  defaultExchange: 'default',
  exchanges: [
    { id: 'default', name: 'Benchmark exchange (OpenRTB 2.5/2.6, USD)', seat: 'dsp-seat-1', currency: 'USD', versions: ['2.5', '2.6'] as ('2.5' | '2.6')[] },
    { id: 'eu-25', name: 'A 2.5-only exchange pricing in EUR', seat: '4711', currency: 'EUR', versions: ['2.5'] as ('2.5' | '2.6')[] },
  ],
};

export const BENCH_CURRENCIES = { currencies: { base: 'USD', rates: { EUR: 0.92, GBP: 0.79, JPY: 151.2, CAD: 1.37, AUD: 1.52 } } };

/** Advertisers and campaigns (no exchanges or currencies: see writeScenarioConfig). */
export function generateCampaigns(opts: CampaignOptions): Pick<ConfigBundle, 'advertisers' | 'campaigns'> {
  const rng = new Rng(`campaigns:${opts.seed}`);
  const advertiserCount = Math.max(1, Math.ceil(opts.campaigns / 8));
  const advertisers = Array.from({ length: advertiserCount }, (_, i) => ({
    id: `adv-${i}`,
    name: `Advertiser ${i}`,
    domains: [`adv-${i}.example`],
    currency: i % 10 === 3 ? 'EUR' : i % 20 === 7 ? 'GBP' : 'USD',
  }));
  const campaigns: Campaign[] = [];
  for (let i = 0; i < opts.campaigns; i++) {
    const r = rng.fork(i);
    const advertiserId = advertisers[i % advertiserCount].id;
    campaigns.push(i < BROAD_KINDS.length ? broadCampaign(r, i, advertiserId, BROAD_KINDS[i]) : campaign(r, i, advertiserId));
  }
  return { advertisers, campaigns };
}

/**
 * The first campaigns of every scenario are broad prospecting campaigns, as most DSP accounts have:
 * no targeting beyond their media, every common banner size. Their number does not grow with the
 * scenario, so they matter little among thousands of campaigns, but with a handful of campaigns
 * they let the request mix reach the same 20-40 % bid rate: a scenario with 10 campaigns then
 * measures the cost of fewer campaigns, not of fewer bids.
 */
const BROAD_KINDS: readonly Kind[] = ['banner', 'native', 'video'];

function broadCampaign(r: Rng, i: number, advertiserId: string, kind: Kind): Campaign {
  const base = round2(BASE_MEDIAN[kind] * (0.8 + r.next() * 0.4));
  const landing = `https://${advertiserId}.example/c/${i}`;
  const cdn = `https://cdn.${advertiserId}.example/${i}`;
  const banners: Creative[] = BANNER_SIZES.map(([w, h]) => ({ id: `cr-${i}-${w}x${h}`, type: 'banner', w, h, imageUrl: `${cdn}/${w}x${h}.png`, landingUrl: landing }));
  return {
    id: `cmp-${i}`,
    advertiserId,
    name: `Campaign ${i} (${kind}, broad prospecting)`,
    bid: { base, max: round2(base * 1.5) },
    categories: [r.pick(IAB_CATEGORIES.filter((x) => !x.startsWith('IAB25') && !x.startsWith('IAB26')))],
    creatives: kind === 'banner' ? banners : creatives(r, i, kind, advertiserId),
  };
}

function campaign(r: Rng, i: number, advertiserId: string): Campaign {
  const kind = r.weighted(KINDS);
  const base = round2(Math.max(0.05, r.lognormal(BASE_MEDIAN[kind], 0.45)));
  const max = round2(Math.min(9_999, base * (1.1 + r.next() * 0.4)));
  const c: Campaign = {
    id: `cmp-${i}`,
    advertiserId,
    name: `Campaign ${i} (${kind})`,
    bid: { base, max },
    categories: [r.pick(IAB_CATEGORIES.filter((x) => !x.startsWith('IAB25') && !x.startsWith('IAB26')))],
    creatives: creatives(r, i, kind, advertiserId),
  };
  if (r.chance(0.03)) c.status = 'paused';
  if (r.chance(0.3)) {
    c.start = '2024-01-01T00:00:00Z';
    c.end = '2099-01-01T00:00:00Z';
  }

  const t: NonNullable<Campaign['targeting']> = {};
  const ctv = kind === 'video' || kind === 'audio';
  const channel = r.weighted([
    ['site', 35],
    ['app', 30],
    ['any', 35],
  ] as const);
  if (channel !== 'any') t.channels = [channel];
  if (r.chance(0.9)) {
    const n = r.weighted([
      [1, 55],
      [2, 20],
      [3, 15],
      [5, 10],
      [8, 5],
    ] as const);
    const picked = new Set<string>();
    for (let k = 0; k < n * 3 && picked.size < n; k++) picked.add(r.weighted(COUNTRIES.map((x) => [x.a2, x.weight] as const)));
    t.countries = [...picked];
    const us = t.countries.includes('US') ? COUNTRIES[0] : undefined;
    if (us && r.chance(0.12)) t.regions = r.sample(us.regions, r.int(1, 3)).map((s) => `US-${s}`);
    if (us && r.chance(0.04)) t.cities = r.sample(us.cities, r.int(1, 3));
  }
  if (r.chance(0.55)) t.deviceTypes = ctv && r.chance(0.5) ? [3, 7] : r.chance(0.5) ? [1, 4, 5] : [2];
  if (r.chance(0.22)) t.os = r.sample(OS_NAMES, r.int(1, 2));
  if (channel !== 'app' && r.chance(0.08)) t.browsers = r.sample(BROWSERS, r.int(1, 2));
  if (channel !== 'app') {
    if (r.chance(0.15)) t.domains = { allow: domains(r, r.int(5, 60)) };
    else if (r.chance(0.2)) t.domains = { block: domains(r, r.int(1, 30)) };
  }
  if (channel !== 'site') {
    if (r.chance(0.12)) t.bundles = { allow: Array.from({ length: r.int(5, 40) }, () => appBundle(r.zipf(APP_COUNT, 0.8))) };
    else if (r.chance(0.1)) t.bundles = { block: Array.from({ length: r.int(1, 20) }, () => appBundle(r.int(0, APP_COUNT - 1))) };
  }
  if (r.chance(0.05)) t.publishers = { allow: Array.from({ length: r.int(3, 30) }, () => publisherOfSite(r.zipf(SITE_COUNT, 0.8))) };
  if (r.chance(0.45)) t.categories = { include: r.sample(IAB_CATEGORIES.filter((x) => !x.includes('-')), r.int(2, 8)) };
  if (r.chance(0.3)) t.categories = { ...t.categories, exclude: ['IAB25', 'IAB26', ...(r.chance(0.3) ? ['IAB7-39'] : [])] };
  if (r.chance(0.15)) {
    const tz = r.pick(COUNTRIES).tz;
    t.dayparting = r.chance(0.6)
      ? { timezone: tz, windows: [{ days: [...WEEKDAYS], from: r.int(5, 9), to: r.int(18, 24) }] }
      : {
          timezone: tz,
          windows: [
            { days: [...WEEKDAYS], from: r.int(0, 12), to: r.int(13, 24) },
            { days: [...WEEKEND], from: r.int(0, 10), to: 24 },
          ],
        };
  }
  if (r.chance(0.03)) t.ipRanges = { allow: r.sample(['24.0.0.0/8', '73.0.0.0/8', '98.0.0.0/8', '104.0.0.0/8', '2001:db8::/32'], r.int(1, 3)) };
  else if (r.chance(0.05)) t.ipRanges = { block: [`${r.pick([46, 62, 81, 185])}.${r.int(0, 255)}.0.0/16`] };
  // Audiences: almost half of the campaigns target segments (the popular ones more often).
  const segIdx = () => Math.floor(Math.pow(r.next(), 2) * SEGMENT_COUNT);
  if (r.chance(0.45)) {
    t.segments = { anyOf: unique(Array.from({ length: r.int(1, 4) }, () => segmentId(segIdx()))) };
    if (r.chance(0.12)) t.segments.allOf = [segmentId(segIdx())];
    if (r.chance(0.15)) t.segments.exclude = [segmentId(segIdx())];
    if (r.chance(0.3)) t.segments.whenUnavailable = 'bid';
    c.multipliers = { segment: { [t.segments.anyOf![0]]: round2(1.1 + r.next() * 0.8) } };
  } else if (r.chance(0.08)) {
    t.segments = { exclude: [segmentId(segIdx())] };
  }
  if (Object.keys(t).length) c.targeting = t;

  // Price multipliers
  const m: NonNullable<Campaign['multipliers']> = { ...c.multipliers };
  if (r.chance(0.25)) m.deviceType = { [String(r.pick([2, 4, 5, 3]))]: round2(0.7 + r.next() * 0.8) };
  if (r.chance(0.15)) m.os = { [r.pick(OS_NAMES)]: round2(0.8 + r.next() * 0.6) };
  if (r.chance(0.2)) m.country = { [r.weighted(COUNTRIES.map((x) => [x.a2, x.weight] as const))]: round2(0.8 + r.next() * 0.7) };
  if (r.chance(0.1)) m.domain = { [siteDomain(r.zipf(SITE_COUNT, 0.8))]: round2(1.1 + r.next() * 0.5) };
  if (r.chance(0.05)) m.bundle = { [appBundle(r.zipf(APP_COUNT, 0.8))]: round2(1.1 + r.next() * 0.5) };
  if (Object.keys(m).length) c.multipliers = m;

  // Deals: a few campaigns buy private marketplace inventory, some only that.
  if (r.chance(0.06)) {
    c.deals = Array.from({ length: r.int(1, 4) }, () => ({ id: dealId(r.int(0, DEAL_COUNT - 1)), multiplier: round2(1 + r.next()) }));
    c.deals = c.deals.filter((d, k) => c.deals!.findIndex((x) => x.id === d.id) === k);
    c.openMarket = r.chance(0.5);
  }
  if (r.chance(0.1)) c.currency = r.pick(['USD', 'EUR', 'GBP']);
  return c;
}

function creatives(r: Rng, i: number, kind: Kind, advertiserId: string): Creative[] {
  const out: Creative[] = [];
  const landing = `https://${advertiserId}.example/c/${i}`;
  const cdn = `https://cdn.${advertiserId}.example/${i}`;
  if (kind === 'banner' || kind === 'banner+native') {
    const n = r.int(1, 3);
    const sizes = new Set<readonly [number, number, number]>();
    for (let k = 0; k < n * 3 && sizes.size < n; k++) sizes.add(r.weighted(BANNER_SIZES.map((s) => [s, s[2]] as const)));
    for (const [w, h] of sizes) {
      const id = `cr-${i}-${w}x${h}`;
      if (r.chance(0.25))
        out.push({ id, type: 'banner', w, h, landingUrl: landing, html: `<a href="\${DSP_CLICK_URL}" target="_blank"><img src="${cdn}/${w}x${h}.png" width="${w}" height="${h}" alt="Ad"></a>`, ...(r.chance(0.2) ? { attrs: [r.pick([1, 3, 8, 9])] } : {}) });
      else out.push({ id, type: 'banner', w, h, imageUrl: `${cdn}/${w}x${h}.png`, landingUrl: landing, ...(r.chance(0.1) ? { attrs: [r.pick([1, 3])] } : {}) });
    }
  }
  if (kind === 'native' || kind === 'banner+native') {
    out.push({
      id: `cr-${i}-native`,
      type: 'native',
      title: `Offer ${i}: save today`,
      description: 'A generated native creative for the benchmark, long enough to look real.',
      sponsored: `Advertiser ${advertiserId.slice(4)}`,
      cta: 'Learn more',
      image: { url: `${cdn}/1200x627.jpg`, w: 1200, h: 627 },
      icon: { url: `${cdn}/icon-80.png`, w: 80, h: 80 },
      clickUrl: landing,
    });
  }
  if (kind === 'video') {
    for (const duration of r.sample([6, 15, 30], r.int(1, 2)))
      out.push({
        id: `cr-${i}-v${duration}`,
        type: 'video',
        duration,
        mimes: r.chance(0.7) ? ['video/mp4'] : ['video/mp4', 'video/webm'],
        protocols: [2, 3, 5, 6, 7, 8],
        w: 1280,
        h: 720,
        landingUrl: landing,
        vast: vast(`bench-${i}-${duration}`, duration, 'video/mp4', `${cdn}/v${duration}.mp4`),
      });
  }
  if (kind === 'audio') {
    const duration = r.pick([15, 30]);
    out.push({
      id: `cr-${i}-a${duration}`,
      type: 'audio',
      duration,
      mimes: ['audio/mpeg', 'audio/mp4'],
      protocols: [2, 3, 5, 6, 9, 10],
      landingUrl: landing,
      vast: vast(`bench-${i}-a`, duration, 'audio/mpeg', `${cdn}/a${duration}.mp3`),
    });
  }
  return out;
}

function vast(adId: string, seconds: number, mime: string, media: string): string {
  const d = `00:00:${String(seconds).padStart(2, '0')}`;
  return (
    `<VAST version="3.0"><Ad id="${adId}"><InLine><AdSystem>dsp</AdSystem><AdTitle>${adId}</AdTitle>` +
    `<Creatives><Creative><Linear><Duration>${d}</Duration><MediaFiles>` +
    `<MediaFile delivery="progressive" type="${mime}" width="1280" height="720"><![CDATA[${media}]]></MediaFile>` +
    `</MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>`
  );
}

function domains(r: Rng, n: number): string[] {
  return unique(Array.from({ length: n }, () => siteDomain(r.zipf(SITE_COUNT, 0.8))));
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];
const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Writes the scenario as a config directory: exchanges.yaml, currencies.yaml, advertisers.json and
 * campaigns/part-NNN.json (500 campaigns a file). Returns the number of files written.
 */
export async function writeScenarioConfig(dir: string, opts: CampaignOptions): Promise<{ files: number; campaigns: number }> {
  const { advertisers, campaigns } = generateCampaigns(opts);
  await mkdir(join(dir, 'campaigns'), { recursive: true });
  await writeFile(join(dir, 'exchanges.yaml'), toYaml(BENCH_EXCHANGES));
  await writeFile(join(dir, 'currencies.yaml'), toYaml(BENCH_CURRENCIES));
  await writeFile(join(dir, 'advertisers.json'), JSON.stringify({ advertisers }, null, 1));
  let files = 3;
  for (let k = 0; k * 500 < campaigns!.length; k++) {
    await writeFile(join(dir, 'campaigns', `part-${String(k).padStart(3, '0')}.json`), JSON.stringify({ campaigns: campaigns!.slice(k * 500, k * 500 + 500) }));
    files++;
  }
  return { files, campaigns: campaigns!.length };
}
