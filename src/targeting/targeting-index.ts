/**
 * The immutable targeting index: campaigns compiled into bit-set rules, built off the hot path
 * whenever campaigns change and published by swapping one reference. A request resolves a fixed
 * number of rules (one per dimension it carries) into a plan of bit-set ANDs (candidate-plan.ts),
 * evaluated over the campaigns a chunk at a time, in rank order, only as far as the scan needs.
 */
import type { ConfigBundle } from '../campaigns/schema.js';
import type { Currencies } from '../currency/currencies.js';
import type { BidRequestView, ImpView } from '../openrtb/request-view.js';
import { fill, newBits, setBit, wordsFor, type Bits } from './bitset.js';
import { CandidatePlan } from './candidate-plan.js';
import { compileCampaign, type CompiledCampaign, type CompiledCreative } from './compiled-campaign.js';
import { DaypartTable } from './dayparting.js';
import { AllowRule, BlockRule, ListRules } from './rules.js';
import { cityKey, normalizeCountry, postalKey, postalPrefixes, regionRuleKey } from '../openrtb/geo.js';
import { languageAndPrimary, languageKey } from './language.js';
import { parentCategory } from '../openrtb/categories.js';
import { connectionTypeRule, foldCase } from './device.js';

/** What the request's user agent adds when the request does not say it directly. */
export interface DeviceFacts {
  readonly deviceType: number | undefined;
  readonly os: string | undefined;
  readonly browser: string | undefined;
}

export class TargetingIndex {
  readonly campaigns: readonly CompiledCampaign[];
  readonly byId: ReadonlyMap<string, CompiledCampaign>;
  /** Every campaign of the configuration, paused ones too (their late notices still count against budgets and caps). */
  readonly anyById: ReadonlyMap<string, CompiledCampaign>;
  private readonly creatives: ReadonlyMap<string, CompiledCreative>;
  readonly words: number;
  /** Some campaign targets device type, OS or browser, so the user agent may need parsing. */
  readonly needsUserAgent: boolean;
  /** Some campaign has audience rules or segment multipliers, so the user's segments are looked up. */
  readonly usesSegments: boolean;
  /** Campaigns by the segments of their `anyOf` rule (applied only when the audience is fully known). */
  readonly segmentAnyOf: AllowRule;

  readonly all: Bits;
  readonly channel: AllowRule;
  readonly country: AllowRule;
  readonly region: AllowRule;
  readonly city: AllowRule;
  readonly postalCode: AllowRule;
  readonly language: AllowRule;
  readonly deviceType: AllowRule<number>;
  readonly os: AllowRule;
  readonly browser: AllowRule;
  readonly deviceMake: AllowRule;
  readonly deviceModel: AllowRule;
  readonly connectionType: AllowRule<number>;
  readonly carrier: AllowRule;
  /** Exchange, domain, bundle, publisher and category rules: allow and block lists over one map each. */
  readonly exchanges: ListRules;
  /** An imp rule: campaigns by the 2.6 `video.plcmt` values they accept. */
  readonly videoPlacement: AllowRule<number>;
  readonly domains: ListRules;
  readonly bundles: ListRules;
  readonly publishers: ListRules;
  /** Include (allow) and exclude (block) category rules. */
  readonly categories: ListRules;
  /** Request-side block lists, keyed by what campaigns carry. */
  readonly byOwnCategory: BlockRule;
  readonly byAdomain: BlockRule;
  readonly byAppBundle: BlockRule;
  readonly dayparts: DaypartTable;
  readonly bannerAny: Bits;
  readonly bannerBySize = new Map<string, Bits>();
  readonly video: Bits;
  readonly audio: Bits;
  readonly native: Bits;
  readonly openMarket: Bits;
  readonly byDeal = new Map<string, Bits>();
  readonly hasDealOnly: boolean;

  /** Max bid (base currency) by rank: descending. */
  private readonly maxBids: Float64Array;

