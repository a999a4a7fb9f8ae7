/**
 * Rule audiences, the scheduled path: each live rule's membership recomputed from the event store
 * (the pixels table, or the impression, click and conversion rows) over its lookback. A rule is
 * rebuilt when this instance first sees it (a new rule is backfilled from history; so is an
 * edited one) and then every RULE_REBUILD_MINUTES.
 *
 * A user whose last included event is inside the lookback, and who has no excluded event inside
 * it, is a member until that event's time plus the lookback (an existing later expiry, set by the
 * online path for a newer event, is kept). A user with rows in the twice-as-long window who does
 * not qualify is taken out: lookback expiry for members a longer lookback (or an online event
 * the store lost) left behind, and exclusion for a user who did the excluded event and an
 * included one after it. Memberships and event keys are those of the online path
 * (rule-audiences.ts eventKey).
 *
 * Only the rule's advertiser's rows are read (`advertiser_id = ` in every query), and only rows
 * with a user key (the event's request allowed user data). The SQL runs on ClickHouse 18.16 and
 * on chDB: plain aggregates, `UNION ALL` in a subquery, times as unix seconds.
 */
import type { EventDatabase } from '../events/event-database.js';
import { integerLiteral, stringLiteral } from '../events/sql.js';
import { log } from '../log.js';
import type { AudienceService } from './audience-service.js';
import { eventKey } from './rule-audiences.js';
import type { MembershipRow, SegmentMeta } from './segment-store.js';

const NOTICE_TABLES = { impression: 'impressions', click: 'clicks', conversion: 'conversions' } as const;
/** Memberships written per store call. */
const BATCH = 500;

export interface RebuildResult {
  readonly segment: string;
  readonly members: number;
  readonly removed: number;
}

const list = (values: readonly string[]) => `(${values.map(stringLiteral).join(', ')})`;

/** The query of one rule: per user key, the last included and the last excluded event (unix seconds, 0: none) since `sinceSec`. */
export function ruleSql(meta: SegmentMeta, sinceSec: number): string {
  const rule = meta.rule!;
  const include = list(rule.events);
  const exclude = rule.excludeEvents?.length ? list(rule.excludeEvents) : undefined;
  const advertiser = stringLiteral(meta.advertiserId ?? '');
  const since = `event_time >= toDateTime(${integerLiteral(sinceSec)})`;
  const last = (names: string | undefined, column: string) => (names ? `max(if(${column} IN ${names}, toUInt32(event_time), 0))` : '0');
  if (rule.source === 'pixel') {
    const names = list([...rule.events, ...(rule.excludeEvents ?? [])]);
    return (
      `SELECT user_key, ${last(include, 'event_name')} AS last_in, ${last(exclude, 'event_name')} AS last_ex FROM pixels` +
      ` WHERE advertiser_id = ${advertiser} AND event_name IN ${names} AND user_key != '' AND ${since} GROUP BY user_key`
    );
  }
  const campaigns = rule.campaignIds ? ` AND campaign_id IN ${list(rule.campaignIds)}` : '';
  const parts = [...new Set([...rule.events, ...(rule.excludeEvents ?? [])])].map(
    (e) =>
      `SELECT user_key, type, event_time FROM ${NOTICE_TABLES[e as keyof typeof NOTICE_TABLES]}` +
      ` WHERE advertiser_id = ${advertiser} AND user_key != '' AND ${since}${campaigns}`,
  );
  return (
    `SELECT user_key, ${last(include, 'type')} AS last_in, ${last(exclude, 'type')} AS last_ex` +
    ` FROM (${parts.join(' UNION ALL ')}) GROUP BY user_key`
  );
}

/** Recomputes one rule audience's membership from the event store. */
export async function rebuildRule(events: EventDatabase, audiences: AudienceService, meta: SegmentMeta, nowSec: number): Promise<RebuildResult> {
  const lookback = meta.rule!.lookbackDays * 86_400;
  const from = nowSec - lookback;
  const rows = await events.query<{ user_key: string; last_in: number | string; last_ex: number | string }>(ruleSql(meta, nowSec - 2 * lookback));
  const add: MembershipRow[] = [];
  const drop: string[] = [];
  for (const r of rows) {
    const lastIn = Number(r.last_in);
    const key = eventKey(r.user_key);
    if (lastIn >= from && Number(r.last_ex) < from) add.push({ key, segments: [meta.id], expiresAt: lastIn + lookback });
    else drop.push(key);
  }
  const store = audiences.store;
  for (let i = 0; i < add.length; i += BATCH) await store.addMemberships(add.slice(i, i + BATCH));
  for (let i = 0; i < drop.length; i += BATCH) await Promise.all(drop.slice(i, i + BATCH).map((k) => store.removeMembership(k, meta.id)));
  audiences.invalidate([...add.map((r) => r.key), ...drop]);
  return { segment: meta.id, members: add.length, removed: drop.length };
}

/**
 * Rebuilds every live rule every `intervalMs`, and a rule this instance has not built yet (new,
 * or changed since) within `checkMs` of its appearing in the registry.
 */
export class RuleRebuilder {
  /** Segment id → the rule text last built. */
  private readonly built = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private lastFull = 0;
  private running: Promise<RebuildResult[]> | undefined;

  constructor(
    private readonly events: EventDatabase,
    private readonly audiences: AudienceService,
    private readonly intervalMs: number,
    private readonly checkMs = 5_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** One pass: every rule when the interval is up, else the rules not built yet. What it rebuilt. */
  tick(): Promise<RebuildResult[]> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<RebuildResult[]> {
    const results: RebuildResult[] = [];
    const now = this.clock();
    const full = now - this.lastFull >= this.intervalMs;
    if (full) this.lastFull = now;
    for (const meta of this.audiences.ruleSegments()) {
      const text = JSON.stringify([meta.advertiserId, meta.rule]);
      if (!full && this.built.get(meta.id) === text) continue;
      try {
        const r = await rebuildRule(this.events, this.audiences, meta, Math.floor(now / 1000));
        this.built.set(meta.id, text);
        results.push(r);
        log('info', 'rule audience rebuilt', { ...r });
      } catch (e) {
        log('warn', 'rule audience rebuild failed', { segment: meta.id, error: (e as Error).message });
      }
    }
    return results;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.checkMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

/**
 * Forgetting a user (`DELETE /api/v1/users/...`) in the event store: their pixel rows go, and their
 * user key is blanked on impression, click and conversion rows, so no rebuild brings them back.
 * `ALTER TABLE ... DELETE/UPDATE` mutations (18.16 and chDB): asynchronous on a server, so a
 * rebuild racing the forget could still see the rows; the API also removes the memberships.
 */
export async function forgetEventUser(events: EventDatabase, userKeys: readonly string[]): Promise<void> {
  if (userKeys.length === 0) return;
  const keys = list(userKeys);
  await events.exec(`ALTER TABLE pixels DELETE WHERE user_key IN ${keys}`);
  for (const table of Object.values(NOTICE_TABLES)) await events.exec(`ALTER TABLE ${table} UPDATE user_key = '' WHERE user_key IN ${keys}`);
}
