/**
 * Versioned schema migrations for the event store, the same on ClickHouse 18.16 and chDB.
 *
 * Applied versions are recorded in `schema_migrations` (one row per version, with the name and
 * a checksum of the statements). `migrate()`:
 * - creates `schema_migrations` if missing;
 * - refuses to run when the store holds a version newer than the newest the code knows (an
 *   older binary must not write into a schema it does not understand), or when an applied
 *   migration's checksum differs from the code's (a shipped migration was edited);
 * - applies the pending migrations in version order, statement by statement, and records each
 *   one after all its statements succeeded.
 *
 * Idempotent: a second run applies nothing. ClickHouse has no transactional DDL, so a migration
 * interrupted half way is re-run from its first statement: every statement must be safe to
 * repeat (`CREATE TABLE IF NOT EXISTS`, ...). Two instances migrating at once both run the
 * same idempotent statements; their duplicate records collapse (ReplacingMergeTree by version)
 * and are read per version anyway.
 *
 * 18.16 has no `ADD COLUMN IF NOT EXISTS`: a statement `ALTER TABLE <t> ADD COLUMN <c> ...` is
 * skipped when `system.columns` already lists that column, which makes it safe to repeat too.
 */
import { createHash } from 'node:crypto';
import type { EventDatabase } from './event-database.js';
import { MIGRATIONS } from './migrations/index.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** One statement each (neither the HTTP interface nor chDB runs several per call). */
  readonly statements: readonly string[];
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

export interface MigrateResult {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** The store's version after the call. */
  version: number;
}

export const MIGRATIONS_TABLE = 'schema_migrations';

const CREATE_MIGRATIONS_TABLE =
  `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version UInt32, name String, checksum String, applied_at DateTime)` +
  ` ENGINE = ReplacingMergeTree() ORDER BY version`;

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export function migrationChecksum(m: Migration): string {
  return createHash('sha256').update(m.statements.join('\n;\n')).digest('hex').slice(0, 16);
}

function checkList(migrations: readonly Migration[]): void {
  let last = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= last) {
      throw new MigrationError(`migration versions must be increasing integers from 1 (got ${m.version} after ${last})`);
    }
    if (m.statements.length === 0) throw new MigrationError(`migration ${m.version} has no statements`);
    last = m.version;
  }
}

/** The versions recorded in the store (empty when `schema_migrations` does not exist yet). */
export async function appliedMigrations(store: EventDatabase): Promise<AppliedMigration[]> {
  const exists = await store.query<{ n: number | string }>(
    `SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = '${MIGRATIONS_TABLE}'`,
  );
  if (Number(exists[0]?.n ?? 0) === 0) return [];
  const rows = await store.query<{ version: number | string; name: string; checksum: string }>(
    `SELECT version, any(name) AS name, any(checksum) AS checksum FROM ${MIGRATIONS_TABLE} GROUP BY version ORDER BY version`,
  );
  return rows.map((r) => ({ version: Number(r.version), name: r.name, checksum: r.checksum }));
}

const ADD_COLUMN = /^ALTER TABLE (\w+) ADD COLUMN (\w+) /;

/** True when `sql` adds a column (one, unquoted names) that the table already has. */
async function columnAlreadyAdded(store: EventDatabase, sql: string): Promise<boolean> {
  const m = ADD_COLUMN.exec(sql);
  if (!m) return false;
  const rows = await store.query<{ n: number | string }>(
    `SELECT count() AS n FROM system.columns WHERE database = currentDatabase() AND table = '${m[1]}' AND name = '${m[2]}'`,
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

export async function migrate(store: EventDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  checkList(migrations);
  await store.exec(CREATE_MIGRATIONS_TABLE);
  const applied = await appliedMigrations(store);
  const known = migrations.length ? migrations[migrations.length - 1].version : 0;
  const newest = applied.length ? applied[applied.length - 1].version : 0;
  if (newest > known) {
    throw new MigrationError(
      `the event store is at schema version ${newest}, newer than this code knows (${known}); refusing to run an older bidder against it`,
    );
  }
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  for (const m of migrations) {
    const done = byVersion.get(m.version);
    if (done && done.checksum !== migrationChecksum(m)) {
      throw new MigrationError(`migration ${m.version} (${m.name}) was changed after it was applied (checksum ${done.checksum}, code ${migrationChecksum(m)})`);
    }
  }
  const ran: number[] = [];
  for (const m of migrations) {
    if (byVersion.has(m.version)) continue;
    for (const sql of m.statements) {
      try {
        if (await columnAlreadyAdded(store, sql)) continue;
        await store.exec(sql);
      } catch (e) {
        throw new MigrationError(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, { cause: e });
      }
    }
    await store.insert(MIGRATIONS_TABLE, [
      { version: m.version, name: m.name, checksum: migrationChecksum(m), applied_at: Math.floor(Date.now() / 1000) },
    ]);
    ran.push(m.version);
  }
  return { applied: ran, version: Math.max(newest, ran.length ? ran[ran.length - 1] : 0) };
}
