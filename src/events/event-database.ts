/**
 * The narrow interface to an analytical store: run SQL, insert rows. Two adapters: ClickHouse
 * over HTTP (@clickhouse/client, production) and chDB in process (embedded default). The same
 * migrations and report queries run on both (ClickHouse 18.16 and current ClickHouse).
 */
export interface EventDatabase {
  readonly kind: 'clickhouse' | 'chdb';
  /** Runs a statement that returns nothing (DDL, INSERT ... SELECT). */
  exec(sql: string): Promise<void>;
  /** Runs a query and returns its rows as objects (JSON output format). */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Inserts rows (objects keyed by column) into a table, as one insert. */
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** The same insert with each row given as its JSON text (JSON.stringify of the row object); optional. */
  insertJson?(table: string, rows: readonly string[]): Promise<void>;
  close(): Promise<void>;
}
