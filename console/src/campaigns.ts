/**
 * Campaigns: the list (status, spend today, pacing, win rate from today's report), and the form
 * that creates and edits one, with its targeting. The API validates against its own schema and
 * answers every field error at once; each is shown beside its field, and what was typed stays.
 */
import { html } from './html.js';
import { patchOf } from './campaign-patch.js';
import { useState } from 'preact/hooks';
import { all, api, ApiError, type Me } from './api.js';
import { Checks, Field, actorName, type Actor, Loading, Notice, Section, Status, fieldErrors, listOf, money, numberOf, pct, refusal, today, useLoad, when } from './ui.js';

export interface Campaign {
  id: string;
  advertiserId: string;
  name?: string;
  status: 'active' | 'paused';
  currency?: string;
  start?: string;
  end?: string;
  bid: { base: number; max: number };
  budget?: { daily?: number; total?: number; pacing?: 'even' | 'asap'; [k: string]: unknown };
  adomain?: string[];
  targeting?: Record<string, unknown>;
  version: number;
  [k: string]: unknown;
}

interface Advertiser {
  id: string;
  name: string;
}

export interface ReportRow {
  campaign?: string;
  creative?: string;
  exchange?: string;
  advertiser?: string;
  day?: string;
  hour?: string;
  [metric: string]: number | string | null | undefined;
}

/** Today's numbers per campaign (an advertiser key's report covers its own campaigns only). */
async function todayByCampaign(): Promise<Map<string, ReportRow>> {
  const d = today();
  try {
    const r = await api<{ rows: ReportRow[] }>('GET', `/reports?groupBy=campaign,day&from=${d}&to=${d}`);
    return new Map(r.rows.map((row) => [row.campaign ?? '', row]));
  } catch {
    return new Map(); // no event store: the list still works, without numbers
  }
}

/** Spend today against what an even pace would have spent by now. */
export function pacing(c: Campaign, spend: number, now = new Date()): number | null {
  const daily = c.budget?.daily;
  if (!daily) return null;
  const elapsed = (now.getTime() - Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())) / 86_400_000;
  const plan = c.budget?.pacing === 'asap' ? daily : daily * Math.max(elapsed, 1 / 96);
  return spend / plan;
}

export function CampaignList({ me }: { me: Me }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const list = useLoad(() => Promise.all([all<Campaign>('/campaigns'), todayByCampaign()]));
  const toggle = async (c: Campaign) => {
    setBusy(c.id);
    setError(null);
    try {
      await api('POST', `/campaigns/${encodeURIComponent(c.id)}/${c.status === 'active' ? 'pause' : 'resume'}`);
      list.reload();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(null);
    }
  };
  const mayWrite = me.role !== 'read-only';
  return html`<h1 tabindex="-1">Campaigns</h1>
    <${Section} title="All campaigns" actions=${mayWrite && html`<a class="button primary" href="#/campaigns/new">New campaign</a>`}>
      <${Notice} error=${list.error ?? error} />
      ${list.loading && !list.data ? html`<${Loading} what="campaigns" />` : ''}
      ${list.data &&
      (list.data[0].length === 0
        ? html`<p class="empty">No campaigns yet.${mayWrite ? html` <a href="#/campaigns/new">Create the first one</a>.` : ''}</p>`
        : html`<div class="table-wrap"><table>
            <caption class="sr-only">Campaigns, with today's numbers</caption>
            <thead>
              <tr>
                <th scope="col">Campaign</th>
                ${me.advertiserIds?.length === 1 ? '' : html`<th scope="col">Advertiser</th>`}
                <th scope="col">Status</th>
                <th scope="col" class="num">Bid (base / max CPM)</th>
                <th scope="col" class="num">Spend today</th>
                <th scope="col" class="num">Pacing</th>
                <th scope="col" class="num">Win rate</th>
                <th scope="col"><span class="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              ${list.data[0].map((c) => {
                const row = list.data![1].get(c.id);
                const spend = (row?.spend as number | undefined) ?? 0;
                const p = pacing(c, spend);
                return html`<tr>
                  <td><a href=${`#/campaigns/${encodeURIComponent(c.id)}`}>${c.name ?? c.id}</a><div class="muted small">${c.id}</div></td>
                  ${me.advertiserIds?.length === 1 ? '' : html`<td>${c.advertiserId}</td>`}
                  <td><${Status} value=${c.status} /></td>
                  <td class="num">${money(c.bid.base)} / ${money(c.bid.max)}</td>
                  <td class="num">${money(spend, c.currency)}</td>
                  <td class="num">${p === null ? html`<span class="muted">no daily budget</span>` : html`<span class=${p > 1.2 ? 'warn' : ''}>${pct(p, 0)} of plan</span>`}</td>
                  <td class="num">${pct(row?.winRate as number | null | undefined)}</td>
                  <td>
                    ${mayWrite &&
                    html`<button type="button" disabled=${busy === c.id} onClick=${() => toggle(c)} aria-label=${`${c.status === 'active' ? 'Pause' : 'Resume'} ${c.name ?? c.id}`}>
                      ${c.status === 'active' ? 'Pause' : 'Resume'}
                    </button>`}
                  </td>
                </tr>`;
              })}
            </tbody>
          </table></div>`)}
    <//>`;
}

