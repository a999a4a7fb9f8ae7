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

/** Rows as JSONEachRow text: one JSON object per line. */
export function jsonEachRow(rows: readonly Record<string, unknown>[]): string {
  let out = '';
  for (const row of rows) out += JSON.stringify(row) + '\n';
  return out;
}
