/**
 * The event tables, one per event type, columns exactly as in ../event-types.ts, `type` included
 * (constant per table, or win/billing and impression/click, costs nothing compressed) so that a
 * BidderEvent object is a valid JSONEachRow row as it is: 18.16 rejects unknown JSON fields
 * unless input_format_skip_unknown_fields=1, which would also hide misspelled columns.
 *
 * Written for ClickHouse 18.16 (Debian's server) and current ClickHouse (chDB 26) at once:
 * - No LowCardinality, DateTime64, TTL, Nullable keys: 18.16 lacks them (or keeps them
 *   experimental). Strings are '' when not applicable.
 * - `event_date` is MATERIALIZED, not DEFAULT: 18.16's JSONEachRow input fills an omitted
 *   DEFAULT column with the type's zero (1970-01-01 -> every row in one partition), because
 *   input_format_defaults_for_omitted_fields only arrived in 19.x. A MATERIALIZED column is
 *   always computed, on both versions, and is never part of an insert.
 * - `toDate(event_time, 'UTC')`: days (partitions, report day buckets) are UTC days whatever
 *   the server's time zone.
 * - ReplacingMergeTree with no version column: rows with the same sorting key in one
 *   partition collapse on merge (last insert wins). The key is the event's identity
 *   (fields a retry or a second instance reports identically) ending in event_id, and
 *   deliberately not event_time: the same notice received by two instances can carry two
 *   receipt times, and a time in the key would keep both copies forever (copies whose times
 *   fall on two UTC days stay apart anyway, in two partitions). Reports never rely on merges
 *   (they aggregate per event_id); merging only bounds storage.
 * - The identity columns lead the key so that advertiser/campaign-scoped reads prune
 *   granules; time ranges prune whole day partitions through `event_date`.
 * - `CREATE TABLE IF NOT EXISTS` everywhere: a migration interrupted half way re-runs.
 */
import type { Migration } from '../migrate.js';

const BASE = `
  event_date Date MATERIALIZED toDate(event_time, 'UTC'),
  event_id String,
  type String,
  event_time DateTime,
  exchange String,
  advertiser_id String,
  campaign_id String,
  creative_id String,
  bid_id String,
  request_id String,
  imp_id String,
  deal_id String`;

const IDENTITY_KEY = '(advertiser_id, campaign_id, creative_id, exchange, event_id)';

function table(name: string, extra: string, key = IDENTITY_KEY): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${name} (${BASE}${extra ? `,\n  ${extra}` : ''}\n)` +
    ` ENGINE = ReplacingMergeTree() PARTITION BY event_date ORDER BY ${key}`
  );
}

export const migration0001: Migration = {
  version: 1,
  name: 'event tables',
  statements: [
    // Sampled: most requests carry no advertiser or campaign, and reports read them per exchange.
    table('requests', 'outcome String,\n  sample_weight Float64', '(exchange, event_id)'),
    table('bids', 'bid_cpm_base Float64,\n  currency String,\n  sample_weight Float64'),
    table('wins', 'bid_cpm_base Float64,\n  clear_cpm_base Float64,\n  currency String'),
    table('billings', 'bid_cpm_base Float64,\n  clear_cpm_base Float64,\n  currency String'),
    table('losses', 'bid_cpm_base Float64,\n  loss_reason Int32,\n  min_to_win_base Float64'),
    table('impressions', ''),
    table('clicks', ''),
    table('conversions', 'order_id String,\n  value_base Float64,\n  currency String'),
  ],
};
