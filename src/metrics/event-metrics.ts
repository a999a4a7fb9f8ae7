/**
 * Event pipeline metrics: what the bid/notice paths hand to the event writer, what the writer
 * refuses or loses, how deep its buffer and spool are, and how inserts into the store go.
 * Registered in the bidder's registry. Every label value comes from a fixed list and every child
 * is made here, at boot, so the hot path only calls `inc()` on a kept child.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { EVENT_TABLES, EVENT_TABLE_NAMES, type EventType } from '../events/event-types.js';

type Inc = { inc(n?: number): void };
type Observe = { observe(v: number): void };

export const EVENT_TYPES = Object.keys(EVENT_TABLES) as EventType[];
export { EVENT_TABLE_NAMES };

/**
 * Why an event was refused before it reached the writer (notice endpoints) or by the writer
 * itself (`invalid_event`: no event_id or an unknown type).
 */
export const EVENT_REJECT_REASONS = [
  'missing_field',
  'bad_signature',
  'expired',
  'bad_price',
  'unknown_exchange',
  'bad_request',
  'invalid_event',
] as const;
export type EventRejectReason = (typeof EVENT_REJECT_REASONS)[number];

/**
 * Why an accepted event was lost. Should stay 0: `buffer_full` (the in-memory buffer hit its hard
 * cap because the spool could not keep up), `spool_full` (the spool hit its size cap),
 * `spool_corrupt` (an unreadable spool line, e.g. the torn last line of a crash), `closed`
 * (written after close, or still unspoolable at close).
 */
export const EVENT_DROP_REASONS = ['buffer_full', 'spool_full', 'spool_corrupt', 'closed'] as const;
export type EventDropReason = (typeof EVENT_DROP_REASONS)[number];

/** `type` label for rejections whose type is not a known event type. */
export type RejectTypeLabel = EventType | 'unknown';

export interface TableMetrics {
  readonly batchRows: Observe;
  readonly insertDuration: Observe;
  readonly insertErrors: Inc;
  readonly stored: Inc;
  readonly setAside: Inc;
}

const INSERT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const ROW_BUCKETS = [1, 10, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000];
const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5];

export class EventMetrics {
  readonly receivedTotal: Counter<'type'>;
  readonly rejectedTotal: Counter<'type' | 'reason'>;
  readonly droppedTotal: Counter<'reason'>;
  readonly bufferedRows: Gauge;
  readonly batchRowsHist: Histogram<'table'>;
  readonly insertDurationHist: Histogram<'table'>;
  readonly insertErrorsTotal: Counter<'table'>;
  readonly storedTotal: Counter<'table'>;
  readonly setAsideTotal: Counter<'table'>;
  readonly spoolBytes: Gauge;
  readonly spoolSegments: Gauge;
  readonly spoolErrors: Counter;
  readonly syncLag: Histogram;
  readonly durableWrite: Histogram;

  /** Pre-bound children. */
  readonly received: Readonly<Record<EventType, Inc>>;
  readonly rejected: Readonly<Record<RejectTypeLabel, Readonly<Record<EventRejectReason, Inc>>>>;
  readonly dropped: Readonly<Record<EventDropReason, Inc>>;
  readonly table: Readonly<Record<string, TableMetrics>>;

  /** Set by the writer: rows held in memory (buffered plus being appended), read at scrape time. */
  bufferProbe: () => number = () => 0;

