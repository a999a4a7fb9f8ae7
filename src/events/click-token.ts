/**
 * The click token: appended to the landing page URL by the click redirect (`dsp_click=...`), and
 * sent back by the advertiser's conversion postback, so a conversion is tied to the signed bid.
 */
import type { NoticeSigner } from './notice-signer.js';
import type { BidIdentity } from './bid-identity.js';

export interface ClickAttribution {
  readonly bidId: string;
  readonly exchange: string;
  readonly advertiserId: string;
  readonly campaignId: string;
  readonly creativeId: string;
  readonly clickedAt: number;
  /** The bid's placement columns (event-types.ts EventBase), so a conversion row has them too; ''/0 in tokens made before them. */
  readonly placement: string;
  readonly placementType: string;
  readonly publisherId: string;
  readonly country: string;
  readonly deviceType: number;
  /** The bid's hashed user (`u=` of its notice URLs), when its request allowed user data. */
  readonly userHash?: string;
}

export function clickToken(id: BidIdentity, clickedAt: number, signer: NoticeSigner): string {
  const fields: unknown[] = [id.bidId, id.exchange, id.advertiserId, id.campaignId, id.creativeId, clickedAt];
  // Appended in order, each group only when needed: tokens without them read as before.
  if (id.placement || id.publisherId || id.country || id.deviceType || id.userHash !== undefined)
    fields.push(id.placement ?? '', id.placementType ?? '', id.publisherId ?? '', id.country ?? '', id.deviceType ?? 0);
  if (id.userHash !== undefined) fields.push(id.userHash);
  const body = Buffer.from(JSON.stringify(fields)).toString('base64url');
  return `${body}.${signer.sign(`click|${body}`)}`;
}

export function readClickToken(token: string, signer: NoticeSigner): ClickAttribution | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const body = token.slice(0, dot);
  if (!signer.verify(`click|${body}`, token.slice(dot + 1))) return undefined;
  try {
    const [bidId, exchange, advertiserId, campaignId, creativeId, clickedAt, placement, placementType, publisherId, country, deviceType, userHash] = JSON.parse(
      Buffer.from(body, 'base64url').toString('utf8'),
    );
    return {
      bidId,
      exchange,
      advertiserId,
      campaignId,
      creativeId,
      clickedAt,
      placement: placement ?? '',
      placementType: placementType ?? '',
      publisherId: publisherId ?? '',
      country: country ?? '',
      deviceType: deviceType ?? 0,
      ...(typeof userHash === 'string' ? { userHash } : {}),
    };
  } catch {
    return undefined;
  }
}
