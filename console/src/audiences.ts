/**
 * Audiences: the segments the key sees with their approximate sizes and what builds each one
 * (uploaded members, a rule over the advertiser's own events, or a lookalike of a seed segment);
 * create and edit each kind; a CSV upload of members with a progress bar (bytes sent, then the
 * server's count of rows taken); and the advertiser's pixel snippet, which rule audiences count.
 */
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { all, api, ApiError, upload, type Me } from './api.js';
import { Field, Loading, Notice, Section, Status, count, fieldErrors, listOf, numberOf, refusal, useLoad } from './ui.js';

interface Rule {
  source: 'pixel' | 'notices';
  events: string[];
  lookbackDays: number;
  excludeEvents?: string[];
  campaignIds?: string[];
}

interface Lookalike {
  seed: string;
  size: number;
  refreshHours: number;
}

interface Audience {
  id: string;
  name: string;
  advertiserId?: string;
  ttlSeconds: number;
  status: string;
  approximateSize: number;
  rule?: Rule;
  lookalike?: Lookalike;
  version: number;
}

/** What builds the audience, in a few words. */
function kindOf(a: Audience): string {
  if (a.rule)
    return `rule: ${a.rule.source} ${a.rule.events.join(' or ')}${a.rule.excludeEvents?.length ? `, not ${a.rule.excludeEvents.join(' or ')}` : ''}, last ${a.rule.lookbackDays} days`;
  if (a.lookalike) return `lookalike of ${a.lookalike.seed}: ${count(a.lookalike.size)} users, rebuilt every ${a.lookalike.refreshHours} h`;
  return 'uploaded members';
}

interface UploadResult {
  accepted: number;
  rejected: number;
  errors?: { line: number; message: string }[];
}

function Upload({ audiences, onDone }: { audiences: Audience[]; onDone: () => void }) {
  const [segment, setSegment] = useState(audiences[0]?.id ?? '');
  const [file, setFile] = useState<File | null>(null);
  const [share, setShare] = useState<number | null>(null);
  const [result, setResult] = useState<UploadResult | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    if (!file || !segment) return;
    setError(null);
    setResult(null);
    setShare(0);
    try {
      const r = await upload<UploadResult>(`/audiences/${encodeURIComponent(segment)}/members`, file, 'text/csv', setShare);
      setResult(r);
      onDone();
    } catch (err) {
      setError(err as ApiError);
      setShare(null);
    }
  };
  return html`<form onSubmit=${send} class="upload">
    <div class="grid">
      <${Field} label="Segment" value=${segment} onInput=${setSegment} options=${audiences.map((a) => [a.id, `${a.name} (${a.id})`] as const)} />
      <div class="field">
        <label for="csv-file">CSV file</label>
        <input id="csv-file" type="file" accept=".csv,text/csv" aria-describedby="csv-hint" onChange=${(e: Event) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)} />
        <small id="csv-hint" class="hint">Columns user_id, id_type, segments (the audience API's CSV)</small>
      </div>
    </div>
    <button class="primary" type="submit" disabled=${!file || !segment || (share !== null && share < 1 && !result && !error)}>Upload</button>
    ${share !== null &&
    html`<div class="progress">
      <label for="upload-progress">Upload</label>
      <progress id="upload-progress" max="100" value=${Math.round(share * 100)}>${Math.round(share * 100)} %</progress>
      <span aria-live="polite">${result ? 'done' : share < 1 ? `${Math.round(share * 100)} % sent` : 'sent, the server is adding the members…'}</span>
    </div>`}
    <${Notice} error=${error} ok=${result && `Added ${count(result.accepted)} members; ${count(result.rejected)} rows refused.`} />
    ${result?.errors?.length ? html`<ul class="row-errors">${result.errors.map((x) => html`<li>line ${x.line}: ${x.message}</li>`)}</ul>` : ''}
  </form>`;
}

/** The form's state, every field as typed. */
interface AForm {
  kind: 'upload' | 'rule' | 'lookalike';
  id: string;
  name: string;
  ttl: string;
  advertiserId: string;
  source: string;
  events: string;
  excludeEvents: string;
  campaignIds: string;
  lookbackDays: string;
  seed: string;
  size: string;
  refreshHours: string;
}

