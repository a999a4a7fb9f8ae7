/**
 * The durable, batched event writer between the bid/notice hot path and the EventDatabase.
 *
 *   write() ──► memory buffer ──(every syncMs: append + fdatasync)──► spool segment (disk)
 *                                                                        │ rotated at batchRows / batchMs
 *                                        store.insert per table ◄── shipper (in order, one group at a time)
 *
 * - write() is O(1): a few checks, a counter and an array push; no await, no I/O, never throws.
 * - Every event goes through the spool (a write-ahead log), so a process crash loses only the
 *   events not yet appended and a power loss only those not yet fdatasync'ed: both at most one
 *   syncMs tick plus the time of the append and fdatasync, plus any event-loop stall (see
 *   `events_spool_sync_lag_seconds`). Measured with the default syncMs = 100 ms on a local SSD
 *   (tests/events/event-writer.crash.test.ts, SIGKILL at random moments): a process crash lost
 *   at most the last 107 ms of events; write() to completed fdatasync took at most 110-240 ms
 *   (typically 100-150 ms, 317 ms once with a 106 ms event-loop stall on a loaded machine).
 * - Closed segments are inserted oldest first, grouped per table (consecutive waiting segments
 *   are merged up to maxInsertRows), and deleted only after every table's insert succeeded. A
 *   failed insert keeps the segment and is retried with exponential backoff; tables of the group
 *   already inserted are not inserted again. Retries and crash replays can insert a row twice,
 *   which is safe: rows carry a stable event_id and the tables are ReplacingMergeTree.
 * - An insert the store refuses for what a row holds (a value it cannot parse) would fail on every
 *   retry and hold up everything behind it: the refused rows are found by halving the insert, the
 *   rest is inserted, and they are set aside in `<spool>/refused/` with the store's error, counted
 *   in `events_set_aside_total` and logged (refused-rows.ts).
 * - At start, segments left by an earlier process are replayed first; a torn line is skipped
 *   and counted as dropped (`spool_corrupt`).
 * - Nothing is dropped silently: events over the buffer's hard cap, over the spool cap, written
 *   after close or unreadable in the spool are counted in `events_dropped_total` and logged.
 * - writeDurable() is the group commit for notices whose 2xx promises the event is kept (billing,
 *   conversion): the event skips the buffer, is appended with every other durable write of the
 *   moment, and its promise resolves when the one fdatasync covering them all has completed (or
 *   rejects, and the notice gets 503). A group starts as soon as the previous spool pass has
 *   finished (or `groupCommitMs` after its first write), so under load one fdatasync serves every
 *   notice that arrived while the last one ran. Buffered events (bid and request logs, wins,
 *   losses, impressions, clicks) are untouched: they never wait for a disk.
 *
 * Events are serialized when they are appended (within syncMs), so callers must not mutate an
 * event after writing it.
 */
import { join } from 'node:path';
import { log as defaultLog } from '../log.js';
import type { EventDatabase } from './event-database.js';
import { EVENT_TABLES, EVENT_TABLE_NAMES, type BidderEvent, type EventSink } from './event-types.js';
import { encodeEvents, Spool, type Segment, type TableJson, type TableRows } from './spool.js';
import { isolateRefused, refusesRows, setAside, type RefusedRow } from './refused-rows.js';
import type { EventDropReason, EventMetrics } from '../metrics/event-metrics.js';

