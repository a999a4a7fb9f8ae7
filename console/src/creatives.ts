/**
 * Creatives: the list (and, for operators, the review queue of pending ones), a preview of each
 * (banner HTML in a sandboxed frame, VAST media in players, native assets as a card), approval
 * with its reason, and the create/edit form.
 */
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { all, api, ApiError, type Me } from './api.js';
import type { Campaign } from './campaigns.js';
import { Field, Loading, Notice, Section, Status, fieldErrors, listOf, numberOf, refusal, useLoad, when } from './ui.js';

export interface Creative {
  id: string;
  campaignId: string;
  advertiserId: string;
  type: 'banner' | 'video' | 'audio' | 'native';
  name?: string;
  status: 'pending' | 'approved' | 'rejected';
  reason?: string;
  paused: boolean;
  reviewedBy?: string;
  reviewedAt?: string;
  version: number;
  w?: number;
  h?: number;
  html?: string;
  imageUrl?: string;
  vast?: string;
  duration?: number;
  mimes?: string[];
  protocols?: number[];
  title?: string;
  description?: string;
  sponsored?: string;
  cta?: string;
  clickUrl?: string;
  landingUrl?: string;
  image?: { url: string; w: number; h: number };
  icon?: { url: string; w: number; h: number };
  [k: string]: unknown;
}

const hashQuery = () => new URLSearchParams(location.hash.split('?')[1] ?? '');

