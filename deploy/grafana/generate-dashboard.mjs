// Generates deploy/grafana/dashboards/bidder.json: edit this, then
//   node deploy/grafana/generate-dashboard.mjs deploy/grafana/dashboards/bidder.json
// (tests/deploy/grafana.test.ts checks that the JSON is this script's output). Panels are laid out
// left to right in rows of 24 columns; `${datasource}`, `$exchange` and `$instance` are dashboard variables.
import { writeFileSync } from 'node:fs';
const ds = { type: 'prometheus', uid: '${datasource}' };
let id = 1;
const panels = [];
let y = 0;
const row = (title) => { panels.push({ type: 'row', id: id++, title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] }); y += 1; };
let x = 0, rowH = 0;
const place = (w, h) => { if (x + w > 24) { x = 0; y += rowH; rowH = 0; } const g = { h, w, x, y }; x += w; rowH = Math.max(rowH, h); return g; };
const flush = () => { if (x > 0) { y += rowH; x = 0; rowH = 0; } };
const t = (expr, legendFormat, extra = {}) => ({ datasource: ds, expr, legendFormat, refId: String.fromCharCode(65 + (extra.i ?? 0)), ...(extra.instant ? { instant: true, range: false } : {}) });
const ts = (title, targets, unit, opts = {}) => panels.push({
  type: 'timeseries', id: id++, title, description: opts.description, datasource: ds, gridPos: place(opts.w ?? 8, opts.h ?? 8),
  targets: targets.map((tg, i) => t(tg[0], tg[1], { i })),
  fieldConfig: { defaults: { unit, min: opts.min, max: opts.max, custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: opts.stack ? 30 : 10, stacking: { mode: opts.stack ? 'normal' : 'none', group: 'A' }, showPoints: 'never' }, ...(opts.thresholds ? { thresholds: opts.thresholds } : {}) }, overrides: [] },
  options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
});
const stat = (title, expr, unit, thresholds, opts = {}) => panels.push({
  type: 'stat', id: id++, title, description: opts.description, datasource: ds, gridPos: place(opts.w ?? 4, 4),
  targets: [t(expr, '', { instant: true })],
  fieldConfig: { defaults: { unit, decimals: opts.decimals, thresholds: { mode: 'absolute', steps: thresholds }, color: { mode: 'thresholds' } }, overrides: [] },
  options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto', justifyMode: 'auto', orientation: 'auto' },
});
const green = (v = null) => ({ color: 'green', value: v });
const ex = 'exchange=~"$exchange"';
const inst = 'instance=~"$instance"';

row('Overview');
stat('Bid requests / s', `sum(rate(bidder_bid_requests_total{${ex},${inst}}[$__rate_interval]))`, 'reqps', [green()]);
stat('Bids / s', `sum(rate(bidder_bids_total{${ex},${inst}}[$__rate_interval]))`, 'short', [green()]);
stat('Win rate (wins / bids)', 'sum(job:bidder_win_rate:ratio_rate5m)', 'percentunit', [green()], { decimals: 1, description: 'Accepted win notices per bid sent, fleet-wide (recording rule job:bidder_win_rate:ratio_rate5m).' });
stat('Latency p99', `histogram_quantile(0.99, sum by (le) (rate(bidder_request_duration_seconds_bucket{${ex},${inst}}[$__rate_interval])))`, 's', [green(), { color: 'orange', value: 0.02 }, { color: 'red', value: 0.05 }], { decimals: 2 });
stat('Timeouts', `sum(rate(bidder_bid_requests_total{outcome="timeout",${ex},${inst}}[$__rate_interval])) / sum(rate(bidder_bid_requests_total{${ex},${inst}}[$__rate_interval]))`, 'percentunit', [green(), { color: 'orange', value: 0.01 }, { color: 'red', value: 0.05 }], { decimals: 2 });
stat('Events dropped', `sum(events_dropped_total{${inst}}) or vector(0)`, 'short', [green(), { color: 'red', value: 1 }], { description: 'events_dropped_total since each instance started: must stay 0.' });
flush();