function aformOf(a: Audience | undefined, me: Me): AForm {
  return {
    kind: a?.rule ? 'rule' : a?.lookalike ? 'lookalike' : 'upload',
    id: a?.id ?? '',
    name: a?.name ?? '',
    ttl: a && !a.rule ? String(a.ttlSeconds) : '',
    advertiserId: a?.advertiserId ?? me.advertiserIds?.[0] ?? '',
    source: a?.rule?.source ?? 'pixel',
    events: a?.rule?.events.join(', ') ?? '',
    excludeEvents: a?.rule?.excludeEvents?.join(', ') ?? '',
    campaignIds: a?.rule?.campaignIds?.join(', ') ?? '',
    lookbackDays: a?.rule ? String(a.rule.lookbackDays) : '30',
    seed: a?.lookalike?.seed ?? '',
    size: a?.lookalike ? String(a.lookalike.size) : '10000',
    refreshHours: a?.lookalike ? String(a.lookalike.refreshHours) : '24',
  };
}

function abodyOf(f: AForm, creating: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { name: f.name.trim() || undefined };
  if (creating) {
    body.id = f.id.trim() || undefined;
    body.advertiserId = f.advertiserId.trim() || undefined;
  }
  if (f.kind === 'upload') body.ttlSeconds = numberOf(f.ttl);
  body.rule =
    f.kind === 'rule'
      ? Object.fromEntries(
          Object.entries({
            source: f.source,
            events: listOf(f.events) ?? [],
            lookbackDays: numberOf(f.lookbackDays),
            excludeEvents: listOf(f.excludeEvents),
            campaignIds: f.source === 'notices' ? listOf(f.campaignIds) : undefined,
          }).filter(([, v]) => v !== undefined),
        )
      : undefined;
  body.lookalike = f.kind === 'lookalike' ? { seed: f.seed, size: numberOf(f.size), refreshHours: numberOf(f.refreshHours) } : undefined;
  return body;
}

