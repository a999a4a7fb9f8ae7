/**
 * One contract for every EventDatabase adapter: migrations, inserts of every event type, duplicate
 * inserts counted once by the reports before any merge, exact report numbers for a hand-built
 * dataset, hour and day grains, and the HTTP report route (JSON, CSV, validation errors); and
 * the event writer setting aside the rows the engine refuses.
 * Each adapter's test file runs it against a real engine (chDB in a temp dir; ClickHouse 18.16).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createAdminServer, listenAdmin } from '../../src/api/admin-server.js';
import type { EventDatabase } from '../../src/events/event-database.js';
import { EVENT_TABLES, type BidderEvent } from '../../src/events/event-types.js';
import { appliedMigrations, migrate, MigrationError, type Migration } from '../../src/events/migrate.js';
import { MIGRATIONS } from '../../src/events/migrations/index.js';
import { EventWriter } from '../../src/events/event-writer.js';
import { EventMetrics } from '../../src/metrics/event-metrics.js';
import { parseReportParams, runReport, type ReportQuery, type ReportRow } from '../../src/events/reports.js';
import { registerReportRoutes } from '../../src/http/report-routes.js';
import type { Listening } from '../../src/http/listen.js';
import { httpRequest } from '../helpers/bidder.js';
import { BY_CAMPAIGN_HOUR, BY_EXCHANGE_DAY, BY_PLACEMENT_DAY1, byTable, DAY1, DUPLICATES, EVENTS, TOTAL_DAY1 } from './report-dataset.js';

export interface StoreHarness {
  /** A store on the engine under test, in `database` (default `dsp`). */
  open(database?: string): Promise<EventDatabase>;
  /** Stops the engine and removes its data. */
  dispose(): Promise<void>;
}

const TABLES = Object.values(EVENT_TABLES);

function query(text: string): ReportQuery {
  const q = parseReportParams(Object.fromEntries(new URLSearchParams(text)));
  if (!q.ok) throw new Error(JSON.stringify(q.errors));
  return q.query;
}

async function insertAll(store: EventDatabase, events: readonly BidderEvent[]): Promise<void> {
  for (const [table, rows] of byTable(events)) await store.insert(table, rows);
}

async function count(store: EventDatabase, table: string): Promise<number> {
  const rows = await store.query<{ n: number | string }>(`SELECT count() AS n FROM ${table}`);
  return Number(rows[0].n);
}

function sum(rows: readonly ReportRow[], key: keyof ReportRow): number {
  return Number(rows.reduce((s, r) => s + ((r[key] as number) ?? 0), 0).toPrecision(12));
}

