/**
 * The console's small UI kit: Preact components written with htm (tagged templates, so the build
 * needs no JSX step). Every input has a visible label; field errors sit next to their field, are
 * tied to it with aria-describedby and announced; buttons are real buttons.
 */
import { html } from './html.js';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { ApiError, errorsByPath, type FieldError } from './api.js';

export { html };

/** Loads `load()` on mount and whenever `deps` change; `reload()` again on demand. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const run = useCallback(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: ApiError) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** A message for a whole request (role="alert" for failures, "status" for good news). */
export function Notice({ error, ok }: { error?: ApiError | Error | string | null; ok?: string | null }) {
  if (error) {
    const e = typeof error === 'string' ? { message: error } : error;
    const fields = e instanceof ApiError ? e.errors : [];
    return html`<div class="notice error" role="alert">
      <strong>${e.message}</strong>
      ${fields.length > 0 &&
      html`<ul>
        ${fields.map((f) => html`<li><code>${f.path}</code> ${f.message}</li>`)}
      </ul>`}
    </div>`;
  }
  if (ok) return html`<div class="notice ok" role="status">${ok}</div>`;
  return null;
}

let ids = 0;
/** A stable id for a label/input pair. */
export function useId(prefix: string): string {
  const [id] = useState(() => `${prefix}-${++ids}`);
  return id;
}

export interface FieldProps {
  label: string;
  /** The API paths whose errors belong here (`/bid/base`). */
  path?: string | string[];
  errors?: Map<string, FieldError[]>;
  hint?: string;
  value: string;
  onInput: (v: string) => void;
  type?: string;
  required?: boolean;
  multiline?: number;
  placeholder?: string;
  disabled?: boolean;
  options?: readonly (readonly [string, string])[];
  autocomplete?: string;
  step?: string;
}

/** A labelled input (or textarea, or select) with its hint and its errors from the API. */
export function Field(p: FieldProps) {
  const id = useId('f');
  const paths = p.path === undefined ? [] : Array.isArray(p.path) ? p.path : [p.path];
  const errs = paths.flatMap((x) => p.errors?.get(x) ?? []);
  const described = [p.hint ? `${id}-hint` : '', errs.length ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: paths[0] ?? id,
    value: p.value,
    disabled: p.disabled,
    required: p.required,
    'aria-invalid': errs.length ? 'true' : undefined,
    'aria-describedby': described,
    onInput: (e: Event) => p.onInput((e.currentTarget as HTMLInputElement).value),
  };
  const control = p.options
    ? html`<select ...${common} onChange=${common.onInput}>
        ${p.options.map(([v, l]) => html`<option value=${v} selected=${v === p.value}>${l}</option>`)}
      </select>`
    : p.multiline
      ? html`<textarea ...${common} rows=${p.multiline} placeholder=${p.placeholder} spellcheck=${false}></textarea>`
      : html`<input ...${common} type=${p.type ?? 'text'} placeholder=${p.placeholder} autocomplete=${p.autocomplete} step=${p.step} />`;
  return html`<div class=${`field${errs.length ? ' invalid' : ''}`}>
    <label for=${id}>${p.label}${p.required ? html`<span aria-hidden="true"> *</span>` : ''}</label>
    ${control}
    ${p.hint && html`<small id=${`${id}-hint`} class="hint">${p.hint}</small>`}
    ${errs.length > 0 && html`<small id=${`${id}-err`} class="field-error">${errs.map((e) => e.message).join('; ')}</small>`}
  </div>`;
}

/** Checkboxes for a set of values. */
export function Checks({ legend, options, value, onChange, errors, path }: {
  legend: string;
  options: readonly (readonly [string, string])[];
  value: readonly string[];
  onChange: (v: string[]) => void;
  errors?: Map<string, FieldError[]>;
  path?: string;
}) {
  const errs = path ? (errors?.get(path) ?? []) : [];
  return html`<fieldset class=${`checks${errs.length ? ' invalid' : ''}`}>
    <legend>${legend}</legend>
    ${options.map(
      ([v, l]) => html`<label class="check"
        ><input
          type="checkbox"
          checked=${value.includes(v)}
          onChange=${(e: Event) => {
            const on = (e.currentTarget as HTMLInputElement).checked;
            onChange(on ? [...value, v] : value.filter((x) => x !== v));
          }}
        />
        ${l}</label
      >`,
    )}
    ${errs.length > 0 && html`<small class="field-error" role="alert">${errs.map((e) => e.message).join('; ')}</small>`}
  </fieldset>`;
}

export function Status({ value }: { value?: string }) {
  return html`<span class=${`badge ${value ?? 'unknown'}`}>${value ?? '–'}</span>`;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return html`<section class="card">
    <div class="card-head"><h2>${title}</h2>${actions && html`<div class="actions">${actions}</div>`}</div>
    ${children}
  </section>`;
}

export function Loading({ what }: { what: string }) {
  return html`<p class="muted" role="status">Loading ${what}…</p>`;
}

/** Errors by path for a failed request (empty when it is not a validation failure). */
export function fieldErrors(e: unknown): Map<string, FieldError[]> {
  return e instanceof ApiError ? errorsByPath(e.errors) : new Map();
}

/**
 * What a form shows for a refused save: a conflict (412) says so and keeps the edits; a
 * validation failure points at the fields (each error is also shown beside its own field).
 */
export function refusal(e: ApiError | Error | null | undefined, what: string): ApiError | Error | null {
  if (!e) return null;
  if (!(e instanceof ApiError)) return e;
  if (e.status === 412)
    return new ApiError(412, e.code, `Someone changed this ${what} after you opened it, so your save was refused rather than overwrite their change. Your edits are still here: note what you need, then reload the ${what}.`);
  if (e.errors.length) return new ApiError(e.status, e.code, 'Some fields need attention (marked below).', e.errors);
  return e;
}

/** Money with cents, and with up to 4 decimals below 1 (one impression costs a thousandth of its CPM). */
export const money = (n: number | null | undefined, currency = '') => {
  if (n === null || n === undefined) return '–';
  const small = n !== 0 && Math.abs(n) < 1;
  const text = n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: small ? 4 : 2 });
  return `${text}${currency ? ` ${currency}` : ''}`;
};
export const pct = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? '–' : `${(n * 100).toFixed(digits)} %`);
export const count = (n: number | null | undefined) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
export const when = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '–');

/** Comma- or newline-separated text to a list (empty: undefined). */
export function listOf(text: string): string[] | undefined {
  const items = text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** A number typed in a field; text that is not one is sent as is, so the API names the field. */
export function numberOf(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** Who made an audit entry: the key's name (or id) and role. */
export interface Actor {
  readonly keyId: string;
  readonly role: string;
  readonly name?: string;
}
export const actorName = (a: Actor) => `${a.name ?? a.keyId} (${a.role})`;

export const today = () => new Date().toISOString().slice(0, 10);
export const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
