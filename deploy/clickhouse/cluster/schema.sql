-- ClickHouse cluster schema for the bidder's events (scale-out: shards x replicas).
--
-- The bidder's own migrations (src/events/migrations/) create plain ReplacingMergeTree tables in the
-- database of CLICKHOUSE_URL: right for one server, wrong for a cluster (each bidder would create
-- local tables on whichever node it reached). For a cluster the DBA applies THIS file once, before any
-- bidder starts, and points CLICKHOUSE_URL at the `dsp` database:
--
--   dsp_local.<table>   ReplicatedReplacingMergeTree, on every node: the data of that node's shard
--   dsp.<table>         Distributed over dsp_local.<table>, sharded by cityHash64(event_id): what the
--                       bidders insert into and report from (same names and columns as the migrations)
--
-- At start each bidder runs its migrations against `dsp`: every CREATE TABLE IF NOT EXISTS finds the
-- Distributed table and does nothing, and the bidder records the migration in dsp.schema_migrations.
-- Reports read through the Distributed tables; they deduplicate per event_id at query time (GROUP BY
-- event_id, merged across shards), and sharding by event_id puts every copy of an event (a retry, a
-- notice received by two bidders) on one shard, where ReplacingMergeTree merges also collapse it.
--
-- Columns, sorting keys and partitioning are exactly those of migrations 0001 (event tables), 0002 (pixels), 0003
-- (the placement columns, last in every table, as ALTER TABLE ADD COLUMN puts them) and 0004 (user_key on impressions,
-- clicks and conversions, after them): the bidder
-- inserts JSONEachRow rows that must match column for column. When a new migration ships, apply its
-- cluster form (ON CLUSTER, to dsp_local.* and then dsp.*) before rolling out the bidder version.
--
-- Needs ClickHouse 19.x or later (any current LTS): the Distributed tables carry the MATERIALIZED
-- event_date of the local tables (reports filter on it; it is the partition key, so shards prune whole
-- days), and before 19.x a Distributed INSERT forwarded that column to the shards, which refused it
-- ("Cannot insert column event_date, because it is MATERIALIZED column"). Since 19.x it is skipped and
-- each shard computes it.
--
-- Replace `bidder_cluster` with the cluster name of your <remote_servers> (config.d/cluster.xml), and
-- make sure every node defines the {shard} and {replica} macros. Run with
--   clickhouse-client --multiquery < deploy/clickhouse/cluster/schema.sql
-- The bidder's user needs the settings of users.d/bidder-profile.xml (insert_distributed_sync = 1).
--
-- Checked in the test suite (tests/deploy/clickhouse-cluster.test.ts) on two ClickHouse 18.16 servers as
-- two shards, with ON CLUSTER and the Replicated engine taken out (no Keeper there): the local tables
-- equal the migration's, and the bidder's migrations and reports run through these Distributed tables.
-- Its inserts go through Distributed tables with the same sharding key minus event_date there (the
-- 18.16 bug above).

CREATE DATABASE IF NOT EXISTS dsp_local ON CLUSTER bidder_cluster;
CREATE DATABASE IF NOT EXISTS dsp ON CLUSTER bidder_cluster;

