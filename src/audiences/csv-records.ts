/**
 * RFC 4180 records from a byte stream, with the line each record starts on. Parsing is csv-parse's
 * (quoted fields may hold commas, doubled quotes, CR and LF; CRLF or LF ends a record; a UTF-8 byte
 * order mark is dropped); this module adds what an upload needs around it:
 *
 * - Line numbers: a record's first physical line (1-based), for records and for errors alike.
 * - A bounded record size: a record over `maxRecordBytes` is rejected once. An unquoted one is
 *   skipped to the end of its line and parsing goes on; for one inside quotes the end cannot be
 *   known (the quotes may hold line breaks), so the rest of the stream is not parsed: the record is
 *   never held whole, whatever the input.
 * - Recovery: a malformed record (text after a closing quote, a quote inside an unquoted field) is
 *   one error; parsing starts afresh on the line after the one where the error was found.
 * - An unterminated quote at the end of the stream is one error, on the line the record starts.
 *
 * `write` is synchronous (records and errors reach the sink before it returns, in order), so the
 * caller decides how much to feed between its own pauses. `end` flushes the last record.
 *
 * Records are taken from csv-parse as it pushes them (RecordParser), not through the stream's
 * buffer or its on_record hook: the hook builds an info object per record and costs more than half
 * the parse. Lines are counted here from each record's raw text, which holds every byte of the
 * record, the blank lines before it and the first byte of its delimiter.
 */
import { Parser } from 'csv-parse';

export interface CsvSink {
  /** A parsed record and the line it starts on. */
  record(fields: string[], line: number): void;
  /** A record that could not be parsed, by the line it starts on. */
  error(line: number, message: string): void;
}

const LF = 0x0a;
const CR = 0x0d;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

interface RawRecord {
  record: string[];
  raw: string;
}

/** A parse error thrown from on_skip to stop csv-parse where it is. */
class Stop extends Error {}

/** csv-parse's stream parser, its records handed over synchronously as they are pushed. */
class RecordParser extends Parser {
  constructor(
    options: ConstructorParameters<typeof Parser>[0],
    private readonly onRecord: (r: RawRecord) => void,
  ) {
    super(options);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return super.push(chunk, encoding);
    this.onRecord(chunk as RawRecord);
    return true;
  }
}

export class CsvRecords {
  private parser!: RecordParser;
  /** Lines complete before the record being parsed (the current parser's base included). */
  private linesDone = 0;
  /** Line feeds in every byte written so far. */
  private lineFeeds = 0;
  private lastByte = -1;
  private bytes = 0;
  /** The first three bytes (a byte order mark alone is not a line). */
  private head = Buffer.alloc(0);
  /** After an error on this line, bytes are dropped up to and including its line feed (Infinity: the rest). */
  private resumeAfterLine: number | undefined;
  private stopped: { resumeAfterLine: number } | undefined;

  constructor(
    private readonly sink: CsvSink,
    private readonly maxRecordBytes: number,
  ) {
    this.start(0);
  }