  constructor(registry: Registry) {
    const r = [registry];
    this.receivedTotal = counter(r, 'events_received_total', 'Events handed to the event writer, by type (stored, spooled or dropped).', ['type']);
    this.rejectedTotal = counter(r, 'events_rejected_total', 'Events refused as invalid (bad notice, no event_id, unknown type), by type and reason.', ['type', 'reason']);
    this.droppedTotal = counter(
      r,
      'events_dropped_total',
      'Accepted events that were lost (buffer over its hard cap, spool full, unreadable spool line, written after close), by reason. Should be 0.',
      ['reason'],
    );
    const probe = this;
    this.bufferedRows = new Gauge({
      name: 'events_buffered_rows',
      help: 'Events held in memory, not yet appended to the spool.',
      registers: r,
      collect() {
        this.set(probe.bufferProbe());
      },
    });
    this.batchRowsHist = histogram(r, 'events_insert_batch_rows', 'Rows per insert into the event store, by table.', ROW_BUCKETS, ['table']);
    this.insertDurationHist = histogram(r, 'events_insert_duration_seconds', 'Duration of inserts into the event store (successful and failed), by table.', INSERT_BUCKETS, ['table']);
    this.insertErrorsTotal = counter(r, 'events_insert_errors_total', 'Failed inserts into the event store, by table (the rows stay spooled and are retried).', ['table']);
    this.storedTotal = counter(r, 'events_stored_total', 'Rows inserted into the event store, by table (a retried insert counts again).', ['table']);
    this.setAsideTotal = counter(
      r,
      'events_set_aside_total',
      'Rows the event store refused as malformed, by table: written to DATA_DIR/spool/refused/ with the store\'s error instead of being retried forever (not lost; should be 0).',
      ['table'],
    );
    this.spoolBytes = new Gauge({ name: 'events_spool_bytes', help: 'Bytes in spool segments on local disk (not yet confirmed stored).', registers: r });
    this.spoolSegments = new Gauge({ name: 'events_spool_segments', help: 'Spool segments on local disk, including the one being appended to.', registers: r });
    this.spoolErrors = counter(r, 'events_spool_errors_total', 'Failed spool operations (append, fdatasync, open, read, delete); rows are kept in memory and retried.');
    this.syncLag = histogram(r, 'events_spool_sync_lag_seconds', 'Age of the oldest event of a batch when its fdatasync completed: the window a power loss could lose.', LAG_BUCKETS);
    this.durableWrite = histogram(
      r,
      'events_durable_write_seconds',
      'Time from a durable write (billing and conversion notices) to the fdatasync that covers it, failed ones included: what it adds to the notice answer.',
      INSERT_BUCKETS,
    );
    // No prototype: write() looks events' `type` up here, and a type like "constructor" must miss.
    this.received = Object.assign(Object.create(null), bind(EVENT_TYPES, (t) => this.receivedTotal.labels(t)));
    this.rejected = Object.fromEntries(
      [...EVENT_TYPES, 'unknown' as const].map((t) => [t, bind(EVENT_REJECT_REASONS, (reason) => this.rejectedTotal.labels(t, reason))]),
    ) as Record<RejectTypeLabel, Record<EventRejectReason, Inc>>;
    this.dropped = bind(EVENT_DROP_REASONS, (reason) => this.droppedTotal.labels(reason));
    this.table = Object.fromEntries(EVENT_TABLE_NAMES.map((t) => [t, this.tableMetrics(t)]));
    this.spoolBytes.set(0);
    this.spoolSegments.set(0);
  }

  /** The children of one table's insert metrics. */
  private tableMetrics(t: string): TableMetrics {
    return {
      batchRows: this.batchRowsHist.labels(t),
      insertDuration: this.insertDurationHist.labels(t),
      insertErrors: this.insertErrorsTotal.labels(t),
      stored: this.storedTotal.labels(t),
      setAside: this.setAsideTotal.labels(t),
    };
  }
}

/** A child per name, by name. */
function bind<K extends string>(names: readonly K[], f: (k: K) => Inc): Record<K, Inc> {
  return Object.fromEntries(names.map((k) => [k, f(k)])) as Record<K, Inc>;
}

function counter<L extends string = never>(registers: Registry[], name: string, help: string, labelNames?: readonly L[]): Counter<L> {
  return new Counter<L>(labelNames ? { name, help, labelNames, registers } : { name, help, registers });
}

function histogram<L extends string = never>(registers: Registry[], name: string, help: string, buckets: number[], labelNames?: readonly L[]): Histogram<L> {
  return new Histogram<L>(labelNames ? { name, help, labelNames, buckets, registers } : { name, help, buckets, registers });
}
