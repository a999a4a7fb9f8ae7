/**
 * The exchange-facing bid endpoint: `POST /bid` (default exchange) and `POST /bid/{exchange}`.
 * uWS glue only: headers, body with limits, gzip, status codes. Parsing, bidding and
 * response building live in openrtb/ and bidding/.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Settings } from '../config/settings.js';
import type { ExchangeProfile, Snapshot, SnapshotRef } from '../campaigns/snapshot.js';
import type { BidderMetrics, ExchangeMetrics, RejectReason } from '../metrics/bidder-metrics.js';
import { parseBidRequest } from '../openrtb/parse-request.js';
import { buildBidResponse, buildBidResponseObject, type ResponseContext } from '../bidding/build-response.js';
import { isRefusal, openRtbProtobuf, type OpenRtbProtobuf } from '../openrtb/protobuf-codec.js';
import { decide } from '../bidding/bidder.js';
import { deadlineMs } from '../bidding/deadline.js';
import type { NoBidReason } from '../bidding/no-bid-reason.js';
import { BidIds, threadName } from '../events/notice-urls.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import type { BidLog } from '../events/bid-log.js';
import { readBody, type BodySink } from '../uws/read-body.js';
import { NO_AUDIENCE, type Audience, type AudienceService } from '../audiences/audience-service.js';
import { userKeys } from '../audiences/identity.js';
import { bidEventKeys } from '../audiences/rule-audiences.js';
import type { UserKeyer } from '../events/user-key.js';
import type { BidRequestView } from '../openrtb/request-view.js';
import { acceptsGzip, gunzipLimited, gzip } from './gzip.js';
import { PRIVACY_OUTCOMES, privacyOutcome, type PrivacyOutcome } from '../privacy/privacy-outcome.js';
import type { PendingBody, RequestGate } from './request-gate.js';
import type { BudgetLedger } from '../money/budget-ledger.js';
import { userHash, type FrequencyService } from '../money/frequency.js';
import type { UserCaps } from '../bidding/money-gate.js';
import type { OutcomeModelsRef } from '../models/outcome-models.js';
import type { ProfileFeed, SightingSink } from '../audiences/profiles.js';

/** Where each bid's model features go (the outcome trainer, models/trainer.ts). */
export interface OutcomeFeed {
  bid(bidId: string, campaignId: string, features: Uint32Array, atSec: number): void;
}

export interface BidRouteDeps {
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
  /** Load shedding and in-flight accounting for this thread (request-gate.ts); absent: every request is taken. */
  readonly gate?: RequestGate;
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

const now = () => performance.now();
/** Protobuf media types (application/x-protobuf, application/protobuf, ...) and application/octet-stream. */
const BINARY_TYPE = /protobuf|octet-stream/i;
/** A body over the limit by at most this factor is read and dropped before its 413 (see handle()). */
const DISCARD_FACTOR = 16;

export function registerBidRoutes(app: TemplatedApp, deps: BidRouteDeps): void {
  const handler = new BidHandler(deps);
  app.post('/bid', (res, req) => handler.handle(res, req, undefined));
  app.post('/bid/:exchange', (res, req) => handler.handle(res, req, req.getParameter(0)));
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end('not found');
  });
}

class BidHandler {
  readonly ctx: ResponseContext;
  readonly clock: () => number;
  /** proto/openrtb.proto, compiled here, at start. */
  readonly protobuf: OpenRtbProtobuf;
  constructor(readonly deps: BidRouteDeps) {
    this.ctx = { noticeBaseUrl: deps.settings.noticeBaseUrl, bidIds: new BidIds(deps.money?.holder ?? threadName(deps.settings.instanceId, 0)), signer: deps.signer };
    this.clock = deps.clock ?? now;
    this.protobuf = openRtbProtobuf();
  }