/** The form's state: every field as typed (strings), so nothing is lost on a refused save. */
interface Form {
  id: string;
  advertiserId: string;
  name: string;
  status: string;
  base: string;
  max: string;
  daily: string;
  total: string;
  pacing: string;
  start: string;
  end: string;
  adomain: string;
  channels: string[];
  countries: string;
  regions: string;
  languages: string;
  deviceTypes: string[];
  os: string;
  domainsAllow: string;
  domainsBlock: string;
  bundlesAllow: string;
  bundlesBlock: string;
  publishersAllow: string;
  publishersBlock: string;
  exchangesAllow: string;
  exchangesBlock: string;
  deviceMakes: string;
  deviceModels: string;
  carriers: string;
  connectionTypes: string[];
  videoPlacements: string[];
  goalType: string;
  goalTarget: string;
  goalExplore: string;
  /** The rest of the targeting, as JSON. */
  more: string;
}

/** The targeting rules with a field of their own; the rest of the API's targeting is edited as JSON. */
const STRUCTURED = [
  'channels',
  'countries',
  'regions',
  'languages',
  'deviceTypes',
  'os',
  'domains',
  'bundles',
  'publishers',
  'exchanges',
  'deviceMakes',
  'deviceModels',
  'carriers',
  'connectionTypes',
  'videoPlacements',
];
/** OpenRTB `device.connectiontype`. */
const CONNECTION_TYPES = [
  ['0', 'Unknown'],
  ['1', 'Ethernet'],
  ['2', 'Wi-Fi'],
  ['3', 'Cellular (unknown generation)'],
  ['4', '2G'],
  ['5', '3G'],
  ['6', '4G'],
  ['7', '5G'],
] as const;
/** OpenRTB 2.6 `imp.video.plcmt`. */
const VIDEO_PLACEMENTS = [
  ['1', 'Instream'],
  ['2', 'Accompanying content'],
  ['3', 'Interstitial'],
  ['4', 'No content (standalone)'],
] as const;
const GOALS = [
  ['', 'None: bid the base CPM'],
  ['cpm', 'CPM'],
  ['cpc', 'Cost per click'],
  ['cpa', 'Cost per conversion'],
  ['roas', 'Return on ad spend'],
] as const;
const DEVICE_TYPES = [
  ['1', 'Mobile/tablet'],
  ['2', 'Personal computer'],
  ['3', 'Connected TV'],
  ['4', 'Phone'],
  ['5', 'Tablet'],
  ['6', 'Connected device'],
  ['7', 'Set-top box'],
  ['8', 'Out-of-home'],
] as const;

/** The targeting errors no structured field shows (they belong to the JSON field). */
function otherTargeting(e: unknown) {
  const errors = e instanceof ApiError ? e.errors : [];
  return errors
    .filter((x) => x.path === '/targeting' || (x.path.startsWith('/targeting/') && !STRUCTURED.includes(x.path.split('/')[2])))
    .map((x) => ({ ...x, message: `${x.path.slice('/targeting'.length) || 'targeting'}: ${x.message}` }));
}

