/**
 * Delivery reports over the event tables: one SQL query per report, the same text on
 * ClickHouse 18.16 and chDB (current ClickHouse).
 *
 * Grouping: any of the dimensions advertiser, campaign, creative, exchange, placement (the site's
 * domain or the app's bundle), placementType (site or app), publisher, deal, plus one time
 * grain (hour or day, UTC). Range: `from` inclusive, `to` exclusive, whole seconds. A date-only
 * `to` means "through the end of that day" (`to=2024-05-31` ends at 2024-06-01T00:00:00Z).
 *
 * Metrics per group:
 * - requests: bid requests seen, from the sampled `requests` table, weighted by sample_weight
 *   (an estimate). Meaningful per exchange and time only: a request row names an advertiser,
 *   campaign and creative only when we bid on it (then it is the bid's), so grouped by
 *   advertiser/campaign/creative the no-bid requests all fall in the '' group and the other
 *   groups count the requests each one bid on, not the requests it was eligible for.
 * - bids: bids sent, from the sampled `bids` table, weighted (an estimate).
 * - wins, billings, impressions, clicks, conversions: exact counts of distinct events.
 * - winRate = wins / bids; ctr = clicks / impressions; cvr = conversions / clicks.
 * - placement, publisher and deal are the bid request's (migration 0003; the notices carry them
 *   signed, see bid-identity.ts), so every table groups by them alike; rows stored before 0003
 *   fall in the '' group. Requests are logged without them (their '' group holds them all).
 * - conversionValue = sum of value_base (base currency).
 * - spend = sum of billings' clear_cpm_base / 1000 (base currency).
 * - ecpm = spend / impressions * 1000; ecpc = spend / clicks; ecpa = spend / conversions.
 * - avgClearCpm: mean clearing price over wins; avgWinBidCpm: mean of our bid over the same
 *   wins (the pair shows how much a win cost against what we offered); avgBidCpm: mean bid
 *   over all bids (weighted).
 * Ratios and averages are null when their denominator is 0.
 *
 * Exactly once: every table may hold an event more than once until (and, across day
 * partitions, even after) ReplacingMergeTree merges, so each table's rows are first grouped by
 * event_id (any() of each column, min() of the time) and only then counted. No FINAL, no
 * reliance on merges. The time filter applies to the stored rows, so two copies of one event
 * with different times on both sides of a range boundary count once in each range.
 *
 * Shape (works on 18.16 and 26): a UNION ALL of one branch per table, each branch a
 * per-event_id subquery projected onto the same columns (every metric column present in
 * every branch, 0 where the table has nothing to say, all Float64 and in the same order and
 * names in every branch, so nothing depends on either engine's UNION ALL type unification),
 * then one outer GROUP BY. Derived metrics are
 * computed here rather than in SQL so that division by zero and JSON number formats (18.16
 * quotes UInt64) never differ between engines.
 *
 * SQL safety: dimensions and grains map through fixed whitelists to fixed column expressions;
 * the range reaches SQL only as integers and as dates this module formats itself.
 */
import type { EventDatabase } from './event-database.js';
import type { FieldError } from '../errors.js';
import { integerLiteral, stringLiteral } from './sql.js';

export const REPORT_DIMENSIONS = ['advertiser', 'campaign', 'creative', 'exchange', 'placement', 'placementType', 'publisher', 'deal'] as const;
export type ReportDimension = (typeof REPORT_DIMENSIONS)[number];
export const TIME_GRAINS = ['hour', 'day'] as const;
export type TimeGrain = (typeof TIME_GRAINS)[number];
export type GroupByField = ReportDimension | TimeGrain;

/** Longest range a report may cover. */
export const MAX_RANGE_DAYS = 366;
/** Most rows a report may return (the query asks for one more to tell). */
export const MAX_REPORT_ROWS = 100_000;

const DIMENSION_COLUMN: Record<ReportDimension, string> = {
  advertiser: 'advertiser_id',
  campaign: 'campaign_id',
  creative: 'creative_id',
  exchange: 'exchange',
  placement: 'placement',
  placementType: 'placement_type',
  publisher: 'publisher_id',
  deal: 'deal_id',
};
const GRAIN_SECONDS: Record<TimeGrain, number> = { hour: 3600, day: 86400 };

export interface ReportQuery {
  /** In the order asked for; no duplicates. */
  readonly dimensions: readonly ReportDimension[];
  readonly grain: TimeGrain;
  /** Unix seconds, inclusive. */
  readonly from: number;
  /** Unix seconds, exclusive. */
  readonly to: number;
  /** Only these advertisers' events (an advertiser key's own); undefined: every advertiser's. */
  readonly advertisers?: readonly string[];
  /** Only these campaigns' events (the block-placements call reads one campaign's); undefined: every campaign's. */
  readonly campaigns?: readonly string[];
}

