/**
 * The exchange-facing bid endpoint: `POST /bid` (default exchange) and `POST /bid/{exchange}`.
 * uWS glue only: headers, body with limits, gzip, the codec (JSON or protobuf), status codes. What
 * happens to a parsed request, from its deadline to its answer and its log, is bidding/bid-request.ts.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { ExchangeProfile, Snapshot } from '../campaigns/snapshot.js';
import type { ExchangeMetrics, RejectReason } from '../metrics/bidder-metrics.js';
import { readBidRequest } from '../openrtb/read-request.js';
import { isRefusal, openRtbProtobuf, type OpenRtbProtobuf } from '../openrtb/protobuf-codec.js';
import type { NoBidReason } from '../bidding/no-bid-reason.js';
import { BidPipeline, type BidPipelineDeps } from '../bidding/bid-request.js';
import { BidContext, type BidReply } from '../bidding/bid-context.js';
import { readBody, type BodySink } from '../uws/read-body.js';
import { acceptsGzip, gunzipLimited, gzip } from './gzip.js';
import type { PendingBody, RequestGate } from './request-gate.js';

export type { OutcomeFeed } from '../bidding/bid-request.js';

export interface BidRouteDeps extends BidPipelineDeps {
  /** Load shedding and in-flight accounting for this thread (request-gate.ts); absent: every request is taken. */
  readonly gate?: RequestGate;
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
  readonly clock: () => number;
  /** proto/openrtb.proto, compiled here, at start. */
  readonly protobuf: OpenRtbProtobuf;
  readonly pipeline: BidPipeline;
  constructor(readonly deps: BidRouteDeps) {
    this.clock = deps.clock ?? now;
    this.protobuf = openRtbProtobuf();
    this.pipeline = new BidPipeline(deps, this.protobuf);
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

class PendingBid implements BodySink, PendingBody, BidReply {
  aborted = false;
  /** Left the gate (answered or aborted): exactly once per admitted request. */
  private settled = false;
  /** The body arrived (the request counts against the gate's in-flight cap from then on). */
  private arrived = false;
  readonly since = performance.now();

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
      this.protobufType === undefined ? readBidRequest(body, settings.maxJsonDepth) : this.h.protobuf.parseBidRequest(body, settings.maxJsonDepth);
    if (isRefusal(req)) return this.reject('400 Bad Request', req.invalid, req.message);
    this.h.pipeline.run(new BidContext(req, this.snap, this.ex, this.m, this.start, this.protobufType, this, this.h.deps.money));
  }

  get closed(): boolean {
    return this.aborted;
  }

  resume(write: () => void): void {
    this.res.cork(write);
  }

  sendBid(body: string | Uint8Array, contentType: string): void {
    const res = this.res.writeStatus('200 OK').writeHeader('content-type', contentType).writeHeader('x-openrtb-version', this.ex.responseVersion);
    if (this.acceptGzip) res.writeHeader('content-encoding', 'gzip').end(gzip(body));
    else res.end(body);
    this.settle();
  }

  sendNoBid(reason: NoBidReason): void {
    const res = this.res.writeStatus('204 No Content').writeHeader('x-openrtb-version', this.ex.responseVersion);
    if (this.h.deps.settings.debugNoBid) res.writeHeader('x-nobid-reason', reason);
    res.endWithoutBody();
    this.settle();
  }
}
