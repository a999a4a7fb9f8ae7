/**
 * What identifies a bid in its notice URLs, and the canonical text that is signed. The same
 * identity is written into nurl/burl/lurl, the impression pixel and the click URL, and read
 * back (and verified) when the exchange or the browser calls them.
 */
import type { NoticeSigner } from './notice-signer.js';
import type { EventBase, EventType } from './event-types.js';

export interface BidIdentity {
  readonly bidId: string;
  readonly requestId: string;
  readonly impId: string;
  readonly exchange: string;
  readonly advertiserId: string;
  readonly campaignId: string;
  readonly creativeId: string;
  readonly dealId: string;
  /** Our bid, CPM in `currency`. */
  readonly price: number;
  readonly currency: string;
  /** Unix seconds when the bid was made. */
  readonly issuedAt: number;
  /** The hashed user key (frequency caps count the impression for this user); only when caps are in use and user data allowed. */
  readonly userHash?: string;
  /**
   * Campaigns that shade: the price before shading (CPM in `currency`, within max bid) and the floor
   * the bid faced, so that a notice's min-to-win reads as the share of that price that would have
   * won, or as won at any price when it is the floor (money/shading.ts).
   */
  readonly unshaded?: number;
  readonly floor?: number;
}

export function identityPayload(id: BidIdentity): string {
  const base = `${id.bidId}|${id.requestId}|${id.impId}|${id.exchange}|${id.advertiserId}|${id.campaignId}|${id.creativeId}|${id.dealId}|${id.price}|${id.currency}|${id.issuedAt}`;
  // Appended only when present: identities without them sign exactly as before.
  const withUser = id.userHash === undefined ? base : `${base}|u=${id.userHash}`;
  return id.unshaded === undefined ? withUser : `${withUser}|w=${id.unshaded}|fl=${id.floor ?? 0}`;
}

/** The signed query string (without `?`), ready for type-specific parameters to follow. */
export function identityQuery(id: BidIdentity, signer: NoticeSigner): string {
  return (
    `b=${id.bidId}&r=${encodeParam(id.requestId)}&i=${encodeParam(id.impId)}` +
    `&a=${id.advertiserId}&c=${id.campaignId}&cr=${id.creativeId}` +
    (id.dealId ? `&d=${encodeParam(id.dealId)}` : '') +
    `&bp=${id.price}&bc=${id.currency}&t=${id.issuedAt}` +
    (id.userHash !== undefined ? `&u=${id.userHash}` : '') +
    (id.unshaded !== undefined ? `&w=${id.unshaded}&fl=${id.floor ?? 0}` : '') +
    `&s=${signer.sign(identityPayload(id))}`
  );
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * encodeURIComponent for ids the exchange sent. JSON allows lone surrogates (`"\ud800"`), on which
 * encodeURIComponent throws; they become U+FFFD, as UTF-8 encoding does when the payload is signed,
 * so the signature still verifies.
 */
function encodeParam(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return encodeURIComponent(value.replace(LONE_SURROGATE, '\ufffd'));
  }
}

export type IdentityProblem = 'missing_field' | 'bad_signature';

/** Reads and verifies the identity of a notice; the exchange comes from the path. */
export function readIdentity(q: URLSearchParams, exchange: string, signer: NoticeSigner): BidIdentity | IdentityProblem {
  const bidId = q.get('b');
  const campaignId = q.get('c');
  const creativeId = q.get('cr');
  const price = Number(q.get('bp'));
  const currency = q.get('bc');
  const issuedAt = Number(q.get('t'));
  const signature = q.get('s');
  const userHash = q.get('u');
  if (userHash !== null && !/^[A-Za-z0-9_-]{1,64}$/.test(userHash)) return 'missing_field';
  const w = q.get('w');
  const unshaded = w === null ? undefined : Number(w);
  const fl = q.get('fl');
  const floor = w === null ? undefined : fl === null || fl === '' ? NaN : Number(fl);
  if (unshaded !== undefined && !(unshaded > 0 && unshaded < Infinity && floor! >= 0 && floor! < Infinity)) return 'missing_field';
  if (!bidId || !campaignId || !creativeId || !currency || !signature || !(price > 0) || !Number.isInteger(issuedAt))
    return 'missing_field';
  const id: BidIdentity = {
    bidId,
    requestId: q.get('r') ?? '',
    impId: q.get('i') ?? '',
    exchange,
    advertiserId: q.get('a') ?? '',
    campaignId,
    creativeId,
    dealId: q.get('d') ?? '',
    price,
    currency,
    issuedAt,
    ...(userHash !== null ? { userHash } : {}),
    ...(unshaded !== undefined ? { unshaded, floor } : {}),
  };
  return signer.verify(identityPayload(id), signature) ? id : 'bad_signature';
}

/** The columns every event of a bid has: its identity, and an event id that is the same on every retry and instance. */
export function identityColumns(type: EventType, id: BidIdentity, nowSec: number): EventBase {
  return {
    event_id: `${type}:${id.bidId}`,
    event_time: nowSec,
    exchange: id.exchange,
    advertiser_id: id.advertiserId,
    campaign_id: id.campaignId,
    creative_id: id.creativeId,
    bid_id: id.bidId,
    request_id: id.requestId,
    imp_id: id.impId,
    deal_id: id.dealId,
  };
}