export interface ReportMetrics {
  requests: number;
  bids: number;
  wins: number;
  winRate: number | null;
  billings: number;
  impressions: number;
  clicks: number;
  ctr: number | null;
  conversions: number;
  cvr: number | null;
  conversionValue: number;
  spend: number;
  ecpm: number | null;
  ecpc: number | null;
  ecpa: number | null;
  avgClearCpm: number | null;
  avgWinBidCpm: number | null;
  avgBidCpm: number | null;
}

/** The metric columns, in output (CSV) order. */
export const REPORT_METRICS: readonly (keyof ReportMetrics)[] = [
  'requests',
  'bids',
  'wins',
  'winRate',
  'billings',
  'impressions',
  'clicks',
  'ctr',
  'conversions',
  'cvr',
  'conversionValue',
  'spend',
  'ecpm',
  'ecpc',
  'ecpa',
  'avgClearCpm',
  'avgWinBidCpm',
  'avgBidCpm',
];

/** One group: its dimension values (ids; '' when the events had none), its time bucket and the metrics. */
export type ReportRow = Partial<Record<ReportDimension, string>> & {
  /** `YYYY-MM-DDTHH:00:00Z` */
  hour?: string;
  /** `YYYY-MM-DD` */
  day?: string;
} & ReportMetrics;

// ---------------------------------------------------------------------------------------------
// Parsing and validation of the request

export interface ReportParams {
  groupBy?: string | readonly string[];
  from?: string;
  to?: string;
}

export type ParseResult = { ok: true; query: ReportQuery } | { ok: false; errors: FieldError[] };

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;
/** DateTime is UInt32 seconds; stay well inside it. */
const MIN_TIME = 0;
const MAX_TIME = Date.UTC(2100, 0, 1) / 1000;

interface ParsedTime {
  seconds: number;
  dateOnly: boolean;
}

/** ISO 8601 date (`2024-05-01`) or date-time (`2024-05-01T13:00[:00[.000]][Z|+02:00]`, UTC when no offset). */
export function parseIsoTime(text: string): ParsedTime | undefined {
  let m = DATE_ONLY.exec(text);
  if (m) {
    const ms = utc(+m[1], +m[2], +m[3], 0, 0, 0);
    return ms === undefined ? undefined : { seconds: ms / 1000, dateOnly: true };
  }
  m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const ms = utc(+m[1], +m[2], +m[3], +m[4], +m[5], m[6] ? +m[6] : 0);
  if (ms === undefined) return undefined;
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const h = +digits.slice(0, 2);
    const min = +digits.slice(2, 4);
    if (h > 23 || min > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (h * 60 + min);
  }
  const fraction = m[7] ? Number(m[7]) : 0;
  // Events have whole seconds: t >= x.5 and t < x.5 are t >= ceil(x.5) and t < ceil(x.5).
  return { seconds: Math.ceil(ms / 1000 + fraction) - offsetMinutes * 60, dateOnly: false };
}

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined; // 2024-02-30
  return ms;
}

export function parseReportParams(params: ReportParams): ParseResult {
  const errors: FieldError[] = [];

  const dimensions: ReportDimension[] = [];
  const grains: TimeGrain[] = [];
  const raw = params.groupBy === undefined ? [] : typeof params.groupBy === 'string' ? [params.groupBy] : params.groupBy;
  const items = raw.flatMap((s) => s.split(',')).map((s) => s.trim());
  const allowed = [...REPORT_DIMENSIONS, ...TIME_GRAINS].join(', ');
  if (items.length === 0 || items.every((s) => s === '')) {
    errors.push({ path: 'groupBy', code: 'required', message: `is required: dimensions (${REPORT_DIMENSIONS.join(', ')}) and one time grain (${TIME_GRAINS.join(' or ')}), comma-separated` });
  } else {
    const seen = new Set<string>();
    for (const item of items) {
      if ((REPORT_DIMENSIONS as readonly string[]).includes(item)) {
        if (!seen.has(item)) dimensions.push(item as ReportDimension);
      } else if ((TIME_GRAINS as readonly string[]).includes(item)) {
        if (!seen.has(item)) grains.push(item as TimeGrain);
      } else {
        errors.push({
          path: 'groupBy',
          code: 'unknown_value',
          message: item === '' ? 'has an empty item' : `"${item.slice(0, 40)}" is not one of ${allowed}`,
        });
        continue;
      }
      if (seen.has(item)) errors.push({ path: 'groupBy', code: 'duplicate', message: `"${item}" is listed more than once` });
      seen.add(item);
    }
    if (grains.length === 0) errors.push({ path: 'groupBy', code: 'missing_time_grain', message: `needs one time grain: ${TIME_GRAINS.join(' or ')}` });
    if (grains.length > 1) errors.push({ path: 'groupBy', code: 'multiple_time_grains', message: `takes one time grain, not ${grains.join(' and ')}` });
  }

  const from = parseBound('from', params.from, errors);
  const to = parseBound('to', params.to, errors);
  let fromSec = 0;
  let toSec = 0;
  if (from && to) {
    fromSec = from.seconds;
    toSec = to.dateOnly ? to.seconds + 86400 : to.seconds;
    if (toSec <= fromSec) {
      errors.push({ path: 'to', code: 'invalid_range', message: 'must be after from' });
    } else if (toSec - fromSec > MAX_RANGE_DAYS * 86400) {
      errors.push({ path: 'to', code: 'range_too_long', message: `the range may cover at most ${MAX_RANGE_DAYS} days` });
    }
  }

  if (errors.length) return { ok: false, errors };
  return { ok: true, query: { dimensions, grain: grains[0], from: fromSec, to: toSec } };
}

