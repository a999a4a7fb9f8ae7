/** Small SQL helpers shared by the adapters, migrations and reports. */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A bare identifier (database, table, column). Throws rather than quote: names come from code, not users. */
export function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

/** A single-quoted ClickHouse string literal (backslash and quote escaped). */
export function stringLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** An integer literal; throws on anything that is not a safe integer. */
export function integerLiteral(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`);
  return String(value);
}

/**
 * Rows as JSONEachRow text, in chunks of `sliceRows` rows, encoded only as each chunk is taken.
 * A second of bids is thousands of rows, several milliseconds of JSON.stringify: taken a chunk at
 * a time, with the event loop free between chunks, it never holds up a bid for more than one.
 */
export function* jsonEachRowChunks(rows: readonly Record<string, unknown>[], sliceRows = 500): Generator<string> {
  for (let i = 0; i < rows.length; i += sliceRows) {
    let out = '';
    const end = Math.min(rows.length, i + sliceRows);
    for (let j = i; j < end; j++) out += JSON.stringify(rows[j]) + '\n';
    yield out;
  }
}

/** jsonEachRowChunks as UTF-8 bytes, yielding to the event loop between chunks. */
export async function jsonEachRowBytes(rows: readonly Record<string, unknown>[], sliceRows = 500): Promise<Buffer> {
  const parts: Buffer[] = [];
  const chunks = jsonEachRowChunks(rows, sliceRows);
  for (let next = chunks.next(); !next.done; ) {
    parts.push(Buffer.from(next.value, 'utf8'));
    await new Promise((r) => setImmediate(r)); // before the next chunk is encoded
    next = chunks.next();
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
