/**
 * One bid request's state as it goes through the stages of bid-request.ts: fixed in shape (every
 * field set in the constructor), allocated once per parsed request, and handed to decide() as its
 * DecideContext. The targeting scratch it uses is the thread's candidate search over the snapshot's
 * index (targeting/candidate-search.ts), so the index itself is never written to.
 */
import type { BidRequestView } from '../openrtb/request-view.js';
import type { ExchangeProfile, Snapshot } from '../campaigns/snapshot.js';
import type { ExchangeMetrics } from '../metrics/bidder-metrics.js';
import type { DeviceFacts } from '../targeting/targeting-index.js';
import { searchOver, type CandidateSearch } from '../targeting/candidate-search.js';
import { PRIVACY_OUTCOMES, type PrivacyOutcome } from '../privacy/privacy-outcome.js';
import { NO_AUDIENCE, type Audience } from '../audiences/audience-service.js';
import { NO_MODELS, type OutcomeModels } from '../models/outcome-models.js';
import type { MoneyGate, UserCaps } from './money-gate.js';
import type { NoBidReason } from './no-bid-reason.js';
import { NO_DEVICE, type Decision, type DecideContext } from './bidder.js';

/** How the answer leaves: the transport (http/bid-route.ts) writes status codes, headers and bodies. */
export interface BidReply {
  /** The client went away: nothing more can be written. */
  readonly closed: boolean;
  /** Runs `write` where the transport can write (after an asynchronous lookup). */
  resume(write: () => void): void;
  /** 200 with the response body (JSON text, or protobuf bytes for a protobuf request). */
  sendBid(body: string | Uint8Array, contentType: string): void;
  /** 204. */
  sendNoBid(reason: NoBidReason): void;
}

export class BidContext implements DecideContext {
  /** The deadline budget in milliseconds from `start` (deadline.ts). */
  budget = 0;
  /** Wall-clock milliseconds when the decision is made. */
  nowMs = 0;
  /** Whether this request's user-level data may be used: anything user-keyed checks `privacy.userData` first. */
  privacy: PrivacyOutcome = PRIVACY_OUTCOMES.gdpr_no_consent;
  /** Frequency caps were read for this request (its user, if any, is counted when it is bid on). */
  capped = false;
  audience: Audience = NO_AUDIENCE;
  caps: UserCaps | undefined = undefined;
  readonly search: CandidateSearch;
  // decide()'s scratch (see DecideContext)
  currency = '';
  device: DeviceFacts = NO_DEVICE;
  reason: NoBidReason = 'no_campaign';
  featuresAt = -2;
  exploreDraw = -1;
  decision: Decision | undefined = undefined;
  /** The click and conversion models of the moment of the decision. */
  models: OutcomeModels = NO_MODELS;

  constructor(
    readonly req: BidRequestView,
    readonly snap: Snapshot,
    readonly ex: ExchangeProfile,
    readonly metrics: ExchangeMetrics,
    /** Monotonic milliseconds when the request arrived. */
    readonly start: number,
    /** A protobuf request's content type (the answer's too); undefined for JSON. */
    readonly protobufType: string | undefined,
    readonly reply: BidReply,
    readonly money: MoneyGate | undefined,
  ) {
    this.search = searchOver(snap.index);
  }
}
