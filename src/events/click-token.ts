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
}

export function clickToken(id: BidIdentity, clickedAt: number, signer: NoticeSigner): string {
  const body = Buffer.from(JSON.stringify(
      id.placement || id.publisherId || id.country || id.deviceType
        ? [id.bidId, id.exchange, id.advertiserId, id.campaignId, id.creativeId, clickedAt, id.placement ?? '', id.placementType ?? '', id.publisherId ?? '', id.country ?? '', id.deviceType ?? 0]
        : [id.bidId, id.exchange, id.advertiserId, id.campaignId, id.creativeId, clickedAt],
    )).toString('base64url');
  return `${body}.${signer.sign(`click|${body}`)}`;
}

export function readClickToken(token: string, signer: NoticeSigner): ClickAttribution | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  const body = token.slice(0, dot);
  if (!signer.verify(`click|${body}`, token.slice(dot + 1))) return undefined;
  try {
    const [bidId, exchange, advertiserId, campaignId, creativeId, clickedAt, placement, placementType, publisherId, country, deviceType] = JSON.parse(
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
    };
  } catch {
    return undefined;
  }
}
