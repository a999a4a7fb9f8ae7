/**
 * User matching (cookie sync) on the exchange-facing port:
 *
 * `GET /match/{exchange}[?xuid=<the exchange's user id>][&gdpr=&gdpr_consent=&us_privacy=&gpp=&gpp_sid=&coppa=]`
 *
 * The exchange's match redirect brings the browser here. When the call carries the right to it
 * (audiences/user-match.ts browserPrivacy: consent where GDPR applies, no COPPA, no US privacy or
 * GPP opt-out, no `Sec-GPC: 1`), our user id cookie is read, or set when absent, and renewed; an
 * `xuid` is stored in the match table (`xid:<exchange>:<xuid>` ↔ `uid:<our id>`, USER_MATCH_TTL_SECONDS).
 * Then the browser goes on (302) to the exchange's `userSync.setUidUrl` with `{UID}` replaced by our
 * id, so the exchange sends it back as `user.buyeruid`; an exchange without one gets a 1x1 GIF.
 * Without the right nothing is read, set or stored, and the redirect carries an empty id.
 *
 * The match is stored after the answer leaves (the browser never waits for the store).
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import type { Settings } from '../settings/settings.js';
import type { SegmentStore } from '../audiences/segment-store.js';
import { browserPrivacy, MAX_EXCHANGE_UID_LENGTH, newUserId, userCookie, userIdFromCookie } from '../audiences/user-match.js';
import { IdentityMetrics, type MatchResult } from '../metrics/identity-metrics.js';

export interface UserMatchRouteDeps {
  readonly settings: Pick<Settings, 'gdprVendorId' | 'userCookieMaxAgeSeconds' | 'userMatchTtlSeconds'>;
  readonly snapshots: SnapshotRef;
  readonly store: SegmentStore;
  readonly registry: Registry;
}

const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export function registerUserMatchRoutes(app: TemplatedApp, deps: UserMatchRouteDeps): void {
  const metrics = new IdentityMetrics(deps.registry);
  const count = (r: MatchResult) => metrics.matches.labels(r).inc();

  app.get('/match/:exchange', (res: HttpResponse, req: HttpRequest) => {
    const ex = deps.snapshots.current.exchanges.get(req.getParameter(0));
    if (!ex) {
      count('unknown_exchange');
      return void res.writeStatus('404 Not Found').writeHeader('content-type', 'text/plain').end('unknown exchange');
    }
    const q = new URLSearchParams(req.getQuery() ?? '');
    const allowed = browserPrivacy(q, req.getHeader('sec-gpc'), deps.settings) === 'allowed';
    let uid = '';
    if (allowed) {
      uid = userIdFromCookie(req.getHeader('cookie')) ?? newUserId();
      const xuid = q.get('xuid') ?? '';
      if (xuid.length > MAX_EXCHANGE_UID_LENGTH) count('bad_uid');
      else if (xuid) {
        const expiresAt = Math.floor(Date.now() / 1000) + deps.settings.userMatchTtlSeconds;
        deps.store.putMatch(`xid:${ex.id}:${xuid}`, `uid:${uid}`, expiresAt).then(
          () => count('matched'),
          () => count('store_error'),
        );
      } else count('cookie_set');
    } else count('no_right');
    res.cork(() => {
      res.writeStatus(ex.setUidUrl ? '302 Found' : '200 OK').writeHeader('cache-control', 'no-store');
      if (allowed) res.writeHeader('set-cookie', userCookie(uid, deps.settings.userCookieMaxAgeSeconds));
      if (ex.setUidUrl) res.writeHeader('location', ex.setUidUrl.replaceAll('{UID}', encodeURIComponent(uid))).end();
      else res.writeHeader('content-type', 'image/gif').end(GIF);
    });
  });
}