export function CreativeList({ me }: { me: Me }) {
  const operator = me.role === 'admin';
  const campaign = hashQuery().get('campaign') ?? '';
  const [queue, setQueue] = useState(operator && !campaign);
  const q = [queue ? 'status=pending' : '', campaign ? `campaignId=${encodeURIComponent(campaign)}` : ''].filter(Boolean).join('&');
  const list = useLoad(() => all<Creative>(`/creatives${q ? `?${q}` : ''}`), [q]);
  return html`<h1 tabindex="-1">Creatives</h1>
    ${operator &&
    html`<div class="tabs" role="group" aria-label="Which creatives">
      <button type="button" aria-pressed=${queue} onClick=${() => setQueue(true)}>Review queue</button>
      <button type="button" aria-pressed=${!queue} onClick=${() => setQueue(false)}>All creatives</button>
    </div>`}
    <${Section}
      title=${queue ? 'Waiting for review' : campaign ? `Creatives of ${campaign}` : 'All creatives'}
      actions=${me.role !== 'read-only' && html`<a class="button primary" href=${`#/creatives/new${campaign ? `?campaign=${encodeURIComponent(campaign)}` : ''}`}>New creative</a>`}
    >
      <${Notice} error=${list.error} />
      ${list.loading && !list.data ? html`<${Loading} what="creatives" />` : ''}
      ${list.data &&
      (list.data.length === 0
        ? html`<p class="empty">${queue ? 'Nothing waits for review.' : 'No creatives yet.'}</p>`
        : html`<div class="table-wrap"><table>
            <caption class="sr-only">Creatives</caption>
            <thead>
              <tr>
                <th scope="col">Creative</th>
                <th scope="col">Campaign</th>
                <th scope="col">Type</th>
                <th scope="col">Approval</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              ${list.data.map(
                (c) => html`<tr>
                  <td><a href=${`#/creatives/${encodeURIComponent(c.id)}`}>${c.name ?? c.id}</a><div class="muted small">${c.id}</div></td>
                  <td><a href=${`#/campaigns/${encodeURIComponent(c.campaignId)}`}>${c.campaignId}</a></td>
                  <td>${c.type}${c.w && c.h ? ` ${c.w}×${c.h}` : ''}${c.duration ? ` ${c.duration} s` : ''}</td>
                  <td><${Status} value=${c.status} />${c.paused ? html` <${Status} value="paused" />` : ''}</td>
                  <td>${c.reason ?? ''}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`)}
    <//>`;
}

/** The media files a VAST document names (Linear MediaFiles), best first as listed. */
export function vastMedia(vast: string): { url: string; type: string }[] {
  try {
    const doc = new DOMParser().parseFromString(vast, 'application/xml');
    return [...doc.getElementsByTagName('MediaFile')].map((m) => ({ url: (m.textContent ?? '').trim(), type: m.getAttribute('type') ?? '' })).filter((m) => /^https?:\/\//.test(m.url));
  } catch {
    return [];
  }
}

export function Preview({ c }: { c: Creative }) {
  if (c.type === 'banner') {
    const doc = c.html ?? (c.imageUrl ? `<img src="${c.imageUrl.replace(/"/g, '&quot;')}" alt="" style="max-width:100%">` : '');
    // No allow-same-origin: the creative runs in an opaque origin, away from this page and its key.
    return html`<iframe
      class="banner-preview"
      title=${`Preview of ${c.name ?? c.id}`}
      sandbox="allow-scripts"
      srcdoc=${`<!doctype html><html><body style="margin:0">${doc}</body></html>`}
      width=${c.w}
      height=${c.h}
      style=${`width:${c.w}px;height:${c.h}px`}
    ></iframe>`;
  }
  if (c.type === 'video' || c.type === 'audio') {
    const media = vastMedia(c.vast ?? '');
    const first = media.find((m) => (c.type === 'video' ? /video/.test(m.type) || !m.type : /audio/.test(m.type) || !m.type)) ?? media[0];
    return html`<div class="media-preview">
      ${first
        ? c.type === 'video'
          ? html`<video controls preload="metadata" src=${first.url} width=${Math.min(c.w ?? 480, 480)} aria-label=${`Video of ${c.name ?? c.id}`}></video>`
          : html`<audio controls preload="metadata" src=${first.url} aria-label=${`Audio of ${c.name ?? c.id}`}></audio>`
        : html`<p class="muted">The VAST names no media file this console can play.</p>`}
      <details><summary>VAST</summary><pre>${c.vast}</pre></details>
    </div>`;
  }
  return html`<article class="native-preview" aria-label="Native ad preview">
    ${c.image && html`<img src=${c.image.url} alt="" width=${c.image.w} height=${c.image.h} />`}
    <div class="native-body">
      ${c.icon && html`<img class="icon" src=${c.icon.url} alt="" width="32" height="32" />`}
      <strong>${c.title ?? '(no title)'}</strong>
      ${c.description && html`<p>${c.description}</p>`}
      ${c.sponsored && html`<small>Sponsored by ${c.sponsored}</small>`}
      ${c.cta && html`<span class="cta">${c.cta}</span>`}
    </div>
  </article>`;
}

export function CreativeView({ me, id }: { me: Me; id: string }) {
  const c = useLoad(() => api<Creative>('GET', `/creatives/${encodeURIComponent(id)}`), [id]);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [ok, setOk] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (c.error) return html`<h1 tabindex="-1">Creative</h1><${Notice} error=${c.error} />`;
  if (!c.data) return html`<h1 tabindex="-1">Creative</h1><${Loading} what="the creative" />`;
  const cr = c.data;
  const review = async (verdict: 'approve' | 'reject') => {
    setError(null);
    setOk(null);
    if (verdict === 'reject' && !reason.trim()) {
      setError(new ApiError(400, 'validation_failed', 'Say why it is rejected.', [{ path: '/reason', code: 'required', message: 'a rejection needs a reason' }]));
      return;
    }
    setBusy(true);
    try {
      await api('POST', `/creatives/${encodeURIComponent(cr.id)}/${verdict}`, reason.trim() ? { reason: reason.trim() } : {});
      setOk(verdict === 'approve' ? 'Approved: it can bid now.' : 'Rejected.');
      c.reload();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return html`<h1 tabindex="-1">${cr.name ?? cr.id}</h1>
    <p class="muted">${cr.id} · ${cr.type} · campaign <a href=${`#/campaigns/${encodeURIComponent(cr.campaignId)}`}>${cr.campaignId}</a></p>
    <div class=${(cr.w ?? 0) > 600 ? 'stack' : 'two'}>
      <${Section} title="Preview"><${Preview} c=${cr} /><//>
      <${Section} title="Approval">
        <dl class="facts">
          <dt>Status</dt><dd><${Status} value=${cr.status} /></dd>
          ${cr.reason && html`<dt>Reason</dt><dd>${cr.reason}</dd>`}
          ${cr.reviewedBy && html`<dt>Reviewed</dt><dd>${when(cr.reviewedAt)} by <code>${cr.reviewedBy}</code></dd>`}
          <dt>Delivery</dt><dd>${cr.paused ? 'paused' : 'on'}</dd>
        </dl>
        <${Notice} error=${error} ok=${ok} />
        ${me.role === 'admin' &&
        html`<div class="review">
          <${Field} label="Reason (required to reject)" path="/reason" errors=${fieldErrors(error)} value=${reason} onInput=${setReason} />
          <button class="primary" type="button" disabled=${busy} onClick=${() => review('approve')}>Approve</button>
          <button class="danger" type="button" disabled=${busy} onClick=${() => review('reject')}>Reject</button>
        </div>`}
        ${me.role !== 'read-only' && html`<p><a href=${`#/creatives/${encodeURIComponent(cr.id)}/edit`}>Edit this creative</a> (a change sends it back to review)</p>`}
      <//>
    </div>`;
}

interface CForm {
  id: string;
  campaignId: string;
  type: string;
  name: string;
  landingUrl: string;
  w: string;
  h: string;
  html: string;
  imageUrl: string;
  vast: string;
  duration: string;
  mimes: string;
  protocols: string;
  title: string;
  description: string;
  sponsored: string;
  cta: string;
  clickUrl: string;
  imgUrl: string;
  imgW: string;
  imgH: string;
}

function cformOf(c: Creative | undefined, campaignId: string): CForm {
  const s = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  return {
    id: c?.id ?? '',
    campaignId: c?.campaignId ?? campaignId,
    type: c?.type ?? 'banner',
    name: s(c?.name),
    landingUrl: s(c?.landingUrl),
    w: s(c?.w),
    h: s(c?.h),
    html: s(c?.html),
    imageUrl: s(c?.imageUrl),
    vast: s(c?.vast),
    duration: s(c?.duration),
    mimes: (c?.mimes ?? []).join(', '),
    protocols: (c?.protocols ?? []).join(', '),
    title: s(c?.title),
    description: s(c?.description),
    sponsored: s(c?.sponsored),
    cta: s(c?.cta),
    clickUrl: s(c?.clickUrl),
    imgUrl: s(c?.image?.url),
    imgW: s(c?.image?.w),
    imgH: s(c?.image?.h),
  };
}

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''));

function cbodyOf(f: CForm, creating: boolean): Record<string, unknown> {
  const common = { ...(creating ? { id: f.id.trim(), campaignId: f.campaignId } : {}), type: f.type, name: f.name.trim(), landingUrl: f.landingUrl.trim() };
  const nums = (t: string) => listOf(t)?.map((x) => numberOf(x));
  switch (f.type) {
    case 'banner':
      return defined({ ...common, w: numberOf(f.w), h: numberOf(f.h), html: f.html, imageUrl: f.imageUrl.trim() });
    case 'video':
      return defined({ ...common, vast: f.vast, duration: numberOf(f.duration), mimes: listOf(f.mimes), protocols: nums(f.protocols), w: numberOf(f.w), h: numberOf(f.h) });
    case 'audio':
      return defined({ ...common, vast: f.vast, duration: numberOf(f.duration), mimes: listOf(f.mimes), protocols: nums(f.protocols) });
    default:
      return defined({
        ...common,
        title: f.title,
        description: f.description,
        sponsored: f.sponsored,
        cta: f.cta,
        clickUrl: f.clickUrl.trim(),
        image: f.imgUrl ? { url: f.imgUrl.trim(), w: numberOf(f.imgW), h: numberOf(f.imgH) } : undefined,
      });
  }
}

export function CreativeEdit({ me, id }: { me: Me; id?: string }) {
  const loaded = useLoad(
    () => Promise.all([id ? api<Creative>('GET', `/creatives/${encodeURIComponent(id)}`) : Promise.resolve(undefined), all<Campaign>('/campaigns')]),
    [id],
  );
  if (loaded.error) return html`<h1 tabindex="-1">Creative</h1><${Notice} error=${loaded.error} />`;
  if (!loaded.data) return html`<h1 tabindex="-1">Creative</h1><${Loading} what="the form" />`;
  return html`<${CreativeForm} me=${me} creative=${loaded.data[0]} campaigns=${loaded.data[1]} />`;
}

function CreativeForm({ creative, campaigns }: { me: Me; creative?: Creative; campaigns: Campaign[] }) {
  const creating = !creative;
  const [f, setF] = useState<CForm>(() => cformOf(creative, hashQuery().get('campaign') ?? (campaigns.length === 1 ? campaigns[0].id : '')));
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof CForm) => (v: string) => setF((x) => ({ ...x, [k]: v }));
  const errors = fieldErrors(error);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body = cbodyOf(f, creating);
      const c = creating
        ? await api<Creative>('POST', '/creatives', body)
        : await api<Creative>('PUT', `/creatives/${encodeURIComponent(creative!.id)}`, { ...body, campaignId: creative!.campaignId }, { ifMatch: creative!.version });
      location.hash = `#/creatives/${encodeURIComponent(c.id)}`;
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const F = (label: string, k: keyof CForm, path: string, extra: Record<string, unknown> = {}) =>
    html`<${Field} label=${label} path=${path} errors=${errors} value=${f[k]} onInput=${set(k)} ...${extra} />`;
  return html`<h1 tabindex="-1">${creating ? 'New creative' : `Edit ${creative!.name ?? creative!.id}`}</h1>
    <form onSubmit=${save} novalidate>
      <${Notice} error=${refusal(error, 'creative')} />
      <${Section} title="Creative">
        <div class="grid">
          ${creating && F('Id', 'id', '/id', { required: true, hint: 'Letters, digits, - and _' })}
          ${creating && F('Campaign', 'campaignId', '/campaignId', { required: true, options: [['', 'Choose…'], ...campaigns.map((c) => [c.id, c.name ?? c.id])] })}
          ${F('Type', 'type', '/type', { options: [['banner', 'Banner'], ['video', 'Video (VAST)'], ['audio', 'Audio (VAST)'], ['native', 'Native']], disabled: !creating })}
          ${F('Name', 'name', '/name')}
          ${F('Landing page URL', 'landingUrl', '/landingUrl')}
          ${(f.type === 'banner' || f.type === 'video') && F('Width', 'w', '/w', { required: f.type === 'banner' })}
          ${(f.type === 'banner' || f.type === 'video') && F('Height', 'h', '/h', { required: f.type === 'banner' })}
          ${(f.type === 'video' || f.type === 'audio') && F('Duration (seconds)', 'duration', '/duration', { required: true })}
          ${(f.type === 'video' || f.type === 'audio') && F('MIME types', 'mimes', '/mimes', { required: true, hint: 'video/mp4, audio/mpeg…' })}
          ${(f.type === 'video' || f.type === 'audio') && F('VAST protocols', 'protocols', '/protocols', { required: f.type === 'video', hint: '2, 3, 5, 6' })}
          ${f.type === 'banner' && F('Image URL', 'imageUrl', '/imageUrl', { hint: 'or the HTML below' })}
          ${f.type === 'native' && F('Title', 'title', '/title')}
          ${f.type === 'native' && F('Click URL', 'clickUrl', '/clickUrl', { required: true })}
          ${f.type === 'native' && F('Call to action', 'cta', '/cta')}
          ${f.type === 'native' && F('Sponsored by', 'sponsored', '/sponsored')}
          ${f.type === 'native' && F('Image URL', 'imgUrl', '/image/url')}
          ${f.type === 'native' && F('Image width', 'imgW', '/image/w')}
          ${f.type === 'native' && F('Image height', 'imgH', '/image/h')}
        </div>
        ${f.type === 'banner' && F('HTML', 'html', '/html', { multiline: 6 })}
        ${(f.type === 'video' || f.type === 'audio') && F('VAST XML', 'vast', '/vast', { multiline: 8, required: true })}
        ${f.type === 'native' && F('Description', 'description', '/description', { multiline: 3 })}
      <//>
      <div class="form-actions">
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Saving…' : creating ? 'Create creative' : 'Save changes'}</button>
        <a href="#/creatives">Back to the list</a>
      </div>
    </form>`;
}
