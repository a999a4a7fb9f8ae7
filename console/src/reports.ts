/**
 * Reports: a time series of one metric (spend against the plan the daily budgets make, impressions,
 * win rate, CTR, CVR, eCPA) and a table by campaign, creative, exchange or advertiser over the range,
 * with the same report as CSV. An advertiser key's reports cover its own advertisers only (the API
 * scopes them; nothing here filters). Ratios are recomputed from the summed counts, never averaged.
 */
import { html } from './html.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { all, api, ApiError, errorOf, session, type Me } from './api.js';
import type { Campaign, ReportRow } from './campaigns.js';
import { Field, Loading, Notice, Section, count, daysAgo, fieldErrors, money, numberOf, pct, refusal, today } from './ui.js';

type Metric = 'spend' | 'impressions' | 'winRate' | 'ctr' | 'cvr' | 'ecpa' | 'bids' | 'wins' | 'clicks' | 'conversions';

const METRICS: readonly (readonly [Metric, string])[] = [
  ['spend', 'Spend (against plan)'],
  ['impressions', 'Impressions'],
  ['winRate', 'Win rate'],
  ['ctr', 'CTR'],
  ['cvr', 'CVR (conversions per click)'],
  ['ecpa', 'eCPA'],
];

interface Sums {
  bids: number;
  wins: number;
  impressions: number;
  clicks: number;
  conversions: number;
  spend: number;
}

const zero = (): Sums => ({ bids: 0, wins: 0, impressions: 0, clicks: 0, conversions: 0, spend: 0 });
function add(s: Sums, r: ReportRow): void {
  for (const k of Object.keys(s) as (keyof Sums)[]) s[k] += Number(r[k] ?? 0);
}
const div = (a: number, b: number) => (b > 0 ? a / b : null);

export function metricOf(s: Sums, m: Metric): number | null {
  switch (m) {
    case 'winRate':
      return div(s.wins, s.bids);
    case 'ctr':
      return div(s.clicks, s.impressions);
    case 'cvr':
      return div(s.conversions, s.clicks);
    case 'ecpa':
      return div(s.spend, s.conversions);
    default:
      return s[m];
  }
}

const format = (m: Metric, v: number | null) => (m === 'winRate' || m === 'ctr' || m === 'cvr' ? pct(v, 2) : m === 'spend' || m === 'ecpa' ? money(v) : count(v));

function Chart({ xs, series, label, grain }: { grain: 'day' | 'hour'; xs: number[]; series: { label: string; values: (number | null)[]; color: string; dash?: number[] }[]; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(320, el.current.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 260,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: false }))],
        // Reports are in UTC: the axis says so rather than the browser's zone.
        axes: [
          {
            values: (_u: uPlot, splits: number[]) =>
              splits.map((t) => (grain === 'day' ? new Date(t * 1000).toISOString().slice(5, 10) : new Date(t * 1000).toISOString().slice(5, 16).replace('T', ' '))),
            ...(grain === 'day' && xs.length <= 31 ? { splits: () => xs } : {}),
          },
          { size: 70 },
        ],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      [xs, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el.current,
    );
    return () => plot.destroy();
  }, [xs, series]);
  return html`<figure class="chart">
    <div ref=${el} role="img" aria-label=${label}></div>
    <figcaption class="muted small">${label}</figcaption>
  </figure>`;
}

/** Every bucket from `from` to `to` (dates, inclusive) at the grain, as Unix seconds. */
function buckets(from: string, to: string, grain: 'day' | 'hour'): number[] {
  const step = grain === 'day' ? 86400 : 3600;
  const start = Date.parse(`${from}T00:00:00Z`) / 1000;
  const end = Date.parse(`${to}T00:00:00Z`) / 1000 + 86400;
  const out: number[] = [];
  for (let t = start; t < end && out.length < 24 * 400; t += step) out.push(t);
  return out;
}

/** The tables the report offers: each one's API dimensions (the first names the row) and column headers. */
const TABLES: Record<string, { label: string; dims: readonly string[]; heads: readonly string[] }> = {
  campaign: { label: 'Campaign', dims: ['campaign'], heads: ['Campaign'] },
  creative: { label: 'Creative', dims: ['creative'], heads: ['Creative'] },
  exchange: { label: 'Exchange', dims: ['exchange'], heads: ['Exchange'] },
  placement: { label: 'Placement (site domain or app bundle)', dims: ['placement', 'placementType'], heads: ['Placement', 'Type'] },
  publisher: { label: 'Publisher', dims: ['publisher'], heads: ['Publisher'] },
  deal: { label: 'Deal', dims: ['deal'], heads: ['Deal'] },
  advertiser: { label: 'Advertiser', dims: ['advertiser'], heads: ['Advertiser'] },
};

const BLOCK_METRICS = [
  ['ctr', 'Lowest CTR'],
  ['cvr', 'Lowest CVR'],
  ['ecpa', 'Highest eCPA'],
  ['win_rate', 'Lowest win rate'],
] as const;

interface BlockResult {
  added: { placement: string; placementType: string; impressions: number; value: number | null }[];
  alreadyBlocked: string[];
}

