import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { integerLiteral, jsonEachRowBytes, jsonEachRowChunks, jsonLinesBytes, stringLiteral, withoutLoneSurrogates } from '../../src/events/sql.js';

const rows = Array.from({ length: 1234 }, (_, i) => ({ id: `e${i}`, n: i, s: i % 7 ? 'plain' : 'quote " back \\ é ✓' }));
/** The engine's own String.prototype.toWellFormed (Node 20; not in this TypeScript lib yet) as the oracle. */
const wellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();
const expected = rows.map((r) => JSON.stringify(r) + '\n').join('');

describe('JSONEachRow encoding', () => {
  it('is taken in chunks of whole rows that join to one line per row', () => {
    const chunks = [...jsonEachRowChunks(rows, 500)];
    expect(chunks).toHaveLength(3);
    expect(chunks.map((c) => c.split('\n').length - 1)).toEqual([500, 500, 234]);
    expect(chunks.join('')).toBe(expected);
    expect([...jsonEachRowChunks([], 500)]).toEqual([]);
  });

  it('encodes lazily: a chunk is only stringified when taken', () => {
    let reads = 0;
    const counted = rows.slice(0, 20).map((r) => ({
      toJSON() {
        reads++;
        return r;
      },
    }));
    const it = jsonEachRowChunks(counted, 5);
    it.next();
    expect(reads).toBe(5);
  });

  it('gives the same bytes as UTF-8, letting other work run between chunks', async () => {
    let immediateRan = false;
    let ranBeforeSecondChunk: boolean | undefined;
    const watched = rows.map((r, i) => ({
      toJSON() {
        if (i === 100) ranBeforeSecondChunk = immediateRan;
        return r;
      },
    }));
    setImmediate(() => (immediateRan = true));
    const bytes = await jsonEachRowBytes(watched, 100);
    expect(ranBeforeSecondChunk).toBe(true);
    expect(bytes.equals(Buffer.from(expected, 'utf8'))).toBe(true);
    expect((await jsonEachRowBytes([], 100)).length).toBe(0);
  });

  it('writes lone surrogates as U+FFFD (ClickHouse refuses the whole insert over one), and nothing else differently', () => {
    const row = {
      request_id: 'r\ud800', // what JSON.parse gives for an exchange's "r\\ud800"
      imp_id: '\udc00x',
      deal_id: 'pair \ud83d\ude00 ok',
      typed: 'backslash-u typed in: \\ud800 \\\ud800',
      cut: '😀'.slice(0, 1), // a pair cut by a length limit
    };
    const [text] = [...jsonEachRowChunks([row])];
    expect(text).not.toMatch(/(?<!\\)(\\\\)*\\ud[89a-f]/);
    expect(JSON.parse(text)).toEqual({
      request_id: 'r\ufffd',
      imp_id: '\ufffdx',
      deal_id: 'pair 😀 ok',
      typed: 'backslash-u typed in: \\ud800 \\\ufffd',
      cut: '\ufffd',
    });
    const clean = JSON.stringify({ a: 'é ✓ 😀 \\ud800 \u0000' });
    expect(withoutLoneSurrogates(clean)).toBe(clean);
  });

  it('any string round-trips as its well-formed self (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '😀', '\\', '\\u', 'ud800', 'd8', '"', '\u0001', 'é'),
      fc.string({ maxLength: 4, unit: 'binary' }),
    );
    const text = fc.array(piece, { maxLength: 12 }).map((xs) => xs.join(''));
    fc.assert(
      fc.property(fc.array(fc.record({ a: text, b: text }), { minLength: 1, maxLength: 5 }), (rows) => {
        const lines = [...jsonEachRowChunks(rows, 2)].join('').split('\n').slice(0, -1);
        expect(lines.map((l) => JSON.parse(l))).toEqual(rows.map((r) => ({ a: wellFormed(r.a), b: wellFormed(r.b) })));
      }),
      { numRuns: 500 },
    );
  });

  it('quotes literals and refuses unsafe integers', () => {
    expect(stringLiteral("it's \\ here")).toBe("'it\\'s \\\\ here'");
    expect(integerLiteral(42)).toBe('42');
    expect(() => integerLiteral(1.5)).toThrow();
  });
});

describe('JSONEachRow from rows already encoded', () => {
  it('gives the same bytes as encoding the objects, lone surrogates as U+FFFD, in chunks', async () => {
    const odd = [...rows.slice(0, 50), { request_id: 'r\ud800', imp: 'a\udfffb' }, ...rows.slice(50)];
    const fromObjects = await jsonEachRowBytes(odd, 100);
    const fromText = await jsonLinesBytes(odd.map((r) => JSON.stringify(r)), 100);
    expect(fromText.equals(fromObjects)).toBe(true);
    expect(fromText.toString('utf8')).toContain('"r\\ufffd"');
    expect((await jsonLinesBytes([], 100)).length).toBe(0);
  });
});
