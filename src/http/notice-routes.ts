/**
 * Notice endpoints on the exchange-facing port:
 * - `GET|POST /notice/{win|billing|loss}/{exchange}?<signed bid identity>&p=..`  → 204
 * - `GET /notice/impression/{exchange}?...`  → a 1x1 GIF (always, so pages never show a broken image)
 * - `GET /notice/click/{exchange}?...`       → 302 to the creative's landing page, with `dsp_click=<token>`
 * - `GET|POST /notice/conversion?click=<token>&order=<id>&value=<amount>&currency=<ISO>` → 204
 * Each accepted notice becomes one event (recorded once per bid and type, see notice-dedupe.ts).
 *
 * What the answer means: a billing or conversion notice is answered 204 only once its event is
 * durable on local disk (EventWriter.writeDurable: group commit, one fdatasync for the notices of
 * the last few milliseconds), so a 204 means kept whatever happens next; if it cannot be made
 * durable the answer is 503 (`not_durable`), the dedupe mark is taken back, and the exchange's
 * retry is recorded. Wins, losses, impressions and clicks are answered at once and their events
 * buffered (made durable within the writer's syncMs): they are many, browsers do not wait on
 * pixels, and none of them is what the advertiser pays on.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Snapshot, SnapshotRef } from '../campaigns/snapshot.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import type { EventSink, BidderEvent, ImpressionEvent } from '../events/event-types.js';
import type { NoticeDedupe } from '../events/notice-dedupe.js';
import type { NoticeMetrics, NoticeResult } from '../metrics/notice-metrics.js';
import { NOTICE_TYPES, parsePlainDecimal, readNotice, type AcceptedNotice, type NoticeType } from '../events/notices.js';
import { clickToken, readClickToken } from '../events/click-token.js';
import type { BudgetLedger } from '../money/budget-ledger.js';
import type { FrequencyService } from '../money/frequency.js';
import type { UserKeyer } from '../events/user-key.js';
import { failSpan, type Span, type Tracing } from '../telemetry/tracing.js';

/** What the outcome trainer (models/trainer.ts) takes from notices. */
export interface OutcomeNotices {
  impression(bidId: string, atSec: number): void;
  click(bidId: string, atSec: number): void;
  conversion(bidId: string, campaignId: string, valueBase: number): void;
}

export interface NoticeRouteDeps {
  readonly snapshots: SnapshotRef;
  readonly signer: NoticeSigner;
  readonly events: EventSink;
  readonly dedupe: NoticeDedupe;
  readonly metrics: NoticeMetrics;
  /** Notices older than this are refused; keep it inside the dedupe window. */
  readonly maxAgeSec: number;
  /**
   * False once the process is stopping (the event sink is about to close): win, billing, loss and
   * conversion notices then get 503 and a closed connection, so the caller retries elsewhere
   * instead of being told 204 for an event that would be dropped. Default: always true.
   */
  readonly accepting?: () => boolean;
  /** Budgets: spend notices are recorded against them (once per event id), loss notices end reservations. */
  readonly money?: BudgetLedger;
  /** The outcome trainer, on the thread that holds it; absent: notices teach no model. */
  readonly outcomes?: OutcomeNotices;
  /** Frequency caps: impression (or win) notices carrying a user are counted, once per bid; loss notices end the bid's hold. */
  readonly frequency?: FrequencyService;
  /** Counts notices waiting for their durable write (and answer): the thread's drain waits for them. */
  readonly awaiting?: { pending: number };
  /** Keys the bid's user (`u=`) on impression, click and conversion rows; absent: rows carry no user. */
  readonly userKeys?: UserKeyer;
  /** Told of every impression, click and conversion with a user key (rule audiences, audiences/rule-audiences.ts). */
  readonly onNotice?: (advertiserId: string, event: 'impression' | 'click' | 'conversion', campaignId: string, userKey: string, nowSec: number) => void;
  /**
   * Traces (off by default): a span per notice (`notice <type>`: type, exchange, outcome) and a child
   * span per event write (`event write`: event type, durable, duplicate). Never the query string.
   */
  readonly tracing?: Tracing;
}

const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const isNoticeType = (t: string): t is NoticeType => (NOTICE_TYPES as readonly string[]).includes(t);
/** Notices answered only once their event is durable. */
const DURABLE: ReadonlySet<string> = new Set(['billing', 'conversion']);