  /** Physical lines seen so far (a last line without a line feed counts). */
  get lines(): number {
    const onlyBom = this.bytes === 3 && this.head.equals(BOM);
    return this.lineFeeds + (this.lastByte >= 0 && this.lastByte !== LF && !onlyBom ? 1 : 0);
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.bytes < 3) this.head = Buffer.concat([this.head, chunk.subarray(0, 3 - this.bytes)]);
    this.bytes += chunk.length;
    const linesBefore = this.lineFeeds;
    this.lineFeeds += countLineFeeds(chunk);
    this.lastByte = chunk[chunk.length - 1]!;
    let rest = chunk;
    let restLinesBefore = linesBefore;
    for (;;) {
      if (this.resumeAfterLine !== undefined) {
        if (this.resumeAfterLine === Infinity) return;
        const n = this.resumeAfterLine - restLinesBefore;
        const at = n > 0 ? nthLineFeed(rest, n) : -1;
        if (n > 0 && at < 0) return; // the rejected line goes on in the next chunk
        this.start(this.resumeAfterLine);
        this.resumeAfterLine = undefined;
        restLinesBefore = this.linesDone;
        rest = rest.subarray(at + 1);
        if (rest.length === 0) return;
      }
      this.parser.write(rest);
      if (!this.stopped) return;
      this.resumeAfterLine = this.stopped.resumeAfterLine;
      this.stopped = undefined;
    }
  }

  /** The stream ended: the last record (or the unterminated quote) reaches the sink. */
  end(): Promise<void> {
    if (this.resumeAfterLine !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.parser.once('error', () => resolve());
      this.parser.end(() => resolve());
    });
  }

  private start(lineBase: number): void {
    this.linesDone = lineBase;
    const parser = new RecordParser(
      {
        bom: true,
        record_delimiter: ['\r\n', '\n'],
        relax_column_count: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        max_record_size: this.maxRecordBytes,
        raw: true,
        on_skip: (e: (Error & { code?: string }) | undefined, raw: string | undefined) => {
          const b = breaks(raw ?? '');
          const line = this.linesDone + b.blank + 1;
          const code = e?.code ?? '';
          this.sink.error(line, messageFor(code, this.maxRecordBytes));
          if (code === 'CSV_QUOTE_NOT_CLOSED') return; // the end of the stream: nothing left to skip
          const quoted = code === 'CSV_MAX_RECORD_SIZE' && (raw ?? '').includes('"');
          this.stopped = { resumeAfterLine: quoted ? Infinity : line + b.inner }; // the line the error is on
          throw new Stop(code);
        },
      },
      (r) => {
        const b = breaks(r.raw);
        const line = this.linesDone + b.blank + 1;
        this.linesDone = line + b.inner + b.end - 1;
        if (r.raw.length > this.maxRecordBytes / 3 && tooLong(r.raw, b.end, this.maxRecordBytes))
          this.sink.error(line, `record longer than ${this.maxRecordBytes} bytes`);
        else this.sink.record(r.record, line);
      },
    );
    parser.on('error', () => {}); // every error already reached the sink through on_skip
    this.parser = parser;
  }
}

function messageFor(code: string, max: number): string {
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'unterminated quoted field: the file ends inside quotes';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'unexpected text after a quoted field';
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_INVALID_OPENING_QUOTE':
      return 'a double quote inside an unquoted field (quote the field and double the quote)';
    case 'CSV_MAX_RECORD_SIZE':
      return `record longer than ${max} bytes`;
    default:
      return `malformed CSV (${code || 'parse error'})`;
  }
}

/**
 * The line breaks in a record's raw text: `blank` lines before it (each left one byte: the first of
 * its delimiter), line feeds `inner` to it (inside quoted fields), and its own delimiter at the `end`
 * (0 or 1: the last record of a file may have none).
 */
function breaks(raw: string): { blank: number; inner: number; end: number } {
  let blank = 0;
  while (blank < raw.length && isBreak(raw.charCodeAt(blank))) blank++;
  const end = raw.length > blank && isBreak(raw.charCodeAt(raw.length - 1)) ? 1 : 0;
  const stop = raw.length - end;
  let inner = 0;
  for (let i = raw.indexOf('\n', blank); i >= 0 && i < stop; i = raw.indexOf('\n', i + 1)) inner++;
  return { blank, inner, end };
}

function isBreak(c: number): boolean {
  return c === LF || c === CR;
}

/** More than `max` bytes in UTF-8, the delimiter excluded (a UTF-16 code unit takes 1 to 3 bytes). */
function tooLong(raw: string, delimiter: number, max: number): boolean {
  const s = delimiter ? raw.slice(0, -1) : raw;
  return s.length > max || Buffer.byteLength(s, 'utf8') > max;
}

function countLineFeeds(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(LF); i >= 0; i = b.indexOf(LF, i + 1)) n++;
  return n;
}

/** The offset of the n-th line feed in `b` (n from 1), or -1. */
function nthLineFeed(b: Buffer, n: number): number {
  let i = -1;
  for (let k = 0; k < n; k++) {
    i = b.indexOf(LF, i + 1);
    if (i < 0) return -1;
  }
  return i;
}
