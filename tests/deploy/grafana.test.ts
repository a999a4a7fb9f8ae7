/**
 * deploy/grafana: the provisioned dashboard parses, every query reads a metric the bidder exports (or a
 * recording rule of deploy/prometheus/rules), and the provisioning files point where compose mounts them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { baseMetricName, knownMetricNames, metricsInExpr, ROOT } from './support.js';

const DIR = join(ROOT, 'deploy', 'grafana');

interface Target {
  expr: string;
  datasource?: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos: { x: number; y: number; w: number; h: number };
}

function recordedRules(): Set<string> {
  const out = new Set<string>();
  for (const f of readdirSync(join(ROOT, 'deploy', 'prometheus', 'rules'))) {
    const doc = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'rules', f), 'utf8')) as { groups: { rules: { record?: string }[] }[] };
    for (const g of doc.groups) for (const r of g.rules) if (r.record) out.add(r.record);
  }
  return out;
}

const dashboards = readdirSync(join(DIR, 'dashboards')).filter((f) => f.endsWith('.json'));

describe('Grafana dashboard', () => {
  it('there is one, and it parses', () => {
    expect(dashboards).toEqual(['bidder.json']);
  });

  const dash = JSON.parse(readFileSync(join(DIR, 'dashboards', 'bidder.json'), 'utf8')) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: { name: string }[] };
  };
  const panels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const targets = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

  it('is the output of generate-dashboard.mjs (edit the script, not the JSON)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
    try {
      const r = spawnSync(process.execPath, [join(DIR, 'generate-dashboard.mjs'), join(dir, 'bidder.json')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(dir, 'bidder.json'), 'utf8')).toBe(readFileSync(join(DIR, 'dashboards', 'bidder.json'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has a stable uid, unique panel ids, and panels within the 24-column grid', () => {
    expect(dash.uid).toBe('rtb-bidder');
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    expect(targets.length).toBeGreaterThan(30);
  });

  it('queries only metrics the bidder exports (README table, src/metrics, prom-client defaults) or recording rules', () => {
    const known = knownMetricNames();
    const recorded = recordedRules();
    const missing: string[] = [];
    for (const t of targets) {
      for (const m of metricsInExpr(t.expr)) {
        const name = baseMetricName(m, known.all);
        if (!known.all.has(name) && !recorded.has(name)) missing.push(`${t.panel}: ${m}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('covers the operator questions: outcomes, no-bid reasons, latency quantiles, bids, win rate, events, cache and breaker', () => {
    const all = targets.map((t) => t.expr).join('\n');
    for (const needle of [
      'bidder_bid_requests_total',
      'bidder_no_bids_total',
      'histogram_quantile(0.99, sum by (le) (rate(bidder_request_duration_seconds_bucket',
      'bidder_bids_total',
      'job:bidder_win_rate:ratio_rate5m',
      'notices_total',
      'events_spool_bytes',
      'events_dropped_total',
      'events_insert_errors_total',
      'audience_cache_lookups_total',
      'audience_store_breaker_state',
    ])
      expect(all, needle).toContain(needle);
  });

  it('every query uses the dashboard data source variable, which provisioning resolves to the Prometheus uid', () => {
    for (const p of panels.filter((x) => x.type !== 'row')) expect(p.datasource?.uid, p.title).toBe('${datasource}');
    for (const t of targets) expect(t.datasource?.uid, t.panel).toBe('${datasource}');
    expect(dash.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'exchange', 'instance']));
  });
});

describe('Grafana provisioning', () => {
  it('the data source is the compose Prometheus, and the dashboards provider reads where compose mounts them', () => {
    const ds = parse(readFileSync(join(DIR, 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(ds.datasources).toEqual([expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' })]);
    const prov = parse(readFileSync(join(DIR, 'provisioning', 'dashboards', 'bidder.yml'), 'utf8')) as {
      providers: { type: string; options: { path: string } }[];
    };
    const compose = parse(readFileSync(join(ROOT, 'deploy', 'docker-compose.yml'), 'utf8')) as { services: Record<string, { volumes?: string[] }> };
    const mounts = compose.services.grafana.volumes ?? [];
    expect(mounts).toContain(`./grafana/dashboards:${prov.providers[0].options.path}:ro`);
    expect(mounts).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});
