/**
 * A bid request, from the parsed view to the answer and the log, as named stages over one
 * BidContext (bid-context.ts): deadline → privacy → identity and lookups (audiences, frequency) →
 * decide → respond → reserve → send → log. The transport (http/bid-route.ts) reads the body, parses
 * it with the codec and hands the view over here; it writes what the BidReply is told.
 */
import type { Settings } from '../settings/settings.js';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import type { BidderMetrics } from '../metrics/bidder-metrics.js';
import type { OpenRtbProtobuf } from '../openrtb/protobuf-codec.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import type { BidLog } from '../events/bid-log.js';
import type { UserKeyer } from '../events/user-key.js';
import { BidIds, threadName } from '../events/notice-urls.js';
import { NO_AUDIENCE, type AudienceService } from '../audiences/audience-service.js';
import { userKeys } from '../audiences/identity.js';
import { bidEventKeys } from '../audiences/rule-audiences.js';
import type { ProfileFeed, SightingSink } from '../audiences/profiles.js';
import { privacyOutcome } from '../privacy/privacy-outcome.js';
import type { BudgetLedger } from '../money/budget-ledger.js';
import { userHash, type FrequencyService } from '../money/frequency.js';
import { NO_MODELS, type OutcomeModelsRef } from '../models/outcome-models.js';
import { decide, type Decision } from './bidder.js';
import { buildBidResponse, buildBidResponseObject, type ResponseContext } from './build-response.js';
import { deadlineMs } from './deadline.js';
import type { NoBidReason } from './no-bid-reason.js';
import type { BidContext } from './bid-context.js';

/** Where each bid's model features go (the outcome trainer, models/trainer.ts). */
export interface OutcomeFeed {
  bid(bidId: string, campaignId: string, features: Uint32Array, atSec: number): void;
}

export interface BidPipelineDeps {
  readonly settings: Settings;
  readonly snapshots: SnapshotRef;
  readonly metrics: BidderMetrics;
  /** Signs the notice URLs of every bid. */
  readonly signer: NoticeSigner;
  /** Keys users as event rows do: with it, bids reach what rule audiences learnt (rule-audiences.ts). */
  readonly userKeys?: UserKeyer;
  /** The sampled bid and request logs; absent: nothing is logged. */
  readonly bidLog?: BidLog;
  /** The user's segments; absent: no audience lookups (every user is segment-less). */
  readonly audiences?: AudienceService;
  /** Monotonic milliseconds; injectable for tests. */
  readonly clock?: () => number;
  /** This thread's budgets, pacing and kill switch (money/budget-ledger.ts); absent: none apply. */
  readonly money?: BudgetLedger;
  /** Frequency caps: the user's counters, looked up alongside the audience; absent: caps are never met (fail-open/closed per campaign). */
  readonly frequency?: FrequencyService;
  /** The click and conversion models goals are priced from; absent: goals bid their CPM fallback. */
  readonly models?: OutcomeModelsRef;
  /** Takes each bid's features, when the models record them; absent: nothing is kept. */
  readonly outcomes?: OutcomeFeed;
  /** Samples of the users seen, for lookalike audiences (audiences/profiles.ts); absent: none are kept. */
  readonly profiles?: ProfileFeed<SightingSink>;
}

/** The response as it leaves: JSON text, or protobuf bytes for a protobuf request, and each bid's identity. */
type Built = { readonly json: string | Uint8Array; readonly identities: ReturnType<typeof buildBidResponse>['identities'] };

const now = () => performance.now();

/** One per bid thread: the stages every parsed bid request goes through. */
export class BidPipeline {
  readonly responses: ResponseContext;
  readonly clock: () => number;

  constructor(
    readonly deps: BidPipelineDeps,
    /** Encodes the answer to a protobuf request. */
    private readonly protobuf: OpenRtbProtobuf,
  ) {
    this.responses = { noticeBaseUrl: deps.settings.noticeBaseUrl, bidIds: new BidIds(deps.money?.holder ?? threadName(deps.settings.instanceId, 0)), signer: deps.signer };
    this.clock = deps.clock ?? now;
  }

  /** A parsed request, top to bottom; the lookups may finish later, the rest runs where they finish. */
  run(ctx: BidContext): void {
    ctx.budget = deadlineMs(ctx.req.tmax, this.deps.settings);
    if (this.pastDeadline(ctx)) return this.noBid(ctx, 'deadline');
    this.applyPrivacy(ctx);
    const pending = this.lookUp(ctx);
    if (pending === undefined) return this.bid(ctx);
    void pending.then(() => {
      if (!ctx.reply.closed) ctx.reply.resume(() => this.bid(ctx));
    });
  }

  private pastDeadline(ctx: BidContext): boolean {
    return this.clock() - ctx.start >= ctx.budget;
  }

  private applyPrivacy(ctx: BidContext): void {
    ctx.privacy = privacyOutcome(ctx.req, this.deps.settings);
    this.deps.metrics.privacy[ctx.privacy.reason].inc();
  }

