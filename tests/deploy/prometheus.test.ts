/**
 * deploy/prometheus: the config and rule files pass promtool (Debian's `prometheus` package, installed
 * by tests/run.sh), the rules' unit tests pass (`promtool test rules`), and every metric the rules
 * read is one the bidder exports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { baseMetricName, knownMetricNames, metricsInExpr, ROOT, run, tool } from './support.js';

const DIR = join(ROOT, 'deploy', 'prometheus');
const ruleFiles = readdirSync(join(DIR, 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join('deploy', 'prometheus', 'rules', f));
const testFiles = readdirSync(join(DIR, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join('deploy', 'prometheus', 'tests', f));

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groups = ruleFiles.flatMap((f) => (parse(readFileSync(join(ROOT, f), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups);
const rules = groups.flatMap((g) => g.rules);

/** Recording rule names, for the dashboard test too. */
const RECORDED = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

const promtool = tool('promtool');
if (!promtool) console.warn('promtool not found: skipping promtool checks (tests/run.sh installs Debian\'s prometheus package)');

describe.skipIf(!promtool)('promtool', () => {
  it('check rules', () => {
    expect(ruleFiles.length).toBeGreaterThanOrEqual(2);
    const r = run(promtool!, ['check', 'rules', ...ruleFiles]);
    expect(r.out).not.toMatch(/FAILED/);
    expect(r.status, r.out).toBe(0);
  });

  it('check config (prometheus.yml and the rule files it loads)', () => {
    const r = run(promtool!, ['check', 'config', 'deploy/prometheus/prometheus.yml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: 2 rule files found/);
  });

  it('test rules: the alerts fire and stay quiet as their unit tests say', () => {
    expect(testFiles.length).toBeGreaterThan(0);
    const r = run(promtool!, ['test', 'rules', ...testFiles]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
  });
});

describe('rules', () => {
  const known = knownMetricNames();

  it('read only metrics the bidder exports (or other rules record), plus up', () => {
    const missing: string[] = [];
    for (const r of rules) {
      for (const m of metricsInExpr(r.expr)) {
        const name = baseMetricName(m, known.all);
        if (!known.all.has(name) && !RECORDED.has(name) && name !== 'up') missing.push(`${r.record ?? r.alert}: ${m}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('cover what operators asked for', () => {
    expect([...RECORDED]).toEqual(
      expect.arrayContaining([
        'job:bidder_win_rate:ratio_rate5m',
        'exchange:bidder_timeouts:ratio_rate5m',
        'exchange:bidder_request_duration_seconds:p99_5m',
        'exchange_reason:bidder_no_bids:ratio_rate5m',
        'instance:events_spool_bytes:max',
      ]),
    );
    const alerts = rules.flatMap((r) => (r.alert ? [r.alert] : []));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'BidderTimeoutsHigh',
        'BidderLatencyHigh',
        'EventSpoolGrowing',
        'EventsDropped',
        'AudienceStoreBreakerOpen',
        'NoticeSignaturesRejected',
      ]),
    );
    for (const r of rules.filter((x) => x.alert)) {
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });

  it('every alert has a unit test', () => {
    const tested = new Set<string>();
    for (const f of testFiles) {
      const doc = parse(readFileSync(join(ROOT, f), 'utf8')) as { tests: { alert_rule_test?: { alertname: string }[] }[] };
      for (const t of doc.tests) for (const a of t.alert_rule_test ?? []) tested.add(a.alertname);
    }
    const untested = rules.filter((r) => r.alert && !tested.has(r.alert)).map((r) => r.alert);
    // Simple threshold alerts on one counter may go without; the ones with logic of their own may not.
    expect(untested.filter((a) => !['BidderTimeoutsCritical', 'BidderEventLoopLag', 'EventInsertsFailing', 'AudienceStoreBreakerFlapping', 'ConfigReloadRefused', 'BidderWorkerRestarts'].includes(a!))).toEqual([]);
  });

  it('the scrape config targets both compose bidders on the admin port', () => {
    const cfg = parse(readFileSync(join(DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const bidder = cfg.scrape_configs.find((j) => j.job_name === 'bidder')!;
    expect(bidder.metrics_path ?? '/metrics').toBe('/metrics');
    expect(bidder.static_configs.flatMap((s) => s.targets).sort()).toEqual(['bidder-1:8081', 'bidder-2:8081']);
  });
});