/** Events encoded and appended to the spool in one go (about a millisecond of JSON.stringify). */
const APPEND_SLICE = 500;

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface EventWriterOptions {
  readonly store: EventDatabase;
  /** The spool lives in `<dataDir>/spool/`. One writer per dataDir. */
  readonly dataDir: string;
  readonly metrics: EventMetrics;
  /** A spool segment (= an insert batch) is closed at this many rows (all tables together). Default 10,000. */
  readonly batchRows?: number;
  /** ... or when its first row is this old. Default 1,000 ms. */
  readonly batchMs?: number;
  /** Buffered events are appended to the spool and fdatasync'ed this often. Default 100 ms, at most 500. */
  readonly syncMs?: number;
  /**
   * Durable writes wait this long for company before their group is appended and fdatasync'ed.
   * Default 0: a group starts as soon as the previous spool pass finished (measured the faster; README).
   */
  readonly groupCommitMs?: number;
  /** Hard cap on events held in memory; beyond it events are dropped (counted, logged). Default 200,000. */
  readonly maxBufferedRows?: number;
  /** Most rows per insert when waiting segments are merged (backlog, replay). Default max(batchRows, 20,000). */
  readonly maxInsertRows?: number;
  /** Cap on the spool's size on disk; beyond it new events are dropped (counted, logged). Default none. */
  readonly maxSpoolBytes?: number;
  /** Retry backoff after a failed insert: doubles from min to max. Default 250 ms .. 10 s. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** How long flush() waits for the store (the events are durably spooled before it waits). Default 10 s. */
  readonly flushTimeoutMs?: number;
  /** How long close() tries to empty the spool into the store before leaving it for the next start. Default 5 s. */
  readonly closeTimeoutMs?: number;
  /** Milliseconds, monotonic. Default performance.now. */
  readonly clock?: () => number;
  readonly log?: LogFn;
}

type State = 'open' | 'closing' | 'closed' | 'dead';

/** close() gives up on the store after this many failed inserts (the events stay spooled). */
const CLOSE_ATTEMPTS = 3;

/** A writeDurable() waiting for its group's fdatasync. */
interface DurableWrite {
  readonly event: BidderEvent;
  readonly at: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Group {
  readonly segments: Segment[];
  readonly tables: TableRows;
  /** The rows' JSON text as appended to the spool, when every segment of the group kept it (fresh segments). */
  readonly json: TableJson | undefined;
  readonly done: Set<string>;
}

export class EventWriter implements EventSink {
  /** Resolves when leftover segments have been found (and queued for replay) and the writer runs. */
  readonly started: Promise<void>;

  private readonly store: EventDatabase;
  private readonly metrics: EventMetrics;
  private readonly spool: Spool;
  private readonly clock: () => number;
  private readonly log: LogFn;
  private readonly batchRows: number;
  private readonly batchMs: number;
  private readonly syncMs: number;
  private readonly groupCommitMs: number;
  private readonly maxBufferedRows: number;
  private readonly maxInsertRows: number;
  private readonly maxSpoolBytes: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly flushTimeoutMs: number;
  private readonly closeTimeoutMs: number;

  private state: State = 'open';
  private buf: BidderEvent[] = [];
  private inFlight = 0;
  private oldestAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private spoolChain: Promise<void> = Promise.resolve();
  private passQueued = false;
  /** Durable writes not yet taken by a group; whether a group pass is queued (or its window timer runs). */
  private durable: DurableWrite[] = [];
  private groupQueued = false;
  private groupTimer: NodeJS.Timeout | undefined;
  private initDone = false;
  private closing: Promise<void> | undefined;

  /** Closed segments waiting to be inserted, oldest first. */
  private readonly queue: Segment[] = [];
  private cachedRows = 0;
  private group: Group | undefined;
  private failing = false;
  private failures = 0;
  private backoffMs: number;
  /** Wakes the shipper when it waits for a segment / sleeps in backoff. */
  private wakeIdle: (() => void) | undefined;
  private wakeBackoff: (() => void) | undefined;
  private readonly waiters = new Set<() => void>();

  private readonly pendingDrops: Record<EventDropReason, number> = { buffer_full: 0, spool_full: 0, spool_corrupt: 0, closed: 0 };
  private pendingInvalid = 0;
  private dropLogScheduled = false;
  private readonly lastWarn = new Map<string, number>();
  private maxLag = 0;
  /** Files of refused rows written by this writer (makes their names unique). */
  private setAsideFiles = 0;

