/**
 * The advertiser's pixel on the exchange-facing port:
 *
 * `GET /px/{advertiserId}/{event}[?value=<amount>&currency=<ISO>&item=<id>][&uid=<our user id>]`
 *
 * `event` is the advertiser's own name for what happened (`visit`, `product_view`, `add_to_cart`,
 * `purchase`, ...). A browser call is answered with a 1x1 GIF and identifies its user by our cookie
 * (audiences/user-match.ts); a server-to-server call passes `uid=` and gets 204 (400 when malformed:
 * a server can fix its call, a page cannot). Each call becomes one `pixel` event, whose user key is
 * the keyed hash of our user id (events/user-key.ts): never the id itself.
 *
 * Privacy as for user matching (the same query parameters and `Sec-GPC`): without the right, the
 * event is still counted, with no user key, and nothing is learnt about the user.
 *
 * An advertiser that does not exist gets the same answer as one that does, and nothing is stored:
 * the pixel does not tell strangers which advertiser ids are real.
 */
import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import type { Settings } from '../settings/settings.js';
import type { EventSink, PixelEvent } from '../events/event-types.js';
import type { UserKeyer } from '../events/user-key.js';
import { browserPrivacy, isUserId, userIdFromCookie } from '../audiences/user-match.js';

export interface PixelRouteDeps {
  readonly settings: Pick<Settings, 'gdprVendorId'>;
  readonly snapshots: SnapshotRef;
  readonly events: EventSink;
  readonly userKeys: UserKeyer;
  /** Told of every pixel with a user it may learn from (rule audiences, audiences/rule-audiences.ts). */
  readonly onPixel?: (advertiserId: string, event: string, userKey: string, nowSec: number) => void;
}

/** The advertiser's event names: lower-case letters, digits, `_` and `-`. */
export const PIXEL_EVENT = /^[a-z0-9_-]{1,64}$/;
const ITEM = /^[\x21-\x7e]{1,128}$/;
const MAX_VALUE = 1e9;
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export type PixelProblem = 'bad_event' | 'bad_value' | 'bad_currency' | 'bad_item' | 'bad_uid';

export function registerPixelRoutes(app: TemplatedApp, deps: PixelRouteDeps): void {
  app.get('/px/:advertiserId/:event', (res: HttpResponse, req: HttpRequest) => {
    const advertiserId = req.getParameter(0);
    const event = req.getParameter(1);
    const q = new URLSearchParams(req.getQuery() ?? '');
    const serverCall = q.has('uid');
    const allowed = browserPrivacy(q, req.getHeader('sec-gpc'), deps.settings) === 'allowed';
    const cookie = serverCall || !allowed ? undefined : userIdFromCookie(req.getHeader('cookie'));
    const answer = (problem?: PixelProblem) => {
      if (!serverCall) return void res.writeHeader('content-type', 'image/gif').writeHeader('cache-control', 'no-store, max-age=0').end(GIF);
      if (problem) return void res.writeStatus('400 Bad Request').writeHeader('content-type', 'text/plain').end(problem);
      res.writeStatus('204 No Content').endWithoutBody();
    };

    const snap = deps.snapshots.current;
    if (!PIXEL_EVENT.test(event)) return answer('bad_event');
    const uid = serverCall ? q.get('uid')! : cookie;
    if (serverCall && !isUserId(uid!)) return answer('bad_uid');
    const rawValue = q.get('value');
    const value = rawValue === null || rawValue === '' ? 0 : Number(rawValue);
    if (!(value >= 0 && value <= MAX_VALUE)) return answer('bad_value');
    const currency = (q.get('currency') || snap.currencies.base).toUpperCase();
    const valueBase = snap.currencies.convert(value, currency, snap.currencies.base);
    if (!Number.isFinite(valueBase)) return answer('bad_currency');
    const item = q.get('item') ?? '';
    if (item !== '' && !ITEM.test(item)) return answer('bad_item');
    if (!snap.advertisers.has(advertiserId)) return answer(); // neutral: nothing stored

    const nowSec = Math.floor(Date.now() / 1000);
    const userKey = allowed && uid !== undefined ? deps.userKeys.key(uid) : undefined;
    const row: PixelEvent = {
      type: 'pixel',
      event_id: `pixel:${randomBytes(12).toString('base64url')}`,
      event_time: nowSec,
      exchange: '',
      advertiser_id: advertiserId,
      campaign_id: '',
      creative_id: '',
      bid_id: '',
      request_id: '',
      imp_id: '',
      deal_id: '',
      placement: '',
      placement_type: '',
      publisher_id: '',
      country: '',
      device_type: 0,
      event_name: event,
      user_key: userKey ?? '',
      value_base: valueBase,
      currency: rawValue === null || rawValue === '' ? '' : currency,
      item,
    };
    deps.events.write(row);
    if (userKey !== undefined) deps.onPixel?.(advertiserId, event, userKey, nowSec);
    answer();
  });
}
