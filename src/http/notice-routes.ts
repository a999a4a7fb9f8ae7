/**
 * Notice endpoints on the exchange-facing port:
 * - `GET|POST /notice/{win|billing|loss}/{exchange}?<signed bid identity>&p=..`  → 204
 * - `GET /notice/impression/{exchange}?...`  → a 1x1 GIF (always, so pages never show a broken image)
 * - `GET /notice/click/{exchange}?...`       → 302 to the creative's landing page, with `dsp_click=<token>`
 * - `GET|POST /notice/conversion?click=<token>&order=<id>&value=<amount>&currency=<ISO>` → 204
 * Each accepted notice becomes one event (recorded once per bid and type, see notice-dedupe.ts).
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import type { NoticeSigner } from '../events/notice-signer.js';
import type { EventSink, BidderEvent } from '../events/event-types.js';
import type { NoticeDedupe } from '../events/notice-dedupe.js';
import type { NoticeMetrics, NoticeResult } from '../metrics/notice-metrics.js';
import { NOTICE_TYPES, readNotice, type NoticeType } from '../events/notices.js';
import { clickToken, readClickToken } from '../events/click-token.js';
import type { BudgetLedger } from '../money/budget-ledger.js';
import type { FrequencyService } from '../money/frequency.js';

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
  /** Frequency caps: impression (or win) notices carrying a user are counted, once per bid. */
  readonly frequency?: FrequencyService;
}

const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const isNoticeType = (t: string): t is NoticeType => (NOTICE_TYPES as readonly string[]).includes(t);