  /**
   * The user's identity, audience and frequency counters, looked up at once inside the same slice
   * of the deadline; undefined when nothing is pending (done, or nothing to look up). Without leave
   * to use user-level data nothing user-keyed is looked up: a complete, empty audience, no caps.
   */
  private lookUp(ctx: BidContext): Promise<void> | undefined {
    const { settings, audiences, frequency, userKeys: keyer } = this.deps;
    const segments = ctx.privacy.userData && audiences !== undefined && ctx.snap.index.usesSegments;
    const capped = (ctx.capped = ctx.privacy.userData && frequency !== undefined && frequency.windows(ctx.snap).length > 0);
    if (!segments && !capped) return undefined;
    const keys = userKeys(ctx.req, ctx.ex.id);
    const left = ctx.budget - (this.clock() - ctx.start) - settings.scoringReserveMs;
    const lookupBudget = Math.min(settings.audienceLookupBudgetMs, left);
    // With rule audiences live, the user also goes into the notice URLs (`u=`) and is looked up by
    // the keys events teach under (rule-audiences.ts): both only here, where user data is allowed.
    const rules = segments && keyer !== undefined && audiences!.ruleSegments().length > 0;
    const user = capped || rules ? userHash(keys) : undefined;
    const audience = segments ? audiences!.resolve(rules ? keys.concat(bidEventKeys(ctx.req.buyerUid, user, keyer!)) : keys, lookupBudget) : NO_AUDIENCE;
    const caps =
      user === undefined ? undefined : capped ? frequency!.resolve(user, frequency!.windows(ctx.snap), lookupBudget) : { user, known: false, seen: () => 0 }; // not counted: caps follow failOpen, as without a user
    if (!(audience instanceof Promise) && !(caps instanceof Promise)) {
      ctx.audience = audience;
      ctx.caps = caps;
      return undefined;
    }
    return Promise.all([audience, caps]).then(([a, c]) => {
      ctx.audience = a;
      ctx.caps = c;
    });
  }

  /** Decide, respond, reserve, send, log. */
  private bid(ctx: BidContext): void {
    ctx.nowMs = Date.now();
    ctx.models = this.deps.models?.current ?? NO_MODELS;
    this.sampleUser(ctx);
    const built = this.decideAndRespond(ctx);
    if (built === undefined) return;
    if (this.pastDeadline(ctx)) return this.noBid(ctx, 'deadline');
    this.reserve(ctx, built);
    ctx.reply.sendBid(built.json, ctx.protobufType ?? 'application/json');
    this.logBid(ctx, built);
  }

  /** A sample of the users seen, for lookalikes: only with leave to use user-level data; the user's first key is the segment store's key. */
  private sampleUser(ctx: BidContext): void {
    const profiles = this.deps.profiles;
    if (profiles === undefined || !ctx.privacy.userData || !profiles.sampled()) return;
    const key = userKeys(ctx.req, ctx.ex.id)[0];
    if (key !== undefined) profiles.put(key, ctx.req, ctx.nowMs, ctx.audience.segments);
  }

  /** The decision and the response written from it; undefined when the answer is a no-bid (already sent). */
  private decideAndRespond(ctx: BidContext): Built | undefined {
    let decision: Decision;
    let built: Built | undefined;
    try {
      decision = ctx.decision = decide(ctx);
      // Inside the try too: a throw while writing the response must be a counted no-bid, not an uncaught exception.
      if (decision.noBid === undefined) built = this.respond(ctx, decision);
    } catch (e) {
      ctx.metrics.outcome.error.inc();
      this.noBid(ctx, 'internal_error', e);
      return undefined;
    }
    if (decision.noBid !== undefined) {
      this.noBid(ctx, decision.noBid);
      return undefined;
    }
    return built;
  }

  private respond(ctx: BidContext, decision: Decision & { noBid?: undefined }): Built {
    const nowSec = Math.floor(ctx.nowMs / 1000);
    const { req, ex } = ctx;
    if (ctx.protobufType === undefined) return buildBidResponse(req.id, decision.bids, decision.currency, ex, this.responses, nowSec, req);
    const o = buildBidResponseObject(req.id, decision.bids, decision.currency, ex, this.responses, nowSec, req);
    return { json: this.protobuf.encodeBidResponse(o.response), identities: o.identities };
  }

  /** Counted before the answer leaves: a notice for this bid can never arrive before its reservation. */
  private reserve(ctx: BidContext, built: Built): void {
    this.deps.money?.reserve(built.identities, ctx.snap.currencies, ctx.nowMs);
    if (ctx.caps !== undefined && ctx.capped) this.deps.frequency!.bid(ctx.caps.user, built.identities, this.deps.frequency!.windows(ctx.snap));
  }

  private logBid(ctx: BidContext, built: Built): void {
    const m = ctx.metrics;
    const decision = ctx.decision as Decision & { noBid?: undefined };
    const bids = decision.bids;
    const nowSec = Math.floor(ctx.nowMs / 1000);
    m.outcome.bid.inc();
    const currencies = ctx.snap.currencies;
    for (const b of bids) {
      m.bids.inc();
      m.bidPrice.observe(currencies.convert(b.price, decision.currency, currencies.base));
    }
    m.duration.observe((this.clock() - ctx.start) / 1000);
    const outcomes = this.deps.outcomes;
    if (outcomes !== undefined)
      for (let i = 0; i < bids.length; i++) {
        const f = bids[i].features;
        if (f !== undefined) outcomes.bid(built.identities[i].bidId, bids[i].campaign.id, f, nowSec);
      }
    const log = this.deps.bidLog;
    if (log) {
      log.bids(built.identities, currencies, nowSec);
      log.request(ctx.ex.id, ctx.req.id, 'bid', nowSec);
    }
  }

  private noBid(ctx: BidContext, reason: NoBidReason, error?: unknown): void {
    ctx.reply.sendNoBid(reason);
    const m = ctx.metrics;
    if (reason === 'deadline') m.outcome.timeout.inc();
    else if (reason !== 'internal_error') m.outcome.no_bid.inc();
    m.noBid[reason].inc();
    m.duration.observe((this.clock() - ctx.start) / 1000);
    this.deps.bidLog?.request(ctx.ex.id, ctx.req.id, reason, Math.floor(Date.now() / 1000));
    if (error !== undefined) process.emitWarning(`bid handler error: ${(error as Error)?.stack ?? error}`);
  }
}
