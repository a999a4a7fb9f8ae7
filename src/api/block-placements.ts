/**
 * `POST /api/v1/campaigns/{id}/block-placements`: a campaign's worst placements of a report range,
 * added to its block lists (`targeting.domains.block` for sites, `targeting.bundles.block` for
 * apps, the same lists a PUT writes). The write is the campaign's JSON Merge Patch through
 * ConfigResources.update: same role and tenant rules (an advertiser key only its own campaigns,
 * 404 for another's), same validation, a new revision and an audit entry. It is conditional on the
 * revision the lists were read at, and re-read and retried when another write came in between
 * (unless the caller sent its own If-Match, which then holds as for any write).
 *
 * Worst: lowest ctr (clicks / impressions), cvr (conversions / clicks) or win_rate (wins / bids),
 * highest ecpa (spend / conversions; spend without a conversion is the worst). A ratio whose
 * denominator is 0 counts as 0 (no clicks: a cvr of 0). Only placements with at least
 * `minImpressions` impressions in the range take part; ties go by name, so the answer is stable.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { EventDatabase } from '../events/event-database.js';
import { parseReportParams, runReport, ReportTooLargeError, type ReportRow } from '../events/reports.js';
import { StringEnum } from '../campaigns/schema.js';
import type { StoredDoc } from '../campaigns/config-store.js';
import { ApiError, aKey, forbidden, invalid } from './errors.js';
import { permits } from './policy.js';
import { check } from './validation.js';
import type { ConfigResources, WriteContext } from './resources.js';

export const BLOCK_METRICS = ['ctr', 'cvr', 'ecpa', 'win_rate'] as const;
export type BlockMetric = (typeof BLOCK_METRICS)[number];

export const BlockPlacementsSchema = Type.Object(
  {
    from: Type.String({ minLength: 1, maxLength: 64, description: 'ISO 8601 date or date-time, inclusive (as in reports)' }),
    to: Type.String({ minLength: 1, maxLength: 64, description: 'ISO 8601 date or date-time, exclusive (a date-only `to` includes that day)' }),
    metric: StringEnum(BLOCK_METRICS),
    worst: Type.Integer({ minimum: 1, maximum: 1000 }),
    minImpressions: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);
export type BlockPlacementsBody = Static<typeof BlockPlacementsSchema>;

export const BlockedPlacementSchema = Type.Object({
  placement: Type.String(),
  placementType: StringEnum(['site', 'app']),
  impressions: Type.Number(),
  value: Type.Union([Type.Number(), Type.Null()]),
});
export const BlockPlacementsResultSchema = Type.Object({
  /** The placements added to the block lists, worst first. */
  added: Type.Array(BlockedPlacementSchema),
  /** Among the worst N, those already blocked (nothing to add). */
  alreadyBlocked: Type.Array(Type.String()),
  campaign: Type.Object({}, { additionalProperties: true }),
});

export interface PlacementScore {
  readonly placement: string;
  readonly placementType: 'site' | 'app';
  readonly impressions: number;
  /** The metric's value (null: no denominator; ecpa with spend and no conversion). */
  readonly value: number | null;
}

interface Sums {
  placement: string;
  placementType: 'site' | 'app';
  impressions: number;
  clicks: number;
  conversions: number;
  wins: number;
  bids: number;
  spend: number;
}

