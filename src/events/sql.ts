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
 * Lone surrogates come out as U+FFFD (`withoutLoneSurrogates`, which the ClickHouse adapter
 * applies to each row it sends as well).
 */
export function* jsonEachRowChunks(rows: readonly Record<string, unknown>[], sliceRows = 500): Generator<string> {
  for (let i = 0; i < rows.length; i += sliceRows) {
    let out = '';
    const end = Math.min(rows.length, i + sliceRows);
    for (let j = i; j < end; j++) out += JSON.stringify(rows[j]) + '\n';
    yield withoutLoneSurrogates(out);
  }
}

/** A `\udXXX` escape (D800-DFFF) after an even run of backslashes: not itself escaped text. */
const LONE_SURROGATE_ESCAPE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;

/**
 * JSON text from JSON.stringify with its lone surrogates written as U+FFFD.
 *
 * Exchange-supplied ids (request, imp, deal) are any JSON string, and JSON allows a lone surrogate
 * (`"\ud800"`), which a JavaScript string can hold but UTF-8 cannot. JSON.stringify writes it as
 * that escape, and ClickHouse (18.16 and current) refuses the whole insert ("missing second part of
 * surrogate pair"): retried forever, one such row would hold up every event behind it. It becomes
 * U+FFFD, as it does where the same id is UTF-8 encoded (the signed payload of notice URLs).
 * JSON.stringify escapes a surrogate only when it is lone, so any such escape is one; a
 * backslash-u typed into a string is written `\\ud800` and left alone. Checked with one
 * `includes` per chunk: rows without one are returned as they are.
 */
export function withoutLoneSurrogates(json: string): string {
  return json.includes('\\ud') ? json.replace(LONE_SURROGATE_ESCAPE, '$1\\ufffd') : json;
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

/**
 * Rows given as their JSON text (JSON.stringify of each), as the same JSONEachRow bytes as
 * jsonEachRowBytes of the objects: joined a chunk at a time, lone surrogates as U+FFFD.
 */
export async function jsonLinesBytes(rows: readonly string[], sliceRows = 2_000): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < rows.length; i += sliceRows) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    const end = Math.min(rows.length, i + sliceRows);
    let out = '';
    for (let j = i; j < end; j++) out += rows[j] + '\n';
    parts.push(Buffer.from(withoutLoneSurrogates(out), 'utf8'));
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