  constructor(bundle: ConfigBundle, currencies: Currencies) {
    const advertisers = new Map((bundle.advertisers ?? []).map((a) => [a.id, a]));
    const all = (bundle.campaigns ?? []).map((c) => compileCampaign(c, advertisers.get(c.advertiserId), currencies));
    const compiled = all
      .filter((c, i) => (bundle.campaigns![i].status ?? 'active') === 'active')
      .sort((a, b) => b.maxBidBase - a.maxBidBase || (a.id < b.id ? -1 : 1));
    compiled.forEach((c, i) => (c.rank = i));
    this.campaigns = compiled;
    this.maxBids = Float64Array.from(compiled, (c) => c.maxBidBase);
    this.byId = new Map(compiled.map((c) => [c.id, c]));
    this.anyById = new Map(all.map((c) => [c.id, c]));
    // Paused campaigns' creatives too: ads already served keep their click redirect.
    this.creatives = new Map(
      all.flatMap((c) => [...c.banners, ...c.videos, ...c.audios, ...c.natives]).map((cr) => [cr.id, cr] as const),
    );
    const words = (this.words = wordsFor(compiled.length));
    const allow = <V extends string | number = string>() => new AllowRule<V>(words);
    const block = () => new BlockRule(words);
    this.all = newBits(words);
    fill(this.all, compiled.length);
    this.channel = allow();
    this.country = allow();
    this.region = allow();
    this.city = allow();
    this.postalCode = allow();
    this.language = allow();
    this.deviceType = allow<number>();
    this.os = allow();
    this.browser = allow();
    this.deviceMake = allow();
    this.deviceModel = allow();
    this.connectionType = allow<number>();
    this.carrier = allow();
    this.exchanges = new ListRules(words);
    this.videoPlacement = allow<number>();
    this.domains = new ListRules(words);
    this.bundles = new ListRules(words);
    this.publishers = new ListRules(words);
    this.categories = new ListRules(words);
    this.byOwnCategory = block();
    this.byAdomain = block();
    this.byAppBundle = block();
    this.segmentAnyOf = allow();
    const unconstrainedHours = newBits(words);
    this.dayparts = new DaypartTable(words, unconstrainedHours);
    this.bannerAny = newBits(words);
    this.video = newBits(words);
    this.audio = newBits(words);
    this.native = newBits(words);
    this.openMarket = newBits(words);

    const source = new Map((bundle.campaigns ?? []).map((c) => [c.id, c]));
    for (const c of compiled) this.addCampaign(c, source.get(c.id)!.targeting ?? {}, unconstrainedHours);
    this.hasDealOnly = compiled.some((c) => !c.openMarket);
    // Multipliers read the same facts: a price must not depend on whether some other campaign targets devices.
    this.needsUserAgent =
      this.deviceType.constrained ||
      this.os.constrained ||
      this.browser.constrained ||
      compiled.some((c) => c.multipliers?.deviceType || c.multipliers?.os);
    this.usesSegments = compiled.some((c) => c.segments || c.multipliers?.segment);
    // Dimensions with a bounded vocabulary get each value's accepting set precomputed (a copy per
    // value); cities, domains, bundles and publishers can have tens of thousands of values and do not.
    for (const rule of [this.channel, this.country, this.region, this.deviceType, this.os, this.browser, this.deviceMake, this.connectionType, this.exchanges.allow, this.videoPlacement])
      rule.seal();
  }