  handle(res: HttpResponse, req: HttpRequest, exchangeName: string | undefined): void {
    const start = this.clock();
    const snap = this.deps.snapshots.current;
    const ex = exchangeName === undefined ? snap.defaultExchange : snap.exchanges.get(exchangeName);
    if (!ex) {
      this.deps.metrics.forExchange('unknown').rejected.unknown_exchange.inc();
      res.writeStatus('404 Not Found').end('unknown exchange', true);
      return;
    }
    const m = this.deps.metrics.forExchange(ex.id);
    // Overloaded: a fast no-bid before the body is read or parsed (uWS drops the unread body and the
    // keep-alive connection stays usable). Notices are never shed: they are not routed here.
    if (this.deps.gate !== undefined && !this.deps.gate.admit()) return this.shed(res, ex, m, start);
    const encoding = req.getHeader('content-encoding').toLowerCase();
    const contentType = req.getHeader('content-type');
    const lengthHeader = req.getHeader('content-length');
    const pending = new PendingBid(this, res, snap, ex, m, start, acceptsGzip(req.getHeader('accept-encoding')), encoding === 'gzip');
    if (encoding !== '' && encoding !== 'gzip' && encoding !== 'identity') return pending.reject('415 Unsupported Media Type', 'unsupported_encoding', 'unsupported content-encoding');
    // Exchanges label JSON loosely (text/plain, form types, none); binary framings are protobuf, answered in kind.
    if (BINARY_TYPE.test(contentType)) {
      if (contentType.toLowerCase().includes('protobuf')) pending.protobufType = 'application/x-protobuf';
      else if (!ex.protobufOctetStream)
        return pending.reject('415 Unsupported Media Type', 'unsupported_media_type', 'octet-stream is not enabled for this exchange: send application/x-protobuf or JSON');
      else pending.protobufType = 'application/octet-stream';
    }
    const length = lengthHeader === '' ? 0 : Number(lengthHeader);
    const limit = this.deps.settings.bodyLimitBytes;
    if (!(length >= 0) || length > limit) {
      // Closing at once while the client is still sending makes the kernel reset the connection, and
      // a client may lose the 413 with it. A body up to DISCARD_FACTOR × the limit is read and dropped
      // first (within the body timeout), so the 413 goes out with nothing left unread and the close is
      // a clean one; a bigger one, or a thread without a body timeout, is answered and closed at once.
      const gate = this.deps.gate;
      if (gate === undefined || !((gate.options.bodyTimeoutMs ?? 0) > 0) || !(length <= DISCARD_FACTOR * limit))
        return pending.reject('413 Payload Too Large', 'body_too_large', 'body too large', true);
      pending.tooLarge = true;
      res.onAborted(() => {
        pending.aborted = true;
        pending.settle();
      });
      res.onData((_chunk, isLast) => {
        if (isLast) pending.onTooLarge();
      });
      gate.awaitBody(pending);
      return;
    }
    res.onAborted(() => {
      pending.aborted = true;
      pending.settle();
    });
    readBody(res, length, limit, pending);
    // uWS hands the body over once this handler returns (in the same tick when it came with the
    // headers). Until then the request waits outside the in-flight cap; the gate's sweep ends a
    // wait that lasts past the body timeout (408) or beyond the cap on bodies arriving (503).
    this.deps.gate?.awaitBody(pending);
  }

  private shed(res: HttpResponse, ex: ExchangeProfile, m: ExchangeMetrics, start: number): void {
    res.writeStatus('204 No Content').writeHeader('x-openrtb-version', ex.responseVersion);
    if (this.deps.settings.debugNoBid) res.writeHeader('x-nobid-reason', 'overloaded');
    res.endWithoutBody();
    m.outcome.shed.inc();
    m.noBid.overloaded.inc();
    m.duration.observe((this.clock() - start) / 1000);
  }
}

class PendingBid implements BodySink, PendingBody {
  aborted = false;
  /** Left the gate (answered or aborted): exactly once per admitted request. */
  private settled = false;
  /** The body arrived (the request counts against the gate's in-flight cap from then on). */
  private arrived = false;
  readonly since = performance.now();

  /**
   * Whether this request's user-level data may be used (set once parsed). Anything user-keyed
   * (segment lookups now, user frequency caps later) must check `privacy.userData` first.
   */
  privacy: PrivacyOutcome = PRIVACY_OUTCOMES.gdpr_no_consent;
  /** Frequency caps were read for this request (its user, if any, is counted when it is bid on). */
  private capped = false;
  /** Its Content-Length is over the limit: the body is dropped as it comes, then 413. */
  tooLarge = false;
  /** Set for a protobuf request: the content type of the request, and of the answer. */
  protobufType: string | undefined = undefined;
  constructor(
    private readonly h: BidHandler,
    private readonly res: HttpResponse,
    private readonly snap: Snapshot,
    private readonly ex: ExchangeProfile,
    private readonly m: ExchangeMetrics,
    private readonly start: number,
    private readonly acceptGzip: boolean,
    private readonly gzipped: boolean,
  ) {}