/** Create (no `audience`) or edit one audience of any kind. */
function AudienceForm({ me, audience, audiences, saved, onSaved }: { me: Me; audience?: Audience; audiences: Audience[]; saved?: string | null; onSaved: (a: Audience) => void }) {
  const creating = !audience;
  const [f, setF] = useState<AForm>(() => aformOf(audience, me));
  const [error, setError] = useState<ApiError | null>(null);
  const [ok, setOk] = useState<string | null>(saved ?? null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof AForm) => (v: string) => setF((x) => ({ ...x, [k]: v }));
  const errors = fieldErrors(error);
  const seeds = audiences.filter((a) => !a.lookalike && a.id !== audience?.id && (!f.advertiserId || a.advertiserId === f.advertiserId));
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setOk(null);
    setBusy(true);
    const body = abodyOf(f, creating);
    try {
      if (creating) {
        const a = await api<Audience>('POST', '/audiences', Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)));
        setF(aformOf(undefined, me));
        setOk(`Audience ${a.id} created.`);
        onSaved(a);
      } else {
        // A merge patch: what the form leaves out (the other kind's fields) is removed.
        const patch = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, v === undefined ? null : v]));
        const a = await api<Audience>('PATCH', `/audiences/${encodeURIComponent(audience!.id)}`, patch, {
          contentType: 'application/merge-patch+json',
          ifMatch: audience!.version,
        });
        onSaved(a);
      }
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const F = (label: string, k: keyof AForm, path: string, extra: Record<string, unknown> = {}) =>
    html`<${Field} label=${label} path=${path} errors=${errors} value=${f[k]} onInput=${set(k)} ...${extra} />`;
  return html`<form onSubmit=${save} novalidate>
    <${Notice} error=${refusal(error, 'audience')} ok=${ok} />
    <div class="grid">
      ${creating && F('Id', 'id', '/id', { required: true, hint: 'Letters, digits, ., :, - and _' })}
      ${F('Name', 'name', '/name', { required: creating })}
      ${creating &&
      ((me.advertiserIds?.length ?? 0) > 1
        ? F('Advertiser', 'advertiserId', '/advertiserId', { options: me.advertiserIds!.map((a) => [a, a] as const) })
        : me.role === 'admin'
          ? F('Advertiser (empty: shared)', 'advertiserId', '/advertiserId', { hint: 'Rule and lookalike audiences need one' })
          : '')}
      ${F('Built from', 'kind', '/kind', {
        options: [
          ['upload', 'Uploaded members (CSV)'],
          ['rule', "A rule over the advertiser's events"],
          ['lookalike', 'A lookalike of another segment'],
        ],
        disabled: !creating,
      })}
      ${f.kind === 'upload' && F('Lifetime of a membership (seconds)', 'ttl', '/ttlSeconds', { hint: 'Empty: 30 days' })}
      ${f.kind === 'rule' && F('Event source', 'source', '/rule/source', { options: [['pixel', "The advertiser's pixel"], ['notices', "Its campaigns' impressions, clicks and conversions"]] })}
      ${f.kind === 'rule' && F('Events', 'events', '/rule/events', { required: true, hint: f.source === 'pixel' ? 'Pixel event names: visit, purchase…' : 'impression, click, conversion' })}
      ${f.kind === 'rule' && F('But not these events', 'excludeEvents', '/rule/excludeEvents', { hint: 'An event of these takes the user out' })}
      ${f.kind === 'rule' && F('Lookback (days)', 'lookbackDays', '/rule/lookbackDays', { required: true, hint: 'A user stays a member this long after the last matching event' })}
      ${f.kind === 'rule' && f.source === 'notices' && F('Only these campaigns', 'campaignIds', '/rule/campaignIds', { hint: 'Campaign ids (empty: all of the advertiser’s)' })}
      ${f.kind === 'lookalike' &&
      F('Seed segment', 'seed', '/lookalike/seed', { required: true, options: [['', 'Choose…'], ...seeds.map((a) => [a.id, `${a.name} (${a.id})`] as const)] })}
      ${f.kind === 'lookalike' && F('Size (users)', 'size', '/lookalike/size', { required: true })}
      ${f.kind === 'lookalike' && F('Rebuilt every (hours)', 'refreshHours', '/lookalike/refreshHours', { required: true })}
    </div>
    <button class="primary" type="submit" disabled=${busy}>${busy ? 'Saving…' : creating ? 'Create audience' : 'Save changes'}</button>
  </form>`;
}

interface Pixel {
  advertiserId: string;
  url: string;
  snippet: string;
}

/** The advertiser's pixel snippet (GET /advertisers/{id}/pixel): what rule audiences of source "pixel" count. */
function PixelSnippet({ me }: { me: Me }) {
  const [adv, setAdv] = useState(me.advertiserIds?.[0] ?? '');
  const [asked, setAsked] = useState(me.advertiserIds?.[0] ?? '');
  const pixel = useLoad(() => (asked ? api<Pixel>('GET', `/advertisers/${encodeURIComponent(asked)}/pixel`) : Promise.resolve(null)), [asked]);
  const [copied, setCopied] = useState(false);
  return html`<${Section} title="Pixel">
    <p class="muted">Paste this into every page of the advertiser's site: it sends <code>visit</code>, and <code>dspPixel('purchase', { value, currency })</code> sends any other event. Rule audiences built from the pixel count these events.</p>
    ${(me.advertiserIds?.length ?? 0) !== 1 &&
    html`<form
      class="inline"
      onSubmit=${(e: Event) => {
        e.preventDefault();
        setAsked(adv.trim());
      }}
    >
      ${(me.advertiserIds?.length ?? 0) > 1
        ? html`<${Field} label="Pixel of advertiser" value=${adv} onInput=${setAdv} options=${me.advertiserIds!.map((a) => [a, a] as const)} />`
        : html`<${Field} label="Pixel of advertiser" value=${adv} onInput=${setAdv} />`}
      <button type="submit">Show the snippet</button>
    </form>`}
    <${Notice} error=${pixel.error} />
    ${pixel.data &&
    html`<div class="field">
        <label for="pixel-snippet">Snippet for ${pixel.data.advertiserId}</label>
        <textarea id="pixel-snippet" readonly rows="6" spellcheck=${false}>${pixel.data.snippet}</textarea>
      </div>
      <p class="small muted">Event URL: <code>${pixel.data.url}</code></p>
      <button
        type="button"
        onClick=${() =>
          navigator.clipboard?.writeText(pixel.data!.snippet).then(
            () => setCopied(true),
            () => setCopied(false),
          )}
      >
        Copy the snippet
      </button>
      <span role="status">${copied ? ' Copied.' : ''}</span>`}
  <//>`;
}

