/**
 * Our own user id, as browsers carry it: a first-party cookie set on the exchange-facing port by
 * user matching (http/user-match-routes.ts) and read by the pixel. Exchanges learn it through their
 * set-uid URL and send it back as `user.buyeruid`, which identity.ts keys as `uid:<id>`.
 *
 * And the privacy verdict of a browser call (a match redirect, a pixel): the same rules as a bid
 * request's (privacy/privacy-outcome.ts), read from the query parameters exchanges and tag managers
 * fill in (`gdpr`, `gdpr_consent`, `us_privacy`, `gpp`, `gpp_sid`, `coppa`), plus the browser's
 * Global Privacy Control header (`Sec-GPC: 1`), which a bid request cannot carry.
 */
import { randomBytes } from 'node:crypto';
import { privacyOutcome, type PrivacyReason, type PrivacySettings } from '../privacy/privacy-outcome.js';

export const USER_COOKIE = 'dspuid';
/** 16 random bytes, base64url: 22 characters. */
const USER_ID = /^[A-Za-z0-9_-]{22}$/;
/** Longest exchange user id we store a match for (identity.ts bounds ids the same way). */
export const MAX_EXCHANGE_UID_LENGTH = 200;

export function newUserId(): string {
  return randomBytes(16).toString('base64url');
}

export function isUserId(id: string): boolean {
  return USER_ID.test(id);
}

/** Our user id from a `Cookie` header, when it holds a well-formed one. */
export function userIdFromCookie(header: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== USER_COOKIE) continue;
    const v = part.slice(eq + 1).trim();
    if (isUserId(v)) return v;
  }
  return undefined;
}

/**
 * The `Set-Cookie` value: Secure and SameSite=None (it is read in third-party contexts: the
 * exchange's redirect, an advertiser's page), HttpOnly (no script needs it), host-only.
 */
export function userCookie(id: string, maxAgeSeconds: number): string {
  return `${USER_COOKIE}=${id}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=None`;
}

export type BrowserPrivacyReason = PrivacyReason | 'gpc';

/** May a browser call store or use anything about its user? `allowed`, or the first reason it may not. */
export function browserPrivacy(q: URLSearchParams, secGpc: string, settings: PrivacySettings): BrowserPrivacyReason {
  if (secGpc.trim() === '1') return 'gpc';
  const gdpr = q.get('gdpr');
  const sid = q.get('gpp_sid');
  const sids = sid ? sid.split(',').map(Number) : undefined;
  return privacyOutcome(
    {
      coppa: q.get('coppa') === '1',
      lmt: false,
      ifa: undefined,
      gdpr: gdpr === '1' ? 1 : gdpr === '0' ? 0 : undefined,
      consent: q.get('gdpr_consent') || undefined,
      usPrivacy: q.get('us_privacy') || undefined,
      gpp: q.get('gpp') || undefined,
      gppSid: sids && sids.every(Number.isInteger) ? sids : undefined,
    },
    settings,
  ).reason;
}