export function registerNoticeRoutes(app: TemplatedApp, deps: NoticeRouteDeps): void {
  const h = new NoticeHandler(deps);
  const conversion = (res: HttpResponse, req: HttpRequest) => h.conversion(res, req);
  const notice = (res: HttpResponse, req: HttpRequest) => h.notice(res, req);
  app.get('/notice/conversion', conversion);
  app.post('/notice/conversion', conversion);
  app.get('/notice/:type/:exchange', notice);
  app.post('/notice/:type/:exchange', notice);
}

/** The notice routes' handlers, one method each, over this thread's dependencies. */
class NoticeHandler {
  private readonly accepting: () => boolean;
  private readonly tracing: Tracing | undefined;
  private readonly awaiting: { pending: number };
  /** Durable writes under way on this thread, by event id: a repeat arriving meanwhile gets the first one's outcome. */
  private readonly keeping = new Map<string, Promise<boolean>>();

  constructor(private readonly deps: NoticeRouteDeps) {
    this.accepting = deps.accepting ?? (() => true);
    this.tracing = deps.tracing;
    this.awaiting = deps.awaiting ?? { pending: 0 };
  }

  /** 503 while shutting down: the exchange retries the notice elsewhere or later. */
  private unavailable(res: HttpResponse, type: string): void {
    this.deps.metrics.count(type, 'shutting_down');
    res.writeStatus('503 Service Unavailable').writeHeader('retry-after', '1').writeHeader('content-type', 'text/plain').end('shutting_down', true);
  }

  /** The span of an event write, a child of its notice's. */
  private writeSpan(event: BidderEvent, durable: boolean, parent: Span | undefined): Span | undefined {
    return parent && this.tracing?.start('event write', { 'dsp.event.type': event.type, 'dsp.event.durable': durable }, parent);
  }

  /** Writes the event once (the first time its id is seen), counting the outcome. */
  private record(type: string, event: BidderEvent, also?: NoticeResult, onFirst?: () => void, parent?: Span): void {
    void this.deps.dedupe.firstSeen(event.event_id).then((first) => {
      if (!first) return this.deps.metrics.count(type, 'duplicate');
      onFirst?.();
      const span = this.writeSpan(event, false, parent);
      this.deps.events.write(event);
      span?.end();
      this.deps.metrics.count(type, 'accepted');
      if (also) this.deps.metrics.count(type, also);
    });
  }

  /** As `record`, for a durable notice: resolves true once its event (or the first one's, for a repeat) is durable. */
  private async keep(type: string, event: BidderEvent, also?: NoticeResult, parent?: Span): Promise<boolean> {
    this.awaiting.pending++;
    const span = this.writeSpan(event, true, parent);
    try {
      if (!(await this.deps.dedupe.firstSeen(event.event_id))) {
        this.deps.metrics.count(type, 'duplicate');
        span?.setAttribute('dsp.event.duplicate', true);
        return (await this.keeping.get(event.event_id)) ?? true;
      }
      const kept = this.deps.events.writeDurable(event).then(
        () => true,
        () => (failSpan(span, 'not durable'), false),
      );
      this.keeping.set(event.event_id, kept);
      try {
        if (await kept) {
          this.deps.metrics.count(type, 'accepted');
          if (also) this.deps.metrics.count(type, also);
          return true;
        }
        this.deps.metrics.count(type, 'not_durable');
        // Before the 503 goes out, so the retry it asks for is not refused as a duplicate.
        await this.deps.dedupe.forget(event.event_id).catch(() => undefined);
        return false;
      } finally {
        this.keeping.delete(event.event_id);
      }
    } finally {
      this.awaiting.pending--;
      span?.end();
    }
  }
  /** Answers 204 once `kept` says the event is durable, 503 if it could not be made so. */
  private answerWhenKept(res: HttpResponse, kept: Promise<boolean>): void {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void kept.then((ok) => {
      if (aborted) return;
      res.cork(() => {
        if (ok) res.writeStatus('204 No Content').endWithoutBody();
        else res.writeStatus('503 Service Unavailable').writeHeader('retry-after', '1').writeHeader('content-type', 'text/plain').end('not_durable');
      });
    });
  }

  notice(res: HttpResponse, req: HttpRequest): void {
    if (this.tracing === undefined || !this.tracing.enabled) return this.answerNotice(res, req, undefined);
    const span = this.tracing.start('notice', { 'http.route': '/notice/:type/:exchange' });
    try {
      this.answerNotice(res, req, span);
    } finally {
      span?.end();
    }
  }

