import { describe, expect, it } from 'vitest';
import { integerLiteral, jsonEachRowBytes, jsonEachRowChunks, stringLiteral } from '../../src/events/sql.js';

const rows = Array.from({ length: 1234 }, (_, i) => ({ id: `e${i}`, n: i, s: i % 7 ? 'plain' : 'quote " back \\ é ✓' }));
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

  it('quotes literals and refuses unsafe integers', () => {
    expect(stringLiteral("it's \\ here")).toBe("'it\\'s \\\\ here'");
    expect(integerLiteral(42)).toBe('42');
    expect(() => integerLiteral(1.5)).toThrow();
  });
});
