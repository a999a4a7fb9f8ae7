/**
 * Shared by the deployment tests (tests/deploy/): the repository root, the environment variables the
 * bidder reads, the metric names it exports, PromQL metric extraction, external tools, and a small
 * Dockerfile parser.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';

export const ROOT = join(import.meta.dirname, '..', '..');
export const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** Every environment variable src/settings/settings.ts reads. */
export function settingsEnvNames(): Set<string> {
  // The process settings, and the config API's (src/api/settings.ts: CONFIG_STORE, DSP_ADMIN_KEY, ...).
  const src = read('src/settings/settings.ts') + read('src/api/settings.ts');
  const names = new Set<string>();
  for (const m of src.matchAll(/\b(?:int|ratio|bool)\(\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]);
  for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]);
  for (const m of src.matchAll(/\benv\[\s*'([A-Z][A-Z0-9_]*)'\s*\]/g)) names.add(m[1]);
  for (const m of src.matchAll(/\bnum\(\s*'([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]);
  return names;
}

/** The default of an integer setting, as written in src/settings/settings.ts (`int('NAME', 10_000, ...)`). */
export function settingDefault(name: string): number {
  const m = new RegExp(`\\bint\\(\\s*'${name}',\\s*([\\d_]+)\\s*,`).exec(read('src/settings/settings.ts'));
  if (!m) throw new Error(`src/settings/settings.ts: no integer setting ${name} with a literal default`);
  return Number(m[1].replace(/_/g, ''));
}

/** Variables of Node.js itself, fine to set beside the bidder's own. */
export const NODE_ENV_NAMES = new Set(['NODE_ENV', 'NODE_OPTIONS']);

/** Metric names the bidder exports: src/metrics/*.ts, the Metrics table (docs/operations.md), and prom-client's defaults. */
export function knownMetricNames(): { src: Set<string>; readme: Set<string>; defaults: Set<string>; all: Set<string> } {
  const src = new Set<string>();
  for (const f of readdirSync(join(ROOT, 'src', 'metrics'))) {
    if (!f.endsWith('.ts')) continue;
    for (const m of read(`src/metrics/${f}`).matchAll(/\bname:\s*'([a-z_:][a-z0-9_:]*)'/g)) src.add(m[1]);
  }
  const readme = new Set<string>();
  const text = read('docs/operations.md');
  const start = text.indexOf('\n## Metrics');
  if (start >= 0) {
    const end = text.indexOf('\n## ', start + 1);
    const section = text.slice(start + 1, end < 0 ? undefined : end);
    for (const line of section.split('\n')) {
      if (!line.startsWith('| `')) continue;
      const firstCell = line.split('|')[1];
      for (const m of firstCell.matchAll(/`([a-z_:][a-z0-9_:]*)`/g)) readme.add(m[1]);
    }
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const defaults = new Set(registry.getMetricsAsArray().map((m) => m.name));
  return { src, readme, defaults, all: new Set([...src, ...readme, ...defaults]) };
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan']);

/** The metric (or recording rule) names a PromQL expression selects. */
export function metricsInExpr(expr: string): string[] {
  let e = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\$\{?[A-Za-z_]\w*\}?/g, ' ') // Grafana variables ($__rate_interval, ${datasource})
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' '); // label lists
  e = e.replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]?\b/gi, ' ');
  const out = new Set<string>();
  for (const m of e.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (m[2]) continue; // a function call
    if (PROMQL_WORDS.has(m[1].toLowerCase())) continue;
    out.add(m[1]);
  }
  return [...out];
}

/** A histogram's or summary's series names map back to the metric. */
export function baseMetricName(name: string, known: Set<string>): string {
  if (known.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m && known.has(m[1]) ? m[1] : name;
}

/** A command-line tool, or undefined when it is not installed. */
export function tool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/usr/local/bin'])) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export function run(cmd: string, args: string[], cwd = ROOT): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

export interface DockerStage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: DockerInstruction[];
}

/** Dockerfile instructions per stage (line continuations joined, comments dropped). */
export function parseDockerfile(text: string): { args: DockerInstruction[]; stages: DockerStage[] } {
  const instructions: DockerInstruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = i;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i])) continue;
      line = line.replace(/\\\s*$/, ' ') + lines[i];
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    if (m) instructions.push({ keyword: m[1].toUpperCase(), args: m[2].trim().replace(/\s+/g, ' '), line: first + 1 });
  }
  const args: DockerInstruction[] = [];
  const stages: DockerStage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: m?.[1] ?? ins.args, name: m?.[2], instructions: [] });
    } else if (stages.length === 0) args.push(ins);
    else stages[stages.length - 1].instructions.push(ins);
  }
  return { args, stages };
}

/** `KEY=value KEY2="v 2"` (ENV, LABEL) into pairs. */
export function keyValues(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) out[m[1]] = m[2].replace(/^"|"$/g, '');
  return out;
}
