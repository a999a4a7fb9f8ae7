/** Report parameters, SQL building and CSV, without a store (the contract suites run the SQL). */
import { describe, expect, it } from 'vitest';
import {
  buildReportSql,
  MAX_RANGE_DAYS,
  parseIsoTime,
  parseReportParams,
  type ReportQuery,
} from '../../src/events/reports.js';
import { csvField, prefersCsv, toCsv } from '../../src/http/report-routes.js';

const sec = (iso: string) => Date.parse(iso) / 1000;

function errorsOf(params: Parameters<typeof parseReportParams>[0]): string[] {
  const r = parseReportParams(params);
  return r.ok ? [] : r.errors.map((e) => `${e.path}:${e.code}`);
}

describe('parseIsoTime', () => {
  it.each([
    ['2024-05-01', sec('2024-05-01T00:00:00Z'), true],
    ['2024-05-01T13:00:00Z', sec('2024-05-01T13:00:00Z'), false],
    ['2024-05-01T13:00Z', sec('2024-05-01T13:00:00Z'), false],
    ['2024-05-01T13:00:00', sec('2024-05-01T13:00:00Z'), false],
    ['2024-05-01 13:00:00', sec('2024-05-01T13:00:00Z'), false],
    ['2024-05-01T15:00:00+02:00', sec('2024-05-01T13:00:00Z'), false],
    ['2024-05-01T08:30:00-0430', sec('2024-05-01T13:00:00Z'), false],
    ['2024-05-01T13:00:00.000Z', sec('2024-05-01T13:00:00Z'), false],
    ['2024-05-01T13:00:00.2Z', sec('2024-05-01T13:00:01Z'), false],
    ['2024-02-29', sec('2024-02-29T00:00:00Z'), true],
  ])('%s', (text, seconds, dateOnly) => {
    expect(parseIsoTime(text)).toEqual({ seconds, dateOnly });
  });

  it.each(['2024-02-30', '2023-02-29', '2024-13-01', '2024-00-10', '2024-05-01T24:00:00Z', '2024-05-01T12:60Z', '2024-5-1', '20240501', 'yesterday', '2024-05-01T12:00:00+25:00', "2024-05-01' OR 1=1", ''])(
    'refuses %j',
    (text) => {
      expect(parseIsoTime(text)).toBeUndefined();
    },
  );
});

