/**
 * Rows the store refuses as data. An insert that fails because one row cannot be parsed (a
 * value out of its column's range, text where a number goes, a bad escape) would fail the same
 * way on every retry, and the writer inserts in order: one such row would hold up every event
 * behind it until the spool fills its disk (or its cap, when one is set), then cost new ones. So a
 * refused insert is split in halves, recursively, until the refused rows are found; the others are
 * inserted, and the refused ones are written, with the store's error, to a file of their own
 * (`<spool>/refused/`), counted and logged: set aside for an operator, never dropped.
 *
 * Only errors that name the data are treated so. An unreachable store, a timeout, an unknown table
 * or column (a schema behind the code) is retried as before: those are the store's state, not the
 * rows', and setting rows aside for them would empty the reports.
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir, type Row } from './spool.js';

/**
 * ClickHouse error codes (18.16 and current) for a value that cannot be read as its column's type:
 * CANNOT_PARSE_TEXT 6, CANNOT_PARSE_ESCAPE_SEQUENCE 25, CANNOT_PARSE_QUOTED_STRING 26,
 * CANNOT_PARSE_INPUT_ASSERTION_FAILED 27, CANNOT_PARSE_DATE 38, CANNOT_PARSE_DATETIME 41,
 * TYPE_MISMATCH 53, ARGUMENT_OUT_OF_BOUND 69, CANNOT_CONVERT_TYPE 70, CANNOT_PARSE_NUMBER 72,
 * TOO_LARGE_STRING_SIZE 131, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE 321. Not INCORRECT_DATA 117, which
 * is also what an unknown field (a column the table does not have yet) gives.
 */
const DATA_ERROR_CODES = new Set([6, 25, 26, 27, 38, 41, 53, 69, 70, 72, 131, 321]);

/**
 * Whether the store refused an insert because of what some row holds (see DATA_ERROR_CODES). The
 * code is the error's `code` where the HTTP client parsed one (current servers), else the message's
 * leading `Code: N` (18.16's text, chDB's).
 */
export function refusesRows(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return DATA_ERROR_CODES.has(Number(code));
  const m = /^Code: (\d+)[.,]/.exec(err instanceof Error ? err.message : String(err));
  return m !== null && DATA_ERROR_CODES.has(Number(m[1]));
}

export interface RefusedRow {
  readonly row: Row;
  /** The store's message for the smallest insert that held the row. */
  readonly error: string;
}

/**
 * Inserts `rows`, which the store refused as a whole with `err`, in halves, recursively, and returns
 * the rows it refuses alone. One bad row among 20,000 costs about 30 inserts. Once `maxInserts`
 * are spent, the parts not yet sorted out are returned whole (set aside with the error of the part
 * they came from, good rows among them, rather than thousands of one-row inserts). Any other error is thrown: the caller retries the whole insert
 * later (rows inserted twice are one event to the ReplacingMergeTree tables and the reports).
 */
export async function isolateRefused(
  insert: (rows: readonly Row[]) => Promise<void>,
  rows: readonly Row[],
  err: unknown,
  maxInserts = 200,
): Promise<RefusedRow[]> {
  const refused: RefusedRow[] = [];
  let budget = maxInserts;
  const refuse = (part: readonly Row[], partErr: unknown): void => {
    const error = partErr instanceof Error ? partErr.message : String(partErr);
    for (const row of part) refused.push({ row, error });
  };
  // `part` was refused with `partErr`.
  const split = async (part: readonly Row[], partErr: unknown): Promise<void> => {
    if (part.length === 1) return refuse(part, partErr);
    const mid = part.length >>> 1;
    for (const half of [part.slice(0, mid), part.slice(mid)]) {
      if (budget <= 0) {
        refuse(half, partErr); // not sorted out within the budget: set aside whole
        continue;
      }
      budget--;
      try {
        await insert(half);
      } catch (e) {
        if (!refusesRows(e)) throw e;
        await split(half, e);
      }
    }
  };
  await split(rows, err);
  return refused;
}

/**
 * Writes refused rows to `<dir>/<table>-<time>-<n>.ndjson`, one `{"t":table,"error":...,"r":row}`
 * line each (the spool's line with the error added), and makes the file and its name durable:
 * once this returns, the rows may leave the spool. Returns the file's path.
 */
export async function setAside(dir: string, table: string, refused: readonly RefusedRow[], seq: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${table}-${new Date().toISOString().replace(/[:.]/g, '-')}-${seq}.ndjson`);
  let text = '';
  for (const r of refused) text += `${JSON.stringify({ t: table, error: r.error, r: r.row })}\n`;
  const fh = await open(path, 'wx');
  try {
    await fh.writeFile(text);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await syncDir(dir);
  return path;
}
