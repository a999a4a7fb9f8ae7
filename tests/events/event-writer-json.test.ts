/**
 * Rows the event writer still holds when their segment is shipped go to a store that takes JSON
 * text as the text the spool got (each row encoded once); segments read back from disk, and stores
 * without `insertJson`, get the row objects.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { EventWriter } from '../../src/events/event-writer.js';
import { EventMetrics } from '../../src/metrics/event-metrics.js';
import { EVENT_TABLES, type BidderEvent } from '../../src/events/event-types.js';
import { FakeEventDatabase, makeEvent } from '../helpers/fake-event-database.js';

/** A fake store that also takes rows as JSON text, and records which way each insert came. */
class JsonEventDatabase extends FakeEventDatabase {
  readonly jsonInserts: { table: string; rows: string[] }[] = [];
  objectInserts = 0;

  override async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    this.objectInserts++;
    await super.insert(table, rows);
  }

  async insertJson(table: string, rows: readonly string[]): Promise<void> {
    this.jsonInserts.push({ table, rows: [...rows] });
    // Stored as objects too, so the base class's bookkeeping (ids, row counts, failures) applies.
    await super.insert(table, rows.map((r) => JSON.parse(r) as Record<string, unknown>));
  }
}

let dataDir: string;
const writers: EventWriter[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'event-writer-json-'));
});
afterEach(async () => {
  for (const w of writers.splice(0)) w.abandon();
  await rm(dataDir, { recursive: true, force: true });
});

function make(store: FakeEventDatabase): EventWriter {
  const writer = new EventWriter({ dataDir, store, metrics: new EventMetrics(new Registry()), batchRows: 1000, batchMs: 200, syncMs: 20, retryMinMs: 20, retryMaxMs: 100, log: () => {} });
  writers.push(writer);
  return writer;
}

const events = (n: number, prefix = 'ev-'): BidderEvent[] => Array.from({ length: n }, (_, i) => makeEvent(i, undefined, prefix));

describe('EventWriter with a store that takes JSON text', () => {
  it('inserts fresh rows as the JSON.stringify of each event, per table, in order, none as objects', async () => {
    const store = new JsonEventDatabase();
    const writer = make(store);
    await writer.started;
    const evs = events(40);
    evs.push(makeEvent(40, 'bid', 'lone-\ud800-')); // a lone surrogate: the store's insert deals with it, the text is as written
    for (const e of evs) writer.write(e);
    await writer.flush();
    expect(store.objectInserts).toBe(0);
    const byTable = new Map<string, string[]>();
    for (const e of evs) {
      const t = EVENT_TABLES[e.type];
      byTable.set(t, [...(byTable.get(t) ?? []), JSON.stringify(e)]);
    }
    expect(new Map(store.jsonInserts.map((i) => [i.table, i.rows]))).toEqual(byTable);
  });

  it('inserts segments left by an earlier process as objects (their text is not kept)', async () => {
    const first = new JsonEventDatabase();
    first.mode = 'fail';
    const a = make(first);
    await a.started;
    const evs = events(16, 'old-');
    for (const e of evs) a.write(e);
    await new Promise((r) => setTimeout(r, 300)); // spooled and rotated; the inserts fail
    a.abandon();
    const second = new JsonEventDatabase();
    const b = make(second);
    await b.started;
    await b.flush();
    expect(second.jsonInserts).toEqual([]);
    expect(second.objectInserts).toBeGreaterThan(0);
    expect(second.ids().sort()).toEqual(evs.map((e) => e.event_id).sort());
  });

  it('finds a refused row by halving the insert as objects, and stores the rest', async () => {
    const store = new JsonEventDatabase();
    store.refuseRow = (row) => row.event_id === 'ev-3';
    const writer = make(store);
    await writer.started;
    const evs = events(24);
    for (const e of evs) writer.write(e);
    await writer.flush();
    expect(store.ids().sort()).toEqual(evs.map((e) => e.event_id).filter((id) => id !== 'ev-3').sort());
  });
});