  constructor(opts: EventWriterOptions) {
    this.store = opts.store;
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? (() => performance.now());
    const log = opts.log ?? defaultLog;
    this.log = (level, msg, fields) => {
      try {
        log(level, msg, fields);
      } catch {
        /* a failing log must not stop the writer */
      }
    };
    this.batchRows = positive(opts.batchRows, 10_000);
    this.batchMs = positive(opts.batchMs, 1_000);
    this.syncMs = Math.min(positive(opts.syncMs, 100), 500);
    this.groupCommitMs = Math.min(positive(opts.groupCommitMs, 0), 100);
    this.maxBufferedRows = positive(opts.maxBufferedRows, 200_000);
    this.maxInsertRows = Math.max(this.batchRows, positive(opts.maxInsertRows, 20_000));
    this.maxSpoolBytes = positive(opts.maxSpoolBytes, Infinity);
    this.retryMinMs = positive(opts.retryMinMs, 250);
    this.retryMaxMs = Math.max(this.retryMinMs, positive(opts.retryMaxMs, 10_000));
    this.flushTimeoutMs = positive(opts.flushTimeoutMs, 10_000);
    this.closeTimeoutMs = positive(opts.closeTimeoutMs, 5_000);
    this.backoffMs = this.retryMinMs;
    this.spool = new Spool(
      join(opts.dataDir, 'spool'),
      { setBytes: (n) => this.metrics.spoolBytes.set(n), setSegments: (n) => this.metrics.spoolSegments.set(n) },
      this.clock,
    );
    this.metrics.bufferProbe = () => this.buf.length + this.inFlight;
    this.started = this.runSpool(false).then(() => {
      if (this.state === 'open') this.schedule();
      void this.shipLoop();
    });
  }

  /** Largest time (ms) seen from an event's write() to the fdatasync that made it durable. */
  get maxSyncLagMs(): number {
    return this.maxLag;
  }

  // ---- hot path -------------------------------------------------------------------------------

  write(event: BidderEvent): void {
    if (!this.valid(event)) return;
    if (this.state !== 'open') return this.drop('closed');
    if (this.buf.length + this.inFlight >= this.maxBufferedRows) return this.drop('buffer_full');
    if (this.buf.length === 0) this.oldestAt = this.clock();
    this.buf.push(event);
  }

  /**
   * The event is appended with the current group and made durable by the group's fdatasync; the
   * promise resolves then. It rejects, and the event counts as not written (the caller's notice
   * gets 503 and is retried; rows of a failed group that did land are harmless duplicates), when
   * the event is invalid, the writer is closing or closed, the spool is over its cap, or the append
   * or fdatasync fails. Never throws.
   */
  writeDurable(event: BidderEvent): Promise<void> {
    if (!this.valid(event)) return Promise.reject(new Error('invalid event (no event_id or unknown type)'));
    if (this.state !== 'open') return Promise.reject(new Error('event writer closed'));
    return new Promise<void>((resolve, reject) => {
      this.durable.push({ event, at: this.clock(), resolve, reject });
      this.queueGroup();
    });
  }

  /** Counts the event as received, or as rejected (and false) when it has no event_id or no known type. */
  private valid(event: BidderEvent): boolean {
    const type = event?.type;
    const received = type === undefined ? undefined : this.metrics.received[type];
    if (received === undefined || typeof event.event_id !== 'string' || event.event_id === '') {
      const label = received === undefined ? 'unknown' : type;
      this.metrics.rejected[label].invalid_event.inc();
      this.pendingInvalid++;
      this.scheduleDropLog();
      return false;
    }
    received.inc();
    return true;
  }

  private drop(reason: EventDropReason, n = 1): void {
    this.metrics.dropped[reason].inc(n);
    this.pendingDrops[reason] += n;
    this.scheduleDropLog();
  }

  private scheduleDropLog(): void {
    if (!this.dropLogScheduled) {
      this.dropLogScheduled = true;
      // Logged off the caller's stack, at most once a second.
      setTimeout(() => this.logDrops(), this.state === 'open' ? 1_000 : 0).unref();
    }
  }

