/**
 * EventDatabase over a ClickHouse server's HTTP interface (@clickhouse/client), for production.
 *
 * `new ClickHouseDatabase('http://default:@127.0.0.1:8123/dspdb')`: credentials and the database
 * come from the URL (the path; `options.database`, default `dsp`, when the URL has none). The
 * database is created if missing, lazily before the first call (or eagerly with `open()`).
 *
 * Compatible with ClickHouse 18.16 (Debian's server): the client is configured to send no
 * ClickHouse settings of its own (no HTTP compression, so no `enable_http_compression`), and
 * everything it sends is a query id, the database, and the query; inserts are
 * `INSERT INTO <table> FORMAT JSONEachRow` with the rows as the body. Settings newer servers
 * know (async_insert, insert_deduplication_token, ...) must not be added here: 18.16 rejects
 * unknown settings with "Unknown setting" and fails the request. 18.16 also returns
 * (U)Int64 values as JSON strings, so callers convert numbers themselves (reports do).
 */
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { EventDatabase } from './event-database.js';
import { identifier, withoutLoneSurrogates } from './sql.js';

export interface ClickHouseDatabaseOptions {
  /** Database when the URL has no path (default `dsp`). */
  readonly database?: string;
  /** Per-request timeout in ms (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Open sockets per server (default 10). */
  readonly maxOpenConnections?: number;
}

export class ClickHouseDatabase implements EventDatabase {
  readonly kind = 'clickhouse' as const;
  readonly database: string;
  private readonly client: ClickHouseClient;
  private readonly url: URL;
  private ready: Promise<void> | undefined;

  constructor(url: string, private readonly options: ClickHouseDatabaseOptions = {}) {
    this.url = new URL(url);
    const fromPath = decodeURIComponent(this.url.pathname.replace(/^\/+|\/+$/g, ''));
    this.database = identifier(fromPath || options.database || 'dsp');
    this.client = this.makeClient(this.database);
  }

  /** Constructs and waits until the database exists (so a bad URL fails at start-up). */
  static async open(url: string, options?: ClickHouseDatabaseOptions): Promise<ClickHouseDatabase> {
    const store = new ClickHouseDatabase(url, options);
    await store.ensureDatabase();
    return store;
  }

  private makeClient(database: string): ClickHouseClient {
    const url = new URL(this.url);
    url.pathname = '/';
    return createClient({
      url,
      database,
      request_timeout: this.options.requestTimeoutMs ?? 30_000,
      max_open_connections: this.options.maxOpenConnections ?? 10,
      // Explicitly off: response compression would add enable_http_compression=1 to every request.
      compression: { request: false, response: false },
      clickhouse_settings: {},
      // Every failure is thrown to the caller (the writer retries, counts and logs it); the
      // library's own console logging would print each one a second time.
      log: { level: ClickHouseLogLevel.OFF },
      json: { parse: JSON.parse, stringify: rowJson },
    });
  }

  /** Creates the database through a short-lived client on `default` (the main client names a database that may not exist yet). */
  ensureDatabase(): Promise<void> {
    this.ready ??= (async () => {
      const boot = this.makeClient('default');
      try {
        await boot.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.database}` });
      } finally {
        await boot.close();
      }
    })().catch((e: unknown) => {
      this.ready = undefined; // retry on the next call
      throw e;
    });
    return this.ready;
  }

  async exec(sql: string): Promise<void> {
    await this.ensureDatabase();
    await this.client.command({ query: sql });
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    await this.ensureDatabase();
    const rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
    return rs.json<T>();
  }

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ensureDatabase();
    // As a stream, rows are encoded a few at a time as the request body goes out (an array would be
    // stringified whole, holding up bids for milliseconds on a batch of thousands); each by
    // `rowJson` (the client's json.stringify), so no lone surrogate reaches the server.
    await this.client.insert({ table: identifier(table), values: Readable.from(rows), format: 'JSONEachRow' });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** For diagnostics: the server's version string. */
  async serverVersion(): Promise<string> {
    const rows = await this.query<{ v: string }>('SELECT version() AS v');
    return rows[0]?.v ?? '';
  }
}

/** An insert row as JSON, as chDB's inserts encode it (sql.ts: lone surrogates as U+FFFD). */
function rowJson(row: unknown): string {
  return withoutLoneSurrogates(JSON.stringify(row));
}
