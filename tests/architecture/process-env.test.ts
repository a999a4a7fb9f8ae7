// Settings come from the environment in src/settings/ only (settings/environment.ts, settings.ts, log-level.ts); everything
// else takes them, or an Environment, as a parameter. Any read of `process.env` elsewhere in src/ fails here, named by file:line.
import { readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files.js';

const SRC = resolve(__dirname, '../../src');
const CONFIG = join(SRC, 'settings') + sep;

const isProcess = (node: ts.Node): boolean => ts.isIdentifier(node) && node.text === 'process';

/**
 * 1-based lines where `text` reads the environment through `process`: `process.env`, `process['env']`,
 * `process?.env`, or `{ env } = process` (comments and strings do not count).
 */
export function environmentReads(text: string): number[] {
  const source = ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines: number[] = [];
  const at = (node: ts.Node) => lines.push(source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1);
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && isProcess(node.expression) && node.name.text === 'env') at(node);
    else if (
      ts.isElementAccessExpression(node) &&
      isProcess(node.expression) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      node.argumentExpression.text === 'env'
    )
      at(node);
    else if (
      ts.isVariableDeclaration(node) &&
      node.initializer !== undefined &&
      isProcess(node.initializer) &&
      ts.isObjectBindingPattern(node.name) &&
      node.name.elements.some((e) => ((e.propertyName ?? e.name) as ts.Identifier).text === 'env')
    )
      at(node);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

describe('process.env is read in src/settings/ only', () => {
  it('finds every way of reading it, and nothing in comments or strings', () => {
    const text = [
      '// process.env.A in a comment',
      "const a = process.env.A;",
      "const b = process['env'].B;",
      'const { env } = process;',
      'const c = process?.env;',
      "const s = 'process.env.S';",
      'const e = processEnvironment();',
      'const { argv } = process;',
    ].join('\n');
    expect(environmentReads(text)).toEqual([2, 3, 4, 5]);
  });

  it('has no read of process.env outside src/settings/', () => {
    const reads = sourceFiles(SRC)
      .filter((file) => !file.startsWith(CONFIG))
      .flatMap((file) => environmentReads(readFileSync(file, 'utf8')).map((line) => `src/${relative(SRC, file).split(sep).join('/')}:${line}`));
    expect(reads, `process.env read outside src/settings/ (take an Environment or a setting instead):\n${reads.join('\n')}`).toEqual([]);
  });

  it('sees the reads in src/settings/ itself (the scan reaches the files)', () => {
    expect(environmentReads(readFileSync(join(CONFIG, 'environment.ts'), 'utf8')).length).toBeGreaterThan(0);
  });
});