/** Per placement totals over the report's days, and each one's score, worst first. */
export function worstPlacements(rows: readonly ReportRow[], metric: BlockMetric, minImpressions: number): PlacementScore[] {
  const sums = new Map<string, Sums>();
  for (const r of rows) {
    const type = r.placementType;
    if (!r.placement || (type !== 'site' && type !== 'app')) continue;
    const key = `${type}\u0000${r.placement}`;
    let s = sums.get(key);
    if (!s) sums.set(key, (s = { placement: r.placement, placementType: type, impressions: 0, clicks: 0, conversions: 0, wins: 0, bids: 0, spend: 0 }));
    s.impressions += r.impressions;
    s.clicks += r.clicks;
    s.conversions += r.conversions;
    s.wins += r.wins;
    s.bids += r.bids;
    s.spend += r.spend;
  }
  const scored = [...sums.values()]
    .filter((s) => s.impressions >= minImpressions)
    .map((s) => ({ s, badness: badness(s, metric), value: value(s, metric) }));
  scored.sort((a, b) => b.badness - a.badness || (a.s.placement < b.s.placement ? -1 : a.s.placement > b.s.placement ? 1 : 0));
  return scored.map(({ s, value }) => ({ placement: s.placement, placementType: s.placementType, impressions: s.impressions, value }));
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

function value(s: Sums, metric: BlockMetric): number | null {
  const v =
    metric === 'ctr' ? ratio(s.clicks, s.impressions) : metric === 'cvr' ? ratio(s.conversions, s.clicks) : metric === 'win_rate' ? ratio(s.wins, s.bids) : ratio(s.spend, s.conversions);
  return v === null ? null : Number(v.toPrecision(12));
}

/** Higher is worse. */
function badness(s: Sums, metric: BlockMetric): number {
  if (metric === 'ecpa') return s.conversions > 0 ? s.spend / s.conversions : s.spend > 0 ? Infinity : 0;
  return -(value(s, metric) ?? 0);
}

const ATTEMPTS = 5;

export async function blockPlacements(
  resources: ConfigResources,
  events: EventDatabase | undefined,
  id: string,
  input: unknown,
  ctx: WriteContext,
): Promise<{ added: PlacementScore[]; alreadyBlocked: string[]; campaign: StoredDoc }> {
  const p = ctx.principal;
  if (!permits(p, 'campaigns', 'update')) throw forbidden(`${aKey(p.role)} may not update campaigns`);
  const errors = check(BlockPlacementsSchema, input);
  if (errors.length) throw invalid(errors);
  const body = input as BlockPlacementsBody;
  if (!events) throw new ApiError(503, 'store_unavailable', 'this bidder has no event store to read reports from');
  const parsed = parseReportParams({ groupBy: 'placement,placementType,day', from: body.from, to: body.to });
  if (!parsed.ok) throw invalid(parsed.errors);

  let campaign = await resources.get('campaigns', id, p); // 404 for a campaign the key may not see
  let rows: ReportRow[];
  try {
    rows = await runReport(events, { ...parsed.query, campaigns: [campaign.id], advertisers: p.advertiserIds && [...p.advertiserIds] });
  } catch (e) {
    if (e instanceof ReportTooLargeError) throw new ApiError(422, 'report_too_large', e.message);
    throw new ApiError(503, 'store_unavailable', (e as Error).message);
  }
  const worst = worstPlacements(rows, body.metric, body.minImpressions ?? 0).slice(0, body.worst);

  for (let attempt = 1; ; attempt++) {
    const targeting = (campaign.targeting ?? {}) as { domains?: { block?: string[] }; bundles?: { block?: string[] } };
    const blocked = { site: new Set((targeting.domains?.block ?? []).map((d) => d.toLowerCase())), app: new Set((targeting.bundles?.block ?? []).map((b) => b.toLowerCase())) };
    const added = worst.filter((w) => !blocked[w.placementType].has(w.placement.toLowerCase()));
    const alreadyBlocked = worst.filter((w) => !added.includes(w)).map((w) => w.placement);
    if (added.length === 0) return { added, alreadyBlocked, campaign };
    const patch: Record<string, unknown> = {};
    const sites = added.filter((a) => a.placementType === 'site').map((a) => a.placement);
    const apps = added.filter((a) => a.placementType === 'app').map((a) => a.placement);
    if (sites.length) patch.domains = { block: [...(targeting.domains?.block ?? []), ...sites] };
    if (apps.length) patch.bundles = { block: [...(targeting.bundles?.block ?? []), ...apps] };
    try {
      const r = await resources.update('campaigns', id, { targeting: patch }, { ...ctx, ifMatch: ctx.ifMatch || `"${campaign.version}"` });
      return { added, alreadyBlocked, campaign: r.doc };
    } catch (e) {
      // Someone wrote the campaign since it was read: read it again and add to what is there now.
      if (ctx.ifMatch || attempt >= ATTEMPTS || !(e instanceof ApiError) || e.status !== 412) throw e;
      campaign = await resources.get('campaigns', id, p);
    }
  }
}
