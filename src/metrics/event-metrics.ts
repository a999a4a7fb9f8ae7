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
    const registers = [registry];
    this.receivedTotal = new Counter({
      name: 'events_received_total',
      help: 'Events handed to the event writer, by type (stored, spooled or dropped).',
      labelNames: ['type'],
      registers,
    });
    this.rejectedTotal = new Counter({
      name: 'events_rejected_total',
      help: 'Events refused as invalid (bad notice, no event_id, unknown type), by type and reason.',
      labelNames: ['type', 'reason'],
      registers,
    });
    this.droppedTotal = new Counter({
      name: 'events_dropped_total',
      help: 'Accepted events that were lost (buffer over its hard cap, spool full, unreadable spool line, written after close), by reason. Should be 0.',
      labelNames: ['reason'],
      registers,
    });
    const probe = this;
    this.bufferedRows = new Gauge({
      name: 'events_buffered_rows',
      help: 'Events held in memory, not yet appended to the spool.',
      registers,
      collect() {
        this.set(probe.bufferProbe());
      },
    });
    this.batchRowsHist = new Histogram({
      name: 'events_insert_batch_rows',
      help: 'Rows per insert into the event store, by table.',
      labelNames: ['table'],
      buckets: ROW_BUCKETS,
      registers,
    });
    this.insertDurationHist = new Histogram({
      name: 'events_insert_duration_seconds',
      help: 'Duration of inserts into the event store (successful and failed), by table.',
      labelNames: ['table'],
      buckets: INSERT_BUCKETS,
      registers,
    });
    this.insertErrorsTotal = new Counter({
      name: 'events_insert_errors_total',
      help: 'Failed inserts into the event store, by table (the rows stay spooled and are retried).',
      labelNames: ['table'],
      registers,
    });
    this.storedTotal = new Counter({
      name: 'events_stored_total',
      help: 'Rows inserted into the event store, by table (a retried insert counts again).',
      labelNames: ['table'],
      registers,
    });
    this.setAsideTotal = new Counter({
      name: 'events_set_aside_total',
      help: 'Rows the event store refused as malformed, by table: written to DATA_DIR/spool/refused/ with the store\'s error instead of being retried forever (not lost; should be 0).',
      labelNames: ['table'],
      registers,
    });
    this.spoolBytes = new Gauge({
      name: 'events_spool_bytes',
      help: 'Bytes in spool segments on local disk (not yet confirmed stored).',
      registers,
    });
    this.spoolSegments = new Gauge({
      name: 'events_spool_segments',
      help: 'Spool segments on local disk, including the one being appended to.',
      registers,
    });
    this.spoolErrors = new Counter({
      name: 'events_spool_errors_total',
      help: 'Failed spool operations (append, fdatasync, open, read, delete); rows are kept in memory and retried.',
      registers,
    });
    this.syncLag = new Histogram({
      name: 'events_spool_sync_lag_seconds',
      help: 'Age of the oldest event of a batch when its fdatasync completed: the window a power loss could lose.',
      buckets: LAG_BUCKETS,
      registers,
    });
    this.durableWrite = new Histogram({
      name: 'events_durable_write_seconds',
      help: 'Time from a durable write (billing and conversion notices) to the fdatasync that covers it, failed ones included: what it adds to the notice answer.',
      buckets: INSERT_BUCKETS,
      registers,
    });

    const bind = <K extends string>(names: readonly K[], f: (k: K) => Inc) =>
      Object.fromEntries(names.map((k) => [k, f(k)])) as Record<K, Inc>;
    // No prototype: write() looks events' `type` up here, and a type like "constructor" must miss.
    this.received = Object.assign(Object.create(null), bind(EVENT_TYPES, (t) => this.receivedTotal.labels(t)));
    this.rejected = Object.fromEntries(
      [...EVENT_TYPES, 'unknown' as const].map((t) => [t, bind(EVENT_REJECT_REASONS, (r) => this.rejectedTotal.labels(t, r))]),
    ) as Record<RejectTypeLabel, Record<EventRejectReason, Inc>>;
    this.dropped = bind(EVENT_DROP_REASONS, (r) => this.droppedTotal.labels(r));
    this.table = Object.fromEntries(
      EVENT_TABLE_NAMES.map((t) => [
        t,
        {
          batchRows: this.batchRowsHist.labels(t),
          insertDuration: this.insertDurationHist.labels(t),
          insertErrors: this.insertErrorsTotal.labels(t),
          stored: this.storedTotal.labels(t),
          setAside: this.setAsideTotal.labels(t),
        },
      ]),
    );
    this.spoolBytes.set(0);
    this.spoolSegments.set(0);
  }
}