  onTooLarge(): void {
    if (this.aborted || this.settled) return;
    this.res.cork(() => this.reject('413 Payload Too Large', 'body_too_large', 'body too large', true));
  }

  onBody(raw: Buffer): void {
    if (this.aborted || this.settled) return;
    this.arrived = true;
    this.h.deps.gate?.arrived(this);
    this.res.cork(() => this.answer(raw));
  }

  /** The gate's sweep: the body did not arrive within the body timeout (408), or too many are arriving (503); the connection closes. */
  expire(overCap: boolean): void {
    if (this.aborted || this.settled) return;
    if (this.tooLarge) this.onTooLarge();
    else if (overCap) this.res.cork(() => this.reject('503 Service Unavailable', 'too_many_bodies', 'too many request bodies arriving', true));
    else this.res.cork(() => this.reject('408 Request Timeout', 'body_timeout', 'request body not received in time', true));
  }

  settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.h.deps.gate?.leave(this, this.arrived);
  }

  reject(status: string, reason: RejectReason, message: string, close = false): void {
    this.settle();
    this.m.rejected[reason].inc();
    this.m.outcome.invalid.inc();
    if (this.aborted) return;
    this.aborted = true;
    this.res.writeStatus(status).writeHeader('content-type', 'text/plain').end(message, close);
  }

  private answer(raw: Buffer): void {
    const settings = this.h.deps.settings;
    let body = raw;
    if (this.gzipped) {
      const inflated = gunzipLimited(raw, settings.bodyLimitBytes);
      if (inflated === 'too_large') return this.reject('413 Payload Too Large', 'body_too_large', 'body too large after decompression', true);
      if (inflated === 'bad_gzip') return this.reject('400 Bad Request', 'bad_gzip', 'body is not valid gzip');
      body = inflated;
    }
    const req =
      this.protobufType === undefined ? parseBidRequest(body, settings.maxJsonDepth) : this.h.protobuf.parseBidRequest(body, settings.maxJsonDepth);
    if (isRefusal(req)) return this.reject('400 Bad Request', req.invalid, req.message);

    const budget = deadlineMs(req.tmax, settings);
    if (this.h.clock() - this.start >= budget) return this.noBid('deadline', undefined, req.id);
    this.privacy = privacyOutcome(req, settings);
    this.h.deps.metrics.privacy[this.privacy.reason].inc();
    const audiences = this.h.deps.audiences;
    const frequency = this.h.deps.frequency;
    // Without leave to use user-level data nothing user-keyed is looked up: a complete, empty audience, no caps.
    const segments = this.privacy.userData && audiences !== undefined && this.snap.index.usesSegments;
    const capped = (this.capped = this.privacy.userData && frequency !== undefined && frequency.windows(this.snap).length > 0);
    if (!segments && !capped) return this.bid(req, budget, NO_AUDIENCE, undefined);
    const keys = userKeys(req, this.ex.id);
    const left = budget - (this.h.clock() - this.start) - settings.scoringReserveMs;
    const lookupBudget = Math.min(settings.audienceLookupBudgetMs, left);
    // With rule audiences live, the user also goes into the notice URLs (`u=`) and is looked up by
    // the keys events teach under (rule-audiences.ts): both only here, where user data is allowed.
    const keyer = this.h.deps.userKeys;
    const rules = segments && keyer !== undefined && audiences!.ruleSegments().length > 0;
    const user = capped || rules ? userHash(keys) : undefined;
    // Both lookups run at once, inside the same slice of the deadline.
    const audience = segments ? audiences!.resolve(rules ? keys.concat(bidEventKeys(req.buyerUid, user, keyer!)) : keys, lookupBudget) : NO_AUDIENCE;
    const caps =
      user === undefined ? undefined : capped ? frequency!.resolve(user, frequency!.windows(this.snap), lookupBudget) : { user, known: false, seen: () => 0 }; // not counted: caps follow failOpen, as without a user
    if (!(audience instanceof Promise) && !(caps instanceof Promise)) return this.bid(req, budget, audience, caps);
    void Promise.all([audience, caps]).then(([a, c]) => {
      if (!this.aborted) this.res.cork(() => this.bid(req, budget, a, c));
    });
  }

  private bid(req: BidRequestView, budget: number, audience: Audience, caps: UserCaps | undefined): void {
    let decision;
    let built;
    const nowMs = Date.now();
    const nowSec = Math.floor(nowMs / 1000);
    const profiles = this.h.deps.profiles;
    // Only with leave to use user-level data; the user's first key is the segment store's key.
    if (profiles !== undefined && this.privacy.userData && profiles.sampled()) {
      const key = userKeys(req, this.ex.id)[0];
      if (key !== undefined) profiles.put(key, req, nowMs, audience.segments);
    }
    try {
      decision = decide(req, this.snap, this.ex, nowMs, audience, this.h.deps.money, caps, this.h.deps.models?.current);
      // Inside the try too: a throw while writing the response must be a counted no-bid, not an uncaught exception.
      if (decision.noBid === undefined) {
        if (this.protobufType === undefined) built = buildBidResponse(req.id, decision.bids, decision.currency, this.ex, this.h.ctx, nowSec, req);
        else {
          const o = buildBidResponseObject(req.id, decision.bids, decision.currency, this.ex, this.h.ctx, nowSec, req);
          built = { json: this.h.protobuf.encodeBidResponse(o.response), identities: o.identities };
        }
      }
    } catch (e) {
      this.m.outcome.error.inc();
      return this.noBid('internal_error', e, req.id);
    }
    if (decision.noBid !== undefined) return this.noBid(decision.noBid, undefined, req.id);
    if (this.h.clock() - this.start >= budget) return this.noBid('deadline', undefined, req.id);
    const body = built!.json; // protobuf bytes for a protobuf request
    // Counted before the answer leaves: a notice for this bid can never arrive before its reservation.
    this.h.deps.money?.reserve(built!.identities, this.snap.currencies, nowMs);
    if (caps !== undefined && this.capped) this.h.deps.frequency!.bid(caps.user, built!.identities, this.h.deps.frequency!.windows(this.snap));
    const res = this.res.writeStatus('200 OK').writeHeader('content-type', this.protobufType ?? 'application/json').writeHeader('x-openrtb-version', this.ex.responseVersion);
    if (this.acceptGzip) res.writeHeader('content-encoding', 'gzip').end(gzip(body));
    else res.end(body);
    this.settle();
    const m = this.m;
    m.outcome.bid.inc();
    const currencies = this.snap.currencies;
    for (const b of decision.bids) {
      m.bids.inc();
      m.bidPrice.observe(currencies.convert(b.price, decision.currency, currencies.base));
    }
    m.duration.observe((this.h.clock() - this.start) / 1000);
    const outcomes = this.h.deps.outcomes;
    if (outcomes !== undefined)
      for (let i = 0; i < decision.bids.length; i++) {
        const f = decision.bids[i].features;
        if (f !== undefined) outcomes.bid(built!.identities[i].bidId, decision.bids[i].campaign.id, f, nowSec);
      }
    const log = this.h.deps.bidLog;
    if (log) {
      log.bids(built!.identities, currencies, nowSec);
      log.request(this.ex.id, req.id, 'bid', nowSec);
    }
  }

  /** `requestId` is known once the request parsed; only such requests go to the request log. */
  private noBid(reason: NoBidReason, error?: unknown, requestId?: string): void {
    const res = this.res.writeStatus('204 No Content').writeHeader('x-openrtb-version', this.ex.responseVersion);
    if (this.h.deps.settings.debugNoBid) res.writeHeader('x-nobid-reason', reason);
    res.endWithoutBody();
    this.settle();
    if (reason === 'deadline') this.m.outcome.timeout.inc();
    else if (reason !== 'internal_error') this.m.outcome.no_bid.inc();
    this.m.noBid[reason].inc();
    this.m.duration.observe((this.h.clock() - this.start) / 1000);
    if (requestId !== undefined) this.h.deps.bidLog?.request(this.ex.id, requestId, reason, Math.floor(Date.now() / 1000));
    if (error !== undefined) process.emitWarning(`bid handler error: ${(error as Error)?.stack ?? error}`);
  }
}
