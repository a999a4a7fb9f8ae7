/**
 * The benchmark report: the JSON has the contract keys (qps, p50_ms, p99_ms, ceiling_qps,
 * ratio_to_ceiling, campaigns, users, status_counts) with sensible types, the Markdown names the
 * figures, and the SVG plot is well-formed (balanced tags, one root, no NaN coordinates).
 * Also the latency histogram the driver records into.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatencyHistogram } from '../../bench/histogram.js';
import { phaseJson, renderSvg, writeReport, type BenchReport, type BidderRun, type PhaseJson } from '../../bench/report.js';
import { newStatusCounts, type PhaseResult } from '../../bench/driver.js';
import { sumCounter } from '../../bench/processes.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function phase(name: string, mode: 'open' | 'closed', rate: number | null, medianMs: number, n = 2_000): PhaseResult {
  const h = new LatencyHistogram();
  for (let i = 0; i < n; i++) h.recordMs(medianMs * Math.exp(((i % 100) - 50) / 40));
  const status = newStatusCounts();
  status['200'] = Math.round(n * 0.3);
  status['204'] = n - status['200'];
  return {
    name,
    mode,
    target_rate: rate,
    connections: 32,
    duration_s: 2,
    requests: n,
    qps: rate ?? 5_000,
    latency: h.summary(),
    status_counts: status,
    bid_rate: 0.3,
    deadline_misses_client: 0,
    series: [[1, n / 2, medianMs * 3], [2, n / 2, medianMs * 3]],
    histogram: h,
  };
}

function run(label: string): BidderRun {
  const ramp: PhaseJson[] = [200, 800, 3_200].map((r, i) => phaseJson(phase(`ramp-${i + 1}`, 'open', r, 0.3 * (i + 1)), { ok: i < 2, bidder_timeouts: 0, rss_peak_mb: 400 }));
  const fixed = phaseJson(phase('fixed', 'open', 1_000, 0.4), { bidder_timeouts: 0, rss_peak_mb: 410 });
  const saturation = phaseJson(phase('saturation', 'closed', null, 6), { bidder_timeouts: 3, rss_peak_mb: 420 });
  const status = newStatusCounts();
  status['200'] = 3_000;
  status['204'] = 7_000;
  return {
    label,
    rev: 'abc1234',
    qps: 5_000,
    answered_qps: 5_100,
    p50_ms: 6,
    p90_ms: 9,
    p99_ms: 20,
    max_ms: 40,
    ratio_to_ceiling: 0.25,
    sustainable_qps: 800,
    status_counts: status,
    deadline_misses: { bidder_timeouts: 3, bidder_shed: 0, client_late: 1 },
    rss_mb: { after_setup: 400, peak: 420, end: 415 },
    bid_rate: 0.3,
    setup: { calibration: { floor_scale: 2 } },
    phases: { fixed, ramp, saturation },
  };
}

function report(withCompare: boolean): BenchReport {
  const main = run('working tree');
  return {
    qps: main.qps,
    p50_ms: main.phases.fixed.latency.p50_ms,
    p99_ms: main.phases.fixed.latency.p99_ms,
    ceiling_qps: 20_000,
    ratio_to_ceiling: 0.25,
    campaigns: 1_000,
    users: 1_000_000,
    status_counts: main.status_counts,
    p90_ms: 1,
    max_ms: 2,
    sustainable_qps: 800,
    fixed_rate: { rate: 1_000, qps: 1_000, p50_ms: 0.4, p90_ms: 0.6, p99_ms: 1, max_ms: 2 },
    deadline_misses: main.deadline_misses,
    rss_mb: main.rss_mb,
    bid_rate: 0.3,
    schema: 1,
    started_at: '2026-01-01T00:00:00.000Z',
    finished_at: '2026-01-01T00:01:30.000Z',
    duration_s: 90,
    git: { rev: 'abc1234', dirty: true },
    machine: { cpus: 2, cpu_model: 'test <cpu> & "co"', node: 'v20', platform: 'linux x64', mem_mb: 4096, loadavg_start: [1, 1, 1], loadavg_end: [1, 1, 1] },
    options: { segment_store: 'memory', event_store: 'chdb' },
    scenario: { requests_distinct: 3_000 },
    ceiling: phaseJson(phase('ceiling', 'closed', null, 1.5)),
    main,
    ...(withCompare ? { compare: run('rev HEAD~1') } : {}),
    notes: ['a note'],
  };
}

/** A small XML well-formedness check: balanced tags, one root element, quoted attributes. */
function checkXml(xml: string): { root: string; elements: number } {
  const stack: string[] = [];
  let root = '';
  let elements = 0;
  const body = xml.replace(/<\?xml[^>]*\?>/, '');
  const re = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|>/g;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(body))) {
    if (m[0] === '<' || m[0] === '>') throw new Error(`stray ${m[0]} at ${m.index}: ${body.slice(m.index - 40, m.index + 40)}`);
    const text = body.slice(last, m.index);
    if (/[<>]/.test(text) || /&(?!amp;|lt;|gt;|quot;|#\d+;)/.test(text)) throw new Error(`bad text: ${text}`);
    last = re.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      if (stack.pop() !== name) throw new Error(`unbalanced </${name}>`);
    } else {
      elements++;
      if (!stack.length) {
        if (root) throw new Error('two roots');
        root = name;
      }
      if (!selfClosing) stack.push(name);
    }
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(',')}`);
  return { root, elements };
}

describe('report', () => {
  it('writes JSON with the contract keys, Markdown and a well-formed SVG (and latest.*)', async () => {
    const out = await mkdtemp(join(tmpdir(), 'bench-report-'));
    dirs.push(out);
    const files = await writeReport(report(false), out, 'stamp');
    const json = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8'));
    for (const key of ['qps', 'p50_ms', 'p99_ms', 'ceiling_qps', 'ratio_to_ceiling', 'campaigns', 'users']) expect(typeof json[key], key).toBe('number');
    expect(json.status_counts).toMatchObject({ '200': 3_000, '204': 7_000, '4xx': 0, '5xx': 0 });
    expect(json.main.phases.ramp).toHaveLength(3);
    expect(json.ceiling.histogram_ms.length).toBeGreaterThan(5);
    expect(await readFile(files.json, 'utf8')).toBe(await readFile(join(out, 'latest.json'), 'utf8'));

    const md = await readFile(join(out, 'latest.md'), 'utf8');
    expect(md).toContain('ratio to the ceiling');
    expect(md).toContain('![latency](latest.svg)');
    expect(await readFile(files.md, 'utf8')).toContain('![latency](stamp.svg)');

    const svg = await readFile(join(out, 'latest.svg'), 'utf8');
    const { root, elements } = checkXml(svg);
    expect(root).toBe('svg');
    expect(elements).toBeGreaterThan(50);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    expect(svg).toContain('p99');
  });

  it('plots a comparison with another revision', () => {
    const svg = renderSvg(report(true));
    checkXml(svg);
    expect(svg).toContain('rev HEAD~1');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('stays well-formed with no data', () => {
    const r = report(false);
    r.main.phases.ramp = [];
    r.ceiling.histogram_ms = [];
    r.main.phases.fixed.histogram_ms = [];
    r.main.phases.saturation.histogram_ms = [];
    const svg = renderSvg(r);
    checkXml(svg);
    expect(svg).toContain('no data');
  });
});

describe('latency histogram', () => {
  it('gives percentiles within a few percent, the exact max, and merges', () => {
    const h = new LatencyHistogram();
    const values = Array.from({ length: 100_000 }, (_, i) => 0.05 + (i / 100_000) * 50); // 0.05 .. 50 ms, uniform
    for (const v of values) h.recordMs(v);
    for (const p of [50, 90, 99]) {
      const exact = values[Math.ceil((p / 100) * values.length) - 1];
      expect(Math.abs(h.percentileMs(p) - exact) / exact).toBeLessThan(0.07);
    }
    expect(h.percentileMs(100)).toBeCloseTo(values[values.length - 1], 3);
    const other = new LatencyHistogram();
    other.recordMs(500);
    h.merge(other);
    expect(h.count).toBe(100_001);
    expect(h.summary().max_ms).toBe(500);
    expect(h.buckets().reduce((s, b) => s + b[2], 0)).toBe(100_001);
  });
});

describe('metrics parsing', () => {
  it('sums a counter over the series that match', () => {
    const text = [
      '# HELP bidder_bid_requests_total x',
      'bidder_bid_requests_total{exchange="default",outcome="timeout"} 3',
      'bidder_bid_requests_total{exchange="eu-25",outcome="timeout"} 4',
      'bidder_bid_requests_total{exchange="default",outcome="bid"} 100',
      'bidder_bid_requests_total_other{outcome="timeout"} 1000',
    ].join('\n');
    expect(sumCounter(text, 'bidder_bid_requests_total', { outcome: 'timeout' })).toBe(7);
    expect(sumCounter(text, 'bidder_bid_requests_total')).toBe(107);
  });
});