row('Requests');
ts('Bid requests by outcome', [[`sum by (outcome) (rate(bidder_bid_requests_total{${ex},${inst}}[$__rate_interval]))`, '{{outcome}}']], 'reqps', { stack: true });
ts('No-bid reasons', [[`sum by (reason) (rate(bidder_no_bids_total{${ex},${inst}}[$__rate_interval]))`, '{{reason}}']], 'reqps', { stack: true });
ts('No-bid reasons, share of requests', [[`sum by (reason) (exchange_reason:bidder_no_bids:ratio_rate5m{${ex}})`, '{{reason}}']], 'percentunit', { description: 'Recording rule exchange_reason:bidder_no_bids:ratio_rate5m, summed over the selected exchanges.' });
ts('Requests per exchange', [[`sum by (exchange) (rate(bidder_bid_requests_total{${ex},${inst}}[$__rate_interval]))`, '{{exchange}}']], 'reqps');
ts('Rejected requests (4xx) by reason', [[`sum by (reason) (rate(bidder_rejected_requests_total{${ex},${inst}}[$__rate_interval]))`, '{{reason}}']], 'reqps', { stack: true });
ts('Requests per instance', [[`sum by (instance) (rate(bidder_bid_requests_total{${ex},${inst}}[$__rate_interval]))`, '{{instance}}']], 'reqps', { description: 'The load balancer should spread traffic evenly.' });
flush();

row('Latency');
ts('Request latency quantiles', [
  [`histogram_quantile(0.5, sum by (le) (rate(bidder_request_duration_seconds_bucket{${ex},${inst}}[$__rate_interval])))`, 'p50'],
  [`histogram_quantile(0.9, sum by (le) (rate(bidder_request_duration_seconds_bucket{${ex},${inst}}[$__rate_interval])))`, 'p90'],
  [`histogram_quantile(0.99, sum by (le) (rate(bidder_request_duration_seconds_bucket{${ex},${inst}}[$__rate_interval])))`, 'p99'],
  [`histogram_quantile(0.999, sum by (le) (rate(bidder_request_duration_seconds_bucket{${ex},${inst}}[$__rate_interval])))`, 'p99.9'],
], 's', { description: 'bidder_request_duration_seconds: from headers received to answer sent.' });
ts('Latency p99 per instance', [[`histogram_quantile(0.99, sum by (instance, le) (rate(bidder_request_duration_seconds_bucket{${ex},${inst}}[$__rate_interval])))`, '{{instance}}']], 's');
ts('Timeout ratio per exchange', [[`exchange:bidder_timeouts:ratio_rate5m{${ex}}`, '{{exchange}}']], 'percentunit');
ts('Bid thread event loop lag', [[`max by (instance) (bidder_event_loop_lag_seconds{${inst}})`, 'worst thread {{instance}}']], 's', { description: 'bidder_event_loop_lag_seconds: the largest lag of each bid thread since the last scrape; past SHED_LAG_MS the thread sheds load.' });
ts('Load shedding and in-flight requests', [[`sum by (instance) (rate(bidder_no_bids_total{reason="overloaded",${ex},${inst}}[$__rate_interval]))`, 'shed/s {{instance}}'], [`sum by (instance) (bidder_in_flight_requests{${inst}})`, 'in flight {{instance}}'], [`sum by (instance) (increase(bidder_worker_restarts_total{${inst}}[$__rate_interval]))`, 'worker restarts {{instance}}']], 'short', { description: 'Fast 204s (no-bid reason overloaded) while a bid thread lags or has SHED_MAX_IN_FLIGHT requests in flight.' });
ts('Requests per bid thread', [[`sum by (instance, thread) (rate(bidder_thread_bid_requests_total{${inst}}[$__rate_interval]))`, '{{instance}} {{thread}}']], 'reqps', { description: 'How evenly the kernel spreads connections over the WORKERS threads of each pod.' });
ts('CPU (cores)', [[`rate(process_cpu_seconds_total{job="bidder",${inst}}[$__rate_interval])`, '{{instance}}']], 'short', { description: 'One bidder process uses at most about one core (one event loop).' });
ts('Memory', [[`process_resident_memory_bytes{job="bidder",${inst}}`, 'rss {{instance}}'], [`nodejs_heap_size_used_bytes{job="bidder",${inst}}`, 'heap {{instance}}']], 'bytes');
flush();

