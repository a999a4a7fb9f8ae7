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
  /**
   * Where the ad was to run (event-types.ts EventBase): the site's domain or the app's bundle, `site`
   * or `app`, the publisher id, the country and the device type. Signed with the rest, so the rows
   * of every notice carry the bid's placement without a join (the bid log is sampled; see README).
   * Absent on identities from before migration 0003 (and empty when the request had none).
   */
  readonly placement?: string;
  readonly placementType?: string;
  readonly publisherId?: string;
  readonly country?: string;
  readonly deviceType?: number;
}

export function identityPayload(id: BidIdentity): string {
  const base = `${id.bidId}|${id.requestId}|${id.impId}|${id.exchange}|${id.advertiserId}|${id.campaignId}|${id.creativeId}|${id.dealId}|${id.price}|${id.currency}|${id.issuedAt}`;
  // Appended only when present: identities without them sign exactly as before.
  const withUser = id.userHash === undefined ? base : `${base}|u=${id.userHash}`;
  const withShading = id.unshaded === undefined ? withUser : `${withUser}|w=${id.unshaded}|fl=${id.floor ?? 0}`;
  return hasPlacement(id)
    ? `${withShading}|pl=${id.placement ?? ''}|pt=${id.placementType ?? ''}|pb=${id.publisherId ?? ''}|cc=${id.country ?? ''}|dv=${id.deviceType ?? 0}`
    : withShading;
}

function hasPlacement(id: BidIdentity): boolean {
  return !!(id.placement || id.publisherId || id.country || id.deviceType);
}

/** `s`/`a` in the URL for the two placement types (one byte each instead of four). */
const TYPE_CODE: Record<string, string> = { site: 's', app: 'a' };
const TYPE_OF_CODE: Record<string, string> = { s: 'site', a: 'app' };

/** The placement's URL parameters, each only when it has a value: a request without any adds nothing. */
function placementQuery(id: BidIdentity): string {
  if (!hasPlacement(id)) return '';
  return (
    (id.placement ? `&pl=${encodeParam(id.placement)}` : '') +
    (id.placementType ? `&pt=${TYPE_CODE[id.placementType] ?? ''}` : '') +
    (id.publisherId ? `&pb=${encodeParam(id.publisherId)}` : '') +
    (id.country ? `&cc=${id.country}` : '') +
    (id.deviceType ? `&dv=${id.deviceType}` : '')
  );
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
    placementQuery(id) +
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

/** The placement parameters, all present (as '' and 0) when any is, none when none is: signed as they were. */
function readPlacement(q: URLSearchParams): Pick<BidIdentity, 'placement' | 'placementType' | 'publisherId' | 'country' | 'deviceType'> {
  const placement = q.get('pl') ?? '';
  const publisherId = q.get('pb') ?? '';
  const country = q.get('cc') ?? '';
  const deviceType = Number(q.get('dv') ?? 0);
  if (!placement && !publisherId && !country && !deviceType) return {};
  return {
    placement,
    placementType: TYPE_OF_CODE[q.get('pt') ?? ''] ?? '',
    publisherId,
    country,
    deviceType: Number.isInteger(deviceType) && deviceType > 0 && deviceType < 256 ? deviceType : 0,
  };
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
    ...readPlacement(q),
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
    placement: id.placement ?? '',
    placement_type: id.placementType ?? '',
    publisher_id: id.publisherId ?? '',
    country: id.country ?? '',
    device_type: id.deviceType ?? 0,
  };
}
