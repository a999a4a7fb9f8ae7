/**
 * Operators' screens: advertisers, exchanges, API keys (created with the key shown once, revoked
 * for good), the audit log (advertiser keys see their own part), and the kill switch.
 */
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { all, api, ApiError, type Me } from './api.js';
import { Field, actorName, type Actor, Loading, Notice, Section, Status, fieldErrors, listOf, useLoad, when } from './ui.js';

interface Advertiser {
  id: string;
  name: string;
  status: string;
  currency?: string;
  domains?: string[];
}

export function Advertisers(_: { me: Me }) {
  const list = useLoad(() => all<Advertiser>('/advertisers'));
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [currency, setCurrency] = useState('');
  const [domains, setDomains] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const errors = fieldErrors(error);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setOk(null);
    try {
      const a = await api<Advertiser>('POST', '/advertisers', {
        id: id.trim() || undefined,
        name: name.trim(),
        ...(currency.trim() ? { currency: currency.trim() } : {}),
        ...(listOf(domains) ? { domains: listOf(domains) } : {}),
      });
      setOk(`Advertiser ${a.id} created. Give it a key under API keys.`);
      setId('');
      setName('');
      setCurrency('');
      setDomains('');
      list.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return html`<h1 tabindex="-1">Advertisers</h1>
    <${Section} title="Advertisers">
      <${Notice} error=${list.error} />
      ${list.loading && !list.data ? html`<${Loading} what="advertisers" />` : ''}
      ${list.data &&
      html`<div class="table-wrap"><table>
        <caption class="sr-only">Advertisers</caption>
        <thead><tr><th scope="col">Advertiser</th><th scope="col">Id</th><th scope="col">Status</th><th scope="col">Currency</th><th scope="col"><span class="sr-only">Links</span></th></tr></thead>
        <tbody>
          ${list.data.map(
            (a) => html`<tr><td>${a.name}</td><td><code>${a.id}</code></td><td><${Status} value=${a.status} /></td><td>${a.currency ?? 'base'}</td>
              <td><a href=${`#/ops/keys?advertiser=${encodeURIComponent(a.id)}`}>Keys</a></td></tr>`,
          )}
        </tbody>
      </table></div>`}
    <//>
    <${Section} title="New advertiser">
      <form onSubmit=${save} novalidate>
        <${Notice} error=${error} ok=${ok} />
        <div class="grid">
          <${Field} label="Id" hint="Letters, digits, - and _ (empty: generated)" path="/id" errors=${errors} value=${id} onInput=${setId} />
          <${Field} label="Name" path="/name" errors=${errors} value=${name} onInput=${setName} required />
          <${Field} label="Domains" hint="Its web sites, comma-separated (campaigns without adomain use them)" path="/domains" errors=${errors} value=${domains} onInput=${setDomains} />
          <${Field} label="Currency" hint="ISO 4217, e.g. EUR (empty: the base currency)" path="/currency" errors=${errors} value=${currency} onInput=${setCurrency} />
        </div>
        <button class="primary" type="submit">Create advertiser</button>
      </form>
    <//>`;
}

interface Exchange {
  id: string;
  name?: string;
  seat: string;
  status: string;
  currency?: string;
}

export function Exchanges(_: { me: Me }) {
  const list = useLoad(() => all<Exchange>('/exchanges'));
  const [error, setError] = useState<ApiError | null>(null);
  const toggle = async (x: Exchange) => {
    setError(null);
    try {
      await api('POST', `/exchanges/${encodeURIComponent(x.id)}/${x.status === 'active' ? 'pause' : 'resume'}`);
      list.reload();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return html`<h1 tabindex="-1">Exchanges</h1>
    <${Section} title="Exchanges">
      <${Notice} error=${list.error ?? error} />
      ${list.loading && !list.data ? html`<${Loading} what="exchanges" />` : ''}
      ${list.data &&
      html`<div class="table-wrap"><table>
        <caption class="sr-only">Exchanges</caption>
        <thead><tr><th scope="col">Exchange</th><th scope="col">Seat</th><th scope="col">Currency</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          ${list.data.map(
            (x) => html`<tr><td>${x.name ?? x.id}<div class="muted small">${x.id}</div></td><td><code>${x.seat}</code></td><td>${x.currency ?? 'base'}</td><td><${Status} value=${x.status} /></td>
              <td><button type="button" onClick=${() => toggle(x)} aria-label=${`${x.status === 'active' ? 'Pause' : 'Resume'} ${x.name ?? x.id}`}>${x.status === 'active' ? 'Pause' : 'Resume'}</button></td></tr>`,
          )}
        </tbody>
      </table></div>`}
    <//>`;
}

interface Key {
  id: string;
  name: string;
  role: string;
  advertiserIds?: string[];
  status: string;
  prefix: string;
  createdAt: string;
  revokedAt?: string;
}

export function Keys(_: { me: Me }) {
  const preset = new URLSearchParams(location.hash.split('?')[1] ?? '').get('advertiser') ?? '';
  const list = useLoad(() => all<Key>('/keys'));
  const [name, setName] = useState('');
  const [role, setRole] = useState('advertiser');
  const [advertisers, setAdvertisers] = useState(preset);
  const [error, setError] = useState<ApiError | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const errors = fieldErrors(error);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setCreated(null);
    try {
      const ids = advertisers.split(',').map((s) => s.trim()).filter(Boolean);
      const r = await api<{ key: string; name: string }>('POST', '/keys', { name: name.trim(), role, ...(ids.length ? { advertiserIds: ids } : {}) });
      setCreated({ name: r.name, key: r.key });
      setName('');
      list.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const revoke = async (k: Key) => {
    if (!confirm(`Revoke the key "${k.name}" for good? Whoever uses it is signed out.`)) return;
    setError(null);
    try {
      await api('DELETE', `/keys/${encodeURIComponent(k.id)}`);
      list.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return html`<h1 tabindex="-1">API keys</h1>
    <${Section} title="New key">
      <form onSubmit=${create} novalidate>
        <${Notice} error=${error} />
        ${created &&
        html`<div class="notice ok secret" role="status">
          <p><strong>The key "${created.name}", shown this once.</strong> Copy it now: only its hash is kept.</p>
          <label for="new-key">Key</label>
          <input id="new-key" readonly value=${created.key} onFocus=${(e: Event) => (e.currentTarget as HTMLInputElement).select()} />
          <button type="button" onClick=${() => navigator.clipboard?.writeText(created.key)}>Copy</button>
        </div>`}
        <div class="grid">
          <${Field} label="Name" path="/name" errors=${errors} value=${name} onInput=${setName} required />
          <${Field} label="Role" path="/role" errors=${errors} value=${role} onInput=${setRole} options=${[['advertiser', 'Advertiser'], ['read-only', 'Read-only'], ['admin', 'Operator (admin)']]} />
          <${Field} label="Advertisers" hint="Comma-separated ids (an advertiser key needs one)" path=${['/advertiserIds', '/advertiserId']} errors=${errors} value=${advertisers} onInput=${setAdvertisers} />
        </div>
        <button class="primary" type="submit">Create key</button>
      </form>
    <//>
    <${Section} title="Keys">
      <${Notice} error=${list.error} />
      ${list.data &&
      html`<div class="table-wrap"><table>
        <caption class="sr-only">API keys</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Role</th><th scope="col">Advertisers</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          ${list.data.map(
            (k) => html`<tr><td>${k.name}</td><td><code>${k.prefix}…</code></td><td>${k.role}</td><td>${k.advertiserIds?.join(', ') ?? html`<span class="muted">all</span>`}</td>
              <td><${Status} value=${k.status} /></td><td>${when(k.createdAt)}</td>
              <td><button class="danger" type="button" onClick=${() => revoke(k)} aria-label=${`Revoke ${k.name}`}>Revoke</button></td></tr>`,
          )}
        </tbody>
      </table></div>`}
    <//>`;
}

interface AuditEntry {
  seq: number;
  at: string;
  actor: Actor;
  action: string;
  kind: string;
  id: string;
  requestId?: string;
}

export function Audit(_: { me: Me }) {
  const [pages, setPages] = useState<string[]>(['']);
  const [kind, setKind] = useState('');
  const cursor = pages[pages.length - 1];
  const page = useLoad(() => api<{ items: AuditEntry[]; nextCursor: string | null }>('GET', `/audit?limit=50${kind ? `&kind=${kind}` : ''}${cursor ? `&cursor=${cursor}` : ''}`), [cursor, kind]);
  return html`<h1 tabindex="-1">Audit log</h1>
    <${Section} title="Changes, newest first">
      <div class="grid narrow">
        <${Field}
          label="Kind"
          value=${kind}
          onInput=${(v: string) => (setKind(v), setPages(['']))}
          options=${[['', 'Everything'], ['campaigns', 'Campaigns'], ['creatives', 'Creatives'], ['advertisers', 'Advertisers'], ['audiences', 'Audiences'], ['exchanges', 'Exchanges'], ['keys', 'Keys'], ['settings', 'Settings']]}
        />
      </div>
      <${Notice} error=${page.error} />
      ${page.loading && !page.data ? html`<${Loading} what="the audit log" />` : ''}
      ${page.data &&
      html`<div class="table-wrap"><table>
          <caption class="sr-only">Audit entries</caption>
          <thead><tr><th scope="col">When</th><th scope="col">Who (key)</th><th scope="col">Action</th><th scope="col">What</th></tr></thead>
          <tbody>
            ${page.data.items.map((e) => html`<tr><td>${when(e.at)}</td><td>${actorName(e.actor)}</td><td>${e.action}</td><td>${e.kind} <code>${e.id}</code></td></tr>`)}
          </tbody>
        </table></div>
        <div class="pager">
          <button type="button" disabled=${pages.length === 1} onClick=${() => setPages(pages.slice(0, -1))}>Newer</button>
          <button type="button" disabled=${!page.data.nextCursor} onClick=${() => setPages([...pages, page.data!.nextCursor!])}>Older</button>
        </div>`}
    <//>`;
}

interface Kill {
  all: boolean;
  campaigns: string[];
}

/** The kill switch (`/api/v1/kill-switch`, admin keys): 503 when this bidder has no budget store. */
const killCall = (method: 'GET' | 'PUT', body?: unknown): Promise<Kill> => api<Kill>(method, '/kill-switch', body);

export function KillSwitch(_: { me: Me }) {
  const state = useLoad(() => killCall('GET'));
  const [campaign, setCampaign] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const set = async (on: boolean, c?: string) => {
    setError(null);
    if (on && !c && !confirm('Stop all bidding on every bidder?')) return;
    try {
      await killCall('PUT', { on, ...(c ? { campaign: c } : {}) });
      state.reload();
    } catch (e) {
      setError(e as ApiError);
    }
  };
  return html`<h1 tabindex="-1">Kill switch</h1>
    <${Notice} error=${state.error ?? error} />
    ${state.data &&
    html`<${Section} title="Everything">
        <p class=${state.data.all ? 'danger-text' : ''}>${state.data.all ? 'All bidding is stopped.' : 'Bidding runs.'} Every bidder reads the switch on its next budget renewal.</p>
        ${state.data.all
          ? html`<button class="primary" type="button" onClick=${() => set(false)}>Resume all bidding</button>`
          : html`<button class="danger" type="button" onClick=${() => set(true)}>Stop all bidding</button>`}
      <//>
      <${Section} title="One campaign">
        ${state.data.campaigns.length
          ? html`<ul>${state.data.campaigns.map((c) => html`<li><code>${c}</code> stopped <button type="button" onClick=${() => set(false, c)}>Release</button></li>`)}</ul>`
          : html`<p class="muted">No campaign is stopped.</p>`}
        <form onSubmit=${(e: Event) => (e.preventDefault(), campaign.trim() && set(true, campaign.trim()))}>
          <${Field} label="Campaign id" value=${campaign} onInput=${setCampaign} />
          <button class="danger" type="submit">Stop this campaign</button>
        </form>
      <//>`}`;
}