function parseBound(path: 'from' | 'to', text: string | undefined, errors: FieldError[]): ParsedTime | undefined {
  if (text === undefined || text === '') {
    errors.push({ path, code: 'required', message: 'is required: an ISO 8601 date (2024-05-01) or date-time (2024-05-01T13:00:00Z)' });
    return undefined;
  }
  const t = parseIsoTime(text);
  if (!t) {
    errors.push({ path, code: 'invalid_datetime', message: 'must be an ISO 8601 date (2024-05-01) or date-time (2024-05-01T13:00:00Z)' });
    return undefined;
  }
  if (t.seconds < MIN_TIME || t.seconds > MAX_TIME) {
    errors.push({ path, code: 'out_of_range', message: 'must be from 1970-01-01 to 2100-01-01' });
    return undefined;
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// SQL

/** The per-table inputs: what each event contributes to which raw metric column. */
interface Source {
  readonly table: string;
  /** Per-event values, aggregated over the copies of one event_id. */
  readonly perEvent: readonly string[];
  /** Raw metric column -> expression over the per-event values. */
  readonly metrics: Readonly<Partial<Record<RawMetric, string>>>;
}

const RAW_METRICS = [
  'requests',
  'bids',
  'bid_cpm_weighted',
  'wins',
  'win_bid_cpm',
  'win_clear_cpm',
  'billings',
  'billed_cpm',
  'impressions',
  'clicks',
  'conversions',
  'conversion_value',
] as const;
type RawMetric = (typeof RAW_METRICS)[number];

const SOURCES: readonly Source[] = [
  { table: 'requests', perEvent: ['any(sample_weight) AS e_weight'], metrics: { requests: 'e_weight' } },
  {
    table: 'bids',
    perEvent: ['any(sample_weight) AS e_weight', 'any(bid_cpm_base) AS e_bid'],
    metrics: { bids: 'e_weight', bid_cpm_weighted: 'e_weight * e_bid' },
  },
  {
    table: 'wins',
    perEvent: ['any(bid_cpm_base) AS e_bid', 'any(clear_cpm_base) AS e_clear'],
    metrics: { wins: '1', win_bid_cpm: 'e_bid', win_clear_cpm: 'e_clear' },
  },
  { table: 'billings', perEvent: ['any(clear_cpm_base) AS e_clear'], metrics: { billings: '1', billed_cpm: 'e_clear' } },
  { table: 'impressions', perEvent: [], metrics: { impressions: '1' } },
  { table: 'clicks', perEvent: [], metrics: { clicks: '1' } },
  { table: 'conversions', perEvent: ['any(value_base) AS e_value'], metrics: { conversions: '1', conversion_value: 'e_value' } },
];

function utcDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

/** The report's SQL. Every input is validated first; nothing from the caller is spliced in as text. */
export function buildReportSql(q: ReportQuery, limit = MAX_REPORT_ROWS + 1): string {
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to) || q.to <= q.from) throw new Error('invalid report range');
  if (!(q.grain in GRAIN_SECONDS)) throw new Error(`unknown time grain ${String(q.grain)}`);
  const dims = q.dimensions.map((d) => {
    if (!(d in DIMENSION_COLUMN)) throw new Error(`unknown dimension ${String(d)}`);
    return d;
  });
  const step = integerLiteral(GRAIN_SECONDS[q.grain]);
  // event_date is the partition key: filtering on it prunes partitions on 18.16, whose
  // partition pruning does not see through event_time.
  const where = [
    `event_date >= toDate(${stringLiteral(utcDate(q.from))})`,
    `event_date <= toDate(${stringLiteral(utcDate(q.to - 1))})`,
    `event_time >= toDateTime(${integerLiteral(q.from)})`,
    `event_time < toDateTime(${integerLiteral(q.to)})`,
    // A scoped report: every table carries the advertiser of the bid, so one filter scopes them all
    // (a request row names one only when we bid on it, so no-bid requests drop out too).
    ...(q.advertisers ? [q.advertisers.length ? `advertiser_id IN (${q.advertisers.map(stringLiteral).join(', ')})` : '0'] : []),
    ...(q.campaigns ? [q.campaigns.length ? `campaign_id IN (${q.campaigns.map(stringLiteral).join(', ')})` : '0'] : []),
  ].join(' AND ');

  const branches = SOURCES.map((s) => {
    const perEvent = [
      ...dims.map((d) => `any(${DIMENSION_COLUMN[d]}) AS d_${d}`),
      `toUInt32(intDiv(toUInt32(min(event_time)), ${step}) * ${step}) AS t_bucket`,
      ...s.perEvent,
    ];
    const projected = [
      ...dims.map((d) => `d_${d}`),
      't_bucket',
      ...RAW_METRICS.map((m) => `toFloat64(${s.metrics[m] ?? '0'}) AS m_${m}`),
    ];
    return (
      `SELECT ${projected.join(', ')} FROM (` +
      `SELECT event_id, ${perEvent.join(', ')} FROM ${s.table} WHERE ${where} GROUP BY event_id)`
    );
  });

  const keys = [...dims.map((d) => `d_${d}`), 't_bucket'];
  const outer = [...keys, ...RAW_METRICS.map((m) => `sum(m_${m}) AS ${m}`)];
  return (
    `SELECT ${outer.join(', ')} FROM (\n${branches.join('\nUNION ALL\n')}\n)` +
    ` GROUP BY ${keys.join(', ')} ORDER BY ${['t_bucket', ...dims.map((d) => `d_${d}`)].join(', ')} LIMIT ${integerLiteral(limit)}`
  );
}

