/**
 * The event writer against a fake store that records inserts and fails, hangs or slows down on
 * demand, with a real spool on a temporary directory.
 */
import { mkdtemp, open, readdir, readFile, rm, appendFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Registry, register, type Counter, type Gauge, type Histogram } from 'prom-client';
import { EventWriter, type EventWriterOptions, type LogFn } from '../../src/events/event-writer.js';
import { EventMetrics } from '../../src/metrics/event-metrics.js';
import { EVENT_TABLES, type BidderEvent } from '../../src/events/event-types.js';
import { segmentName } from '../../src/events/spool.js';
import { FakeEventDatabase, idsByTable, makeEvent } from '../helpers/fake-event-database.js';

let dataDir: string;
let writers: EventWriter[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'event-writer-'));
  writers = [];
});
afterEach(async () => {
  for (const w of writers) w.abandon();
  await rm(dataDir, { recursive: true, force: true });
});

interface Made {
  writer: EventWriter;
  store: FakeEventDatabase;
  metrics: EventMetrics;
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
}

function make(opts: Partial<EventWriterOptions> & { store?: FakeEventDatabase } = {}): Made {
  const store = opts.store ?? new FakeEventDatabase();
  const metrics = new EventMetrics(new Registry());
  const logs: Made['logs'] = [];
  const log: LogFn = (level, msg, fields) => logs.push({ level, msg, fields });
  const writer = new EventWriter({
    dataDir,
    batchRows: 1000,
    batchMs: 200,
    syncMs: 20,
    retryMinMs: 20,
    retryMaxMs: 100,
    log,
    ...opts,
    store,
    metrics,
  });
  writers.push(writer);
  return { writer, store, metrics, logs };
}

const spoolDir = () => join(dataDir, 'spool');

async function spoolFiles(): Promise<string[]> {
  return (await readdir(spoolDir()).catch(() => [] as string[])).filter((f) => f.endsWith('.ndjson')).sort();
}

/** Event ids in the spool, in file and line order. */
async function spooledIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const f of await spoolFiles()) {
    for (const line of (await readFile(join(spoolDir(), f), 'utf8')).split('\n')) {
      if (line) ids.push((JSON.parse(line) as { r: { event_id: string } }).r.event_id);
    }
  }
  return ids;
}

async function value(metric: Counter | Gauge | Histogram, labels: Record<string, string> = {}, suffix = ''): Promise<number> {
  const got = await metric.get();
  const name = got.name + suffix;
  const v = got.values.find(
    (x) => (suffix === '' || (x as { metricName?: string }).metricName === name) && Object.entries(labels).every(([k, l]) => x.labels[k] === l),
  );
  return v?.value ?? 0;
}

function events(n: number, from = 0, type?: BidderEvent['type']): BidderEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent(from + i, type));
}

function expectInOrderOnce(store: FakeEventDatabase, written: readonly BidderEvent[]): void {
  for (const [table, ids] of idsByTable(written)) expect(store.ids(table), table).toEqual(ids);
  expect(store.rowCount).toBe(written.length);
}

