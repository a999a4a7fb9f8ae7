/**
 * A request's candidate search over an immutable TargetingIndex: the per-request scratch state (the
 * request and imp plans, the request's candidates, an imp's candidates, and which chunks of the
 * request's candidates are known: CHUNK_UNKNOWN, CHUNK_NONE, CHUNK_SOME). One per thread and index is
 * reused by every request (decide() is synchronous, so one request runs it at a time), so a request
 * allocates nothing here; the index itself is never written after it is built.
 */
import type { BidRequestView, ImpView } from '../openrtb/request-view.js';
import { newBits, type Bits } from './bitset.js';
import { CandidatePlan } from './candidate-plan.js';
import { postalKey, postalPrefixes } from '../openrtb/geo.js';
import { languageAndPrimary, languageKey } from './language.js';
import { foldCase } from './device.js';
import { CHUNK_WORDS, domainAndParents, type DeviceFacts, type TargetingIndex } from './targeting-index.js';

/**
 * How many words `recentMatchWords` keeps. In the benchmark's mix at 10,000 campaigns, 16 settle
 * 96 % of the below-floor checks that find a match (8: 87 %, 4: 57 %).
 */
const RECENT_MATCH_WORDS = 16;

const CHUNK_UNKNOWN = 0;
const CHUNK_NONE = 1;
const CHUNK_SOME = 2;

export class CandidateSearch {
  readonly requestPlan = new CandidatePlan();
  readonly impPlan = new CandidatePlan();
  readonly reqBits: Bits;
  /** The candidates `impCandidatesIn` found, valid over the range it was last asked for. */
  readonly impBits: Bits;
  private readonly chunkState: Uint8Array;
  /** The planned request has one imp: its request rules are evaluated only where the imp leaves campaigns, and not kept. */
  private singleImp = false;
  /**
   * Words where earlier requests found a campaign under every floor that matched them (-1: none
   * yet), newest overwriting oldest: the bidder's below-floor check tries these first
   * (`impCandidatesInWord`). Kept across requests, not part of any answer: a hint where to look.
   */
  readonly recentMatchWords = new Int32Array(RECENT_MATCH_WORDS).fill(-1);
  private recentNext = 0;

  constructor(readonly index: TargetingIndex) {
    this.reqBits = newBits(index.words);
    this.impBits = newBits(index.words);
    this.chunkState = new Uint8Array(Math.ceil(index.words / CHUNK_WORDS));
  }

  /**
   * Starts a request's candidate search: resolves its request-level rules (and, for a fully known
   * audience, the `anyOf` audience rule over `segments`) into the request plan. Chunks of campaigns
   * are then evaluated on demand by `impCandidatesIn`, each at most once per request. With only a
   * partly known audience, `segments` is undefined: each campaign's own policy decides later (see
   * bidding/audience-rules). `exchange`: the id of the exchange the request came from.
   */
  planRequest(req: BidRequestView, device: DeviceFacts, nowMs: number, segments: ReadonlySet<string> | undefined, exchange: string | undefined): void {
    const ix = this.index;
    const plan = this.requestPlan.reset();
    ix.exchanges.plan(plan, exchange);
    ix.channel.plan(plan, req.channel);
    ix.country.plan(plan, req.country);
    ix.region.plan(plan, req.region);
    ix.city.plan(plan, req.city);
    // A rule on a postal prefix covers the codes under it; one on a language, its regional forms.
    // Normalised here, only when some campaign has such a rule.
    if (ix.postalCode.constrained) {
      const zip = postalKey(req.postalCode);
      if (zip !== undefined) ix.postalCode.planAny(plan, postalPrefixes(zip));
      else ix.postalCode.plan(plan, undefined);
    }
    if (ix.language.constrained) {
      const language = languageKey(req.language);
      if (language !== undefined) ix.language.planAny(plan, languageAndPrimary(language));
      else ix.language.plan(plan, undefined);
    }
    ix.deviceType.plan(plan, device.deviceType);
    ix.os.plan(plan, device.os);
    ix.browser.plan(plan, device.browser);
    if (ix.deviceMake.constrained) ix.deviceMake.plan(plan, foldCase(req.make));
    if (ix.deviceModel.constrained) ix.deviceModel.plan(plan, foldCase(req.model));
    ix.connectionType.plan(plan, req.connectionType);
    if (ix.carrier.constrained) ix.carrier.plan(plan, foldCase(req.carrier));
    // A rule on example.com covers news.example.com too.
    if (ix.domains.constrained && req.domain !== undefined) ix.domains.planAny(plan, domainAndParents(req.domain), true);
    else ix.domains.allow.plan(plan, req.domain);
    ix.bundles.plan(plan, req.bundle);
    ix.publishers.plan(plan, req.publisherId);
    // Category lists in a taxonomy other than 1.0 (2.6 `cattax`) cannot be compared with the
    // campaigns' 1.0 codes: an include rule can only match the categories that can be read, and
    // neither an exclude rule nor a campaign's own categories (against bcat) can be shown clear.
    ix.categories.planAny(plan, req.categories, req.categoriesKnown);
    if (!req.categoriesKnown) ix.categories.block.planUnknown(plan);
    if (req.bcatKnown) ix.byOwnCategory.planAll(plan, req.bcat);
    else if (req.bcat.length > 0) ix.byOwnCategory.planUnknown(plan);
    if (ix.byAdomain.constrained) for (let i = 0; i < req.badv.length; i++) ix.byAdomain.plan(plan, bareDomain(req.badv[i]));
    if (ix.byAppBundle.constrained) for (let i = 0; i < req.bapp.length; i++) ix.byAppBundle.plan(plan, req.bapp[i].toLowerCase()); // campaign bundles are lower-cased
    ix.dayparts.plan(plan, nowMs);
    if (segments !== undefined) ix.segmentAnyOf.planAnyIn(plan, segments);
    this.singleImp = req.imps.length === 1;
    if (!this.singleImp) this.chunkState.fill(CHUNK_UNKNOWN);
  }