export function eventDatabaseContract(name: string, start: () => Promise<StoreHarness>): void {
  describe(`EventDatabase contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: EventDatabase;

    beforeAll(async () => {
      harness = await start();
      store = await harness.open();
    });
    afterAll(async () => {
      await store?.close();
      await harness?.dispose();
    });

    describe('migrations', () => {
      it('apply in order on an empty store and are recorded', async () => {
        const result = await migrate(store);
        expect(result).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: MIGRATIONS.at(-1)!.version });
        const recorded = await appliedMigrations(store);
        expect(recorded.map((m) => [m.version, m.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
        const tables = await store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name`);
        expect(tables.map((t) => t.name)).toEqual([...TABLES, 'schema_migrations'].sort());
      });

      it('re-apply as a no-op', async () => {
        expect(await migrate(store)).toEqual({ applied: [], version: MIGRATIONS.at(-1)!.version });
        expect(await count(store, 'schema_migrations')).toBe(MIGRATIONS.length);
      });

      it('apply pending ones only, in order', async () => {
        const other = await harness.open('dsp_pending');
        try {
          const extra: Migration[] = [
            ...MIGRATIONS,
            { version: 1000, name: 'extra a', statements: ['CREATE TABLE IF NOT EXISTS extra_a (x UInt8) ENGINE = MergeTree() ORDER BY x'] },
            { version: 1001, name: 'extra b', statements: ['CREATE TABLE IF NOT EXISTS extra_b (x UInt8) ENGINE = MergeTree() ORDER BY x'] },
          ];
          expect((await migrate(other)).applied).toEqual(MIGRATIONS.map((m) => m.version));
          expect(await migrate(other, extra)).toEqual({ applied: [1000, 1001], version: 1001 });
          expect(await migrate(other, extra)).toEqual({ applied: [], version: 1001 });
        } finally {
          await other.close();
        }
      });

      it('0003 gives rows stored before it empty placements, and re-runs after stopping half way', async () => {
        const other = await harness.open('dsp_placement');
        try {
          const upTo = (v: number) => MIGRATIONS.filter((m) => m.version <= v);
          await migrate(other, upTo(2));
          await other.insert('clicks', [
            { event_id: 'old-1', type: 'click', event_time: 1714557600, exchange: 'x', advertiser_id: 'a', campaign_id: 'c', creative_id: 'cr', bid_id: 'b', request_id: 'r', imp_id: '1', deal_id: '' },
          ]);
          // Stopped half way: the first statements ran, the version was never recorded.
          const m3 = MIGRATIONS.find((m) => m.version === 3)!;
          for (const sql of m3.statements.slice(0, 7)) await other.exec(sql);
          expect(await migrate(other)).toEqual({ applied: MIGRATIONS.filter((m) => m.version >= 3).map((m) => m.version), version: MIGRATIONS.at(-1)!.version });
          const rows = await other.query(`SELECT placement, placement_type, publisher_id, country, toUInt8(device_type) AS device_type FROM clicks`);
          expect(rows).toEqual([{ placement: '', placement_type: '', publisher_id: '', country: '', device_type: 0 }]);
        } finally {
          await other.close();
        }
      });

      it('refuse a store with a newer version than the code knows', async () => {
        const other = await harness.open('dsp_future');
        try {
          await migrate(other);
          await other.insert('schema_migrations', [{ version: 9999, name: 'from the future', checksum: 'x', applied_at: 1714557600 }]);
          await expect(migrate(other)).rejects.toThrow(MigrationError);
          await expect(migrate(other)).rejects.toThrow(/schema version 9999, newer than this code knows/);
        } finally {
          await other.close();
        }
      });

      it('refuse a shipped migration that was edited', async () => {
        const edited: Migration[] = MIGRATIONS.map((m, i) => (i === 0 ? { ...m, statements: [...m.statements, 'SELECT 1'] } : m));
        await expect(migrate(store, edited)).rejects.toThrow(/was changed after it was applied/);
      });
    });

    describe('inserts', () => {
      it('every table has exactly the columns of event-types.ts (plus the materialized event_date)', async () => {
        const sample = new Map<string, BidderEvent>();
        for (const e of EVENTS) if (!sample.has(EVENT_TABLES[e.type])) sample.set(EVENT_TABLES[e.type], e);
        expect([...sample.keys()].sort()).toEqual([...TABLES].sort());
        for (const [table, event] of sample) {
          const cols = await store.query<{ name: string }>(
            `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '${table}' ORDER BY name`,
          );
          expect(cols.map((c) => c.name), table).toEqual([...Object.keys(event), 'event_date'].sort());
        }
      });

      it('stores every event type as given', async () => {
        // On a day no report below looks at.
        const t = Date.parse('2023-01-01T12:00:00Z') / 1000;
        const events = TABLES.map((table) => {
          const e = EVENTS.find((x) => EVENT_TABLES[x.type] === table)!;
          return { ...e, event_id: `roundtrip-${table}`, event_time: t, deal_id: 'deal-\'q"\\' } as BidderEvent;
        });
        await insertAll(store, events);
        for (const e of events) {
          const table = EVENT_TABLES[e.type];
          const [row] = await store.query<Record<string, unknown>>(
            `SELECT *, toUInt32(event_time) AS ts, toString(event_date) AS day FROM ${table} WHERE event_id = '${e.event_id}'`,
          );
          const { event_time, ts, day, ...rest } = row;
          void event_time;
          expect(Number(ts)).toBe(t);
          expect(day).toBe('2023-01-01');
          expect(rest).toEqual(Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'event_time')));
        }
      });

      it('stores ids with lone surrogates (which JSON allows and UTF-8 cannot hold) as U+FFFD, with the rest of the insert', async () => {
        // Any exchange can send "id": "\\ud800"; refused, such a row would fail its whole batch forever.
        const base = { ...EVENTS.find((e) => e.type === 'bid')!, event_time: Date.parse('2023-01-01T12:00:00Z') / 1000 }; // a day no report looks at
        const rows = [
          { ...base, event_id: 'lone-1', request_id: 'req-\ud800', imp_id: '\udc00', deal_id: 'ok' },
          { ...base, event_id: 'lone-2', request_id: 'fine 😀', imp_id: '1', deal_id: '😀'.slice(0, 1) },
        ];
        await store.insert('bids', rows);
        const got = await store.query<{ event_id: string; request_id: string; imp_id: string; deal_id: string }>(
          `SELECT event_id, request_id, imp_id, deal_id FROM bids WHERE event_id LIKE 'lone-%' ORDER BY event_id`,
        );
        expect(got).toEqual([
          { event_id: 'lone-1', request_id: 'req-\ufffd', imp_id: '\ufffd', deal_id: 'ok' },
          { event_id: 'lone-2', request_id: 'fine 😀', imp_id: '1', deal_id: '\ufffd' },
        ]);
      });

      it('the event writer sets aside the rows the engine refuses, with its error, and stores the rest', async () => {
        const dataDir = await mkdtemp(join(tmpdir(), 'set-aside-'));
        try {
          const metrics = new EventMetrics(new Registry());
          const writer = new EventWriter({ store, dataDir, metrics, batchMs: 50, syncMs: 10, retryMinMs: 10, log: () => {} });
          const base = { ...EVENTS.find((e) => e.type === 'bid')!, event_time: Date.parse('2023-01-01T12:00:00Z') / 1000 };
          const bad: Record<number, object> = { 7: { bid_cpm_base: 'not a number' }, 30: { event_time: 'yesterday' } };
          const evs = Array.from({ length: 50 }, (_, i) => ({ ...base, event_id: `aside-${i}`, ...bad[i] }) as BidderEvent);
          for (const e of evs) writer.write(e);
          await writer.close();
          const stored = await store.query<{ event_id: string }>(`SELECT event_id FROM bids WHERE event_id LIKE 'aside-%'`);
          expect(stored.map((r) => r.event_id).sort()).toEqual(evs.map((e) => e.event_id).filter((id) => id !== 'aside-7' && id !== 'aside-30').sort());
          const dir = join(dataDir, 'spool', 'refused');
          const lines = (await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f), 'utf8')))).join('').split('\n').filter(Boolean);
          const aside = lines.map((l) => JSON.parse(l) as { t: string; error: string; r: BidderEvent });
          expect(aside.map((a) => a.r.event_id).sort()).toEqual(['aside-30', 'aside-7']);
          for (const a of aside) expect(a.error).toMatch(/^Code: (27|41|72)\b/);
          expect((await metrics.setAsideTotal.get()).values.find((v) => v.labels.table === 'bids')?.value).toBe(2);
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      });

      it('an empty insert is a no-op', async () => {
        await store.insert('wins', []);
      });

      it('rejects rows the table cannot hold, and unknown columns (both engines alike)', async () => {
        await expect(store.insert('wins', [{ event_id: 'bad', event_time: 'not a time' }])).rejects.toThrow();
        await expect(store.insert('wins', [{ event_id: 'bad', event_time: 1714557600, campaing_id: 'c1' }])).rejects.toThrow();
        expect(await store.query(`SELECT event_id FROM wins WHERE event_id = 'bad'`)).toEqual([]);
      });
    });

    describe('reports', () => {
      beforeAll(async () => {
        // No merge may happen between the inserts and the first reports: the duplicates must
        // still be stored twice when they are counted.
        for (const t of TABLES) await store.exec(`SYSTEM STOP MERGES ${t}`);
        await insertAll(store, EVENTS);
        await insertAll(store, DUPLICATES);
      });

      it('duplicates are stored twice (no merge yet) and counted once', async () => {
        expect(await count(store, 'wins')).toBe(4 + 1); // 3 wins, one again, + the round-trip row
        expect(await count(store, 'impressions')).toBe(4 + 1);
        const rows = await runReport(store, query(`groupBy=day&from=${DAY1}&to=${DAY1}`));
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ day: DAY1, ...TOTAL_DAY1 });
      });

      it('groupBy=campaign,hour', async () => {
        const rows = await runReport(store, query(`groupBy=campaign,hour&from=${DAY1}&to=2024-05-02`));
        expect(rows).toEqual(BY_CAMPAIGN_HOUR);
      });

      it('groupBy=exchange,day', async () => {
        const rows = await runReport(store, query(`groupBy=exchange,day&from=${DAY1}T00:00:00Z&to=2024-05-03T00:00:00Z`));
        expect(rows).toEqual(BY_EXCHANGE_DAY);
      });

      it('groupBy=placement,publisher,deal,day: each bid\'s placement on every table (requests in the \'\' group)', async () => {
        const rows = await runReport(store, query(`groupBy=placement,publisher,deal,day&from=${DAY1}&to=${DAY1}`));
        expect(rows).toEqual(BY_PLACEMENT_DAY1);
        const scoped = await runReport(store, { ...query(`groupBy=placement,day&from=${DAY1}&to=${DAY1}`), advertisers: ['adv2'] });
        expect(scoped.map((r) => [r.placement, r.wins, r.clicks])).toEqual([
          ['', 0, 0], // adv2's request row
          ['com.example.game', 1, 0],
        ]);
      });

      it('every dimension at once adds up to the totals', async () => {
        const rows = await runReport(store, query(`groupBy=advertiser,campaign,creative,exchange,day&from=${DAY1}&to=${DAY1}`));
        expect(rows.map((r) => [r.advertiser, r.campaign, r.creative, r.exchange])).toEqual([
          ['', '', '', 'exA'],
          ['adv1', 'c1', 'cr1', 'exA'],
          ['adv2', 'c2', 'cr2', 'exB'],
        ]);
        for (const [k, v] of Object.entries(TOTAL_DAY1)) expect(sum(rows, k as keyof ReportRow), k).toBe(v);
        expect(rows[1]).toMatchObject({ winRate: 0.5, ctr: 0.5, ecpm: 2, spend: 0.004 });
      });

      it('a report scoped to an advertiser counts its events only (an advertiser key\'s report)', async () => {
        const q = query(`groupBy=advertiser,campaign,creative,exchange,day&from=${DAY1}&to=${DAY1}`);
        const all = await runReport(store, q);
        expect(await runReport(store, { ...q, advertisers: ['adv1'] })).toEqual(all.filter((r) => r.advertiser === 'adv1'));
        expect(await runReport(store, { ...q, advertisers: ['adv1', 'adv2'] })).toEqual(all.filter((r) => r.advertiser !== ''));
        expect(await runReport(store, { ...q, advertisers: ['nobody'] })).toEqual([]);
      });

      it('the range is from inclusive, to exclusive, in UTC (offsets honoured)', async () => {
        const hour10 = await runReport(store, query(`groupBy=hour&from=${DAY1}T10:00:00Z&to=${DAY1}T11:00:00Z`));
        expect(hour10.map((r) => [r.hour, r.wins, r.requests])).toEqual([['2024-05-01T10:00:00Z', 2, 20]]);
        // 12:00+02:00 is 10:00Z; 10:06:00Z is w-b1's time, so from 10:06:01 it is out.
        const later = await runReport(store, query(`groupBy=hour&from=${DAY1}T12:06:01%2B02:00&to=${DAY1}T11:00:00Z`));
        expect(later.map((r) => [r.hour, r.wins])).toEqual([['2024-05-01T10:00:00Z', 1]]);
        expect(await runReport(store, query(`groupBy=day&from=2024-05-03&to=2024-05-04`))).toEqual([]);
      });

      it('numbers are unchanged once merges have collapsed the duplicates', async () => {
        const before = await runReport(store, query(`groupBy=campaign,hour&from=${DAY1}&to=2024-05-02`));
        for (const t of TABLES) {
          await store.exec(`SYSTEM START MERGES ${t}`);
          await store.exec(`OPTIMIZE TABLE ${t} FINAL`);
        }
        expect(await count(store, 'wins')).toBe(3 + 1);
        expect(await count(store, 'impressions')).toBe(3 + 1);
        expect(await runReport(store, query(`groupBy=campaign,hour&from=${DAY1}&to=2024-05-02`))).toEqual(before);
      });
    });

    describe('HTTP route', () => {
      let listening: Listening;
      const get = (path: string, headers: Record<string, string> = {}) => httpRequest(listening.port, 'GET', path, undefined, headers);

      beforeAll(async () => {
        const app = await createAdminServer();
        registerReportRoutes(app, { store });
        listening = await listenAdmin(app, '127.0.0.1', 0);
        // A campaign id CSV has to quote, on a day of its own.
        await store.insert('wins', [
          { ...EVENTS.find((e) => e.type === 'win')!, event_id: 'csv-1', campaign_id: 'c,"3"', event_time: Date.parse('2024-06-01T08:00:00Z') / 1000 },
        ]);
      });
      afterAll(() => listening?.close());

      it('JSON by default', async () => {
        const res = await get(`/api/v1/reports?groupBy=campaign,hour&from=${DAY1}&to=2024-05-02`);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe('application/json');
        expect(res.json()).toEqual({
          rows: BY_CAMPAIGN_HOUR,
          groupBy: ['campaign', 'hour'],
          from: '2024-05-01T00:00:00Z',
          to: '2024-05-03T00:00:00Z',
        });
      });

      it('CSV with Accept: text/csv, header line and quoting', async () => {
        const res = await get(`/api/v1/reports?groupBy=exchange,day&from=${DAY1}&to=2024-05-02`, { accept: 'text/csv' });
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
        const lines = res.text.split('\r\n');
        expect(lines[0]).toBe(
          'exchange,day,requests,bids,wins,winRate,billings,impressions,clicks,ctr,conversions,cvr,conversionValue,spend,ecpm,ecpc,ecpa,avgClearCpm,avgWinBidCpm,avgBidCpm',
        );
        expect(lines[1]).toBe('exA,2024-05-01,20,4,2,0.5,2,2,1,0.5,1,1,20,0.004,2,0.004,0.004,2,3,3');
        expect(lines[2]).toBe('exB,2024-05-01,10,1,1,1,1,1,0,0,0,,0,0.004,4,,,4,5,5');
        expect(lines[3]).toBe('exA,2024-05-02,10,0,0,,0,0,0,,0,,0,0,,,,,,');
        expect(lines[4]).toBe('exB,2024-05-02,0,1,0,0,0,0,0,,0,,0,0,,,,,,1');
        expect(lines[5]).toBe('');
        expect(lines).toHaveLength(6);

        const quoted = await get(`/api/v1/reports?groupBy=campaign,day&from=2024-06-01&to=2024-06-01`, { accept: 'text/csv' });
        expect(quoted.text.split('\r\n')[1]).toMatch(/^"c,""3""",2024-06-01,0,0,1,,/);
      });

      it('400 with field-level errors for a bad groupBy, from and to', async () => {
        const res = await get(`/api/v1/reports?groupBy=campaign,bogus&from=2024-02-30&to=yesterday`);
        expect(res.status).toBe(400);
        expect(res.headers['content-type']).toBe('application/problem+json');
        expect(res.json()).toEqual({
          type: 'urn:rtb-bidder:problem:validation_failed',
          title: 'Bad Request',
          status: 400,
          detail: 'the report request is invalid',
          code: 'validation_failed',
          errors: [
            { path: 'groupBy', code: 'unknown_value', message: expect.stringContaining('"bogus" is not one of') },
            { path: 'groupBy', code: 'missing_time_grain', message: expect.any(String) },
            { path: 'from', code: 'invalid_datetime', message: expect.any(String) },
            { path: 'to', code: 'invalid_datetime', message: expect.any(String) },
          ],
        });
        const missing = await get('/api/v1/reports', { accept: 'text/csv' });
        expect(missing.status).toBe(400);
        expect(missing.json().errors.map((e: { path: string; code: string }) => `${e.path}:${e.code}`)).toEqual([
          'groupBy:required',
          'from:required',
          'to:required',
        ]);
        const range = await get('/api/v1/reports?groupBy=day&from=2024-01-01&to=2025-01-02');
        expect(range.json().errors).toEqual([{ path: 'to', code: 'range_too_long', message: expect.any(String) }]);
      });
    });
  });
}
