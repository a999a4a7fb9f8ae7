/**
 * Reports API on the admin port:
 * - `GET /api/v1/reports?groupBy=campaign,day&from=2024-05-01&to=2024-05-31`
 *
 * `groupBy`: any of advertiser, campaign, creative, exchange, plus one time grain (hour or
 * day), comma-separated (or repeated). `from` (inclusive) and `to` (exclusive; a date-only
 * `to` includes that whole day): ISO 8601 dates or date-times, UTC unless an offset is given,
 * at most 366 days apart. See src/events/reports.ts for the metrics.
 *
 * JSON by default: `{ rows: [...], groupBy: [...], from, to }` (`from`/`to` normalized to UTC
 * date-times, `to` exclusive). CSV (header line, RFC 4180 quoting, CRLF) with
 * `Accept: text/csv` or `?format=csv`. Invalid parameters: 400 with field-level errors.
 *
 * With the config API the routes are guarded (api/guard.ts `keyGuard`): a key scoped to advertisers (an
 * advertiser key, a scoped read-only key) gets a report of its advertisers' events only.
 */
import type { EventDatabase } from '../events/event-database.js';
import { parseReportParams, reportColumns, ReportTooLargeError, runReport, type ReportQuery, type ReportRow } from '../events/reports.js';
import type { FieldError } from '../errors.js';
import { principalOf, type KeyGuard } from '../api/guard.js';
import { documentedAs } from '../api/direct-routes.js';
import { header, queryOf, sendJsonReply, sendProblem, type AdminServer } from '../api/admin-server.js';

export interface ReportRouteDeps {
  readonly store: EventDatabase;
}

/** `guard`: the config API's key check (api/guard.ts `keyGuard`), run before the handler. */
export function registerReportRoutes(app: AdminServer, deps: ReportRouteDeps, guard?: KeyGuard): void {
  app.get('/api/v1/reports', { ...documentedAs(app, 'get', '/api/v1/reports'), onRequest: guard ? [guard] : [] }, async (request, reply) => {
    const params = new URLSearchParams(queryOf(request));
    const accept = header(request, 'accept');
    const scope = principalOf(request)?.advertiserIds;

    const format = params.get('format');
    const errors: FieldError[] = [];
    if (format !== null && format !== 'json' && format !== 'csv') {
      errors.push({ path: 'format', code: 'unknown_value', message: 'must be json or csv' });
    }
    const parsed = parseReportParams({
      groupBy: params.has('groupBy') ? params.getAll('groupBy') : undefined,
      from: params.get('from') ?? undefined,
      to: params.get('to') ?? undefined,
    });
    if (!parsed.ok) errors.push(...parsed.errors);
    if (errors.length || !parsed.ok) return sendProblem(reply, 400, 'validation_failed', 'the report request is invalid', errors);

    const query: ReportQuery = scope ? { ...parsed.query, advertisers: [...scope] } : parsed.query;
    const csv = format === 'csv' || (format === null && prefersCsv(accept));
    try {
      const rows = await runReport(deps.store, query);
      if (csv)
        return reply.code(200).header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="report.csv"').send(toCsv(query, rows));
      return sendJsonReply(reply, 200, { rows, groupBy: [...query.dimensions, query.grain], from: iso(query.from), to: iso(query.to) });
    } catch (e) {
      if (e instanceof ReportTooLargeError) return sendProblem(reply, 422, 'report_too_large', e.message);
      return sendProblem(reply, 503, 'store_unavailable', (e as Error).message);
    }
  });
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** True when the Accept header ranks text/csv above application/json (JSON wins ties and wildcards). */
export function prefersCsv(accept: string): boolean {
  if (!accept) return false;
  let csv = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type, ...rest] = part.trim().toLowerCase().split(';');
    let q = 1;
    for (const p of rest) {
      const [k, v] = p.trim().split('=');
      if (k === 'q') q = Number(v) || 0;
    }
    const t = type.trim();
    if (t === 'text/csv') csv = Math.max(csv, q);
    else if (t === 'application/json' || t === 'application/*' || t === '*/*') json = Math.max(json, t === 'application/json' ? q : q * 0.999);
  }
  return csv > 0 && csv > json;
}

/** One CSV field: numbers as they are, null as empty, strings quoted when they hold a comma, quote, CR or LF. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(query: ReportQuery, rows: readonly ReportRow[]): string {
  const columns = reportColumns(query);
  let out = columns.join(',') + '\r\n';
  for (const row of rows) {
    const r = row as unknown as Record<string, unknown>;
    out += columns.map((c) => csvField(r[c])).join(',') + '\r\n';
  }
  return out;
}
