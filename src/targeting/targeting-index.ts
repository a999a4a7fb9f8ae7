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
import { AllowRule, BlockRule } from './rules.js';
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

  private readonly all: Bits;
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
  readonly exchangeAllow: AllowRule;
  readonly exchangeBlock: BlockRule;
  /** An imp rule: campaigns by the 2.6 `video.plcmt` values they accept. */
  readonly videoPlacement: AllowRule<number>;
  readonly domainAllow: AllowRule;
  readonly domainBlock: BlockRule;
  readonly bundleAllow: AllowRule;
  readonly bundleBlock: BlockRule;
  readonly publisherAllow: AllowRule;
  readonly publisherBlock: BlockRule;
  readonly categoryInclude: AllowRule;
  readonly categoryExclude: BlockRule;
  /** Request-side block lists, keyed by what campaigns carry. */
  readonly byOwnCategory: BlockRule;
  readonly byAdomain: BlockRule;
  readonly byAppBundle: BlockRule;
  readonly dayparts: DaypartTable;
  private readonly bannerAny: Bits;
  private readonly bannerBySize = new Map<string, Bits>();
  private readonly video: Bits;
  private readonly audio: Bits;
  private readonly native: Bits;
  private readonly openMarket: Bits;
  private readonly byDeal = new Map<string, Bits>();
  private readonly hasDealOnly: boolean;

  /** Max bid (base currency) by rank: descending. */
  private readonly maxBids: Float64Array;

  /**
   * Scratch space, reused by every request (one request runs at a time per thread): the plans,
   * the request's candidates, an imp's candidates, and which chunks of the request's candidates
   * are known (CHUNK_UNKNOWN, CHUNK_NONE, CHUNK_SOME).
   */
  private readonly requestPlan = new CandidatePlan();
  private readonly impPlan = new CandidatePlan();
  private readonly reqBits: Bits;
  /** The candidates `impCandidatesIn` found, valid over the range it was last asked for. */
  readonly impBits: Bits;
  private readonly chunkState: Uint8Array;
  /** The planned request has one imp: its request rules are evaluated only where the imp leaves campaigns, and not kept. */
  private singleImp = false;

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
    this.exchangeAllow = allow();
    this.exchangeBlock = block();
    this.videoPlacement = allow<number>();
    this.domainAllow = allow();
    this.domainBlock = block();
    this.bundleAllow = allow();
    this.bundleBlock = block();
    this.publisherAllow = allow();
    this.publisherBlock = block();
    this.categoryInclude = allow();
    this.categoryExclude = block();
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
    this.reqBits = newBits(words);
    this.impBits = newBits(words);
    this.chunkState = new Uint8Array(Math.ceil(words / CHUNK_WORDS));

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
    for (const rule of [this.channel, this.country, this.region, this.deviceType, this.os, this.browser, this.deviceMake, this.connectionType, this.exchangeAllow, this.videoPlacement])
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
    this.exchangeAllow.add(r, t.exchanges?.allow);
    this.exchangeBlock.add(r, t.exchanges?.block);
    this.videoPlacement.add(r, t.videoPlacements);
    this.domainAllow.add(r, lower(t.domains?.allow));
    this.domainBlock.add(r, lower(t.domains?.block));
    this.bundleAllow.add(r, lower(t.bundles?.allow));
    this.bundleBlock.add(r, lower(t.bundles?.block));
    this.publisherAllow.add(r, t.publishers?.allow);
    this.publisherBlock.add(r, t.publishers?.block);
    this.categoryInclude.add(r, t.categories?.include);
    this.categoryExclude.add(r, t.categories?.exclude);
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

  /**
   * Starts a request's candidate search: resolves its request-level rules (and, for a fully known
   * audience, the `anyOf` audience rule over `segments`) into the request plan. Chunks of campaigns
   * are then evaluated on demand by `impCandidatesIn`, each at most once per request. With only a
   * partly known audience, `segments` is undefined: each campaign's own policy decides later (see
   * bidding/audience-rules). `exchange`: the id of the exchange the request came from.
   */
  planRequest(req: BidRequestView, device: DeviceFacts, nowMs: number, segments: ReadonlySet<string> | undefined, exchange: string | undefined): void {
    const plan = this.requestPlan.reset();
    this.exchangeAllow.plan(plan, exchange);
    this.exchangeBlock.plan(plan, exchange);
    this.channel.plan(plan, req.channel);
    this.country.plan(plan, req.country);
    this.region.plan(plan, req.region);
    this.city.plan(plan, req.city);
    // A rule on a postal prefix covers the codes under it; one on a language, its regional forms.
    // Normalised here, only when some campaign has such a rule.
    if (this.postalCode.constrained) {
      const zip = postalKey(req.postalCode);
      if (zip !== undefined) this.postalCode.planAny(plan, postalPrefixes(zip));
      else this.postalCode.plan(plan, undefined);
    }
    if (this.language.constrained) {
      const language = languageKey(req.language);
      if (language !== undefined) this.language.planAny(plan, languageAndPrimary(language));
      else this.language.plan(plan, undefined);
    }
    this.deviceType.plan(plan, device.deviceType);
    this.os.plan(plan, device.os);
    this.browser.plan(plan, device.browser);
    if (this.deviceMake.constrained) this.deviceMake.plan(plan, foldCase(req.make));
    if (this.deviceModel.constrained) this.deviceModel.plan(plan, foldCase(req.model));
    this.connectionType.plan(plan, req.connectionType);
    if (this.carrier.constrained) this.carrier.plan(plan, foldCase(req.carrier));
    if ((this.domainAllow.constrained || this.domainBlock.constrained) && req.domain !== undefined) {
      // A rule on example.com covers news.example.com too.
      const domains = domainAndParents(req.domain);
      this.domainAllow.planAny(plan, domains);
      this.domainBlock.planAll(plan, domains);
    } else this.domainAllow.plan(plan, req.domain);
    this.bundleAllow.plan(plan, req.bundle);
    this.bundleBlock.plan(plan, req.bundle);
    this.publisherAllow.plan(plan, req.publisherId);
    this.publisherBlock.plan(plan, req.publisherId);
    // Category lists in a taxonomy other than 1.0 (2.6 `cattax`) cannot be compared with the
    // campaigns' 1.0 codes: an include rule can only match the categories that can be read, and
    // neither an exclude rule nor a campaign's own categories (against bcat) can be shown clear.
    this.categoryInclude.planAny(plan, req.categories);
    if (req.categoriesKnown) this.categoryExclude.planAll(plan, req.categories);
    else this.categoryExclude.planUnknown(plan);
    if (req.bcatKnown) this.byOwnCategory.planAll(plan, req.bcat);
    else if (req.bcat.length > 0) this.byOwnCategory.planUnknown(plan);
    if (this.byAdomain.constrained) for (let i = 0; i < req.badv.length; i++) this.byAdomain.plan(plan, bareDomain(req.badv[i]));
    if (this.byAppBundle.constrained) for (let i = 0; i < req.bapp.length; i++) this.byAppBundle.plan(plan, req.bapp[i].toLowerCase()); // campaign bundles are lower-cased
    this.dayparts.plan(plan, nowMs);
    if (segments !== undefined) this.segmentAnyOf.planAnyIn(plan, segments);
    this.singleImp = req.imps.length === 1;
    if (!this.singleImp) this.chunkState.fill(CHUNK_UNKNOWN);
  }

  /** Resolves an imp's media and deals into the imp plan; `impCandidatesIn` then narrows the request's candidates by it. */
  planImp(imp: ImpView): void {
    const plan = this.impPlan.reset();
    plan.andAny();
    if (imp.banner) {
      if (imp.banner.sizes.length === 0) plan.anyOf(this.bannerAny, 0);
      else
        for (let i = 0; i < imp.banner.sizes.length; i++) {
          const bits = this.bannerBySize.get(imp.banner.sizes[i]);
          if (bits) plan.anyOf(bits, 0);
        }
    }
    if (imp.video) plan.anyOf(this.video, 0);
    if (imp.audio) plan.anyOf(this.audio, 0);
    if (imp.native) plan.anyOf(this.native, 0);
    // A placement rule is met only by a video imp carrying one of its values (2.5 has no plcmt).
    this.videoPlacement.plan(plan, imp.video?.placement);
    if (imp.privateAuction || this.hasDealOnly) {
      plan.andAny();
      if (!imp.privateAuction) plan.anyOf(this.openMarket, 0);
      for (let i = 0; i < imp.deals.length; i++) {
        const bits = this.byDeal.get(imp.deals[i].id);
        if (bits) plan.anyOf(bits, 0);
      }
    }
  }

  /**
   * The campaigns of the words [from, to) (`from` a multiple of CHUNK_WORDS, `to` at most one chunk
   * on) that pass the planned request and imp: written to `impBits` over that range; false when none.
   *
   * The imp's media and deals go first: with thousands of campaigns they leave nothing in about half
   * the chunks a request looks at, in one operation, where the request's rules (a dozen or more
   * operations) rarely empty a chunk on their own. With one imp, the request's rules then run only
   * over what the imp left, stopping as soon as that is empty; with several, they are evaluated over
   * the whole chunk once per request and kept for the other imps.
   */
  impCandidatesIn(from: number, to: number): boolean {
    const bits = this.impBits;
    if (!this.impPlan.evaluate(bits, this.all, from, to)) return false;
    if (this.singleImp) return this.requestPlan.evaluate(bits, bits, from, to);
    const chunk = from / CHUNK_WORDS;
    let state = this.chunkState[chunk];
    if (state === CHUNK_UNKNOWN) {
      const some = this.requestPlan.evaluate(this.reqBits, this.all, from, Math.min(this.words, from + CHUNK_WORDS));
      state = this.chunkState[chunk] = some ? CHUNK_SOME : CHUNK_NONE;
    }
    if (state === CHUNK_NONE) return false;
    const req = this.reqBits;
    let acc = 0;
    for (let w = from; w < to; w++) acc |= bits[w] &= req[w];
    return acc !== 0;
  }

  /** The highest max bid (base currency) among campaigns from rank `rank` on (ranks are in descending max bid). */
  maxBidFrom(rank: number): number {
    return rank < this.maxBids.length ? this.maxBids[rank] : 0;
  }

  /** Campaigns whose request-level rules all accept this request (every word at once; for tests and tools). */
  requestCandidates(req: BidRequestView, device: DeviceFacts, nowMs: number, segments?: ReadonlySet<string>, exchange?: string): Bits {
    this.planRequest(req, device, nowMs, segments, exchange);
    this.requestPlan.evaluate(this.reqBits, this.all, 0, this.words);
    return this.reqBits;
  }

  /** `requestBits` narrowed to the campaigns with a creative of a media type the imp accepts and a deal it allows (into `out`). */
  impCandidates(imp: ImpView, requestBits: Bits, out: Bits): Bits {
    this.planImp(imp);
    this.impPlan.evaluate(out, requestBits, 0, this.words);
    return out;
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
const CHUNK_UNKNOWN = 0;
const CHUNK_NONE = 1;
const CHUNK_SOME = 2;

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
function domainAndParents(domain: string): string[] {
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

function bareDomain(d: string): string {
  const lower = d.toLowerCase();
  return lower.startsWith('www.') ? lower.slice(4) : lower;
}