row('Bids and notices');
ts('Bids / s per exchange', [[`sum by (exchange) (rate(bidder_bids_total{${ex},${inst}}[$__rate_interval]))`, '{{exchange}}']], 'short');
ts('Bid price quantiles (CPM, base currency)', [
  [`histogram_quantile(0.5, sum by (le) (rate(bidder_bid_price_cpm_bucket{${ex},${inst}}[$__rate_interval])))`, 'median'],
  [`histogram_quantile(0.9, sum by (le) (rate(bidder_bid_price_cpm_bucket{${ex},${inst}}[$__rate_interval])))`, 'p90'],
], 'currencyUSD');
ts('Win rate', [['job:bidder_win_rate:ratio_rate5m', 'wins / bids']], 'percentunit', { min: 0, description: 'notices_total{type="win"} accepted or price_missing, per bidder_bids_total. Exchanges with sendNurl: false report wins as billings only.' });
ts('Notices by type', [[`sum by (type) (rate(notices_total{result=~"accepted|price_missing",${inst}}[$__rate_interval]))`, '{{type}}']], 'short', { stack: true });
ts('Notices refused or duplicate, by result', [[`sum by (result) (rate(notices_total{result!~"accepted|price_missing",${inst}}[$__rate_interval]))`, '{{result}}']], 'short', { stack: true, description: 'bad_signature that persists: bidders that do not share NOTICE_SIGNING_KEYS, or forged URLs.' });
ts('Config', [['max(bidder_campaigns_live{job="bidder"})', 'campaigns live'], ['max(bidder_config_version{job="bidder"})', 'config version'], [`sum by (result) (increase(bidder_config_reloads_total{${inst}}[1h]))`, 'reloads {{result}} (1h)']], 'short');
flush();

row('Event pipeline');
ts('Events stored / s by table', [[`sum by (table) (rate(events_stored_total{${inst}}[$__rate_interval]))`, '{{table}}']], 'short', { stack: true });
ts('Insert errors and dropped events', [[`sum by (table) (rate(events_insert_errors_total{${inst}}[$__rate_interval]))`, 'insert errors {{table}}'], [`sum by (reason) (rate(events_dropped_total{${inst}}[$__rate_interval]))`, 'dropped {{reason}}'], [`sum by (reason) (rate(events_rejected_total{${inst}}[$__rate_interval]))`, 'rejected {{reason}}'], [`sum by (table) (rate(events_set_aside_total{${inst}}[$__rate_interval]))`, 'set aside {{table}}']], 'short', { description: 'Insert errors are retried from the spool; dropped events are lost and must stay 0; rows set aside were refused by the store as malformed and wait in DATA_DIR/spool/refused/.' });
ts('Spool backlog', [[`events_spool_bytes{${inst}}`, '{{instance}}']], 'bytes', { description: 'events_spool_bytes: events on local disk not yet confirmed stored. Grows while ClickHouse is down.' });
ts('Spool segments and buffered rows', [[`events_spool_segments{${inst}}`, 'segments {{instance}}'], [`events_buffered_rows{${inst}}`, 'buffered rows {{instance}}']], 'short');
ts('Spool fdatasync lag p99', [[`histogram_quantile(0.99, sum by (instance, le) (rate(events_spool_sync_lag_seconds_bucket{${inst}}[$__rate_interval])))`, '{{instance}}']], 's', { description: 'Age of the oldest event when its fdatasync completed: what a power loss could lose.' });
ts('Insert latency p99 and batch size', [[`histogram_quantile(0.99, sum by (table, le) (rate(events_insert_duration_seconds_bucket{${inst}}[$__rate_interval])))`, 'p99 {{table}}'], [`sum by (table) (rate(events_insert_batch_rows_sum{${inst}}[$__rate_interval])) / sum by (table) (rate(events_insert_batch_rows_count{${inst}}[$__rate_interval]))`, 'rows/batch {{table}}']], 's');
flush();