  /** Resolves an imp's media and deals into the imp plan; `impCandidatesIn` then narrows the request's candidates by it. */
  planImp(imp: ImpView): void {
    const ix = this.index;
    const plan = this.impPlan.reset();
    plan.andAny();
    if (imp.banner) {
      if (imp.banner.sizes.length === 0) plan.anyOf(ix.bannerAny, 0);
      else
        for (let i = 0; i < imp.banner.sizes.length; i++) {
          const bits = ix.bannerBySize.get(imp.banner.sizes[i]);
          if (bits) plan.anyOf(bits, 0);
        }
    }
    if (imp.video) plan.anyOf(ix.video, 0);
    if (imp.audio) plan.anyOf(ix.audio, 0);
    if (imp.native) plan.anyOf(ix.native, 0);
    // A placement rule is met only by a video imp carrying one of its values (2.5 has no plcmt).
    ix.videoPlacement.plan(plan, imp.video?.placement);
    if (imp.privateAuction || ix.hasDealOnly) {
      plan.andAny();
      if (!imp.privateAuction) plan.anyOf(ix.openMarket, 0);
      for (let i = 0; i < imp.deals.length; i++) {
        const bits = ix.byDeal.get(imp.deals[i].id);
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
    const ix = this.index;
    const bits = this.impBits;
    if (!this.impPlan.evaluate(bits, ix.all, from, to)) return false;
    if (this.singleImp) return this.requestPlan.evaluate(bits, bits, from, to);
    const chunk = from / CHUNK_WORDS;
    let state = this.chunkState[chunk];
    if (state === CHUNK_UNKNOWN) {
      const some = this.requestPlan.evaluate(this.reqBits, ix.all, from, Math.min(ix.words, from + CHUNK_WORDS));
      state = this.chunkState[chunk] = some ? CHUNK_SOME : CHUNK_NONE;
    }
    if (state === CHUNK_NONE) return false;
    const req = this.reqBits;
    let acc = 0;
    for (let w = from; w < to; w++) acc |= bits[w] &= req[w];
    return acc !== 0;
  }

  /**
   * The campaigns of word `w` that pass the planned imp and request: written to `impBits` there;
   * false when none. One word costs an eighth of a chunk, for a probe where a match is likely.
   */
  impCandidatesInWord(w: number): boolean {
    const bits = this.impBits;
    return this.impPlan.evaluate(bits, this.index.all, w, w + 1) && this.requestPlan.evaluate(bits, bits, w, w + 1);
  }

  /** Remembers word `w` among `recentMatchWords` (once). */
  rememberMatchWord(w: number): void {
    const recent = this.recentMatchWords;
    if (recent.indexOf(w) >= 0) return;
    recent[this.recentNext] = w;
    this.recentNext = (this.recentNext + 1) % recent.length;
  }

  /** Campaigns whose request-level rules all accept this request (every word at once; for tests and tools). */
  requestCandidates(req: BidRequestView, device: DeviceFacts, nowMs: number, segments?: ReadonlySet<string>, exchange?: string): Bits {
    const ix = this.index;
    this.planRequest(req, device, nowMs, segments, exchange);
    this.requestPlan.evaluate(this.reqBits, ix.all, 0, ix.words);
    return this.reqBits;
  }

  /** `requestBits` narrowed to the campaigns with a creative of a media type the imp accepts and a deal it allows (into `out`). */
  impCandidates(imp: ImpView, requestBits: Bits, out: Bits): Bits {
    const ix = this.index;
    this.planImp(imp);
    this.impPlan.evaluate(out, requestBits, 0, ix.words);
    return out;
  }
}

function bareDomain(d: string): string {
  const lower = d.toLowerCase();
  return lower.startsWith('www.') ? lower.slice(4) : lower;
}

let current: CandidateSearch | undefined;

/** This thread's search over `index`: one is kept, for the index of the current snapshot (a new index gets a new one). */
export function searchOver(index: TargetingIndex): CandidateSearch {
  if (current === undefined || current.index !== index) current = new CandidateSearch(index);
  return current;
}