const joined = (v: unknown) => (Array.isArray(v) ? v.join(', ') : '');

function formOf(c: Campaign | undefined, advertiserId: string): Form {
  const t = (c?.targeting ?? {}) as Record<string, any>;
  const rest = Object.fromEntries(Object.entries(t).filter(([k]) => !STRUCTURED.includes(k)));
  const ab = (k: string) => (t[k] ?? {}) as { allow?: string[]; block?: string[] };
  const domains = ab('domains');
  const goal = (c?.goal ?? {}) as { type?: string; target?: number; explore?: number };
  return {
    id: c?.id ?? '',
    advertiserId: c?.advertiserId ?? advertiserId,
    name: c?.name ?? '',
    status: c?.status ?? 'active',
    base: c ? String(c.bid.base) : '',
    max: c ? String(c.bid.max) : '',
    daily: c?.budget?.daily !== undefined ? String(c.budget.daily) : '',
    total: c?.budget?.total !== undefined ? String(c.budget.total) : '',
    pacing: c?.budget?.pacing ?? 'even',
    start: c?.start ?? '',
    end: c?.end ?? '',
    adomain: joined(c?.adomain),
    channels: (t.channels as string[] | undefined) ?? [],
    countries: joined(t.countries),
    regions: joined(t.regions),
    languages: joined(t.languages),
    deviceTypes: ((t.deviceTypes as number[] | undefined) ?? []).map(String),
    os: joined(t.os),
    domainsAllow: joined(domains.allow),
    domainsBlock: joined(domains.block),
    bundlesAllow: joined(ab('bundles').allow),
    bundlesBlock: joined(ab('bundles').block),
    publishersAllow: joined(ab('publishers').allow),
    publishersBlock: joined(ab('publishers').block),
    exchangesAllow: joined(ab('exchanges').allow),
    exchangesBlock: joined(ab('exchanges').block),
    deviceMakes: joined(t.deviceMakes),
    deviceModels: joined(t.deviceModels),
    carriers: joined(t.carriers),
    connectionTypes: ((t.connectionTypes as number[] | undefined) ?? []).map(String),
    videoPlacements: ((t.videoPlacements as number[] | undefined) ?? []).map(String),
    goalType: goal.type ?? '',
    goalTarget: goal.target !== undefined ? String(goal.target) : '',
    goalExplore: goal.explore !== undefined ? String(goal.explore) : '',
    more: Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '',
  };
}

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** The targeting object the form describes; `more` that is not JSON is an error of its own. */
function targetingOf(f: Form): { targeting?: Record<string, unknown>; error?: string } {
  let more: Record<string, unknown> = {};
  if (f.more.trim()) {
    try {
      more = JSON.parse(f.more);
    } catch (e) {
      return { error: `is not valid JSON: ${(e as Error).message}` };
    }
    if (typeof more !== 'object' || more === null || Array.isArray(more)) return { error: 'must be a JSON object, like {"cities": ["Paris"]}' };
  }
  const allowBlock = (allow: string, block: string) => {
    const a = listOf(allow);
    const b = listOf(block);
    return a || b ? defined({ allow: a, block: b }) : undefined;
  };
  const numbers = (v: string[]) => (v.length ? v.map(Number).sort((a, b) => a - b) : undefined);
  const t = defined({
    ...more,
    channels: f.channels.length ? f.channels : undefined,
    countries: listOf(f.countries),
    regions: listOf(f.regions),
    languages: listOf(f.languages),
    deviceTypes: numbers(f.deviceTypes),
    os: listOf(f.os),
    deviceMakes: listOf(f.deviceMakes),
    deviceModels: listOf(f.deviceModels),
    carriers: listOf(f.carriers),
    connectionTypes: numbers(f.connectionTypes),
    videoPlacements: numbers(f.videoPlacements),
    exchanges: allowBlock(f.exchangesAllow, f.exchangesBlock),
    domains: allowBlock(f.domainsAllow, f.domainsBlock),
    bundles: allowBlock(f.bundlesAllow, f.bundlesBlock),
    publishers: allowBlock(f.publishersAllow, f.publishersBlock),
  });
  return { targeting: Object.keys(t).length ? t : undefined };
}

