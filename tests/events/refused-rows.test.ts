import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isolateRefused, refusesRows, setAside } from '../../src/events/refused-rows.js';
import type { Row } from '../../src/events/spool.js';

/** Messages as the engines give them (captured from 18.16 over HTTP and from chDB). */
const DATA_ERRORS = [
  "Code: 72, e.displayText() = DB::Exception: Unsigned type must not contain '-' symbol: (while read the value of key n): (at row 1)",
  'Code: 25, e.displayText() = DB::Exception: Cannot parse escape sequence: missing second part of surrogate pair',
  'Code: 41. DB::Exception: Cannot read DateTime: unexpected word: (while reading the value of key d): (at row 1)',
  'Code: 27. DB::Exception: Cannot parse input: expected \',\' before: \'.5}\\n\': (at row 1)',
];
const OTHER_ERRORS = [
  'Code: 117, e.displayText() = DB::Exception: Unknown field found while parsing JSONEachRow format: zz: (at row 1)',
  "Code: 60. DB::Exception: Table dsp.nope does not exist. Maybe you meant system.one?. (UNKNOWN_TABLE)",
  'connect ECONNREFUSED 127.0.0.1:8123',
  'Timeout error.',
  'fake store: insert into wins failed',
];

describe('refusesRows', () => {
  it('is true only for errors about a value the store cannot read', () => {
    for (const m of DATA_ERRORS) expect(refusesRows(new Error(m)), m).toBe(true);
    for (const m of OTHER_ERRORS) expect(refusesRows(new Error(m)), m).toBe(false);
    // Current servers through @clickhouse/client: the code is parsed out of the message.
    expect(refusesRows(Object.assign(new Error("Unsigned type must not contain '-' symbol"), { code: '72' }))).toBe(true);
    expect(refusesRows(Object.assign(new Error('Unknown field found while parsing JSONEachRow format'), { code: '117' }))).toBe(false);
    expect(refusesRows(Object.assign(new Error('Code: 72. chDB'), { code: 'CHDB_INSERT' }))).toBe(true);
    expect(refusesRows(undefined)).toBe(false);
  });
});

/** An insert that refuses any part holding a poisoned row (as a data error), recording what it took. */
function store(poison: (r: Row) => boolean, otherFailureAt?: number) {
  const inserted: Row[] = [];
  let calls = 0;
  return {
    inserted,
    get calls() {
      return calls;
    },
    insert: async (rows: readonly Row[]) => {
      calls++;
      if (calls === otherFailureAt) throw new Error('connect ECONNREFUSED');
      const bad = rows.find(poison);
      if (bad) throw new Error(`Code: 72. DB::Exception: cannot parse ${String(bad.id)}`);
      inserted.push(...rows);
    },
  };
}

const rowsOf = (n: number): Row[] => Array.from({ length: n }, (_, i) => ({ id: i }));

describe('isolateRefused', () => {
  it('finds the one bad row of 20,000 in about 2 log2(n) inserts; the rest is inserted once', async () => {
    const rows = rowsOf(20_000);
    const s = store((r) => r.id === 12_345);
    const refused = await isolateRefused(s.insert, rows, new Error('Code: 72. whole batch'));
    expect(refused.map((r) => r.row)).toEqual([{ id: 12_345 }]);
    expect(refused[0].error).toBe('Code: 72. DB::Exception: cannot parse 12345');
    expect(s.inserted.length).toBe(19_999);
    expect(new Set(s.inserted.map((r) => r.id)).size).toBe(19_999);
    expect(s.calls).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(20_000)));
  });

  it('every row is either inserted once or refused, never both or neither; with budget enough, exactly the bad ones are refused (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.array(fc.nat(299), { maxLength: 12 }), fc.integer({ min: 1, max: 400 }), async (n, badIds, budget) => {
        const bad = new Set(badIds.filter((i) => i < n));
        if (bad.size === 0) bad.add(0); // the caller only isolates an insert that was refused
        const rows = rowsOf(n);
        const s = store((r) => bad.has(r.id as number));
        const refused = await isolateRefused(s.insert, rows, new Error('Code: 72. whole'), budget);
        const inserted = s.inserted.map((r) => r.id as number);
        const out = refused.map((r) => r.row.id as number);
        expect(new Set(inserted).size).toBe(inserted.length);
        expect([...inserted, ...out].sort((a, b) => a - b)).toEqual(rows.map((r) => r.id));
        for (const id of bad) expect(out).toContain(id);
        expect(s.calls).toBeLessThanOrEqual(budget);
        if (budget >= 2 * n) expect(out.sort((a, b) => a - b)).toEqual([...bad].sort((a, b) => a - b));
      }),
      { numRuns: 200 },
    );
  });

  it('throws an error that is not about the data (the caller retries the whole insert)', async () => {
    const s = store((r) => r.id === 3, 2);
    await expect(isolateRefused(s.insert, rowsOf(8), new Error('Code: 72. whole'))).rejects.toThrow('ECONNREFUSED');
  });
});

describe('setAside', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('writes one spool-like line per row, with the error, in a file of its own', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'refused-')), 'refused');
    dirs.push(dir);
    const rows = [
      { row: { event_id: 'a', loss_reason: -1 }, error: 'Code: 72. no' },
      { row: { event_id: 'b"\\', n: 1 }, error: 'Code: 27. also\nno' },
    ];
    const p1 = await setAside(dir, 'losses', rows, 0);
    const p2 = await setAside(dir, 'losses', rows.slice(1), 1);
    expect(p1).not.toBe(p2);
    expect((await readdir(dir)).sort()).toEqual([p1, p2].map((p) => p.slice(dir.length + 1)).sort());
    const lines = (await readFile(p1, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(rows.map((r) => ({ t: 'losses', error: r.error, r: r.row })));
  });
});