/**
 * "Block the worst placements": the campaign's worst placements of the range go into its block lists
 * (POST /campaigns/{id}/block-placements, the same write as an edit: roles, tenancy, audit).
 */
function BlockWorst({ campaigns, from, to }: { campaigns: Campaign[]; from: string; to: string }) {
  const [campaign, setCampaign] = useState(campaigns[0]?.id ?? '');
  const [metric, setMetric] = useState('ctr');
  const [worst, setWorst] = useState('5');
  const [minImpressions, setMin] = useState('100');
  const [error, setError] = useState<ApiError | null>(null);
  const [result, setResult] = useState<BlockResult | null>(null);
  const [busy, setBusy] = useState(false);
  const errors = fieldErrors(error);
  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    setBusy(true);
    try {
      setResult(
        await api<BlockResult>('POST', `/campaigns/${encodeURIComponent(campaign)}/block-placements`, {
          from,
          to,
          metric,
          worst: numberOf(worst),
          minImpressions: numberOf(minImpressions) ?? 0,
        }),
      );
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  if (!campaigns.length) return null;
  const ok =
    result &&
    (result.added.length
      ? `Blocked ${result.added.length} placement${result.added.length === 1 ? '' : 's'}: ${result.added.map((p) => p.placement).join(', ')}.${result.alreadyBlocked.length ? ` Already blocked: ${result.alreadyBlocked.join(', ')}.` : ''}`
      : result.alreadyBlocked.length
        ? `Nothing new to block; already blocked: ${result.alreadyBlocked.join(', ')}.`
        : 'No placement of this campaign has enough impressions in the range.');
  return html`<form onSubmit=${send} novalidate class="block-worst">
    <h3>Block the worst placements</h3>
    <p class="muted small">Adds the campaign's worst sites and apps of ${from} to ${to} to its domain and bundle block lists (an edit of the campaign, in its history).</p>
    <div class="grid">
      <${Field} label="Campaign to block for" value=${campaign} onInput=${setCampaign} options=${campaigns.map((c) => [c.id, c.name ?? c.id] as const)} />
      <${Field} label="Worst by" path="/metric" errors=${errors} value=${metric} onInput=${setMetric} options=${BLOCK_METRICS} />
      <${Field} label="How many" path="/worst" errors=${errors} value=${worst} onInput=${setWorst} />
      <${Field} label="Minimum impressions" path="/minImpressions" errors=${errors} value=${minImpressions} onInput=${setMin} />
    </div>
    <${Notice} error=${refusal(error, 'campaign')} ok=${ok} />
    <button type="submit" disabled=${busy || !campaign}>${busy ? 'Blocking…' : 'Block worst placements'}</button>
  </form>`;
}

const bucketOf = (r: ReportRow) => Date.parse(r.day ? `${r.day}T00:00:00Z` : String(r.hour)) / 1000;

async function downloadCsv(path: string, filename: string): Promise<void> {
  // The key goes in a header, never in a URL: fetch the CSV, then hand the browser a blob.
  const res = await fetch(`/api/v1${path}`, { headers: { accept: 'text/csv', authorization: `Bearer ${session.key()}` } });
  if (!res.ok) throw await errorOf(res);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function Reports({ me }: { me: Me }) {
  const [from, setFrom] = useState(daysAgo(6));
  const [to, setTo] = useState(today());
  const [grain, setGrain] = useState<'day' | 'hour'>('day');
  const [by, setBy] = useState('campaign');
  const [metric, setMetric] = useState<Metric>('spend');
  const [asked, setAsked] = useState({ from, to, grain, by });
  const [data, setData] = useState<{ series: ReportRow[]; table: ReportRow[]; campaigns: Campaign[] } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const [csvError, setCsvError] = useState<ApiError | null>(null);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    const q = (g: string) => `/reports?groupBy=${g}&from=${asked.from}&to=${asked.to}`;
    Promise.all([
      api<{ rows: ReportRow[] }>('GET', q(`campaign,${asked.grain}`)),
      api<{ rows: ReportRow[] }>('GET', q(`${TABLES[asked.by].dims.join(',')},day`)),
      all<Campaign>('/campaigns'),
    ]).then(
      ([s, t, campaigns]) => live && (setData({ series: s.rows, table: t.rows, campaigns }), setLoading(false)),
      (e: ApiError) => live && (setError(e), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [asked]);

  const run = (e: Event) => {
    e.preventDefault();
    setAsked({ from, to, grain, by });
  };

  let chart = null;
  let table = null;
  if (data) {
    const xs = buckets(asked.from, asked.to, asked.grain);
    const per = new Map<number, Sums>(xs.map((x) => [x, zero()]));
    for (const r of data.series) {
      const s = per.get(bucketOf(r));
      if (s) add(s, r);
    }
    const values = xs.map((x) => metricOf(per.get(x)!, metric));
    const series = [{ label: METRICS.find(([m]) => m === metric)![1], values, color: '#2457c5' }];
    if (metric === 'spend') {
      // The plan: what the daily budgets of the campaigns in view allow per bucket.
      const daily = data.campaigns.reduce((s, c) => s + (c.budget?.daily ?? 0), 0);
      if (daily > 0) series.push({ label: 'Plan (daily budgets)', values: xs.map(() => (asked.grain === 'day' ? daily : daily / 24)), color: '#9a5b00', dash: [6, 4] } as never);
    }
    const total = zero();
    for (const r of data.series) add(total, r);
    chart = html`<div class="kpis">
        ${METRICS.map(([m, l]) => html`<div class="kpi"><span class="muted small">${l.replace(/ \(.*\)/, '')}</span><strong>${format(m, metricOf(total, m))}</strong></div>`)}
      </div>
      <${Chart} grain=${asked.grain} xs=${xs} series=${series} label=${`${series[0].label} per ${asked.grain} (UTC), ${asked.from} to ${asked.to}`} />`;

    const spec = TABLES[asked.by];
    const byKey = new Map<string, { keys: string[]; sums: Sums }>();
    for (const r of data.table) {
      const keys = spec.dims.map((d) => String(r[d] ?? ''));
      const k = keys.join('\u0000');
      if (!byKey.has(k)) byKey.set(k, { keys, sums: zero() });
      add(byKey.get(k)!.sums, r);
    }
    const rows = [...byKey.values()].sort((a, b) => b.sums.spend - a.sums.spend);
    table = rows.length
      ? html`<div class="table-wrap"><table>
          <caption class="sr-only">Report by ${asked.by}</caption>
          <thead>
            <tr>
              ${spec.heads.map((h) => html`<th scope="col">${h}</th>`)}
              <th scope="col" class="num">Bids</th><th scope="col" class="num">Wins</th><th scope="col" class="num">Win rate</th>
              <th scope="col" class="num">Impressions</th><th scope="col" class="num">Clicks</th><th scope="col" class="num">CTR</th>
              <th scope="col" class="num">Conversions</th><th scope="col" class="num">Spend</th><th scope="col" class="num">eCPA</th>
            </tr>
          </thead>
          <tbody>
            ${rows.map(
              ({ keys: [k, ...more], sums: s }) => html`<tr>
                <th scope="row">${k || html`<span class="muted">${asked.by === 'campaign' || asked.by === 'creative' || asked.by === 'advertiser' ? '(none: requests without a bid)' : '(none)'}</span>`}</th>
                ${more.map((m) => html`<td>${m}</td>`)}
                <td class="num">${count(s.bids)}</td><td class="num">${count(s.wins)}</td><td class="num">${pct(metricOf(s, 'winRate'))}</td>
                <td class="num">${count(s.impressions)}</td><td class="num">${count(s.clicks)}</td><td class="num">${pct(metricOf(s, 'ctr'), 2)}</td>
                <td class="num">${count(s.conversions)}</td><td class="num">${money(s.spend)}</td><td class="num">${money(metricOf(s, 'ecpa'))}</td>
              </tr>`,
            )}
          </tbody>
        </table></div>`
      : html`<p class="empty">No events in this range.</p>`;
  }

  const dims: [string, string][] = Object.entries(TABLES)
    .filter(([k]) => k !== 'advertiser' || me.role === 'admin' || (me.advertiserIds?.length ?? 0) !== 1)
    .map(([k, t]) => [k, t.label]);
  return html`<h1 tabindex="-1">Reports</h1>
    <form class="card filters" onSubmit=${run}>
      <div class="grid">
        <${Field} label="From" type="date" value=${from} onInput=${setFrom} />
        <${Field} label="To (inclusive)" type="date" value=${to} onInput=${setTo} />
        <${Field} label="Time grain" value=${grain} onInput=${(v: string) => setGrain(v as 'day' | 'hour')} options=${[['day', 'Day'], ['hour', 'Hour']]} />
        <${Field} label="Table by" value=${by} onInput=${setBy} options=${dims} />
        <${Field} label="Chart" value=${metric} onInput=${(v: string) => setMetric(v as Metric)} options=${METRICS} />
      </div>
      <button class="primary" type="submit" disabled=${loading} aria-busy=${loading ? 'true' : undefined}>Show</button>
    </form>
    <${Notice} error=${error} />
    ${loading && !data ? html`<${Loading} what="the report" />` : ''}
    ${data && html`<${Section} title="Over time">${chart}<//>`}
    ${data &&
    html`<${Section}
      title=${`By ${asked.by}`}
      actions=${html`<button
        type="button"
        onClick=${() => {
          setCsvError(null);
          downloadCsv(`/reports?groupBy=${TABLES[asked.by].dims.join(',')},${asked.grain}&from=${asked.from}&to=${asked.to}`, `report-${asked.by}-${asked.from}-${asked.to}.csv`).catch(setCsvError);
        }}
      >
        Download CSV
      </button>`}
    >
      <${Notice} error=${csvError} />
      ${table}
      ${asked.by === 'placement' && me.role !== 'read-only' && html`<${BlockWorst} campaigns=${data.campaigns} from=${asked.from} to=${asked.to} />`}
    <//>`}`;
}