function bodyOf(f: Form, targeting: Record<string, unknown> | undefined, creating: boolean): Record<string, unknown> {
  const budget = defined({ daily: numberOf(f.daily), total: numberOf(f.total), pacing: f.daily || f.total ? f.pacing : undefined });
  return defined({
    ...(creating ? { id: f.id.trim() || undefined, advertiserId: f.advertiserId || undefined, status: f.status } : {}),
    name: f.name.trim() || undefined,
    bid: { base: numberOf(f.base), max: numberOf(f.max) },
    budget: Object.keys(budget).length ? budget : undefined,
    start: f.start || undefined,
    end: f.end || undefined,
    adomain: listOf(f.adomain),
    targeting,
    goal: f.goalType ? defined({ type: f.goalType, target: numberOf(f.goalTarget), explore: numberOf(f.goalExplore) }) : undefined,
  });
}

interface AuditEntry {
  seq: number;
  at: string;
  actor: Actor;
  action: string;
  kind: string;
  id: string;
}

function History({ id }: { id: string }) {
  const h = useLoad(() => api<{ items: AuditEntry[] }>('GET', `/campaigns/${encodeURIComponent(id)}/history?limit=20`), [id]);
  return html`<${Section} title="History">
    <${Notice} error=${h.error} />
    ${h.data &&
    html`<ol class="history">
      ${h.data.items.map((e) => html`<li><time>${when(e.at)}</time> <strong>${e.action}</strong> by ${actorName(e.actor)}</li>`)}
    </ol>`}
  <//>`;
}

export function CampaignEdit({ me, id }: { me: Me; id?: string }) {
  const loaded = useLoad(
    () => Promise.all([id ? api<Campaign>('GET', `/campaigns/${encodeURIComponent(id)}`) : Promise.resolve(undefined), all<Advertiser>('/advertisers')]),
    [id],
  );
  // Said by the form that saved, shown by the fresh form the new revision makes.
  const [saved, setSaved] = useState<string | null>(null);
  if (loaded.error) return html`<h1 tabindex="-1">Campaign</h1><${Notice} error=${loaded.error} />`;
  if (!loaded.data) return html`<h1 tabindex="-1">Campaign</h1><${Loading} what="the campaign" />`;
  const [campaign, advertisers] = loaded.data;
  return html`<${CampaignForm} key=${campaign?.version ?? 'new'} me=${me} campaign=${campaign} advertisers=${advertisers} saved=${saved} onSaved=${() => (setSaved('Saved.'), loaded.reload())} />`;
}