  private logDrops(): void {
    this.dropLogScheduled = false;
    if (this.pendingInvalid > 0) {
      this.log('warn', 'invalid events rejected (no event_id or unknown type)', { rejected: this.pendingInvalid });
      this.pendingInvalid = 0;
    }
    const counts = Object.entries(this.pendingDrops).filter(([, n]) => n > 0);
    if (counts.length === 0) return;
    for (const [r] of counts) this.pendingDrops[r as EventDropReason] = 0;
    this.log('error', 'events dropped', { dropped: Object.fromEntries(counts) });
  }

  // ---- EventSink --------------------------------------------------------------------------------

  /**
   * Everything written so far is appended and fdatasync'ed, then inserted: resolves when the
   * store has it, or as soon as the store is failing (the events are durable in the spool and
   * will be replayed), or after flushTimeoutMs.
   */
  async flush(): Promise<void> {
    if (this.state === 'dead' || this.state === 'closed') return;
    await this.runSpool(true);
    if (this.failing) return;
    await this.waitShipped(this.flushTimeoutMs, 1);
  }

  /**
   * Stops taking events, spools and fdatasyncs everything, then tries the store at once (no
   * backoff wait) and retries a failed insert up to CLOSE_ATTEMPTS times at retryMinMs, for at
   * most closeTimeoutMs in all. What the store did not take stays in the spool for the next
   * start. Does not close the store.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.state === 'dead') return;
    this.state = 'closing';
    clearTimeout(this.timer);
    // A group waiting for its window goes now, ahead of the final passes.
    if (this.groupTimer !== undefined) {
      clearTimeout(this.groupTimer);
      this.groupTimer = undefined;
      this.groupQueued = false;
      this.queueGroup();
    }
    await this.started;
    for (let i = 0; i < 3 && this.buf.length > 0; i++) {
      await this.runSpool(true);
      if (this.buf.length > 0) await sleep(50);
    }
    await this.runSpool(true);
    if (this.buf.length > 0) await this.insertUnspoolable();
    this.failing = false;
    this.wakeBackoff?.();
    await this.waitShipped(this.closeTimeoutMs, CLOSE_ATTEMPTS);
    this.state = 'closed';
    this.wakeIdle?.();
    this.wakeBackoff?.();
    this.notify();
    this.logDrops();
    if (this.queue.length > 0)
      this.log('warn', 'event writer closed with events left in the spool; they are inserted at the next start', {
        segments: this.queue.length,
        bytes: this.spool.bytes,
      });
  }

  /**
   * Last resort at close when the spool cannot take the buffered events (disk full or failing):
   * insert them into the store directly (out of order with respect to spooled segments still
   * waiting); what the store refuses too is dropped, counted and logged.
   */
  private async insertUnspoolable(): Promise<void> {
    const tables: TableRows = new Map();
    for (const e of this.buf) {
      const t = EVENT_TABLES[e.type];
      let list = tables.get(t);
      if (!list) tables.set(t, (list = []));
      list.push(e as unknown as Record<string, unknown>);
    }
    this.buf = [];
    const g: Group = { segments: [], tables, json: undefined, done: new Set() };
    const insert = this.insertGroup(g).catch((err: unknown) => this.warn('close', 'direct insert of unspooled events failed', err));
    await Promise.race([insert, sleep(this.closeTimeoutMs)]);
    for (const [t, rows] of tables) if (!g.done.has(t)) this.drop('closed', rows.length);
  }

  /**
   * Stops everything at once without flushing, as a crash would: buffered events are lost, what
   * was appended stays on disk (what was fdatasync'ed survives even a power loss). For tests.
   */
  abandon(): void {
    this.state = 'dead';
    clearTimeout(this.timer);
    clearTimeout(this.groupTimer);
    this.buf = [];
    this.failGroup(this.durable.splice(0), new Error('event writer stopped'));
    this.spool.abandon();
    this.wakeIdle?.();
    this.wakeBackoff?.();
    this.notify();
  }