  /** A win, billing, loss, impression or click notice: checked, recorded once, passed on to money, frequency and the models. */
  private answerNotice(res: HttpResponse, req: HttpRequest, span: Span | undefined): void {
    const type = req.getParameter(0);
    const exchange = req.getParameter(1);
    if (!isNoticeType(type)) {
      // Counted under one fixed label: the path segment is the caller's, not ours to make a label of.
      this.deps.metrics.count('unknown', 'unknown_type');
      span?.setAttribute('dsp.notice.outcome', 'unknown_type');
      return void res.writeStatus('404 Not Found').end('unknown notice type');
    }
    span?.updateName(`notice ${type}`);
    span?.setAttributes({ 'dsp.notice.type': type, 'dsp.exchange': exchange.slice(0, 64) });
    const snap = this.deps.snapshots.current;
    const refuse = (result: NoticeResult, status: string) => {
      this.deps.metrics.count(type, result);
      if (span) failSpan(span, result), span.setAttribute('dsp.notice.outcome', result);
      if (type === 'impression') return gif(res);
      res.writeStatus(status).writeHeader('content-type', 'text/plain').end(result);
    };
    if (!snap.exchanges.has(exchange)) return refuse('unknown_exchange', '404 Not Found');
    // Impressions and clicks come from browsers, which do not retry: they still get their GIF and redirect.
    if (type !== 'impression' && type !== 'click' && !this.accepting()) return this.unavailable(res, type);
    const q = new URLSearchParams(req.getQuery() ?? '');
    const nowSec = Math.floor(Date.now() / 1000);
    const priceKeys = snap.exchanges.get(exchange)!.priceKeys;
    const r = readNotice(type, exchange, q, { signer: this.deps.signer, currencies: snap.currencies, nowSec, maxAgeSec: this.deps.maxAgeSec, priceKeys });
    if (typeof r === 'string') return refuse(r, r === 'bad_signature' ? '403 Forbidden' : '400 Bad Request');
    const frequency = this.deps.frequency;
    const user = r.identity.userHash;
    const countOn = snap.index.anyById.get(r.identity.campaignId)?.frequency?.countOn;
    // An impression (or win) counts for the user; a loss of a capped campaign's bid ends its hold on the thread that made it.
    const count =
      frequency === undefined || user === undefined
        ? undefined
        : (type === 'impression' || type === 'win') && type === (countOn ?? 'impression')
          ? () => void frequency.record(user, r.identity, frequency.windows(snap), nowSec).catch(() => undefined)
          : type === 'loss' && countOn !== undefined
            ? () => void frequency.end(user, r.identity.bidId).catch(() => undefined)
            : undefined;
    const also = r.priceMissing ? 'price_missing' : undefined;
    // The user key only where the bid's request allowed user data: `u=` is in the URL only then.
    const userKey = (type === 'impression' || type === 'click') && user !== undefined ? this.deps.userKeys?.key(user) : undefined;
    if (userKey !== undefined) {
      (r.event as ImpressionEvent).user_key = userKey;
      this.deps.onNotice?.(r.identity.advertiserId, type as 'impression' | 'click', r.identity.campaignId, userKey, nowSec);
    }
    span?.setAttributes({ 'dsp.notice.outcome': 'accepted', 'dsp.campaign.id': r.identity.campaignId });
    const kept = DURABLE.has(type) ? this.keep(type, r.event, also, span) : void this.record(type, r.event, also, count, span);
    this.tellMoney(type, exchange, r, snap, nowSec);
    this.tellModels(type, r.identity.bidId, nowSec);
    if (type === 'impression') return gif(res);
    if (type === 'click') {
      const landing = snap.index.creative(r.identity.creativeId)?.landingUrl;
      if (!landing) return void res.writeStatus('404 Not Found').end('no landing page for this creative');
      const sep = landing.includes('?') ? '&' : '?';
      return void res
        .writeStatus('302 Found')
        .writeHeader('location', `${landing}${sep}dsp_click=${clickToken(r.identity, nowSec, this.deps.signer)}`)
        .writeHeader('cache-control', 'no-store')
        .end();
    }
    if (kept) return this.answerWhenKept(res, kept);
    res.writeStatus('204 No Content').endWithoutBody();
  }

  /** Budgets and pacing learn of wins, billings and losses with their prices (base currency). */
  private tellMoney(type: NoticeType, exchange: string, r: AcceptedNotice, snap: Snapshot, nowSec: number): void {
    if (this.deps.money === undefined) return;
    const e = r.event;
    const prices =
      e.type === 'win' || e.type === 'billing'
        ? { clearCpmBase: e.clear_cpm_base, bidCpmBase: e.bid_cpm_base, minToWinBase: r.minToWinBase || undefined, unshadedBase: r.unshadedBase, floorBase: r.floorBase }
        : e.type === 'loss'
          ? { bidCpmBase: e.bid_cpm_base, minToWinBase: r.minToWinBase || undefined, lossReason: e.loss_reason, unshadedBase: r.unshadedBase, floorBase: r.floorBase }
          : {};
    this.deps.money.notice(type, snap.exchanges.get(exchange)!.spendOn, { eventId: e.event_id, exchange, identity: r.identity, ...prices }, snap.currencies, nowSec * 1000);
  }