function CampaignForm({ me, campaign, advertisers, saved, onSaved }: { me: Me; campaign?: Campaign; advertisers: Advertiser[]; saved?: string | null; onSaved: () => void }) {
  const creating = !campaign;
  const [f, setF] = useState<Form>(() => formOf(campaign, advertisers.length === 1 ? advertisers[0].id : ''));
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [moreError, setMoreError] = useState<string | null>(null);
  const [ok, setOk] = useState<string | null>(saved ?? null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof Form) => (v: string | string[]) => setF((x) => ({ ...x, [k]: v }));
  const errors = fieldErrors(error);
  const readOnly = me.role === 'read-only';

  const save = async (e: Event) => {
    e.preventDefault();
    setOk(null);
    setError(null);
    const t = targetingOf(f);
    setMoreError(t.error ?? null);
    if (t.error) return;
    const body = bodyOf(f, t.targeting, creating);
    setBusy(true);
    try {
      if (creating) {
        const c = await api<Campaign>('POST', '/campaigns', body);
        location.hash = `#/campaigns/${encodeURIComponent(c.id)}`;
      } else {
        const patch = patchOf(campaign!, body, ['name', 'bid', 'budget', 'start', 'end', 'adomain', 'targeting', 'goal']);
        // From the revision this form was filled from: a change made meanwhile is refused (412), not overwritten.
        await api('PATCH', `/campaigns/${encodeURIComponent(campaign!.id)}`, patch, { contentType: 'application/merge-patch+json', ifMatch: campaign!.version });
        onSaved();
      }
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  const tErr = (p: string) => [`/targeting/${p}`];
  return html`<h1 tabindex="-1">${creating ? 'New campaign' : (campaign!.name ?? campaign!.id)}</h1>
    ${!creating && html`<p class="muted">${campaign!.id} · <${Status} value=${campaign!.status} /> · <a href=${`#/creatives?campaign=${encodeURIComponent(campaign!.id)}`}>Creatives</a></p>`}
    <form onSubmit=${save} novalidate>
      <${Notice} error=${refusal(error, 'campaign')} ok=${ok} />
      <${Section} title="Basics">
        <div class="grid">
          ${creating && html`<${Field} label="Id" hint="Letters, digits, - and _ (left empty: generated)" path="/id" errors=${errors} value=${f.id} onInput=${set('id')} />`}
          ${creating &&
          advertisers.length > 1 &&
          html`<${Field}
            label="Advertiser"
            path="/advertiserId"
            errors=${errors}
            required
            value=${f.advertiserId}
            onInput=${set('advertiserId')}
            options=${[['', 'Choose…'], ...advertisers.map((a) => [a.id, `${a.name} (${a.id})`] as const)]}
          />`}
          <${Field} label="Name" path="/name" errors=${errors} value=${f.name} onInput=${set('name')} disabled=${readOnly} />
          <${Field} label="Base bid (CPM)" path="/bid/base" errors=${errors} required type="text" value=${f.base} onInput=${set('base')} disabled=${readOnly} />
          <${Field} label="Max bid (CPM)" path="/bid/max" errors=${errors} required value=${f.max} onInput=${set('max')} disabled=${readOnly} />
          <${Field} label="Daily budget" path="/budget/daily" errors=${errors} value=${f.daily} onInput=${set('daily')} disabled=${readOnly} />
          <${Field} label="Total budget" path="/budget/total" errors=${errors} value=${f.total} onInput=${set('total')} disabled=${readOnly} />
          <${Field} label="Pacing" path="/budget/pacing" errors=${errors} value=${f.pacing} onInput=${set('pacing')} options=${[['even', 'Even over the day'], ['asap', 'As fast as possible']]} disabled=${readOnly} />
          <${Field} label="Start (YYYY-MM-DD)" path="/start" errors=${errors} value=${f.start} onInput=${set('start')} disabled=${readOnly} />
          <${Field} label="End (YYYY-MM-DD)" path="/end" errors=${errors} value=${f.end} onInput=${set('end')} disabled=${readOnly} />
          <${Field} label="Advertiser domains" hint="Comma-separated (adomain)" path="/adomain" errors=${errors} value=${f.adomain} onInput=${set('adomain')} disabled=${readOnly} />
        </div>
      <//>
      <${Section} title="Targeting">
        <div class="grid">
          <${Checks} legend="Channels" options=${[['site', 'Web sites'], ['app', 'Apps']]} value=${f.channels} onChange=${set('channels')} errors=${errors} path="/targeting/channels" />
          <${Field} label="Countries" hint="ISO codes, comma-separated: USA, FRA or US, FR" path=${tErr('countries')} errors=${errors} value=${f.countries} onInput=${set('countries')} disabled=${readOnly} />
          <${Field} label="Regions" hint="ISO 3166-2: US-CA, FR-IDF" path=${tErr('regions')} errors=${errors} value=${f.regions} onInput=${set('regions')} disabled=${readOnly} />
          <${Field} label="Languages" hint="en (every en-*), pt-BR" path=${tErr('languages')} errors=${errors} value=${f.languages} onInput=${set('languages')} disabled=${readOnly} />
          <${Field} label="Operating systems" hint="iOS, Android, Windows…" path=${tErr('os')} errors=${errors} value=${f.os} onInput=${set('os')} disabled=${readOnly} />
          <${Field} label="Only these domains" path=${tErr('domains/allow')} errors=${errors} value=${f.domainsAllow} onInput=${set('domainsAllow')} disabled=${readOnly} />
          <${Field} label="Never these domains" path=${tErr('domains/block')} errors=${errors} value=${f.domainsBlock} onInput=${set('domainsBlock')} disabled=${readOnly} />
          <${Field} label="Only these app bundles" path=${tErr('bundles/allow')} errors=${errors} value=${f.bundlesAllow} onInput=${set('bundlesAllow')} disabled=${readOnly} />
          <${Field} label="Never these app bundles" path=${tErr('bundles/block')} errors=${errors} value=${f.bundlesBlock} onInput=${set('bundlesBlock')} disabled=${readOnly} />
          <${Field} label="Only these publishers" hint="Publisher ids" path=${tErr('publishers/allow')} errors=${errors} value=${f.publishersAllow} onInput=${set('publishersAllow')} disabled=${readOnly} />
          <${Field} label="Never these publishers" path=${tErr('publishers/block')} errors=${errors} value=${f.publishersBlock} onInput=${set('publishersBlock')} disabled=${readOnly} />
          <${Field} label="Only these exchanges" hint="Exchange ids: bids go to these only" path=${tErr('exchanges/allow')} errors=${errors} value=${f.exchangesAllow} onInput=${set('exchangesAllow')} disabled=${readOnly} />
          <${Field} label="Never these exchanges" path=${tErr('exchanges/block')} errors=${errors} value=${f.exchangesBlock} onInput=${set('exchangesBlock')} disabled=${readOnly} />
          <${Field} label="Device makes" hint="Apple, Samsung (whole names, any case)" path=${tErr('deviceMakes')} errors=${errors} value=${f.deviceMakes} onInput=${set('deviceMakes')} disabled=${readOnly} />
          <${Field} label="Device models" hint="iPhone, SM-G991B" path=${tErr('deviceModels')} errors=${errors} value=${f.deviceModels} onInput=${set('deviceModels')} disabled=${readOnly} />
          <${Field} label="Carriers" hint="Verizon, Orange (whole names)" path=${tErr('carriers')} errors=${errors} value=${f.carriers} onInput=${set('carriers')} disabled=${readOnly} />
        </div>
        <${Checks} legend="Device types" options=${DEVICE_TYPES} value=${f.deviceTypes} onChange=${set('deviceTypes')} errors=${errors} path="/targeting/deviceTypes" />
        <${Checks} legend="Connection types" options=${CONNECTION_TYPES} value=${f.connectionTypes} onChange=${set('connectionTypes')} errors=${errors} path="/targeting/connectionTypes" />
        <${Checks} legend="Video placements (plcmt)" options=${VIDEO_PLACEMENTS} value=${f.videoPlacements} onChange=${set('videoPlacements')} errors=${errors} path="/targeting/videoPlacements" />
        <${Field}
          label="More targeting (JSON)"
          hint="Any other rule of the API's targeting: cities, postalCodes, browsers, categories, dayparting, ipRanges, locations, segments"
          multiline=${6}
          path=${['/targeting']}
          errors=${new Map([['/targeting', moreError ? [{ path: '/targeting', code: 'json', message: moreError }] : otherTargeting(error)]])}
          value=${f.more}
          onInput=${set('more')}
          placeholder=${'{ "cities": ["Paris"] }'}
          disabled=${readOnly}
        />
      <//>
      <${Section} title="Goal">
        <div class="grid">
          <${Field} label="Goal" path="/goal/type" errors=${errors} value=${f.goalType} onInput=${set('goalType')} options=${GOALS} disabled=${readOnly} />
          <${Field}
            label="Target"
            hint="Per click or conversion in the campaign's currency; for return on ad spend, the value wanted per unit spent"
            path="/goal/target"
            errors=${errors}
            value=${f.goalTarget}
            onInput=${set('goalTarget')}
            disabled=${readOnly || !f.goalType}
          />
          <${Field} label="Explore share" hint="0 to 0.5: the share of requests priced optimistically, at least twice the observed rate" path="/goal/explore" errors=${errors} value=${f.goalExplore} onInput=${set('goalExplore')} disabled=${readOnly || !f.goalType} />
        </div>
        <${Notice} error=${errors.get('/goal')?.filter((e) => e.path === '/goal').map((e) => e.message).join('; ') || null} />
      <//>
      ${!readOnly && html`<div class="form-actions"><button class="primary" type="submit" disabled=${busy}>${busy ? 'Saving…' : creating ? 'Create campaign' : 'Save changes'}</button> <a href="#/campaigns">Back to the list</a></div>`}
    </form>
    ${!creating && html`<${History} id=${campaign!.id} />`}`;
}

