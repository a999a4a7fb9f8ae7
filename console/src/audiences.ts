/**
 * Audiences: the segments the key sees with their approximate sizes, a new segment, and a CSV
 * upload of members with a progress bar (bytes sent, then the server's count of rows taken).
 */
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { all, api, ApiError, upload, type Me } from './api.js';
import { Field, Loading, Notice, Section, Status, count, fieldErrors, numberOf, useLoad } from './ui.js';

interface Audience {
  id: string;
  name: string;
  advertiserId?: string;
  ttlSeconds: number;
  status: string;
  approximateSize: number;
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

function NewAudience({ me, onDone }: { me: Me; onDone: () => void }) {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [ttl, setTtl] = useState('');
  const [adv, setAdv] = useState(me.advertiserIds?.[0] ?? '');
  const [error, setError] = useState<ApiError | null>(null);
  const errors = fieldErrors(error);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const body: Record<string, unknown> = { id: id.trim(), name: name.trim() };
      if (ttl.trim()) body.ttlSeconds = numberOf(ttl);
      if (adv) body.advertiserId = adv;
      await api('POST', '/audiences', body);
      setId('');
      setName('');
      setTtl('');
      onDone();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return html`<form onSubmit=${save} novalidate>
    <${Notice} error=${error} />
    <div class="grid">
      <${Field} label="Id" path="/id" errors=${errors} value=${id} onInput=${setId} required />
      <${Field} label="Name" path="/name" errors=${errors} value=${name} onInput=${setName} required />
      <${Field} label="Lifetime of a membership (seconds)" path="/ttlSeconds" errors=${errors} value=${ttl} onInput=${setTtl} />
      ${(me.advertiserIds?.length ?? 0) > 1 &&
      html`<${Field} label="Advertiser" path="/advertiserId" errors=${errors} value=${adv} onInput=${setAdv} options=${me.advertiserIds!.map((a) => [a, a] as const)} />`}
      ${me.role === 'admin' && html`<${Field} label="Advertiser (empty: shared)" path="/advertiserId" errors=${errors} value=${adv} onInput=${setAdv} />`}
    </div>
    <button class="primary" type="submit">Create audience</button>
  </form>`;
}

export function Audiences({ me }: { me: Me }) {
  const list = useLoad(() => all<Audience>('/audiences'));
  const mayWrite = me.role !== 'read-only';
  return html`<h1 tabindex="-1">Audiences</h1>
    <${Section} title="Segments">
      <${Notice} error=${list.error} />
      ${list.loading && !list.data ? html`<${Loading} what="audiences" />` : ''}
      ${list.data &&
      (list.data.length === 0
        ? html`<p class="empty">No audiences yet.</p>`
        : html`<div class="table-wrap"><table>
            <caption class="sr-only">Audiences and their sizes</caption>
            <thead><tr><th scope="col">Audience</th><th scope="col">Advertiser</th><th scope="col">Status</th><th scope="col" class="num">Users (approx.)</th><th scope="col" class="num">Membership lifetime</th></tr></thead>
            <tbody>
              ${list.data.map(
                (a) => html`<tr>
                  <td>${a.name}<div class="muted small">${a.id}</div></td>
                  <td>${a.advertiserId ?? html`<span class="muted">shared</span>`}</td>
                  <td><${Status} value=${a.status} /></td>
                  <td class="num">${count(a.approximateSize)}</td>
                  <td class="num">${Math.round(a.ttlSeconds / 86400)} days</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`)}
    <//>
    ${mayWrite && list.data && list.data.length > 0 && html`<${Section} title="Upload members (CSV)"><${Upload} audiences=${list.data} onDone=${list.reload} /><//>`}
    ${mayWrite && html`<${Section} title="New audience"><${NewAudience} me=${me} onDone=${list.reload} /><//>`}`;
}