  /** The trainer takes impressions and clicks as labels of the bid's features. */
  private tellModels(type: NoticeType, bidId: string, nowSec: number): void {
    if (this.deps.outcomes === undefined) return;
    if (type === 'impression') this.deps.outcomes.impression(bidId, nowSec);
    else if (type === 'click') this.deps.outcomes.click(bidId, nowSec);
  }

  conversion(res: HttpResponse, req: HttpRequest): void {
    if (this.tracing === undefined || !this.tracing.enabled) return this.answerConversion(res, req, undefined);
    const span = this.tracing.start('notice conversion', { 'http.route': '/notice/conversion', 'dsp.notice.type': 'conversion' });
    try {
      this.answerConversion(res, req, span);
    } finally {
      span?.end();
    }
  }

  /** A conversion, attributed through the signed click token of the click that led to it. */
  private answerConversion(res: HttpResponse, req: HttpRequest, span: Span | undefined): void {
    if (!this.accepting()) return this.unavailable(res, 'conversion');
    const q = new URLSearchParams(req.getQuery() ?? '');
    const token = q.get('click');
    const click = token ? readClickToken(token, this.deps.signer) : undefined;
    if (!click) {
      this.deps.metrics.count('conversion', token ? 'bad_signature' : 'missing_field');
      failSpan(span, token ? 'bad_signature' : 'missing_field');
      return void res.writeStatus(token ? '403 Forbidden' : '400 Bad Request').end(token ? 'bad_signature' : 'missing click token');
    }
    const snap = this.deps.snapshots.current;
    const order = (q.get('order') ?? '').slice(0, 128);
    // No value (or an empty one) is a conversion worth 0; a value is a plain decimal, as prices are.
    const valueText = q.get('value');
    const value = valueText === null || valueText === '' ? 0 : parsePlainDecimal(valueText);
    const currency = (q.get('currency') ?? snap.currencies.base).toUpperCase();
    const valueBase = snap.currencies.convert(value ?? NaN, currency, snap.currencies.base);
    if (!Number.isFinite(valueBase)) {
      this.deps.metrics.count('conversion', 'bad_price');
      return void res.writeStatus('400 Bad Request').end('value must be a plain decimal (like 12.5) in a known currency');
    }
    // The trainer takes a click's example once, so a repeated conversion teaches nothing twice.
    this.deps.outcomes?.conversion(click.bidId, click.campaignId, valueBase);
    // A budget in conversions counts it, once per order (or per click without one).
    void this.deps.money?.countOutcome('conversions', `${click.advertiserId}:${order || click.bidId}`, click.campaignId, Date.now());
    const nowSec = Math.floor(Date.now() / 1000);
    const userKey = click.userHash !== undefined ? this.deps.userKeys?.key(click.userHash) : undefined;
    if (userKey !== undefined) this.deps.onNotice?.(click.advertiserId, 'conversion', click.campaignId, userKey, nowSec);
    span?.setAttributes({ 'dsp.notice.outcome': 'accepted', 'dsp.exchange': click.exchange, 'dsp.campaign.id': click.campaignId });
    const kept = this.keep(
      'conversion',
      {
      type: 'conversion',
      event_id: `conversion:${click.advertiserId}:${order || click.bidId}`,
      event_time: nowSec,
      exchange: click.exchange,
      advertiser_id: click.advertiserId,
      campaign_id: click.campaignId,
      creative_id: click.creativeId,
      bid_id: click.bidId,
      request_id: '',
      imp_id: '',
      deal_id: '',
      placement: click.placement,
      placement_type: click.placementType,
      publisher_id: click.publisherId,
      country: click.country,
      device_type: click.deviceType,
      order_id: order,
      value_base: valueBase,
      currency,
      ...(userKey !== undefined ? { user_key: userKey } : {}),
      },
      undefined,
      span,
    );
    this.answerWhenKept(res, kept);
  }
}

function gif(res: HttpResponse): void {
  res.writeHeader('content-type', 'image/gif').writeHeader('cache-control', 'no-store, max-age=0').end(GIF);
}
