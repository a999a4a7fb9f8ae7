/**
 * Just enough Markdown for the docs tests: headings and their GitHub anchors, relative links, and
 * the fenced blocks that follow a `<!-- walkthrough: name -->` marker. Fenced code is skipped when
 * looking for headings and links (a `# comment` in a shell block is not a heading).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** README.md and every Markdown file under docs/, as paths relative to the repository. */
export function markdownFiles(): string[] {
  const out = ['README.md'];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) out.push(path);
    }
  };
  walk('docs');
  return out;
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const f = /^\s*(```+|~~~+)/.exec(line);
    if (f) {
      if (!fence) fence = f[1][0];
      else if (f[1][0] === fence) fence = undefined;
      return;
    }
    if (!fence) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading's text: markup dropped, lower case, punctuation gone, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*_]{1,2}([^`*_]+)[`*_]{1,2}/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown text defines: its headings (repeats get -1, -2, ... as on GitHub) and `<a id|name>`. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of proseLines(text)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      out.add(count ? `${base}-${count}` : base);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(a[1]);
  }
  return out;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

/** Relative links and images of a Markdown text (not http(s), mailto, or inside code). */
export function relativeLinks(file: string, text: string): Link[] {
  const out: Link[] = [];
  for (const { line, n } of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(m[1])) continue;
      out.push({ file, line: n, target: m[1] });
    }
  }
  return out;
}

/** Why a relative link does not resolve, or undefined when it does (file exists; anchor is defined there). */
export function brokenReason(link: Link, read: (path: string) => string | undefined = readRepoFile): string | undefined {
  const [pathPart, anchor] = link.target.split('#', 2) as [string, string | undefined];
  const targetPath = pathPart ? relative(ROOT, resolve(ROOT, dirname(link.file), decodeURIComponent(pathPart))) : link.file;
  if (targetPath.startsWith('..')) return `${targetPath} is outside the repository`;
  const text = read(targetPath);
  if (text === undefined) return `${targetPath} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!targetPath.endsWith('.md')) return `an anchor into ${targetPath}, which is not Markdown`;
  if (!anchorsOf(text).has(anchor)) return `${targetPath} has no heading or anchor "#${anchor}"`;
  return undefined;
}

function readRepoFile(path: string): string | undefined {
  const full = join(ROOT, path);
  if (!existsSync(full)) return undefined;
  return statSync(full).isDirectory() ? '' : readFileSync(full, 'utf8');
}

export interface Walkthrough {
  name: string;
  file: string;
  /** The fenced blocks (```sh) between the marker and `<!-- /walkthrough -->`, in order. */
  blocks: string[];
}

/** The walkthroughs a Markdown text marks with `<!-- walkthrough: name -->` ... `<!-- /walkthrough -->`. */
export function walkthroughsOf(file: string, text: string): Walkthrough[] {
  const out: Walkthrough[] = [];
  let current: Walkthrough | undefined;
  let block: string[] | undefined;
  for (const line of text.split('\n')) {
    if (block) {
      if (/^\s*```\s*$/.test(line)) {
        current?.blocks.push(block.join('\n'));
        block = undefined;
      } else block.push(line);
      continue;
    }
    const open = /<!--\s*walkthrough:\s*([\w-]+)\s*-->/.exec(line);
    if (open) out.push((current = { name: open[1], file, blocks: [] }));
    else if (/<!--\s*\/walkthrough\s*-->/.test(line)) current = undefined;
    else if (current && /^\s*```(sh|bash|shell)\s*$/.test(line)) block = [];
  }
  return out;
}
