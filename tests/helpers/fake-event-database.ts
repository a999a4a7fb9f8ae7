/**
 * An in-memory EventDatabase for event writer tests: records every insert, and fails, hangs or
 * slows down on demand. Plus a generator of valid events with sequential ids.
 */
import type { EventDatabase } from '../../src/events/event-database.js';
import { EVENT_TABLES, type BidderEvent, type EventType } from '../../src/events/event-types.js';

export type StoreMode = 'ok' | 'fail' | 'hang';

export class FakeEventDatabase implements EventDatabase {
  readonly kind = 'chdb' as const;
  /** Successful inserts, in completion order. */
  readonly inserts: { table: string; rows: Record<string, unknown>[] }[] = [];
  attempts = 0;
  failures = 0;
  mode: StoreMode = 'ok';
  /** Fail this many next inserts (then back to `mode`). */
  failNext = 0;
  /** Fail inserts into these tables. */
  readonly failTables = new Set<string>();
  delayMs = 0;
  /** Refuse, as ClickHouse refuses a value it cannot parse, any insert holding a row this matches. */
  refuseRow: ((row: Record<string, unknown>) => boolean) | undefined;
  private readonly hung: (() => void)[] = [];

  async exec(): Promise<void> {}
  async query<T>(): Promise<T[]> {
    return [];
  }
  async close(): Promise<void> {}

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    this.attempts++;
    const copy = rows.map((r) => ({ ...r }));
    if (this.mode === 'hang') await new Promise<void>((resolve) => this.hung.push(resolve));
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failNext > 0 || this.mode === 'fail' || this.failTables.has(table)) {
      if (this.failNext > 0) this.failNext--;
      this.failures++;
      throw new Error(`fake store: insert into ${table} failed`);
    }
    if (this.refuseRow && rows.some(this.refuseRow)) {
      this.failures++;
      throw new Error(`Code: 72. DB::Exception: fake store: a row of ${table} cannot be parsed: (at row 1)`);
    }
    this.inserts.push({ table, rows: copy });
  }

  /** Lets hung inserts go on (they then succeed or fail per the current mode). */
  release(): void {
    for (const r of this.hung.splice(0)) r();
  }

  get hangingInserts(): number {
    return this.hung.length;
  }

  ids(table?: string): string[] {
    return this.inserts.filter((i) => table === undefined || i.table === table).flatMap((i) => i.rows.map((r) => String(r.event_id)));
  }

  get rowCount(): number {
    return this.inserts.reduce((n, i) => n + i.rows.length, 0);
  }
}

/** The round robin of makeEvent: the bid and notice types (the writer's tests count on eight tables; pixels have their own). */
const TYPES = (Object.keys(EVENT_TABLES) as EventType[]).filter((t) => t !== 'pixel');

/** A valid event of `type` (round robin over all types when omitted) with id `${prefix}${n}`. */
export function makeEvent(n: number, type: EventType = TYPES[n % TYPES.length], prefix = 'ev-'): BidderEvent {
  const base = {
    event_id: `${prefix}${n}`,
    event_time: 1_700_000_000 + Math.floor(n / 1000),
    exchange: 'x1',
    advertiser_id: 'adv1',
    campaign_id: `c${n % 7}`,
    creative_id: `cr${n % 3}`,
    bid_id: `b${n}`,
    request_id: `r${n}`,
    imp_id: '1',
    deal_id: '',
    placement: n % 2 ? 'example.com' : 'com.example.app',
    placement_type: n % 2 ? 'site' : 'app',
    publisher_id: `pub${n % 4}`,
    country: 'DEU',
    device_type: 2,
  };
  switch (type) {
    case 'request':
      return { ...base, type, outcome: 'bid', sample_weight: 1 };
    case 'bid':
      return { ...base, type, bid_cpm_base: 1.5, currency: 'USD', sample_weight: 1 };
    case 'win':
    case 'billing':
      return { ...base, type, bid_cpm_base: 1.5, clear_cpm_base: 1.2, currency: 'USD' };
    case 'loss':
      return { ...base, type, bid_cpm_base: 1.5, loss_reason: 102, min_to_win_base: 0 };
    case 'impression':
    case 'click':
      return { ...base, type };
    case 'conversion':
      return { ...base, type, order_id: `o${n}`, value_base: 10, currency: 'USD' };
    case 'pixel':
      return { ...base, type, event_name: 'visit', user_key: `k${n % 5}`, value_base: 0, currency: '', item: '' };
  }
}

/** Expected ids per table for events written in order. */
export function idsByTable(events: readonly BidderEvent[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const e of events) {
    const t = EVENT_TABLES[e.type];
    let l = m.get(t);
    if (!l) m.set(t, (l = []));
    l.push(e.event_id);
  }
  return m;
}