  private addCampaign(c: CompiledCampaign, t: NonNullable<ConfigBundle['campaigns']>[number]['targeting'] & object, noHours: Bits): void {
    const r = c.rank;
    const lower = (xs: readonly string[] | undefined) => xs?.map((x) => x.toLowerCase().replace(/^www\./, ''));
    this.channel.add(r, t.channels);
    this.country.add(r, t.countries?.map((x) => normalizeCountry(x)!));
    this.region.add(r, t.regions?.map((x) => regionRuleKey(x)!));
    this.city.add(r, t.cities?.map((x) => cityKey(x)!));
    this.postalCode.add(r, t.postalCodes?.map((x) => postalKey(x)!));
    this.language.add(r, t.languages?.map((x) => languageKey(x)!));
    // 1 is the 2.x "mobile/tablet" type: a rule on it covers phones (4) and tablets (5) too.
    this.deviceType.add(r, t.deviceTypes?.includes(1) ? [...new Set([...t.deviceTypes, 4, 5])] : t.deviceTypes);
    this.os.add(r, lower(t.os));
    this.browser.add(r, lower(t.browsers));
    // Make, model and carrier are compared whole (no www. to strip), lower-cased here once.
    this.deviceMake.add(r, t.deviceMakes?.map((x) => x.toLowerCase()));
    this.deviceModel.add(r, t.deviceModels?.map((x) => x.toLowerCase()));
    this.connectionType.add(r, connectionTypeRule(t.connectionTypes));
    this.carrier.add(r, t.carriers?.map((x) => x.toLowerCase()));
    this.exchanges.allow.add(r, t.exchanges?.allow);
    this.exchanges.block.add(r, t.exchanges?.block);
    this.videoPlacement.add(r, t.videoPlacements);
    this.domains.allow.add(r, lower(t.domains?.allow));
    this.domains.block.add(r, lower(t.domains?.block));
    this.bundles.allow.add(r, lower(t.bundles?.allow));
    this.bundles.block.add(r, lower(t.bundles?.block));
    this.publishers.allow.add(r, t.publishers?.allow);
    this.publishers.block.add(r, t.publishers?.block);
    this.categories.allow.add(r, t.categories?.include);
    this.categories.block.add(r, t.categories?.exclude);
    this.byOwnCategory.add(r, withParents(c.categories));
    this.byAdomain.add(r, c.adomain.flatMap(domainAndParents));
    if (c.bundle) this.byAppBundle.add(r, [c.bundle]);
    this.segmentAnyOf.add(r, c.segments?.anyOf);
    if (t.dayparting) this.dayparts.add(r, t.dayparting);
    else setBit(noHours, r);
    if (c.openMarket) setBit(this.openMarket, r);
    for (const id of c.deals?.keys() ?? []) setBit(this.bitsFor(this.byDeal, id), r);
    if (c.banners.length) setBit(this.bannerAny, r);
    for (const size of c.bannersBySize.keys()) setBit(this.bitsFor(this.bannerBySize, size), r);
    if (c.videos.length) setBit(this.video, r);
    if (c.audios.length) setBit(this.audio, r);
    if (c.natives.length) setBit(this.native, r);
  }

  private bitsFor(map: Map<string, Bits>, key: string): Bits {
    let bits = map.get(key);
    if (!bits) map.set(key, (bits = newBits(this.words)));
    return bits;
  }

  /**
   * Words of the bit sets that hold every campaign whose max bid reaches `floorBase` (ranks are in
   * descending max bid, so those come first): a request need not evaluate the rest.
   */
  wordsReaching(floorBase: number): number {
    const bids = this.maxBids;
    let lo = 0;
    let hi = bids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bids[mid] >= floorBase) lo = mid + 1;
      else hi = mid;
    }
    return Math.ceil(lo / 32); // lo: how many campaigns reach it
  }

  /** The highest max bid (base currency) among campaigns from rank `rank` on (ranks are in descending max bid). */
  maxBidFrom(rank: number): number {
    return rank < this.maxBids.length ? this.maxBids[rank] : 0;
  }

  /** A live creative by id (for the click redirect's landing page). */
  creative(id: string): CompiledCreative | undefined {
    return this.creatives.get(id);
  }

  newScratch(): Bits {
    return newBits(this.words);
  }
}

/**
 * Words per chunk of a request's candidate search (256 campaigns): the plan is evaluated a chunk
 * at a time, and a chunk the request rules out usually costs two or three operations.
 */
export const CHUNK_WORDS = 8;

function withParents(cats: readonly string[]): string[] {
  const out = new Set<string>();
  for (const c of cats) {
    out.add(c);
    const p = parentCategory(c);
    if (p) out.add(p);
  }
  return [...out];
}

/** `shop.example.com` → itself and `example.com`, so a badv entry blocks its subdomains too. */
export function domainAndParents(domain: string): string[] {
  let d = domain.toLowerCase();
  if (d.startsWith('www.')) d = d.slice(4);
  const out: string[] = [];
  // Every suffix that still has a dot in it: a.b.c → a.b.c, b.c (not the bare TLD).
  for (let start = 0; ; ) {
    const dot = d.indexOf('.', start);
    if (dot < 0) break;
    out.push(start === 0 ? d : d.slice(start));
    start = dot + 1;
  }
  return out.length ? out : [domain.toLowerCase()];
}
