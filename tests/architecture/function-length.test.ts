// No function in src/ runs over 80 lines: a function should read at once (docs/architecture.md, "Small modules").
// Every function, method, constructor, accessor, function expression and arrow function is measured from its first
// token to its last (leading comments left out); a nested function counts in its parent's length too, so splitting
// a long registrar means naming its pieces, not nesting them. The allowlist names the few that may stay longer, each
// with its reason; an entry that no longer needs to be there fails too, so the list only shrinks.
import { readFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files.js';

const SRC = resolve(__dirname, '../../src');
export const MAX_LINES = 80;

/** `file:function` (file relative to src/, forward slashes) → why it may run over MAX_LINES; a folder (`simulator/`) covers every file under it. */
const ALLOWED: Readonly<Record<string, string>> = {
  'simulator/': 'the traffic simulator is a development tool, not a request path',
  'openrtb/parse-request.ts:buildView': 'one object literal of the view\'s ~55 fields, written in one place so every view has one fixed shape; pieces would allocate intermediates per request',
  'settings/settings.ts:loadSettings': 'boot only, not a request path: one line per setting',
};

export interface LongFunction {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly lines: number;
}

/** A function's name as a reader would look for it: its declaration, the variable or property it is assigned to, or its class for a constructor. */
function nameOf(node: ts.FunctionLikeDeclaration): string {
  if (ts.isConstructorDeclaration(node)) return `${(node.parent as ts.ClassLikeDeclaration).name?.text ?? '<class>'} constructor`;
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) && parent.name) return parent.name.getText();
  return '<anonymous>';
}

/** Functions of one source text longer than `max` lines. */
export function longFunctions(file: string, text: string, max = MAX_LINES): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      const first = source.getLineAndCharacterOfPosition(fn.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(fn.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max) out.push({ file, line: first + 1, name: nameOf(fn), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const allowedBy = (f: LongFunction): string | undefined =>
  Object.keys(ALLOWED).find((k) => (k.endsWith('/') ? f.file.startsWith(k) : k === `${f.file}:${f.name}`));

describe('function length', () => {
  const found = sourceFiles(SRC).flatMap((path) => longFunctions(relative(SRC, path).split(sep).join('/'), readFileSync(path, 'utf8')));

  it(`no function in src/ is over ${MAX_LINES} lines, except the allowlist`, () => {
    const over = found.filter((f) => !allowedBy(f)).map((f) => `src/${f.file}:${f.line} ${f.name} is ${f.lines} lines`);
    expect(over).toEqual([]);
  });

  it('every allowlist entry is still needed', () => {
    const used = new Set(found.map(allowedBy));
    expect(Object.keys(ALLOWED).filter((k) => !used.has(k))).toEqual([]);
  });

  it('finds a long function, names it and counts its lines', () => {
    const body = Array.from({ length: MAX_LINES - 1 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = `export function planted(): void {\n${body}\n}\nconst short = () => 1;\nclass C {\n  m(): void {\n${body}\n  }\n}\n`;
    expect(longFunctions('x.ts', text)).toEqual([
      { file: 'x.ts', line: 1, name: 'planted', lines: MAX_LINES + 1 },
      { file: 'x.ts', line: MAX_LINES + 4, name: 'm', lines: MAX_LINES + 1 },
    ]);
    expect(longFunctions('x.ts', text, MAX_LINES + 1)).toEqual([]);
  });
});
