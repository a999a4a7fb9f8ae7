/**
 * First-party audience uploads, streamed: bytes arrive in chunks, are parsed into rows (UTF-8 safe
 * across chunk boundaries), validated row by row and written to the segment store in batches.
 * Nothing holds the whole file. The caller pauses the upload stream while a batch is being written.
 *
 * CSV (RFC 4180, parsed by csv-parse through CsvRecords): `user_id,id_type[,segments[,ttl]]` (a
 * header record starting with `user_id` on line 1 is skipped; `segments` lists extra segment ids
 * separated by `|`; `ttl` in seconds). Quoted fields may hold commas, doubled quotes and line breaks;
 * errors name the line a record starts on.
 * NDJSON: `{"user_id": "...", "id_type": "uid", "segments": ["..."], "ttl": 86400}` per line.
 * Every row joins the segment named in the URL, plus its extra segments. A row naming a segment
 * it may not write (missing, paused, or another advertiser's: see `knownSegments`) is rejected
 * whole, its other segments too, with the same reason whichever it was.
 */
import { StringDecoder } from 'node:string_decoder';
import { CsvRecords } from './csv-records.js';
import { uploadKey } from './identity.js';
import type { MembershipRow, SegmentStore } from './segment-store.js';

export type UploadFormat = 'csv' | 'ndjson';

export interface RowError {
  readonly line: number;
  readonly message: string;
}

export interface UploadProgress {
  readonly uploadId: string;
  readonly segmentId: string;
  readonly format: UploadFormat;
  state: 'running' | 'done' | 'failed' | 'aborted';
  bytes: number;
  lines: number;
  accepted: number;
  rejected: number;
  /** The first errors, with line numbers (at most MAX_ERRORS). */
  readonly errors: RowError[];
  readonly startedAt: string;
  finishedAt?: string;
  failure?: string;
}

const MAX_ERRORS = 20;
const BATCH_ROWS = 1_000;
const MAX_LINE_BYTES = 16 * 1024;
const MAX_TTL_SECONDS = 400 * 24 * 3600;
const SEGMENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** CSV bytes parsed between two checks of the batch size (bounds a batch for any chunk size). */
const CSV_SLICE_BYTES = 16 * 1024;

export interface UploadOptions {
  readonly uploadId: string;
  readonly segmentId: string;
  readonly format: UploadFormat;
  readonly defaultTtlSeconds: number;
  /**
   * Segments rows may name: those that exist, or for a key scoped to advertisers only theirs. A row
   * naming any other is rejected as "unknown segment", so an upload cannot tell another
   * advertiser's segment from a missing one.
   */
  readonly knownSegments: ReadonlySet<string>;
  readonly nowSeconds: number;
  /**
   * The share of the event loop the upload may hold (0.01-1; default 1: no pacing). Rows are parsed
   * and written a batch at a time; after each batch the upload rests long enough that its own work
   * (parsing, and the synchronous part of the write: all of it for the in-process store) stays
   * within this share, so bids on the same thread keep their latency during a large upload.
   */
  readonly loopShare?: number;
}