export class ReportTooLargeError extends Error {
  override readonly name = 'ReportTooLargeError';
}

type RawRow = Record<string, unknown>;

/** Runs a report. Throws ReportTooLargeError past MAX_REPORT_ROWS groups. */
export async function runReport(store: EventDatabase, q: ReportQuery): Promise<ReportRow[]> {
  const raw = await store.query<RawRow>(buildReportSql(q));
  if (raw.length > MAX_REPORT_ROWS) {
    throw new ReportTooLargeError(`the report has more than ${MAX_REPORT_ROWS} rows: narrow the range, use day, or group by fewer dimensions`);
  }
  return raw.map((r) => toReportRow(q, r));
}

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** Drops float noise from sums (0.1 + 0.2) without losing the precision of small ratios. */
function clean(n: number): number {
  return n === 0 ? 0 : Number(n.toPrecision(12));
}

function ratio(a: number, b: number, scale = 1): number | null {
  return b > 0 ? clean((a / b) * scale) : null;
}

function toReportRow(q: ReportQuery, r: RawRow): ReportRow {
  const m = Object.fromEntries(RAW_METRICS.map((k) => [k, num(r[k])])) as Record<RawMetric, number>;
  const row: Record<string, unknown> = {};
  for (const d of q.dimensions) row[d] = String(r[`d_${d}`] ?? '');
  const bucket = num(r.t_bucket);
  row[q.grain] = q.grain === 'day' ? utcDate(bucket) : new Date(bucket * 1000).toISOString().replace('.000Z', 'Z');
  const spend = m.billed_cpm / 1000;
  const metrics: ReportMetrics = {
    requests: clean(m.requests),
    bids: clean(m.bids),
    wins: m.wins,
    winRate: ratio(m.wins, m.bids),
    billings: m.billings,
    impressions: m.impressions,
    clicks: m.clicks,
    ctr: ratio(m.clicks, m.impressions),
    conversions: m.conversions,
    cvr: ratio(m.conversions, m.clicks),
    conversionValue: clean(m.conversion_value),
    spend: clean(spend),
    ecpm: ratio(spend, m.impressions, 1000),
    ecpc: ratio(spend, m.clicks),
    ecpa: ratio(spend, m.conversions),
    avgClearCpm: ratio(m.win_clear_cpm, m.wins),
    avgWinBidCpm: ratio(m.win_bid_cpm, m.wins),
    avgBidCpm: ratio(m.bid_cpm_weighted, m.bids),
  };
  return Object.assign(row, metrics) as ReportRow;
}

/** The column order of a report's rows (and CSV header): dimensions as asked, the time bucket, the metrics. */
export function reportColumns(q: ReportQuery): string[] {
  return [...q.dimensions, q.grain, ...REPORT_METRICS];
}
