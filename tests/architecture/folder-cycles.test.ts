// Folders of src/ import each other one way only: no run-time import cycle between folders.
// Each folder src/<folder>/ is a node, and so is each file at the top of src/ (main.ts, app.ts, log.ts, errors.ts):
// main.ts and app.ts compose everything while log.ts and errors.ts are leaves everything uses, so one 'root' node
// would make a cycle of every folder that logs. Type-only imports (`import type ...`, or imports whose every name is marked `type`) vanish at
// compile time and are left out; re-exports (`export ... from`) and dynamic `import()` are run-time edges.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files.js';

const SRC = resolve(__dirname, '../../src');

/** The node of a file under src/: its folder, or the file itself (main.ts, log.ts...) at the top of src/. */
export function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? parts[0].replace(/\.js$/, '.ts') : parts[0];
}

/** Relative specifiers this source imports or re-exports at run time. */
export function runtimeImports(text: string): string[] {
  const source = ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      specifiers.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers.filter((s) => s.startsWith('.'));
}

/** Folder → folders it imports at run time, each edge with one file pair that makes it. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    if (!graph.has(from)) graph.set(from, new Map());
    for (const spec of runtimeImports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + sep)) continue;
      const to = folderOf(target);
      if (to === from) continue;
      const edges = graph.get(from)!;
      if (!edges.has(to)) edges.set(to, `${relative(SRC, file)} → ${relative(SRC, target)}`);
    }
  }
  return graph;
}

/** Strongly connected components of more than one folder (Tarjan). */
export function folderCycles(graph: Map<string, Map<string, string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return components;
}

describe('folders of src/ import each other one way', () => {
  it('reads run-time imports only', () => {
    expect(
      runtimeImports(
        [
          "import type { A } from './a.js';",
          "import { type B } from './b.js';",
          "import { type C, D } from './c.js';",
          "import E from './e.js';",
          "export { F } from './f.js';",
          "export type { G } from './g.js';",
          "export * from './h.js';",
          "import './i.js';",
          "const j = await import('./j.js');",
          "import { readFileSync } from 'node:fs';",
        ].join('\n'),
      ),
    ).toEqual(['./c.js', './e.js', './f.js', './h.js', './i.js', './j.js']);
  });

  it('finds a cycle of three folders and none in a line', () => {
    const graph = (edges: [string, string][]) => {
      const g = new Map<string, Map<string, string>>();
      for (const [a, b] of edges) {
        if (!g.has(a)) g.set(a, new Map());
        if (!g.has(b)) g.set(b, new Map());
        g.get(a)!.set(b, `${a}→${b}`);
      }
      return g;
    };
    expect(folderCycles(graph([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']]))).toEqual([['a', 'b', 'c']]);
    expect(folderCycles(graph([['a', 'b'], ['b', 'c'], ['a', 'c']]))).toEqual([]);
  });

  it('has no run-time import cycle between folders', () => {
    const graph = folderGraph();
    const report = folderCycles(graph).map((component) => {
      const members = new Set(component);
      const edges = component.flatMap((from) =>
        [...graph.get(from)!.entries()].filter(([to]) => members.has(to)).map(([, via]) => `    ${via}`),
      );
      return `cycle ${component.join(' ↔ ')}:\n${edges.join('\n')}`;
    });
    // The pairs that import each other directly, the shortest cycles, each with one import either way.
    for (const [a, edges] of graph) {
      for (const [b, via] of edges) {
        const back = graph.get(b)?.get(a);
        if (back !== undefined && a < b) report.push(`pair ${a} ↔ ${b}: ${via} / ${back}`);
      }
    }
    expect(report, report.join('\n')).toEqual([]);
  });
});