export class AudienceUpload {
  readonly progress: UploadProgress;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private batch: MembershipRow[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failed: Error | undefined;
  /** The current line passed MAX_LINE_BYTES and was rejected; drop the rest of it. */
  private skipRestOfLine = false;
  /** The CSV parser (undefined for NDJSON). */
  private readonly csv: CsvRecords | undefined;

  constructor(
    private readonly store: SegmentStore,
    private readonly o: UploadOptions,
    /** Called with the keys of each batch written (to invalidate caches). */
    private readonly onWritten: (keys: string[]) => void = () => {},
  ) {
    this.progress = {
      uploadId: o.uploadId,
      segmentId: o.segmentId,
      format: o.format,
      state: 'running',
      bytes: 0,
      lines: 0,
      accepted: 0,
      rejected: 0,
      errors: [],
      startedAt: new Date().toISOString(),
    };
    if (o.format === 'csv')
      this.csv = new CsvRecords(
        { record: (fields, line) => this.csvRecord(fields, line), error: (line, message) => this.reject(line, message) },
        MAX_LINE_BYTES,
      );
  }

  /** Milliseconds the upload has held the event loop: parsing, and the synchronous part of each write. */
  busyMs = 0;
  private busyAtRest = 0;
  /** Chunks fed but not parsed and written yet (each waits for the one before). */
  private outstanding = 0;
  private tail: Promise<void> = Promise.resolve();

  /**
   * Feeds a chunk. Returns a promise while the upload still has work from this or earlier chunks
   * (a batch write, a rest): pause the source until `drained()`.
   */
  push(chunk: Uint8Array): Promise<void> | undefined {
    this.progress.bytes += chunk.byteLength;
    // The CSV parser keeps the bytes of an unfinished record, and may parse the chunk after this call
    // returns, so it gets a copy (the caller's memory, a socket buffer, may be reused or detached).
    const work = this.csv
      ? ((buf: Buffer) => () => this.consumeCsv(buf))(Buffer.from(chunk))
      : ((text: string) => () => this.consume(text))(this.decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    if (this.outstanding > 0) {
      this.outstanding++;
      this.tail = this.tail.then(work).finally(() => void this.outstanding--);
      return this.tail;
    }
    const more = work();
    if (more === undefined) return undefined;
    this.outstanding++;
    this.tail = more.finally(() => void this.outstanding--);
    return this.tail;
  }

  /** Resolves once every chunk fed so far is parsed and written. */
  async drained(): Promise<void> {
    while (this.outstanding > 0) await this.tail;
  }

  /** Parses a chunk of CSV a slice at a time: after a slice that fills a batch, the write and a rest. */
  private consumeCsv(buf: Buffer, from = 0): Promise<void> | undefined {
    const csv = this.csv!;
    const t0 = performance.now();
    for (let at = from; at < buf.length; ) {
      const end = Math.min(buf.length, at + CSV_SLICE_BYTES);
      csv.write(buf.subarray(at, end));
      this.progress.lines = csv.lines;
      at = end;
      if (this.batch.length >= BATCH_ROWS) {
        this.busyMs += performance.now() - t0;
        return this.flush()
          .then(() => this.rest())
          .then(() => this.consumeCsv(buf, at));
      }
    }
    this.busyMs += performance.now() - t0;
    return undefined;
  }

  /** Parses a chunk's lines, a batch at a time: after each full batch, the write and a rest. */
  private consume(chunkText: string, from = 0): Promise<void> | undefined {
    const t0 = performance.now();
    let text = from === 0 ? this.partial + chunkText : chunkText;
    if (from === 0) {
      this.partial = '';
      if (this.progress.lines === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a UTF-8 byte order mark
    }
    let start = from;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl));
      start = nl + 1;
      if (this.batch.length >= BATCH_ROWS) {
        this.busyMs += performance.now() - t0;
        const rest = start;
        return this.flush()
          .then(() => this.rest())
          .then(() => this.consume(text, rest));
      }
    }
    this.partial = text.slice(start);
    if (this.skipRestOfLine) this.partial = ''; // still inside a rejected line: drop it up to its newline
    else if (tooLong(this.partial)) {
      this.reject(++this.progress.lines, `line longer than ${MAX_LINE_BYTES} bytes`);
      this.partial = '';
      this.skipRestOfLine = true;
    }
    this.busyMs += performance.now() - t0;
    return undefined;
  }

  /** Rests so the upload's own loop time since the last rest is at most `loopShare` of the time. */
  private rest(): Promise<void> | undefined {
    const share = Math.min(1, Math.max(0.01, this.o.loopShare ?? 1));
    if (share >= 1) return undefined;
    const ms = ((this.busyMs - this.busyAtRest) * (1 - share)) / share;
    this.busyAtRest = this.busyMs;
    return new Promise((resolve) => (ms < 1 ? setImmediate(resolve) : setTimeout(resolve, Math.min(ms, 1_000))));
  }

  /** The stream ended: parses the last line, writes what is left, and reports. */
  async end(): Promise<UploadProgress> {
    await this.drained();
    if (this.csv) {
      await this.csv.end();
      this.progress.lines = this.csv.lines;
    }
    const last = this.partial + this.decoder.end();
    this.partial = '';
    if (last.length) this.line(last);
    await this.flush();
    this.progress.state = this.failed ? 'failed' : 'done';
    if (this.failed) this.progress.failure = this.failed.message;
    this.progress.finishedAt = new Date().toISOString();
    return this.progress;
  }

  abort(): void {
    this.progress.state = 'aborted';
    this.progress.finishedAt = new Date().toISOString();
  }

