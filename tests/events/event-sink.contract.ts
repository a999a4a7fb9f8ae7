/**
 * The EventSink contract, run against every sink (event-sink.test.ts): what is written reaches the
 * store once, in the order it was written (per writer, per table), by the time `flush()` resolves;
 * a durable write resolves only once the event survives a crash of the process that holds the
 * spool, and rejects an event it cannot keep; `close()` hands on everything written before it.
 *
 * What sinks may differ in is not asserted: when buffered events reach the store without a flush,
 * and what a crash loses of events written without `writeDurable`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_TABLES, type BidderEvent, type EventSink } from '../../src/events/event-types.js';
import { idsByTable, makeEvent } from '../helpers/fake-event-database.js';

export interface SinkUnderTest {
  readonly sink: EventSink;
  /** Another writer into the same store (another bid thread); the same sink when there is only one. */
  readonly other: EventSink;
  /** Event ids the store behind the sink has taken, per table, in insert order: read as is, nothing awaited. */
  readonly stored: (table: string) => string[];
  /** After `close()`: waits until what the sink handed on has been taken by the owner of the spool and flushed. */
  readonly settle: () => Promise<void>;
  /** Stops the process holding the spool as a crash would, starts a new writer on the same spool, flushes it, and gives the ids its store then holds. */
  readonly crashAndReplay: () => Promise<string[]>;
  readonly cleanup: () => Promise<void>;
}

const TABLES = [...new Set(Object.values(EVENT_TABLES))];

function storedByTable(t: SinkUnderTest): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const table of TABLES) {
    const ids = t.stored(table);
    if (ids.length > 0) m.set(table, ids);
  }
  return m;
}

export function eventSinkContract(name: string, make: () => Promise<SinkUnderTest>): void {
  describe(`EventSink contract: ${name}`, () => {
    let t: SinkUnderTest;
    let n = 0;
    let prefix: string;
    const events = (count: number, type?: BidderEvent['type'], from = 0): BidderEvent[] =>
      Array.from({ length: count }, (_, i) => makeEvent(from + i, type, prefix));
    beforeEach(async () => {
      t = await make();
      prefix = `s${++n}-`;
    });
    afterEach(async () => t.cleanup());

    it('flush(): every event written before it is in the store, once, in write order per table (every type)', async () => {
      const evs = events(900);
      for (const e of evs) t.sink.write(e);
      await t.sink.flush();
      expect(storedByTable(t)).toEqual(idsByTable(evs));
    });

    it('flush() covers writes made while an earlier flush was under way', async () => {
      const first = events(50, 'bid');
      const second = events(50, 'bid', 50);
      for (const e of first) t.sink.write(e);
      const f1 = t.sink.flush();
      for (const e of second) t.sink.write(e);
      await Promise.all([f1, t.sink.flush()]);
      expect(t.stored('bids')).toEqual([...first, ...second].map((e) => e.event_id));
    });

    it('two writers into one store: each keeps its own order, nothing is lost or doubled', async () => {
      const a = events(300, 'impression');
      const b = events(300, 'impression', 1000);
      for (let i = 0; i < a.length; i++) {
        t.sink.write(a[i]);
        t.other.write(b[i]);
      }
      await Promise.all([t.sink.flush(), t.other.flush()]);
      const got = t.stored('impressions');
      expect([...got].sort()).toEqual([...a, ...b].map((e) => e.event_id).sort());
      const aIds = new Set(a.map((e) => e.event_id));
      expect(got.filter((id) => aIds.has(id))).toEqual(a.map((e) => e.event_id));
      expect(got.filter((id) => !aIds.has(id))).toEqual(b.map((e) => e.event_id));
    });

    it('writeDurable(): resolved means kept, even through a crash right after; buffered writes beside it are not disturbed', async () => {
      const buffered = events(100, 'bid', 500);
      const durable = events(40, 'billing');
      const acks: Promise<void>[] = [];
      for (let i = 0; i < durable.length; i++) {
        t.sink.write(buffered[i]);
        acks.push((i % 2 ? t.other : t.sink).writeDurable(durable[i]));
      }
      await Promise.all(acks);
      const replayed = await t.crashAndReplay();
      expect(replayed.filter((id) => id.startsWith(prefix) && durable.some((e) => e.event_id === id)).sort()).toEqual(durable.map((e) => e.event_id).sort());
    });

    it('writeDurable() and write() together, then flush(): each event stored once', async () => {
      const buffered = events(60, 'click', 100);
      const durable = events(20, 'conversion');
      const acks = durable.map((e, i) => {
        t.sink.write(buffered[i]);
        return t.sink.writeDurable(e);
      });
      for (const e of buffered.slice(durable.length)) t.sink.write(e);
      await Promise.all(acks);
      await t.sink.flush();
      expect(t.stored('clicks')).toEqual(buffered.map((e) => e.event_id));
      expect([...t.stored('conversions')].sort()).toEqual(durable.map((e) => e.event_id).sort());
    });

    it('writeDurable() rejects an event it cannot keep (no event id), and the sink goes on', async () => {
      await expect(t.sink.writeDurable({ ...makeEvent(1, 'billing', prefix), event_id: '' })).rejects.toThrow(/invalid/);
      await t.sink.writeDurable(makeEvent(2, 'billing', prefix));
      await t.sink.flush();
      expect(t.stored('billings')).toEqual([`${prefix}2`]);
    });

    it('close(): everything written before it is handed on, and reaches the store', async () => {
      const evs = events(250);
      for (const e of evs) t.sink.write(e);
      await t.sink.close();
      await t.settle();
      expect(storedByTable(t)).toEqual(idsByTable(evs));
    });
  });
}