-- requests
CREATE TABLE IF NOT EXISTS dsp_local.requests ON CLUSTER bidder_cluster (
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
  outcome String,
  sample_weight Float64,
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/requests', '{replica}')
PARTITION BY event_date
ORDER BY (exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.requests ON CLUSTER bidder_cluster AS dsp_local.requests
ENGINE = Distributed(bidder_cluster, dsp_local, requests, cityHash64(event_id));

-- bids
CREATE TABLE IF NOT EXISTS dsp_local.bids ON CLUSTER bidder_cluster (
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
  bid_cpm_base Float64,
  currency String,
  sample_weight Float64,
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/bids', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, campaign_id, creative_id, exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.bids ON CLUSTER bidder_cluster AS dsp_local.bids
ENGINE = Distributed(bidder_cluster, dsp_local, bids, cityHash64(event_id));

-- wins
CREATE TABLE IF NOT EXISTS dsp_local.wins ON CLUSTER bidder_cluster (
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
  bid_cpm_base Float64,
  clear_cpm_base Float64,
  currency String,
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/wins', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, campaign_id, creative_id, exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.wins ON CLUSTER bidder_cluster AS dsp_local.wins
ENGINE = Distributed(bidder_cluster, dsp_local, wins, cityHash64(event_id));

-- billings
CREATE TABLE IF NOT EXISTS dsp_local.billings ON CLUSTER bidder_cluster (
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
  bid_cpm_base Float64,
  clear_cpm_base Float64,
  currency String,
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/billings', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, campaign_id, creative_id, exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.billings ON CLUSTER bidder_cluster AS dsp_local.billings
ENGINE = Distributed(bidder_cluster, dsp_local, billings, cityHash64(event_id));

-- losses
CREATE TABLE IF NOT EXISTS dsp_local.losses ON CLUSTER bidder_cluster (
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
  bid_cpm_base Float64,
  loss_reason Int32,
  min_to_win_base Float64,
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/losses', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, campaign_id, creative_id, exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.losses ON CLUSTER bidder_cluster AS dsp_local.losses
ENGINE = Distributed(bidder_cluster, dsp_local, losses, cityHash64(event_id));

-- impressions
CREATE TABLE IF NOT EXISTS dsp_local.impressions ON CLUSTER bidder_cluster (
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
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8,
  user_key String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/impressions', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, campaign_id, creative_id, exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.impressions ON CLUSTER bidder_cluster AS dsp_local.impressions
ENGINE = Distributed(bidder_cluster, dsp_local, impressions, cityHash64(event_id));

-- clicks
CREATE TABLE IF NOT EXISTS dsp_local.clicks ON CLUSTER bidder_cluster (
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
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8,
  user_key String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/clicks', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, campaign_id, creative_id, exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.clicks ON CLUSTER bidder_cluster AS dsp_local.clicks
ENGINE = Distributed(bidder_cluster, dsp_local, clicks, cityHash64(event_id));

-- conversions
CREATE TABLE IF NOT EXISTS dsp_local.conversions ON CLUSTER bidder_cluster (
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
  order_id String,
  value_base Float64,
  currency String,
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8,
  user_key String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/conversions', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, campaign_id, creative_id, exchange, event_id);

CREATE TABLE IF NOT EXISTS dsp.conversions ON CLUSTER bidder_cluster AS dsp_local.conversions
ENGINE = Distributed(bidder_cluster, dsp_local, conversions, cityHash64(event_id));

-- pixels (migration 0002)
CREATE TABLE IF NOT EXISTS dsp_local.pixels ON CLUSTER bidder_cluster (
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
  item String,
  placement String,
  placement_type String,
  publisher_id String,
  country String,
  device_type UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/pixels', '{replica}')
PARTITION BY event_date
ORDER BY (advertiser_id, event_name, user_key, event_id);

CREATE TABLE IF NOT EXISTS dsp.pixels ON CLUSTER bidder_cluster AS dsp_local.pixels
ENGINE = Distributed(bidder_cluster, dsp_local, pixels, cityHash64(event_id));

-- The bidder's migration record (src/events/migrate.ts): read through dsp, so every bidder sees the
-- same versions whichever node it talks to. The bidder inserts the rows itself.
CREATE TABLE IF NOT EXISTS dsp_local.schema_migrations ON CLUSTER bidder_cluster (
  version UInt32,
  name String,
  checksum String,
  applied_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/dsp_local/schema_migrations', '{replica}')
ORDER BY version;

CREATE TABLE IF NOT EXISTS dsp.schema_migrations ON CLUSTER bidder_cluster AS dsp_local.schema_migrations
ENGINE = Distributed(bidder_cluster, dsp_local, schema_migrations, version);
