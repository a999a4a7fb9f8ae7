/**
 * The routes that act on one resource beyond its CRUD: an advertiser's pixel, blocking a campaign's
 * worst placements, reviewing a creative, rebuilding an audience.
 */
import { Type } from '@sinclair/typebox';
import { StringEnum } from '../../campaigns/schema.js';
import type { EventDatabase } from '../../events/event-database.js';
import { pixelSnippet } from '../../events/pixel-snippet.js';
import type { AudienceResources } from '../audiences.js';
import { blockPlacements, BlockPlacementsResultSchema, BlockPlacementsSchema } from '../block-placements.js';
import type { ConfigResources } from '../resources.js';
import type { ApiContext, ApiReply, RouteSpec } from '../router.js';
import { CreativeOutSchema } from '../schemas.js';
import { API_PREFIX, E, ok, READ_ERRORS, WRITE_ERRORS } from './common.js';

const PixelSchema = Type.Object(
  {
    advertiserId: Type.String(),
    url: Type.String({ description: 'GET it with {event} filled in; optional value, currency, item (and uid= from a server)' }),
    snippet: Type.String({ description: 'HTML to paste into every page: fires `visit`, and defines dspPixel(event, {value, currency, item})' }),
  },
  { title: 'Pixel' },
);
const RebuildSchema = Type.Object(
  {
    id: Type.String(),
    kind: StringEnum(['lookalike', 'rule']),
    members: Type.Integer({ minimum: 0, description: 'members after the rebuild' }),
    removed: Type.Integer({ minimum: 0, description: 'members the rebuild took out' }),
    positives: Type.Optional(Type.Integer({ minimum: 0, description: "a lookalike: the seed's members among the users seen (its examples)" })),
    seconds: Type.Number(),
    builtAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, title: 'AudienceRebuild' },
);
const ReviewSchema = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) }, { additionalProperties: false, title: 'Review' });

export interface ActionRouteDeps {
  readonly resources: ConfigResources;
  /** The exchange-facing base URL the pixel snippets call. */
  readonly pixelBaseUrl: string;
  /** The event store reports read (undefined until it is open, or in a process without one). */
  readonly events: () => EventDatabase | undefined;
}

export class ActionRoutes {
  constructor(private readonly d: ActionRouteDeps) {}

  pixel(): RouteSpec {
    return {
      method: 'get',
      path: `${API_PREFIX}/advertisers/{id}/pixel`,
      tag: 'advertisers',
      summary: "The advertiser's pixel: its URL and the snippet to paste into its pages (only the key's own advertisers)",
      responses: { 200: { description: 'the pixel', schema: PixelSchema }, ...READ_ERRORS },
      handler: (c) => this.showPixel(c),
    };
  }

  private async showPixel(c: ApiContext): Promise<ApiReply> {
    const adv = await this.d.resources.get('advertisers', c.params.id, c.principal);
    const id = String(adv.id);
    const base = this.d.pixelBaseUrl;
    return { status: 200, body: { advertiserId: id, url: `${base}/px/${encodeURIComponent(id)}/{event}`, snippet: pixelSnippet(base, id) } };
  }

  blockPlacements(): RouteSpec {
    return {
      method: 'post',
      path: `${API_PREFIX}/campaigns/{id}/block-placements`,
      tag: 'campaigns',
      summary: "Add the campaign's worst placements of a report range (by ctr, cvr, ecpa or win_rate) to its domain and bundle block lists",
      description:
        'Placements with at least minImpressions impressions in [from, to) are ranked (lowest ctr, cvr or win_rate; highest ecpa, spend without a conversion worst); ' +
        'the worst N not yet blocked are added to targeting.domains.block (sites) and targeting.bundles.block (apps) as a PATCH of the campaign would: same rules, a new revision, an audit entry.',
      body: 'json',
      requestSchema: BlockPlacementsSchema,
      preconditions: true,
      responses: { 200: { description: 'what was added, and the campaign', schema: BlockPlacementsResultSchema, etag: true }, 422: E('report_too_large'), 503: E('store_unavailable'), ...WRITE_ERRORS },
      handler: async (c) => {
        const r = await blockPlacements(this.d.resources, this.d.events(), c.params.id, c.body, c.write);
        return { status: 200, body: r, version: r.campaign.version };
      },
    };
  }

  approve(): RouteSpec {
    return {
      method: 'post',
      path: `${API_PREFIX}/creatives/{id}/approve`,
      tag: 'creatives',
      summary: 'Approve (admin keys only; advertisers cannot approve, not even their own)',
      body: 'json',
      requestSchema: ReviewSchema,
      preconditions: true,
      responses: { 200: { description: 'approved', schema: CreativeOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => ok((await this.d.resources.review(c.params.id, 'approved', c.body, c.write)).doc),
    };
  }

  reject(): RouteSpec {
    return {
      method: 'post',
      path: `${API_PREFIX}/creatives/{id}/reject`,
      tag: 'creatives',
      summary: 'Reject with a reason (admin keys only)',
      body: 'json',
      requestSchema: ReviewSchema,
      preconditions: true,
      responses: { 200: { description: 'rejected', schema: CreativeOutSchema, etag: true }, ...WRITE_ERRORS },
      handler: async (c) => ok((await this.d.resources.review(c.params.id, 'rejected', c.body, c.write)).doc),
    };
  }

  /** Only with audiences (a process with a segment store). */
  rebuild(audiences: AudienceResources): RouteSpec {
    return {
      method: 'post',
      path: `${API_PREFIX}/audiences/{id}/rebuild`,
      tag: 'audiences',
      summary: 'Rebuild a lookalike or rule audience now (operators and the owning advertiser); answers when the rebuild is done',
      description:
        'A lookalike is trained again on the profiles of the users seen and its members replaced; a rule audience is recomputed from the event store over its lookback. ' +
        '409 not_rebuildable for an uploaded audience, paused for a paused one, rebuild_running while one runs; 503 rebuild_unavailable when this bidder does not build that kind (LOOKALIKES off).',
      responses: {
        200: { description: 'rebuilt', schema: RebuildSchema },
        ...READ_ERRORS,
        409: E('not_rebuildable, paused, rebuild_running'),
        503: E('rebuild_unavailable'),
      },
      handler: async (c) => ({ status: 200, body: await audiences.rebuild(c.params.id, c.principal) }),
    };
  }
}
