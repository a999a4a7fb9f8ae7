/**
 * The console: sign-in, the shell (header, navigation, who is signed in) and a hash router
 * (`#/campaigns/c1`), so the admin port serves one index.html and needs no routes of its own.
 */
import { render } from 'preact';
import { html } from './html.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, session, whenUnauthorized, type Me } from './api.js';
import { Field, Notice } from './ui.js';
import { CampaignEdit, CampaignList } from './campaigns.js';
import { CreativeEdit, CreativeList, CreativeView } from './creatives.js';
import { AudienceEdit, Audiences } from './audiences.js';
import { Reports } from './reports.js';
import { Advertisers, Audit, Exchanges, Keys, KillSwitch } from './operators.js';
import './style.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/campaigns');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/campaigns');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function SignIn({ onIn, reason }: { onIn: (me: Me) => void; reason?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await api<Me>('GET', '/me', undefined, { key: key.trim() });
      session.signIn(key.trim());
      onIn(me);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const message = error && (error.status === 401 ? 'That key was not accepted. Check it and try again.' : error.message);
  return html`<main id="main" class="signin">
    <form class="card" onSubmit=${submit} aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p class="muted">Use the API key you were given (an operator's or your advertiser key). It is kept in this tab only.</p>
      ${reason && html`<${Notice} error=${reason} />`}
      ${message && html`<${Notice} error=${message} />`}
      <${Field} label="API key" type="password" value=${key} onInput=${setKey} required autocomplete="off" placeholder="dsp_…" />
      <button class="primary" type="submit" disabled=${busy || !key.trim()}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

const NAV: readonly { href: string; label: string; operator?: boolean }[] = [
  { href: '#/campaigns', label: 'Campaigns' },
  { href: '#/creatives', label: 'Creatives' },
  { href: '#/audiences', label: 'Audiences' },
  { href: '#/reports', label: 'Reports' },
  { href: '#/ops/advertisers', label: 'Advertisers', operator: true },
  { href: '#/ops/exchanges', label: 'Exchanges', operator: true },
  { href: '#/ops/keys', label: 'API keys', operator: true },
  { href: '#/ops/audit', label: 'Audit log' },
  { href: '#/ops/kill-switch', label: 'Kill switch', operator: true },
];

function Screen({ hash, me }: { hash: string; me: Me }) {
  const parts = hash.replace(/^#\/?/, '').split('?')[0].split('/').map(decodeURIComponent);
  const [area, id, sub] = parts;
  const operator = me.role === 'admin';
  switch (area) {
    case 'campaigns':
      if (id === 'new') return html`<${CampaignEdit} me=${me} />`;
      if (id) return html`<${CampaignEdit} me=${me} id=${id} />`;
      return html`<${CampaignList} me=${me} />`;
    case 'creatives':
      if (id === 'new') return html`<${CreativeEdit} me=${me} />`;
      if (id && sub === 'edit') return html`<${CreativeEdit} me=${me} id=${id} />`;
      if (id) return html`<${CreativeView} me=${me} id=${id} />`;
      return html`<${CreativeList} me=${me} />`;
    case 'audiences':
      if (id) return html`<${AudienceEdit} me=${me} id=${id} />`;
      return html`<${Audiences} me=${me} />`;
    case 'reports':
      return html`<${Reports} me=${me} />`;
    case 'ops':
      if (id === 'audit') return html`<${Audit} me=${me} />`;
      if (!operator) return html`<h1>Not available</h1><p>This screen is for operators.</p>`;
      if (id === 'advertisers') return html`<${Advertisers} me=${me} />`;
      if (id === 'exchanges') return html`<${Exchanges} me=${me} />`;
      if (id === 'keys') return html`<${Keys} me=${me} />`;
      if (id === 'kill-switch') return html`<${KillSwitch} me=${me} />`;
  }
  return html`<h1>Not found</h1><p><a href="#/campaigns">Back to the campaigns</a></p>`;
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(session.key() !== null);
  const [reason, setReason] = useState<string | undefined>();
  const hash = useHash();
  useEffect(() => {
    whenUnauthorized(() => {
      session.signOut();
      setMe(null);
      setReason('Your key is no longer accepted (revoked or paused). Sign in again.');
    });
    if (session.key())
      api<Me>('GET', '/me').then(
        (m) => (setMe(m), setChecking(false)),
        () => setChecking(false),
      );
  }, []);
  // Move focus to the new screen's heading, so keyboard and screen reader users follow navigation
  // and sign-in (not on the first screen of a load: there the skip link is the first Tab stop).
  const shown = useRef<string | null>(null);
  const signedIn = useRef(false);
  useEffect(() => {
    if (!me) return;
    if ((shown.current !== null && shown.current !== hash) || signedIn.current) document.querySelector<HTMLElement>('main h1')?.focus();
    shown.current = hash;
    signedIn.current = false;
  }, [hash, me]);
  if (checking) return html`<p class="muted" role="status">Loading…</p>`;
  if (!me)
    return html`<${SignIn}
      reason=${reason}
      onIn=${(m: Me) => {
        setReason(undefined);
        signedIn.current = true;
        setMe(m);
        if (!location.hash.startsWith('#/campaigns')) location.hash = '#/campaigns';
      }}
    />`;
  const operator = me.role === 'admin';
  const current = `#/${hash.replace(/^#\/?/, '').split('/')[0]}`;
  return html`<a class="skip" href="#main" onClick=${(e: Event) => (e.preventDefault(), document.getElementById('main')?.focus())}>Skip to content</a>
    <header class="top">
      <span class="brand">rtb-bidder</span>
      <nav aria-label="Main">
        <ul>
          ${NAV.filter((n) => operator || !n.operator).map((n) => {
            const active = n.href === current || (n.href.startsWith('#/ops/') && hash.startsWith(n.href));
            return html`<li><a href=${n.href} aria-current=${active ? 'page' : undefined}>${n.label}</a></li>`;
          })}
        </ul>
      </nav>
      <div class="who">
        <span title=${me.keyId}>${me.name ?? me.keyId} · ${me.role}${me.advertiserIds ? ` (${me.advertiserIds.join(', ')})` : ''}</span>
        <button
          type="button"
          onClick=${() => {
            session.signOut();
            setMe(null);
          }}
        >
          Sign out
        </button>
      </div>
    </header>
    <main id="main" tabindex="-1"><${Screen} hash=${hash} me=${me} /></main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