  private flush(): Promise<void> {
    if (this.batch.length === 0) return this.writing;
    const rows = this.batch;
    this.batch = [];
    this.writing = this.writing
      .then(() => {
        const t0 = performance.now();
        try {
          return this.store.addMemberships(rows);
        } finally {
          this.busyMs += performance.now() - t0;
        }
      })
      .then(
        () => {
          this.progress.accepted += rows.length;
          this.onWritten(rows.map((r) => r.key));
        },
        (e: Error) => {
          this.failed ??= e;
          this.progress.rejected += rows.length;
          this.note(0, `store write failed for ${rows.length} rows: ${e.message}`);
        },
      );
    return this.writing;
  }

  /** An NDJSON line. */
  private line(raw: string): void {
    if (this.skipRestOfLine) {
      this.skipRestOfLine = false;
      return;
    }
    const n = ++this.progress.lines;
    if (tooLong(raw)) return this.reject(n, `line longer than ${MAX_LINE_BYTES} bytes`); // the same whether it came whole or in pieces
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    this.row(fromNdjson(line), n);
  }

  /** A CSV record starting on line `n`. */
  private csvRecord(fields: string[], n: number): void {
    if (fields.length === 1 && fields[0]!.trim() === '') return; // a blank line
    if (n === 1 && fields.length >= 2 && fields[0]!.trim().toLowerCase() === 'user_id') return; // the header
    this.row(fromCsv(fields), n);
  }

  private row(row: ParsedRow | string, n: number): void {
    if (typeof row === 'string') return this.reject(n, row);
    const key = uploadKey(row.idType, row.userId);
    if (typeof key !== 'string') return this.reject(n, key.error);
    const segments = [this.o.segmentId];
    for (const s of row.segments) {
      if (!SEGMENT_ID.test(s)) return this.reject(n, `"${s}" is not a valid segment id`);
      if (!this.o.knownSegments.has(s)) return this.reject(n, `unknown segment "${s}"`);
      if (segments.indexOf(s) < 0) segments.push(s);
    }
    let ttl = this.o.defaultTtlSeconds;
    if (row.ttl !== undefined) {
      if (!Number.isInteger(row.ttl) || row.ttl <= 0 || row.ttl > MAX_TTL_SECONDS)
        return this.reject(n, `ttl must be whole seconds from 1 to ${MAX_TTL_SECONDS}`);
      ttl = row.ttl;
    }
    this.batch.push({ key, segments, expiresAt: this.o.nowSeconds + ttl });
  }

  private reject(line: number, message: string): void {
    this.progress.rejected++;
    this.note(line, message);
  }

  private note(line: number, message: string): void {
    if (this.progress.errors.length < MAX_ERRORS) this.progress.errors.push({ line, message });
  }
}

/** More than MAX_LINE_BYTES in UTF-8 (a UTF-16 code unit takes 1 to 3 bytes). */
function tooLong(s: string): boolean {
  return s.length > MAX_LINE_BYTES || (s.length * 3 > MAX_LINE_BYTES && Buffer.byteLength(s, 'utf8') > MAX_LINE_BYTES);
}

interface ParsedRow {
  userId: string;
  idType: string;
  segments: string[];
  ttl: number | undefined;
}

function fromCsv(f: string[]): ParsedRow | string {
  if (f.length < 2 || f.length > 4) return 'expected user_id,id_type[,segments[,ttl]]';
  const ttlText = f[3]?.trim();
  return {
    userId: f[0]!,
    idType: f[1]!,
    segments: f[2] ? f[2].split('|').map((s) => s.trim()).filter(Boolean) : [],
    ttl: ttlText ? (/^\d+$/.test(ttlText) ? Number(ttlText) : NaN) : undefined,
  };
}

function fromNdjson(line: string): ParsedRow | string {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return 'not valid JSON';
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'each line must be a JSON object';
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!['user_id', 'id_type', 'segments', 'ttl'].includes(k)) return `unknown field "${k}"`;
  if (typeof d.user_id !== 'string') return 'user_id must be a string';
  if (typeof d.id_type !== 'string') return 'id_type must be a string';
  if (d.segments !== undefined && (!Array.isArray(d.segments) || d.segments.some((s) => typeof s !== 'string')))
    return 'segments must be an array of strings';
  if (d.ttl !== undefined && typeof d.ttl !== 'number') return 'ttl must be a number of seconds';
  return { userId: d.user_id, idType: d.id_type, segments: (d.segments as string[]) ?? [], ttl: d.ttl as number | undefined };
}