  // ---- memory → spool ---------------------------------------------------------------------------

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (this.state !== 'open') return;
      // At most one timer pass waits behind a slow one (so a slow disk delays, never skips, a tick).
      if (!this.passQueued) {
        this.passQueued = true;
        this.spoolChain = this.spoolChain
          .then(() => {
            this.passQueued = false;
            return this.spoolPass(false);
          })
          .catch(() => undefined);
      }
      this.schedule();
    }, this.syncMs);
    this.timer.unref();
  }

  /** Serializes spool passes; `rotate` closes the open segment so it can be shipped. */
  private runSpool(rotate: boolean): Promise<void> {
    const next = this.spoolChain.then(() => this.spoolPass(rotate));
    this.spoolChain = next.catch(() => undefined);
    return next;
  }

  private async spoolPass(rotate: boolean): Promise<void> {
    if (this.state === 'dead') return;
    const batch = this.buf;
    const oldest = this.oldestAt;
    this.buf = [];
    this.inFlight = batch.length;
    let synced = 0;
    try {
      if (!this.initDone) await this.init();
      if (this.spool.bytes >= this.maxSpoolBytes && batch.length > 0) {
        this.drop('spool_full', batch.length);
        synced = batch.length;
        return;
      }
      let i = 0;
      while (i < batch.length) {
        // At most APPEND_SLICE events encoded at once: each append awaits the disk, so bids run between slices.
        // Each row is encoded once: its JSON text goes into the spool line and, kept, into the insert.
        const end = Math.min(batch.length, i + Math.min(APPEND_SLICE, Math.max(1, this.batchRows - this.spool.openRows)));
        const rowJson: string[] = [];
        await this.spool.append(encodeEvents(batch, i, end, rowJson), batch, i, end, this.cachedRows < this.maxInsertRows, rowJson);
        i = end;
        if (this.spool.openRows >= this.batchRows) {
          await this.rotate();
          synced = i;
        }
      }
      await this.spool.sync();
      synced = batch.length;
      if (batch.length > 0) {
        const lag = this.clock() - oldest;
        this.maxLag = Math.max(this.maxLag, lag);
        this.metrics.syncLag.observe(lag / 1000);
      }
      if (rotate || this.spool.openAge(this.clock()) >= this.batchMs) await this.rotate();
    } catch (err) {
      if ((this.state as State) === 'dead') return;
      // Not durable: keep the rows (ahead of newer ones) and retry on the next pass. The failed
      // segment is closed as it is; rows of it that did land are harmless duplicates.
      this.metrics.spoolErrors.inc();
      this.warn('spool', 'event spool write failed; events kept in memory and retried', err);
      if (synced < batch.length) {
        this.buf = synced === 0 ? batch.concat(this.buf) : batch.slice(synced).concat(this.buf);
        this.oldestAt = oldest;
      }
      if (this.initDone) await this.rotate().catch(() => undefined);
    } finally {
      this.inFlight = 0;
    }
  }

  // ---- durable writes: group commit ------------------------------------------------------------

  /** One group pass at most waits (behind the running pass, or its window); it takes every durable write queued by then. */
  private queueGroup(): void {
    if (this.groupQueued) return;
    this.groupQueued = true;
    const enqueue = () => {
      this.groupTimer = undefined;
      this.spoolChain = this.spoolChain
        .then(() => {
          this.groupQueued = false;
          return this.groupPass();
        })
        .catch(() => undefined);
    };
    if (this.groupCommitMs > 0 && this.state === 'open') {
      this.groupTimer = setTimeout(enqueue, this.groupCommitMs);
    } else enqueue();
  }

  private async groupPass(): Promise<void> {
    const group = this.durable;
    this.durable = [];
    if (group.length === 0) return;
    if (this.state === 'dead') return this.failGroup(group, new Error('event writer stopped'));
    const events = group.map((d) => d.event);
    try {
      if (!this.initDone) await this.init();
      if (this.spool.bytes >= this.maxSpoolBytes) throw new Error('event spool is over its size cap');
      let i = 0;
      while (i < events.length) {
        const end = Math.min(events.length, i + Math.min(APPEND_SLICE, Math.max(1, this.batchRows - this.spool.openRows)));
        const rowJson: string[] = [];
        await this.spool.append(encodeEvents(events, i, end, rowJson), events, i, end, this.cachedRows < this.maxInsertRows, rowJson);
        i = end;
        // rotate() fdatasyncs the segment before closing it, so what it holds is durable too.
        if (this.spool.openRows >= this.batchRows) await this.rotate();
      }
      await this.spool.sync();
    } catch (err) {
      if ((this.state as State) !== 'dead') {
        this.metrics.spoolErrors.inc();
        this.warn('durable', 'event spool write failed; durable writes refused (their notices get 503 and are retried)', err);
        // As in spoolPass: the failed segment is closed as it is, the next group opens a new one.
        if (this.initDone) await this.rotate().catch(() => undefined);
      }
      return this.failGroup(group, err instanceof Error ? err : new Error(String(err)));
    }
    const now = this.clock();
    for (const d of group) {
      this.metrics.durableWrite.observe((now - d.at) / 1000);
      d.resolve();
    }
  }

  private failGroup(group: readonly DurableWrite[], err: Error): void {
    const now = this.clock();
    for (const d of group) {
      this.metrics.durableWrite.observe((now - d.at) / 1000);
      d.reject(err);
    }
  }

  private async init(): Promise<void> {
    const leftovers = await this.spool.init();
    this.initDone = true;
    if (leftovers.length > 0) {
      this.queue.push(...leftovers);
      this.log('info', 'replaying spooled events', { segments: leftovers.length, bytes: this.spool.bytes });
    }
  }

  private async rotate(): Promise<void> {
    const seg = await this.spool.rotate();
    if (!seg) return;
    if (seg.cache) this.cachedRows += seg.rows ?? 0;
    this.queue.push(seg);
    this.wakeIdle?.();
  }

  // ---- spool → store ----------------------------------------------------------------------------

  private get live(): boolean {
    return this.state === 'open' || this.state === 'closing';
  }

  private async shipLoop(): Promise<void> {
    while (this.live) {
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => (this.wakeIdle = resolve));
        this.wakeIdle = undefined;
        continue;
      }
      let phase: 'read' | 'insert' | 'delete' = 'read';
      try {
        this.group ??= await this.formGroup();
        if (!this.live) return;
        phase = 'insert';
        await this.insertGroup(this.group);
        if (!this.live) return;
        phase = 'delete';
        // The group is the head of the queue; drop each segment from both once it is deleted.
        while (this.group.segments.length > 0) {
          await this.spool.remove(this.group.segments[0]);
          this.group.segments.shift();
          this.queue.shift();
        }
        this.group = undefined;
        this.failing = false;
        this.backoffMs = this.retryMinMs;
      } catch (err) {
        if (!this.live) return;
        if (phase === 'insert') {
          // Nothing of the group stored yet: re-form it at the next attempt, so a backlog built
          // up meanwhile goes in fewer, larger inserts.
          if (this.group && this.group.done.size === 0) this.group = undefined;
          this.failing = true;
          this.failures++;
          this.warn('insert', 'event insert failed; events stay spooled and are retried', err, { retryInMs: this.backoffMs });
        } else {
          this.metrics.spoolErrors.inc();
          this.warn(phase, `event spool ${phase} failed; retried`, err, { retryInMs: this.backoffMs });
        }
        this.notify();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.state === 'closing' ? this.retryMinMs : this.backoffMs);
          t.unref();
          this.wakeBackoff = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wakeBackoff = undefined;
        this.backoffMs = Math.min(this.backoffMs * 2, this.retryMaxMs);
      }
      this.notify();
    }
  }

  /** The oldest waiting segments, merged per table up to maxInsertRows. */
  private async formGroup(): Promise<Group> {
    const segments: Segment[] = [];
    const tables: TableRows = new Map();
    let json: TableJson | undefined = new Map();
    let rows = 0;
    for (let i = 0; i < this.queue.length && rows < this.maxInsertRows; i++) {
      const seg = this.queue[i];
      if (segments.length > 0 && seg.rows !== undefined && rows + seg.rows > this.maxInsertRows) break;
      let segTables: TableRows;
      let segJson: TableJson | undefined;
      if (seg.cache) {
        segTables = seg.cache;
        segJson = seg.cacheJson;
        this.cachedRows -= seg.rows ?? 0;
        seg.cache = undefined;
        seg.cacheJson = undefined;
      } else {
        let read;
        try {
          read = await this.spool.read(seg);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            // Deleted behind our back: nothing to insert (and nothing we could count as lost).
            this.log('error', 'spool segment vanished before it was inserted', { segment: seg.path });
            read = { tables: new Map(), rows: 0, badLines: [] };
          } else if (segments.length > 0) break;
          else throw err;
        }
        if (read.badLines.length > 0) {
          this.drop('spool_corrupt', read.badLines.length);
          this.log('error', 'unreadable spool lines skipped', { segment: seg.path, lines: read.badLines.slice(0, 20) });
        }
        seg.rows = read.rows;
        segTables = read.tables;
      }
      for (const [t, list] of segTables) {
        const into = tables.get(t);
        if (into) for (const r of list) into.push(r);
        else tables.set(t, list.slice());
      }
      json = segJson === undefined ? undefined : json;
      if (json !== undefined)
        for (const [t, list] of segJson!) {
          const into = json.get(t);
          if (into) for (const r of list) into.push(r);
          else json.set(t, list.slice());
        }
      rows += seg.rows ?? 0;
      segments.push(seg);
    }
    return { segments, tables, json, done: new Set() };
  }

  private async insertGroup(g: Group): Promise<void> {
    for (const table of EVENT_TABLE_NAMES) {
      const rows = g.tables.get(table);
      if (!rows || rows.length === 0 || g.done.has(table)) continue;
      const m = this.metrics.table[table];
      const t0 = this.clock();
      let refused: RefusedRow[] | undefined;
      const json = g.json?.get(table);
      try {
        // A BidderEvent is a row as it is (the tables have every field, `type` included). Rows
        // still held as the JSON the spool got go in as that text, not encoded a second time.
        if (json !== undefined && json.length === rows.length && this.store.insertJson !== undefined) await this.store.insertJson(table, json);
        else await this.store.insert(table, rows);
      } catch (err) {
        m.insertDuration.observe((this.clock() - t0) / 1000);
        m.insertErrors.inc();
        if (!refusesRows(err)) throw err;
        refused = await isolateRefused((part) => this.store.insert(table, part), rows, err);
        if (refused.length > 0) {
          const file = await setAside(join(this.spool.dir, 'refused'), table, refused, this.setAsideFiles++);
          m.setAside.inc(refused.length);
          this.log('error', 'event rows refused by the store were set aside', { table, rows: refused.length, of: rows.length, file, error: refused[0].error });
        }
      }
      if (refused === undefined) m.insertDuration.observe((this.clock() - t0) / 1000);
      m.batchRows.observe(rows.length);
      m.stored.inc(rows.length - (refused?.length ?? 0));
      g.done.add(table);
    }
  }

  /** Waits until every segment closed so far is inserted, `maxFailures` inserts fail, or the timeout. */
  private async waitShipped(timeoutMs: number, maxFailures: number): Promise<void> {
    const target = this.queue.length > 0 ? this.queue[this.queue.length - 1].seq : -1;
    if (target < 0) return;
    const failuresAtStart = this.failures;
    const deadline = this.clock() + timeoutMs;
    while (this.live && this.failures - failuresAtStart < maxFailures && this.queue.length > 0 && this.queue[0].seq <= target) {
      const left = deadline - this.clock();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        t.unref();
        this.waiters.add(done);
        function done() {
          clearTimeout(t);
          resolve();
        }
      });
    }
  }

  private notify(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  private warn(key: string, msg: string, err: unknown, fields: Record<string, unknown> = {}): void {
    const now = this.clock();
    const last = this.lastWarn.get(key);
    if (last !== undefined && now - last < 5_000) return;
    this.lastWarn.set(key, now);
    this.log('warn', msg, { ...fields, error: err instanceof Error ? err.message : String(err) });
  }
}

function positive(v: number | undefined, dflt: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : dflt;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

