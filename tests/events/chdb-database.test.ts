/** The EventDatabase contract on chDB (current ClickHouse, in process), data in a temp directory. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChdbDatabase } from '../../src/events/chdb-database.js';
import { eventDatabaseContract } from './event-database.contract.js';

eventDatabaseContract('chDB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chdb-test-'));
  return {
    open: (database) => ChdbDatabase.open(join(dir, 'data'), { database }),
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('ChdbDatabase', () => {
  it('keeps its data across a close and a reopen of the same directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chdb-test-'));
    try {
      const a = await ChdbDatabase.open(dir, { database: 'persist' });
      await a.exec('CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() ORDER BY id');
      await a.insert('t', [{ id: 'x' }, { id: 'y' }]);
      await a.close();
      const b = new ChdbDatabase(dir, { database: 'persist' });
      expect(await b.query('SELECT id FROM t ORDER BY id')).toEqual([{ id: 'x' }, { id: 'y' }]);
      expect(await b.query('SELECT currentDatabase() AS db')).toEqual([{ db: 'persist' }]);
      await b.close();
      await expect(b.query('SELECT 1')).rejects.toThrow(/closed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database name that is not a plain identifier', () => {
    expect(() => new ChdbDatabase('/tmp/x', { database: 'dsp; DROP' })).toThrow(/identifier/);
  });
});