export function registerNoticeRoutes(app: TemplatedApp, deps: NoticeRouteDeps): void {
  const accepting = deps.accepting ?? (() => true);
  const unavailable = (res: HttpResponse, type: string) => {
    deps.metrics.count(type, 'shutting_down');
    res.writeStatus('503 Service Unavailable').writeHeader('retry-after', '1').writeHeader('content-type', 'text/plain').end('shutting_down', true);
  };
  const record = (type: string, event: BidderEvent, also?: NoticeResult, onFirst?: () => void) => {
    void deps.dedupe.firstSeen(event.event_id).then((first) => {
      if (!first) return deps.metrics.count(type, 'duplicate');
      onFirst?.();
      deps.events.write(event);
      deps.metrics.count(type, 'accepted');
      if (also) deps.metrics.count(type, also);
    });
  };

  const notice = (res: HttpResponse, req: HttpRequest) => {
    const type = req.getParameter(0);
    const exchange = req.getParameter(1);
    if (!isNoticeType(type)) {
      // Counted under one fixed label: the path segment is the caller's, not ours to make a label of.
      deps.metrics.count('unknown', 'unknown_type');
      return void res.writeStatus('404 Not Found').end('unknown notice type');
    }
    const snap = deps.snapshots.current;
    const refuse = (result: NoticeResult, status: string) => {
      deps.metrics.count(type, result);
      if (type === 'impression') return gif(res);
      res.writeStatus(status).writeHeader('content-type', 'text/plain').end(result);
    };
    if (!snap.exchanges.has(exchange)) return refuse('unknown_exchange', '404 Not Found');
    // Impressions and clicks come from browsers, which do not retry: they still get their GIF and redirect.
    if (type !== 'impression' && type !== 'click' && !accepting()) return unavailable(res, type);
    const q = new URLSearchParams(req.getQuery() ?? '');
    const nowSec = Math.floor(Date.now() / 1000);
    const priceKeys = snap.exchanges.get(exchange)!.priceKeys;
    const r = readNotice(type, exchange, q, { signer: deps.signer, currencies: snap.currencies, nowSec, maxAgeSec: deps.maxAgeSec, priceKeys });
    if (typeof r === 'string') return refuse(r, r === 'bad_signature' ? '403 Forbidden' : '400 Bad Request');
    const frequency = deps.frequency;
    const user = r.identity.userHash;
    const count =
      frequency !== undefined && user !== undefined && (type === 'impression' || type === 'win') && type === (snap.index.anyById.get(r.identity.campaignId)?.frequency?.countOn ?? 'impression')
        ? () => void frequency.record(user, r.identity, frequency.windows(snap), nowSec).catch(() => undefined)
        : undefined;
    record(type, r.event, r.priceMissing ? 'price_missing' : undefined, count);
    if (deps.money !== undefined) {
      const e = r.event;
      const prices =
        e.type === 'win' || e.type === 'billing'
          ? { clearCpmBase: e.clear_cpm_base, bidCpmBase: e.bid_cpm_base, minToWinBase: r.minToWinBase || undefined, unshadedBase: r.unshadedBase, floorBase: r.floorBase }
          : e.type === 'loss'
            ? { bidCpmBase: e.bid_cpm_base, minToWinBase: r.minToWinBase || undefined, lossReason: e.loss_reason, unshadedBase: r.unshadedBase, floorBase: r.floorBase }
            : {};
      deps.money.notice(type, snap.exchanges.get(exchange)!.spendOn, { eventId: e.event_id, exchange, identity: r.identity, ...prices }, snap.currencies, nowSec * 1000);
    }
    if (deps.outcomes !== undefined) {
      if (type === 'impression') deps.outcomes.impression(r.identity.bidId, nowSec);
      else if (type === 'click') deps.outcomes.click(r.identity.bidId, nowSec);
    }
    if (type === 'impression') return gif(res);
    if (type === 'click') {
      const landing = snap.index.creative(r.identity.creativeId)?.landingUrl;
      if (!landing) return void res.writeStatus('404 Not Found').end('no landing page for this creative');
      const sep = landing.includes('?') ? '&' : '?';
      return void res
        .writeStatus('302 Found')
        .writeHeader('location', `${landing}${sep}dsp_click=${clickToken(r.identity, nowSec, deps.signer)}`)
        .writeHeader('cache-control', 'no-store')
        .end();
    }
    res.writeStatus('204 No Content').endWithoutBody();
  };

  const conversion = (res: HttpResponse, req: HttpRequest) => {
    if (!accepting()) return unavailable(res, 'conversion');
    const q = new URLSearchParams(req.getQuery() ?? '');
    const token = q.get('click');
    const click = token ? readClickToken(token, deps.signer) : undefined;
    if (!click) {
      deps.metrics.count('conversion', token ? 'bad_signature' : 'missing_field');
      return void res.writeStatus(token ? '403 Forbidden' : '400 Bad Request').end(token ? 'bad_signature' : 'missing click token');
    }
    const snap = deps.snapshots.current;
    const order = (q.get('order') ?? '').slice(0, 128);
    const value = Number(q.get('value') ?? 0);
    const currency = (q.get('currency') ?? snap.currencies.base).toUpperCase();
    const valueBase = snap.currencies.convert(Number.isFinite(value) && value >= 0 ? value : NaN, currency, snap.currencies.base);
    if (!Number.isFinite(valueBase)) {
      deps.metrics.count('conversion', 'bad_price');
      return void res.writeStatus('400 Bad Request').end('value must be a non-negative number in a known currency');
    }
    deps.outcomes?.conversion(click.bidId, click.campaignId, valueBase);
    record('conversion', {
      type: 'conversion',
      event_id: `conversion:${click.advertiserId}:${order || click.bidId}`,
      event_time: Math.floor(Date.now() / 1000),
      exchange: click.exchange,
      advertiser_id: click.advertiserId,
      campaign_id: click.campaignId,
      creative_id: click.creativeId,
      bid_id: click.bidId,
      request_id: '',
      imp_id: '',
      deal_id: '',
      order_id: order,
      value_base: valueBase,
      currency,
    });
    res.writeStatus('204 No Content').endWithoutBody();
  };

  app.get('/notice/conversion', conversion);
  app.post('/notice/conversion', conversion);
  app.get('/notice/:type/:exchange', notice);
  app.post('/notice/:type/:exchange', notice);
}

function gif(res: HttpResponse): void {
  res.writeHeader('content-type', 'image/gif').writeHeader('cache-control', 'no-store, max-age=0').end(GIF);
}