describe('parseReportParams', () => {
  it('takes dimensions in order plus one grain, comma-separated or repeated', () => {
    expect(parseReportParams({ groupBy: 'exchange, campaign,day', from: '2024-05-01', to: '2024-05-31' })).toEqual({
      ok: true,
      query: { dimensions: ['exchange', 'campaign'], grain: 'day', from: sec('2024-05-01T00:00:00Z'), to: sec('2024-06-01T00:00:00Z') },
    });
    const r = parseReportParams({ groupBy: ['hour', 'creative,advertiser'], from: '2024-05-01T10:00:00Z', to: '2024-05-01T12:00:00Z' });
    expect(r).toEqual({
      ok: true,
      query: { dimensions: ['creative', 'advertiser'], grain: 'hour', from: sec('2024-05-01T10:00:00Z'), to: sec('2024-05-01T12:00:00Z') },
    });
  });

  it('a time grain alone is fine', () => {
    expect(errorsOf({ groupBy: 'hour', from: '2024-05-01', to: '2024-05-01' })).toEqual([]);
  });

  it('groupBy errors', () => {
    expect(errorsOf({ from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:required']);
    expect(errorsOf({ groupBy: '', from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:required']);
    expect(errorsOf({ groupBy: 'campaign', from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:missing_time_grain']);
    expect(errorsOf({ groupBy: 'hour,day', from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:multiple_time_grains']);
    expect(errorsOf({ groupBy: 'campaign,campaign,day', from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:duplicate']);
    expect(errorsOf({ groupBy: 'campaign,,day', from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:unknown_value']);
    expect(errorsOf({ groupBy: "campaign_id') --,day", from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:unknown_value']);
    expect(errorsOf({ groupBy: 'Campaign,day', from: '2024-05-01', to: '2024-05-02' })).toEqual(['groupBy:unknown_value']);
  });

  it('range errors', () => {
    expect(errorsOf({ groupBy: 'day' })).toEqual(['from:required', 'to:required']);
    expect(errorsOf({ groupBy: 'day', from: 'x', to: '2024-05-02' })).toEqual(['from:invalid_datetime']);
    expect(errorsOf({ groupBy: 'day', from: '2024-05-02T00:00:00Z', to: '2024-05-02T00:00:00Z' })).toEqual(['to:invalid_range']);
    expect(errorsOf({ groupBy: 'day', from: '2024-05-02', to: '2024-05-01' })).toEqual(['to:invalid_range']);
    expect(errorsOf({ groupBy: 'day', from: '1969-12-31', to: '2024-05-01' })).toEqual(['from:out_of_range']);
    expect(errorsOf({ groupBy: 'day', from: '2100-01-01T00:00:01Z', to: '2100-01-02' })).toEqual(['from:out_of_range', 'to:out_of_range']);
  });

  it(`allows at most ${MAX_RANGE_DAYS} days`, () => {
    // 2024 is a leap year: 2024-01-01 through 2024-12-31 is exactly 366 days.
    expect(errorsOf({ groupBy: 'day', from: '2024-01-01', to: '2024-12-31' })).toEqual([]);
    expect(errorsOf({ groupBy: 'day', from: '2024-01-01', to: '2025-01-01' })).toEqual(['to:range_too_long']);
    expect(errorsOf({ groupBy: 'day', from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:01Z' })).toEqual(['to:range_too_long']);
  });
});

describe('buildReportSql', () => {
  const q: ReportQuery = { dimensions: ['campaign', 'exchange'], grain: 'hour', from: sec('2024-05-01T10:00:00Z'), to: sec('2024-05-02T00:00:00Z') };

  it('one branch per counted table, every event grouped by event_id, no FINAL', () => {
    const sql = buildReportSql(q);
    for (const t of ['requests', 'bids', 'wins', 'billings', 'impressions', 'clicks', 'conversions']) expect(sql).toContain(` FROM ${t} WHERE `);
    expect(sql.match(/GROUP BY event_id/g)).toHaveLength(7);
    expect(sql.match(/UNION ALL/g)).toHaveLength(6);
    expect(sql).not.toMatch(/\bFINAL\b/);
    expect(sql).toContain("event_date >= toDate('2024-05-01') AND event_date <= toDate('2024-05-01')");
    expect(sql).toContain(`event_time >= toDateTime(${q.from}) AND event_time < toDateTime(${q.to})`);
    expect(sql).toContain('GROUP BY d_campaign, d_exchange, t_bucket ORDER BY t_bucket, d_campaign, d_exchange LIMIT 100001');
  });

  it('a scoped report filters every branch to its advertisers, quoted as literals; an empty scope matches nothing', () => {
    expect(buildReportSql(q)).not.toContain('advertiser_id IN');
    const sql = buildReportSql({ ...q, advertisers: ['acme', "o'brien"] });
    expect(sql.match(/ AND advertiser_id IN \('acme', 'o\\'brien'\) GROUP BY event_id/g)).toHaveLength(7);
    expect(buildReportSql({ ...q, advertisers: [] }).match(/ AND 0 GROUP BY event_id/g)).toHaveLength(7);
  });

  it('refuses anything outside the whitelists even when called directly', () => {
    expect(() => buildReportSql({ ...q, dimensions: ['campaign_id) --' as never] })).toThrow(/unknown dimension/);
    expect(() => buildReportSql({ ...q, grain: 'week' as never })).toThrow(/unknown time grain/);
    expect(() => buildReportSql({ ...q, from: 1.5 })).toThrow(/invalid report range/);
    expect(() => buildReportSql({ ...q, to: q.from })).toThrow(/invalid report range/);
  });
});

describe('CSV', () => {
  it('quotes fields that need it and leaves nulls empty', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(null)).toBe('');
    expect(csvField(0.004)).toBe('0.004');
  });

  it('writes a header line and one line per row', () => {
    const q: ReportQuery = { dimensions: ['campaign'], grain: 'day', from: 0, to: 86400 };
    const text = toCsv(q, []);
    expect(text).toBe(
      'campaign,day,requests,bids,wins,winRate,billings,impressions,clicks,ctr,conversions,cvr,conversionValue,spend,ecpm,ecpc,ecpa,avgClearCpm,avgWinBidCpm,avgBidCpm\r\n',
    );
  });

  it('Accept negotiation', () => {
    expect(prefersCsv('')).toBe(false);
    expect(prefersCsv('text/csv')).toBe(true);
    expect(prefersCsv('text/csv; charset=utf-8')).toBe(true);
    expect(prefersCsv('text/csv, */*;q=0.1')).toBe(true);
    expect(prefersCsv('application/json, text/csv')).toBe(false);
    expect(prefersCsv('application/json;q=0.5, text/csv')).toBe(true);
    expect(prefersCsv('text/csv;q=0')).toBe(false);
    expect(prefersCsv('*/*')).toBe(false);
    expect(prefersCsv('text/html')).toBe(false);
  });
});