row('Audiences');
ts('Segment cache hit ratio', [[`sum(rate(audience_cache_lookups_total{result=~"hit|negative_hit",${inst}}[$__rate_interval])) / sum(rate(audience_cache_lookups_total{${inst}}[$__rate_interval]))`, 'hit (incl. known unknown)'], [`sum(rate(audience_cache_lookups_total{result="hit",${inst}}[$__rate_interval])) / sum(rate(audience_cache_lookups_total{${inst}}[$__rate_interval]))`, 'hit (users with segments)']], 'percentunit', { min: 0, max: 1 });
ts('Segment store lookups by result', [[`sum by (result) (rate(audience_store_lookups_total{${inst}}[$__rate_interval]))`, '{{result}}']], 'short', { stack: true });
ts('Segment store lookup latency p99', [[`histogram_quantile(0.99, sum by (instance, le) (rate(audience_store_lookup_duration_seconds_bucket{${inst}}[$__rate_interval])))`, '{{instance}}']], 's');
ts('Circuit breaker state', [[`audience_store_breaker_state{${inst}}`, '{{instance}}']], 'short', { min: 0, max: 2, description: '0 closed, 1 half-open, 2 open (Redis unavailable: campaigns follow whenUnavailable).' });
ts('Breaker transitions', [[`sum by (state) (increase(audience_store_breaker_transitions_total{${inst}}[$__rate_interval]))`, '{{state}}']], 'short');
ts('Audience upload rows', [[`sum by (result) (rate(audience_upload_rows_total{${inst}}[$__rate_interval]))`, '{{result}}']], 'short', { stack: true });
flush();

row('Money: budgets, pacing, frequency caps');
ts('Daily budget spent (share)', [['campaign:bidder_budget_spent:ratio', '{{campaign}}']], 'percentunit', { min: 0, description: 'bidder_budget_spent / bidder_budget_daily_limit (max across instances). Above 1: overspent (alert BudgetOverspend at 101 %).' });
ts('Spend / s (base currency)', [['campaign:bidder_spend:rate5m', '{{campaign}}']], 'short', { stack: true });
ts('Win rate per campaign', [['campaign:bidder_win_rate:ratio_rate5m', '{{campaign}}']], 'percentunit', { min: 0 });
ts('Pacing: spend over target, participation', [['max by (campaign) (bidder_pacing_ratio)', 'ratio {{campaign}}'], ['max by (campaign) (bidder_pacing_participation)', 'participation {{campaign}}']], 'short', { min: 0 });
ts('Clearing price and clearing / bid (p50)', [[`histogram_quantile(0.5, sum by (le) (rate(bidder_clearing_price_cpm_bucket{${inst}}[$__rate_interval])))`, 'clearing CPM p50'], ['exchange:bidder_clearing_to_bid:p50_15m', 'clearing / bid p50 {{exchange}}']], 'short');
ts('Budget, pacing and cap no-bids', [[`sum by (reason) (rate(bidder_no_bids_total{reason=~"kill_switch|budget_unconfirmed|budget_below_max_bid|budget_exhausted|paced|frequency_capped",${inst}}[$__rate_interval]))`, '{{reason}}'], [`max by (instance) (bidder_budget_unconfirmed_seconds{${inst}})`, 'unconfirmed s {{instance}}']], 'short');
flush();

const dashboard = {
  __inputs: [],
  annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
  description: 'rtb-bidder fleet: requests, latency, bids and notices, event pipeline, audiences, money. Metric names as in the README Metrics table; recording rules from deploy/prometheus/rules.',
  editable: true,
  graphTooltip: 1,
  id: null,
  links: [],
  panels,
  refresh: '10s',
  schemaVersion: 39,
  tags: ['rtb-bidder'],
  templating: { list: [
    { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source', current: { text: 'Prometheus', value: 'prometheus' }, hide: 0, refresh: 1 },
    { name: 'exchange', type: 'query', label: 'Exchange', datasource: ds, query: { query: 'label_values(bidder_bid_requests_total, exchange)', refId: 'exchange' }, definition: 'label_values(bidder_bid_requests_total, exchange)', includeAll: true, multi: true, allValue: '.*', current: { text: 'All', value: '$__all' }, refresh: 2, sort: 1 },
    { name: 'instance', type: 'query', label: 'Instance', datasource: ds, query: { query: 'label_values(bidder_bid_requests_total, instance)', refId: 'instance' }, definition: 'label_values(bidder_bid_requests_total, instance)', includeAll: true, multi: true, allValue: '.*', current: { text: 'All', value: '$__all' }, refresh: 2, sort: 1 },
  ] },
  time: { from: 'now-30m', to: 'now' },
  timepicker: {},
  timezone: 'utc',
  title: 'rtb-bidder',
  uid: 'rtb-bidder',
  version: 1,
};
writeFileSync(process.argv[2], JSON.stringify(dashboard, null, 2) + '\n');

