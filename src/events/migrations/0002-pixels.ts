/**
 * The pixel table (event-types.ts PixelEvent): the shared columns, then the advertiser's event name,
 * the user key, value, currency and item. Same rules as 0001 (18.16 and chDB; idempotent). The
 * key leads with the advertiser and its event name: reports and audience rebuilds read one
 * advertiser's events of a few names; the user key follows so one user's rows sit together.
 */
import type { Migration } from '../migrate.js';

export const migration0002: Migration = {
  version: 2,
  name: 'pixel events',
  statements: [
    `CREATE TABLE IF NOT EXISTS pixels (
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
  deal_id String,
  event_name String,
  user_key String,
  value_base Float64,
  currency String,
  item String
) ENGINE = ReplacingMergeTree() PARTITION BY event_date ORDER BY (advertiser_id, event_name, user_key, event_id)`,
  ],
};