describe('EventWriter', () => {
  it('batches by size: a full batch is inserted well before batchMs', async () => {
    const { writer, store } = make({ batchRows: 100, maxInsertRows: 100, batchMs: 60_000 });
    await writer.started;
    const evs = events(250, 0, 'win');
    const t0 = Date.now();
    for (const e of evs) writer.write(e);
    await vi.waitFor(() => expect(store.inserts.length).toBe(2), { timeout: 2000, interval: 5 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(store.inserts.map((i) => i.rows.length)).toEqual([100, 100]);
    await new Promise((r) => setTimeout(r, 100));
    expect(store.inserts.length).toBe(2); // the 50 left wait for size, time or flush
    await writer.flush();
    expect(store.inserts.map((i) => i.rows.length)).toEqual([100, 100, 50]);
    expectInOrderOnce(store, evs);
  });

  it('batches by time: a small batch is inserted after batchMs, as one insert per table', async () => {
    const { writer, store } = make({ batchRows: 10_000, batchMs: 300 });
    await writer.started;
    const evs = events(16); // two of each type
    const t0 = Date.now();
    for (const e of evs) writer.write(e);
    await new Promise((r) => setTimeout(r, 150));
    expect(store.inserts.length).toBe(0);
    await vi.waitFor(() => expect(store.rowCount).toBe(16), { timeout: 2000, interval: 5 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(store.inserts.length).toBe(8);
    expect(store.inserts.every((i) => i.rows.length === 2)).toBe(true);
    expectInOrderOnce(store, evs);
  });

  it('inserts rows as BidderEvents, type included', async () => {
    const { writer, store } = make();
    const e = makeEvent(7, 'conversion');
    writer.write(e);
    await writer.flush();
    expect(store.inserts).toEqual([{ table: 'conversions', rows: [e] }]);
  });

  it('keeps per-table order and inserts each row once when inserts fail now and then', async () => {
    const { writer, store, metrics } = make({ batchRows: 300, batchMs: 50 });
    store.failTables.add('wins');
    const written: BidderEvent[] = [];
    for (let wave = 0; wave < 8; wave++) {
      const evs = events(400, wave * 400);
      for (const e of evs) writer.write(e);
      written.push(...evs);
      if (wave === 2) store.failTables.clear();
      if (wave === 4) store.failNext = 3;
      await new Promise((r) => setTimeout(r, 60));
    }
    await writer.close();
    expect(store.failures).toBeGreaterThan(3);
    expect(await value(metrics.insertErrorsTotal, { table: 'wins' })).toBeGreaterThan(0);
    expectInOrderOnce(store, written);
    expect(await spoolFiles()).toEqual([]);
  });

  it('spools to disk while the store is down and replays in order, once, when it is back', async () => {
    const { writer, store, metrics } = make({ batchRows: 500, batchMs: 100 });
    store.mode = 'fail';
    const evs = events(3000);
    for (const e of evs.slice(0, 1500)) writer.write(e);
    await new Promise((r) => setTimeout(r, 150));
    for (const e of evs.slice(1500)) writer.write(e);
    const t0 = Date.now();
    await writer.flush(); // the store is failing: flush returns once everything is durable on disk
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(store.rowCount).toBe(0);
    expect(await spooledIds()).toEqual(evs.map((e) => e.event_id));
    expect((await spoolFiles()).length).toBeGreaterThanOrEqual(6);
    expect(await value(metrics.spoolSegments)).toBe((await spoolFiles()).length);
    expect(await value(metrics.spoolBytes)).toBeGreaterThan(3000 * 100);

    store.mode = 'ok';
    await vi.waitFor(() => expect(store.rowCount).toBe(3000), { timeout: 3000, interval: 10 });
    expectInOrderOnce(store, evs);
    expect(store.inserts.length).toBe(8); // the backlog went in as one insert per table
    // A shipped segment's file goes first, then the gauges (after the unlink resolves): wait for both.
    await vi.waitFor(
      async () => {
        expect(await spoolFiles()).toEqual([]);
        expect(await value(metrics.spoolSegments)).toBe(0);
        expect(await value(metrics.spoolBytes)).toBe(0);
      },
      { timeout: 1000 },
    );
    expect(await value(metrics.droppedTotal)).toBe(0);
    await writer.close();
    expect(store.rowCount).toBe(3000);
  });

  it('close() flushes everything to the store', async () => {
    const { writer, store } = make({ batchMs: 60_000 });
    const evs = events(1234);
    for (const e of evs) writer.write(e);
    await writer.close();
    expectInOrderOnce(store, evs);
    expect(await spoolFiles()).toEqual([]);
  });

  it('close() with the store down leaves everything durably spooled for the next start', async () => {
    const a = make({ batchMs: 60_000 });
    a.store.mode = 'fail';
    const evs = events(800);
    for (const e of evs) a.writer.write(e);
    const t0 = Date.now();
    await a.writer.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await spooledIds()).toEqual(evs.map((e) => e.event_id));
    expect(a.logs.some((l) => l.msg.includes('events left in the spool'))).toBe(true);

    a.writer.write(makeEvent(9999));
    expect(await value(a.metrics.droppedTotal, { reason: 'closed' })).toBe(1);

    const b = make();
    await b.writer.flush();
    expectInOrderOnce(b.store, evs);
    expect(await spoolFiles()).toEqual([]);
    expect(b.logs.some((l) => l.msg === 'replaying spooled events')).toBe(true);
  });

  it('close() does not wait forever for a hanging store', async () => {
    const { writer, store } = make({ closeTimeoutMs: 300 });
    store.mode = 'hang';
    const evs = events(100);
    for (const e of evs) writer.write(e);
    const t0 = Date.now();
    await writer.close();
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(await spooledIds()).toEqual(evs.map((e) => e.event_id));
    store.release();
  });

  it('after a crash, a new writer replays what was synced', async () => {
    const a = make({ batchRows: 200, batchMs: 60_000 });
    a.store.mode = 'fail';
    const synced = events(1000);
    for (const e of synced) a.writer.write(e);
    await a.writer.flush(); // durable (the store is failing)
    for (const e of events(50, 1000)) a.writer.write(e); // still in memory
    a.writer.abandon(); // crash: no close, no flush

    const b = make();
    await b.writer.flush();
    expectInOrderOnce(b.store, synced);
    expect(await spoolFiles()).toEqual([]);
  });

  it('skips and counts a torn last line (crash mid-write)', async () => {
    await mkdir(spoolDir(), { recursive: true });
    const line = (e: BidderEvent) => JSON.stringify({ t: EVENT_TABLES[e.type], r: e }) + '\n';
    const first = events(3);
    const second = events(2, 3);
    const torn = line(makeEvent(5)).slice(0, 40);
    await writeFile(join(spoolDir(), segmentName(1)), first.map(line).join(''));
    await writeFile(join(spoolDir(), segmentName(2)), second.map(line).join('') + torn);
    await writeFile(join(spoolDir(), segmentName(3)), ''); // created, never written
    const { writer, store, metrics, logs } = make();
    await writer.flush();
    expectInOrderOnce(store, [...first, ...second]);
    expect(await value(metrics.droppedTotal, { reason: 'spool_corrupt' })).toBe(1);
    expect(logs.find((l) => l.msg === 'unreadable spool lines skipped')?.fields).toMatchObject({ lines: [3] });
    expect(await spoolFiles()).toEqual([]);

    // New segments continue after the leftovers' numbers.
    writer.write(makeEvent(6));
    await writer.close();
    expect(store.rowCount).toBe(6);
  });

  it('a writer appending to a crashed segment picks up a torn tail', async () => {
    const a = make({ batchMs: 60_000 });
    a.store.mode = 'fail';
    const evs = events(10);
    for (const e of evs) a.writer.write(e);
    await a.writer.close();
    const [file] = await spoolFiles();
    await appendFile(join(spoolDir(), file), '{"t":"wins","r":{"event_id":"torn');
    const b = make();
    await b.writer.flush();
    expectInOrderOnce(b.store, evs);
    expect(await value(b.metrics.droppedTotal, { reason: 'spool_corrupt' })).toBe(1);
  });

  it('write() never waits, even while inserts hang: 100k writes in one synchronous loop, all buffered', async () => {
    const { writer, store, metrics } = make({ batchRows: 5000, batchMs: 100, closeTimeoutMs: 200 });
    store.mode = 'hang';
    await writer.started;
    writer.write(makeEvent(0));
    await vi.waitFor(() => expect(store.hangingInserts).toBe(1), { timeout: 2000, interval: 5 });

    // Speed is measured by the benchmarks; what matters here is that write() returns nothing to wait on
    // and takes every event while the store hangs (no await in this loop: a write that waited could not).
    for (const e of events(100_000, 1)) {
      const r = writer.write(e) as unknown;
      if (r !== undefined) throw new Error('write returned something');
    }
    expect(metrics.bufferProbe()).toBe(100_000);

    // The buffer drains to disk while the store still hangs.
    await vi.waitFor(() => expect(metrics.bufferProbe()).toBe(0), { timeout: 10_000, interval: 10 });
    expect(store.hangingInserts).toBe(1);
    expect(await value(metrics.droppedTotal)).toBe(0);
    await writer.close();
    const lines = (await Promise.all((await spoolFiles()).map((f) => readFile(join(spoolDir(), f), 'utf8')))).reduce(
      (n, text) => n + text.split('\n').length - 1,
      0,
    );
    expect(lines).toBe(100_001);
    store.release();
  });

  it('over the hard cap, events are dropped, counted and logged (never silently)', async () => {
    const { writer, store, metrics, logs } = make({ maxBufferedRows: 1000 });
    for (const e of events(1500)) writer.write(e);
    expect(await value(metrics.droppedTotal, { reason: 'buffer_full' })).toBe(500);
    expect(await value(metrics.receivedTotal, { type: 'win' })).toBeGreaterThan(0);
    await writer.close();
    expect(store.rowCount).toBe(1000);
    expect(logs.find((l) => l.msg === 'events dropped')?.fields).toEqual({ dropped: { buffer_full: 500 } });
  });

  it('over the spool size cap, new events are dropped, counted and logged', async () => {
    const { writer, store, metrics, logs } = make({ maxSpoolBytes: 20_000, batchRows: 50, batchMs: 60_000 });
    store.mode = 'fail';
    for (const e of events(100)) writer.write(e);
    await writer.flush(); // ~35 KB spooled: over the cap
    for (const e of events(10, 100)) writer.write(e);
    await writer.close();
    expect(await value(metrics.droppedTotal, { reason: 'spool_full' })).toBe(10);
    expect(logs.find((l) => l.msg === 'events dropped')?.fields).toEqual({ dropped: { spool_full: 10 } });
    expect((await spooledIds()).length).toBe(100);
  });

  it('when the spool cannot be written, keeps events in memory, counts errors and retries', async () => {
    await writeFile(spoolDir(), 'not a directory');
    const { writer, store, metrics, logs } = make();
    const evs = events(100);
    for (const e of evs) writer.write(e);
    await vi.waitFor(async () => expect(await value(metrics.spoolErrors)).toBeGreaterThanOrEqual(2), { timeout: 2000, interval: 5 });
    expect(metrics.bufferProbe()).toBe(100);
    expect(store.rowCount).toBe(0);
    expect(logs.some((l) => l.msg.startsWith('event spool write failed'))).toBe(true);
    await rm(spoolDir());
    await vi.waitFor(() => expect(metrics.bufferProbe()).toBe(0), { timeout: 2000, interval: 5 });
    await writer.close();
    expectInOrderOnce(store, evs);
  });

  it('at close without a spool, inserts buffered events directly; what the store refuses too is dropped, counted, logged', async () => {
    await writeFile(spoolDir(), 'not a directory');
    const a = make();
    const evs = events(40);
    for (const e of evs) a.writer.write(e);
    await a.writer.close();
    expectInOrderOnce(a.store, evs);

    const b = make({ closeTimeoutMs: 200 });
    b.store.mode = 'fail';
    for (const e of events(16)) b.writer.write(e);
    await b.writer.close();
    expect(await value(b.metrics.droppedTotal, { reason: 'closed' })).toBe(16);
    expect(b.logs.find((l) => l.msg === 'events dropped')?.fields).toEqual({ dropped: { closed: 16 } });
  });

  it('sets aside rows the store refuses as data (counted, logged, kept on disk) and stores the rest, in order, once', async () => {
    const { writer, store, metrics, logs } = make({ batchRows: 500 });
    const poison = new Set(['ev-17', 'ev-401', 'ev-402', 'ev-999']);
    store.refuseRow = (r) => poison.has(String(r.event_id));
    const evs = events(1200);
    for (const e of evs) writer.write(e);
    await writer.flush();
    const good = evs.filter((e) => !poison.has(e.event_id));
    // Each table in write order, each good row stored once (a part that was refused is stored by halves).
    for (const [table, ids] of idsByTable(good)) expect(store.ids(table), table).toEqual(ids);
    const files = await readdir(join(spoolDir(), 'refused'));
    const lines = (await Promise.all(files.map((f) => readFile(join(spoolDir(), 'refused', f), 'utf8'))))
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { t: string; error: string; r: BidderEvent });
    expect(lines.map((l) => l.r.event_id).sort()).toEqual([...poison].sort());
    for (const l of lines) {
      expect(l.r).toEqual(evs.find((e) => e.event_id === l.r.event_id));
      expect(l.t).toBe(EVENT_TABLES[l.r.type]);
      expect(l.error).toMatch(/^Code: 72\. .*cannot be parsed/);
    }
    let setAside = 0;
    for (const t of Object.values(EVENT_TABLES)) setAside += await value(metrics.setAsideTotal, { table: t });
    expect(setAside).toBe(4);
    expect(await value(metrics.storedTotal, { table: 'wins' })).toBe(good.filter((e) => e.type === 'win').length);
    expect(await value(metrics.droppedTotal)).toBe(0);
    expect(logs.filter((l) => l.msg === 'event rows refused by the store were set aside').length).toBe(files.length);
    expect(await spoolFiles()).toEqual([]);
    // Later events are not held up.
    const more = events(50, 5000);
    for (const e of more) writer.write(e);
    await writer.close();
    expect(store.ids().filter((id) => Number(id.slice(3)) >= 5000).sort()).toEqual(more.map((e) => e.event_id).sort());
  });

  it('does not set rows aside when an insert fails for another reason (the store unreachable, say): it is retried', async () => {
    const { writer, store, metrics } = make();
    store.failNext = 3; // "fake store: insert failed": not a data error
    const evs = events(100);
    for (const e of evs) writer.write(e);
    await vi.waitFor(() => expect(store.rowCount).toBe(evs.length), { timeout: 5000, interval: 10 });
    expectInOrderOnce(store, evs);
    expect(store.failures).toBe(3);
    expect(await readdir(join(spoolDir(), 'refused')).catch(() => [])).toEqual([]);
    expect(await value(metrics.setAsideTotal)).toBe(0);
    await writer.close();
  });

  it('rejects invalid events with a count and a log line, without throwing', async () => {
    const { writer, metrics, logs } = make();
    writer.write({ ...makeEvent(1, 'click'), event_id: '' });
    writer.write({ ...makeEvent(2), type: 'nope' } as unknown as BidderEvent);
    writer.write({ ...makeEvent(2), type: 'constructor' } as unknown as BidderEvent);
    writer.write(null as unknown as BidderEvent);
    expect(await value(metrics.rejectedTotal, { type: 'click', reason: 'invalid_event' })).toBe(1);
    await writer.close();
    expect(logs.find((l) => l.msg.startsWith('invalid events rejected'))?.fields).toEqual({ rejected: 4 });
    expect(await value(metrics.rejectedTotal, { type: 'unknown', reason: 'invalid_event' })).toBe(3);
    // Notice endpoints count their own rejections on the same counter.
    metrics.rejected.win.bad_signature.inc();
    expect(await value(metrics.rejectedTotal, { type: 'win', reason: 'bad_signature' })).toBe(1);
  });

  it('metrics move', async () => {
    const { writer, store, metrics } = make({ batchRows: 100, maxInsertRows: 100 });
    store.delayMs = 5;
    store.failNext = 1;
    for (const e of events(400)) writer.write(e);
    await vi.waitFor(async () => expect(await value(metrics.spoolBytes)).toBeGreaterThan(0), { timeout: 1000, interval: 2 });
    await writer.close();
    expect(await value(metrics.receivedTotal, { type: 'request' })).toBe(50);
    expect(await value(metrics.storedTotal, { table: 'wins' })).toBe(50);
    expect(await value(metrics.insertErrorsTotal)).toBe(1);
    expect(await value(metrics.batchRowsHist, { table: 'wins' }, '_count')).toBeGreaterThan(0);
    expect(await value(metrics.batchRowsHist, { table: 'wins' }, '_sum')).toBe(50);
    expect(await value(metrics.insertDurationHist, { table: 'requests' }, '_count')).toBeGreaterThan(0);
    expect(await value(metrics.syncLag, {}, '_count')).toBeGreaterThan(0);
    expect(writer.maxSyncLagMs).toBeGreaterThan(0);
    expect(writer.maxSyncLagMs).toBeLessThan(500);
    expect(await value(metrics.spoolBytes)).toBe(0);
    expect(await value(metrics.spoolSegments)).toBe(0);
    expect(await value(metrics.droppedTotal)).toBe(0);
    expect(await register.metrics()).not.toContain('events_'); // only in the registry given
  });
});

/**
 * The spool's fdatasync, held and released by the test: every call (on any FileHandle of this
 * process) waits until `release()`, or fails while `failing` is set.
 */
async function holdDatasync() {
  const probe = await open(join(tmpdir(), `datasync-probe-${process.pid}`), 'w');
  const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
  await probe.close();
  const real = proto.datasync;
  const held: (() => void)[] = [];
  const h = {
    calls: 0,
    hold: true,
    failing: false,
    get waiting() {
      return held.length;
    },
    release() {
      for (const r of held.splice(0)) r();
    },
  };
  const spy = vi.spyOn(proto, 'datasync').mockImplementation(async function (this: unknown) {
    h.calls++;
    if (h.hold) await new Promise<void>((r) => held.push(r));
    if (h.failing) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    return real.call(this);
  });
  return Object.assign(h, { restore: () => (h.release(), spy.mockRestore()) });
}

describe('EventWriter.writeDurable (group commit)', () => {
  it('resolves only once an fdatasync covering the event has completed; writes arriving meanwhile share the next one', async () => {
    const sync = await holdDatasync();
    try {
      const { writer } = make({ syncMs: 500, batchMs: 60_000 });
      await writer.started;
      let done = 0;
      const first = writer.writeDurable(makeEvent(0, 'billing')).then(() => done++);
      await vi.waitFor(() => expect(sync.waiting).toBe(1), { timeout: 2000, interval: 2 });
      // Appended, not yet synced: not resolved. 50 more arrive while the fdatasync runs.
      expect(await spooledIds()).toEqual(['ev-0']);
      const rest = events(50, 1, 'conversion').map((e) => writer.writeDurable(e).then(() => done++));
      await new Promise((r) => setTimeout(r, 30));
      expect(done).toBe(0);
      sync.release();
      await first;
      expect(done).toBe(1);
      // The 50 went as one group: one more fdatasync, held too.
      await vi.waitFor(() => expect(sync.waiting).toBe(1), { timeout: 2000, interval: 2 });
      expect(done).toBe(1);
      expect(sync.calls).toBe(2);
      sync.hold = false;
      sync.release();
      await Promise.all(rest);
      expect(done).toBe(51);
      expect(sync.calls).toBe(2);
    } finally {
      sync.restore();
    }
  });

  it('what was acknowledged survives a crash: a new writer replays every resolved durable write, none flushed by hand', async () => {
    const a = make({ syncMs: 500, batchMs: 60_000 });
    a.store.mode = 'fail';
    const evs = events(300, 0, 'billing');
    await Promise.all(evs.map((e) => a.writer.writeDurable(e)));
    a.writer.abandon(); // crash: no close, no flush, no timer pass has run (syncMs 500)
    const b = make();
    await b.writer.flush();
    expect(b.store.ids('billings').sort()).toEqual(evs.map((e) => e.event_id).sort());
  });

  it('rejects when the fdatasync fails (counted, logged); later writes go through, and buffered events are not disturbed', async () => {
    const sync = await holdDatasync();
    sync.hold = false;
    sync.failing = true;
    try {
      const { writer, store, metrics, logs } = make({ syncMs: 500, batchMs: 60_000 });
      await writer.started;
      const buffered = events(5, 100, 'bid');
      for (const e of buffered) writer.write(e);
      await expect(writer.writeDurable(makeEvent(1, 'billing'))).rejects.toThrow(/EIO/);
      expect(await value(metrics.spoolErrors)).toBeGreaterThanOrEqual(1);
      expect(logs.some((l) => l.msg.startsWith('event spool write failed; durable writes refused'))).toBe(true);
      sync.failing = false;
      await writer.writeDurable(makeEvent(2, 'billing'));
      expect(await value(metrics.durableWrite, {}, '_count')).toBe(2);
      await writer.close();
      expect(store.ids('bids')).toEqual(buffered.map((e) => e.event_id));
      expect(store.ids('billings')).toContain('ev-2');
    } finally {
      sync.restore();
    }
  });

  it('rejects invalid events and writes after close, without throwing', async () => {
    const { writer } = make();
    await expect(writer.writeDurable({ ...makeEvent(1, 'billing'), event_id: '' })).rejects.toThrow(/invalid/);
    await writer.close();
    await expect(writer.writeDurable(makeEvent(2, 'billing'))).rejects.toThrow(/closed/);
  });

  it('with groupCommitMs, a group waits that long for company', async () => {
    const { writer, store } = make({ groupCommitMs: 40, syncMs: 500 });
    await writer.started;
    const t0 = performance.now();
    await writer.writeDurable(makeEvent(1, 'billing'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    await writer.close();
    expect(store.ids('billings')).toEqual(['ev-1']);
  });
});
