/**
 * Reads every JSON and YAML file under a config directory, validates each against the bundle
 * schema, merges them, then checks the cross-file rules. Any error refuses the whole set,
 * with every field-level error listed at once.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type FieldError } from '../errors.js';
import type { ConfigBundle } from './schema.js';
import { validateBundleRules, validateBundleShape } from './validate.js';

const CONFIG_FILE = /\.(json|ya?ml)$/i;
const LIST_KEYS = ['exchanges', 'advertisers', 'campaigns'] as const;

export async function loadBundleFromDir(dir: string): Promise<ConfigBundle> {
  const files = (await listFiles(dir)).filter((f) => CONFIG_FILE.test(f)).sort();
  const parts: { name: string; text: string }[] = [];
  for (const file of files) parts.push({ name: relative(dir, file), text: await readFile(file, 'utf8') });
  return bundleFromTexts(parts);
}

/** Parses, validates and merges named file texts; throws ConfigError listing every problem. */
export function bundleFromTexts(parts: readonly { name: string; text: string }[]): ConfigBundle {
  const errors: FieldError[] = [];
  const origin = new WeakMap<object, string>();
  const merged: ConfigBundle = { exchanges: [], advertisers: [], campaigns: [] };
  for (const { name, text } of parts) {
    let doc: unknown;
    try {
      doc = /\.json$/i.test(name) ? JSON.parse(text) : parseYaml(text);
    } catch (e) {
      errors.push({ path: `${name}`, code: 'parse_error', message: (e as Error).message.split('\n')[0] });
      continue;
    }
    if (doc === null || doc === undefined) continue;
    const shapeErrors = validateBundleShape(doc, `${name}#`);
    if (shapeErrors.length) {
      errors.push(...shapeErrors);
      continue;
    }
    const bundle = doc as ConfigBundle;
    for (const key of LIST_KEYS) {
      for (const [i, item] of (bundle[key] ?? []).entries()) {
        origin.set(item, `${name}#/${key}/${i}`);
        (merged[key] as object[]).push(item);
      }
    }
    for (const key of ['defaultExchange', 'currencies'] as const) {
      if (bundle[key] === undefined) continue;
      if (merged[key] !== undefined) errors.push({ path: `${name}#/${key}`, code: 'duplicate', message: 'is set in more than one file' });
      (merged as Record<string, unknown>)[key] = bundle[key];
      if (key === 'defaultExchange') origin.set(merged, `${name}#`);
    }
  }
  if (!errors.length) errors.push(...validateBundleRules(merged, (item) => origin.get(item) ?? ''));
  if (errors.length) throw new ConfigError(errors);
  return merged;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Hidden entries are skipped: a Kubernetes ConfigMap volume keeps its real files in `..data` and
    // timestamped `..2026_...` directories, with the visible names as symlinks to them.
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isFile())) out.push(full);
  }
  return out;
}