/** One audience: what it is, its size, and its form. */
export function AudienceEdit({ me, id }: { me: Me; id: string }) {
  const loaded = useLoad(() => Promise.all([api<Audience>('GET', `/audiences/${encodeURIComponent(id)}`), all<Audience>('/audiences')]), [id]);
  const [saved, setSaved] = useState<string | null>(null);
  if (loaded.error) return html`<h1 tabindex="-1">Audience</h1><${Notice} error=${loaded.error} />`;
  if (!loaded.data) return html`<h1 tabindex="-1">Audience</h1><${Loading} what="the audience" />`;
  const [a, audiences] = loaded.data;
  return html`<h1 tabindex="-1">${a.name}</h1>
    <p class="muted">${a.id} · <${Status} value=${a.status} /> · ${a.advertiserId ?? 'shared'} · about ${count(a.approximateSize)} users · ${kindOf(a)}</p>
    <${Section} title="Edit">
      ${me.role === 'read-only'
        ? html`<p class="muted">Read-only key.</p>`
        : html`<${AudienceForm} key=${a.version} me=${me} audience=${a} audiences=${audiences} saved=${saved} onSaved=${() => (setSaved('Saved.'), loaded.reload())} />`}
    <//>
    <p><a href="#/audiences">Back to the audiences</a></p>`;
}

export function Audiences({ me }: { me: Me }) {
  const list = useLoad(() => all<Audience>('/audiences'));
  const mayWrite = me.role !== 'read-only';
  // Members are uploaded to audiences built from uploads; rule and lookalike audiences are built by the server.
  const uploadable = (list.data ?? []).filter((a) => !a.rule && !a.lookalike);
  return html`<h1 tabindex="-1">Audiences</h1>
    <${Section} title="Segments">
      <${Notice} error=${list.error} />
      ${list.loading && !list.data ? html`<${Loading} what="audiences" />` : ''}
      ${list.data &&
      (list.data.length === 0
        ? html`<p class="empty">No audiences yet.</p>`
        : html`<div class="table-wrap"><table>
            <caption class="sr-only">Audiences and their sizes</caption>
            <thead><tr><th scope="col">Audience</th><th scope="col">Advertiser</th><th scope="col">Built from</th><th scope="col">Status</th><th scope="col" class="num">Users (approx.)</th><th scope="col" class="num">Membership lifetime</th></tr></thead>
            <tbody>
              ${list.data.map(
                (a) => html`<tr>
                  <td><a href=${`#/audiences/${encodeURIComponent(a.id)}`}>${a.name}</a><div class="muted small">${a.id}</div></td>
                  <td>${a.advertiserId ?? html`<span class="muted">shared</span>`}</td>
                  <td>${kindOf(a)}</td>
                  <td><${Status} value=${a.status} /></td>
                  <td class="num">${count(a.approximateSize)}</td>
                  <td class="num">${Math.round(a.ttlSeconds / 86400)} days</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`)}
    <//>
    ${mayWrite && uploadable.length > 0 && html`<${Section} title="Upload members (CSV)"><${Upload} audiences=${uploadable} onDone=${list.reload} /><//>`}
    ${mayWrite && list.data && html`<${Section} title="New audience"><${AudienceForm} me=${me} audiences=${list.data} onSaved=${list.reload} /><//>`}
    ${me.role === 'admin' || (me.advertiserIds?.length ?? 0) > 0 ? html`<${PixelSnippet} me=${me} />` : ''}`;
}
