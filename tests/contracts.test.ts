/**
 * Every storage interface has one contract suite, and every class of `src/` that implements one
 * (a backend, a worker proxy, a wrapper) is run through it: a new backend that no test file runs
 * through its interface's contract fails here, with the file it should be added to.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Interface → the contract suite's file (tests/<area>/<interface>.contract.ts) and the function it exports. */
const CONTRACTS: Record<string, { readonly file: string; readonly fn: string }> = {
  SegmentStore: { file: 'tests/audiences/segment-store.contract.ts', fn: 'segmentStoreContract' },
  BudgetStore: { file: 'tests/money/budget-store.contract.ts', fn: 'budgetStoreContract' },
  FrequencyStore: { file: 'tests/money/frequency-store.contract.ts', fn: 'frequencyStoreContract' },
  ConfigStore: { file: 'tests/api/config-store.contract.ts', fn: 'configStoreContract' },
  NoticeDedupe: { file: 'tests/events/notice-dedupe.contract.ts', fn: 'noticeDedupeContract' },
  EventSink: { file: 'tests/events/event-sink.contract.ts', fn: 'eventSinkContract' },
  EventDatabase: { file: 'tests/events/event-database.contract.ts', fn: 'eventDatabaseContract' },
  IdempotencyStore: { file: 'tests/api/idempotency-store.contract.ts', fn: 'idempotencyStoreContract' },
};

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name));
}

/** Concrete classes of src/ per storage interface they implement (directly, or through an abstract base that does). */
function implementations(): Map<string, { name: string; file: string }[]> {
  const classes: { name: string; file: string; abstract: boolean; base?: string; iface?: string }[] = [];
  const decl = /export (abstract )?class (\w+)(?: extends (\w+))?(?: implements ([\w, ]+))? \{/g;
  for (const file of filesUnder('src', '.ts')) {
    for (const m of readFileSync(file, 'utf8').matchAll(decl)) {
      const iface = m[4]?.split(',').map((s) => s.trim()).find((i) => i in CONTRACTS);
      classes.push({ name: m[2], file, abstract: m[1] !== undefined, base: m[3], iface });
    }
  }
  const ifaceOf = (c: (typeof classes)[number]): string | undefined =>
    c.iface ?? (c.base ? ifaceOf(classes.find((b) => b.name === c.base) ?? { name: '', file: '', abstract: true }) : undefined);
  const out = new Map<string, { name: string; file: string }[]>();
  for (const c of classes) {
    const iface = ifaceOf(c);
    if (iface === undefined || c.abstract) continue;
    if (!out.has(iface)) out.set(iface, []);
    out.get(iface)!.push({ name: c.name, file: c.file });
  }
  return out;
}

const testFiles = filesUnder('tests', '.test.ts').map((file) => ({ file, text: readFileSync(file, 'utf8') }));

describe('storage contracts', () => {
  const found = implementations();

  it('finds the implementations it checks (the scan itself works)', () => {
    for (const iface of ['SegmentStore', 'BudgetStore', 'FrequencyStore', 'ConfigStore', 'NoticeDedupe', 'EventSink', 'EventDatabase', 'IdempotencyStore']) {
      expect(found.get(iface)?.length ?? 0, iface).toBeGreaterThanOrEqual(2);
    }
    expect(found.get('ConfigStore')!.map((c) => c.name)).toContain('MemoryConfigStore'); // through BaseConfigStore
  });

  for (const [iface, { file, fn }] of Object.entries(CONTRACTS)) {
    it(`every ${iface} of src/ is run through ${file}`, () => {
      expect(readFileSync(file, 'utf8')).toContain(`export function ${fn}(`);
      const runners = testFiles.filter((t) => t.text.includes(`${fn}(`));
      const missing = (found.get(iface) ?? []).filter((c) => !runners.some((t) => new RegExp(`\\bnew ${c.name}\\b`).test(t.text)));
      expect(missing.map((c) => `${c.name} (${c.file}) is run by no test file calling ${fn}`)).toEqual([]);
    });
  }
});
