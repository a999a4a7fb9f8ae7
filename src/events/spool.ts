/**
 * The event spool: an append-only write-ahead log of events on local disk, in numbered segment
 * files `<dir>/seg-<seq>.ndjson`, one NDJSON line per event: `{"t":"<table>","r":{...event}}`.
 * One segment is open for appending at a time; it is rotated (fdatasync, close) when it is full
 * or old, and then belongs to the shipper, which inserts it and deletes it. Segments left by an
 * earlier process (crash, or store down at shutdown) are found at start, oldest first.
 *
 * Appends are positional, so a failed write is overwritten or truncated away; whatever happens,
 * a line that does not parse (the torn last line of a crash) is skipped and reported.
 */
import { mkdir, open, readdir, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { EVENT_TABLES, type BidderEvent } from './event-types.js';

export type Row = Record<string, unknown>;
/** Rows by table, in append order. */
export type TableRows = Map<string, Row[]>;
/** The same rows as their JSON text (JSON.stringify of each), by table. */
export type TableJson = Map<string, string[]>;

/** A closed segment, waiting to be inserted. */
export interface Segment {
  readonly seq: number;
  readonly path: string;
  readonly bytes: number;
  /** Known for segments written by this process; undefined for leftovers until read. */
  rows: number | undefined;
  /** The rows themselves, kept in memory for a fresh segment while the cache budget allows. */
  cache: TableRows | undefined;
  /** With `cache`: each cached row's JSON text as the spool holds it, by table (so an insert need not encode it again). */
  cacheJson: TableJson | undefined;
}

export interface ReadResult {
  readonly tables: TableRows;
  readonly rows: number;
  /** Lines that did not parse or had an unknown table (1-based line numbers). */
  readonly badLines: readonly number[];
}

interface OpenSegment {
  seq: number;
  path: string;
  fh: FileHandle;
  /** Bytes successfully written. */
  bytes: number;
  rows: number;
  openedAt: number;
  dirty: boolean;
  failed: boolean;
  cache: TableRows | undefined;
  cacheJson: TableJson | undefined;
}

const SEGMENT_RE = /^seg-(\d{1,15})\.ndjson$/;
const TABLES = new Set<string>(Object.values(EVENT_TABLES));

export function segmentName(seq: number): string {
  return `seg-${String(seq).padStart(12, '0')}.ndjson`;
}

/** One spool line per event, newline-terminated; with `rowJson`, each event's JSON text is pushed there too. */
export function encodeEvents(events: readonly BidderEvent[], from: number, to: number, rowJson?: string[]): string {
  let text = '';
  for (let i = from; i < to; i++) {
    const e = events[i];
    const json = JSON.stringify(e);
    rowJson?.push(json);
    text += `{"t":"${EVENT_TABLES[e.type]}","r":${json}}\n`;
  }
  return text;
}

export function parseSegment(text: string): ReadResult {
  const tables: TableRows = new Map();
  const badLines: number[] = [];
  let rows = 0;
  let line = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    if (end > start) {
      const row = parseLine(text.slice(start, end));
      if (row) {
        let list = tables.get(row.t);
        if (!list) tables.set(row.t, (list = []));
        list.push(row.r);
        rows++;
      } else {
        badLines.push(line);
      }
    }
    start = end + 1;
  }
  return { tables, rows, badLines };
}

function parseLine(line: string): { t: string; r: Row } | undefined {
  try {
    const o = JSON.parse(line) as { t?: unknown; r?: unknown };
    if (typeof o === 'object' && o !== null && typeof o.t === 'string' && TABLES.has(o.t) && typeof o.r === 'object' && o.r !== null)
      return { t: o.t, r: o.r as Row };
  } catch {
    /* torn or corrupt line */
  }
  return undefined;
}

export interface SpoolStats {
  setBytes(n: number): void;
  setSegments(n: number): void;
}

export class Spool {
  private cur: OpenSegment | undefined;
  private nextSeq = 1;
  private totalBytes = 0;
  private segments = 0;
  private dead = false;

  constructor(
    readonly dir: string,
    private readonly stats: SpoolStats,
    private readonly clock: () => number,
  ) {}

  /** Creates the directory and returns the segments left by an earlier process, oldest first. */
  async init(): Promise<Segment[]> {
    this.totalBytes = 0;
    this.segments = 0;
    await mkdir(this.dir, { recursive: true });
    const found: { seq: number; name: string }[] = [];
    for (const name of await readdir(this.dir)) {
      const m = SEGMENT_RE.exec(name);
      if (m) found.push({ seq: Number(m[1]), name });
    }
    found.sort((a, b) => a.seq - b.seq);
    const leftovers: Segment[] = [];
    for (const { seq, name } of found) {
      const path = join(this.dir, name);
      const { size } = await stat(path);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      if (size === 0) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      leftovers.push({ seq, path, bytes: size, rows: undefined, cache: undefined, cacheJson: undefined });
      this.totalBytes += size;
      this.segments++;
    }
    this.publish();
    return leftovers;
  }

  get bytes(): number {
    return this.totalBytes;
  }
  /** Rows in the open segment (0 when none is open). */
  get openRows(): number {
    return this.cur?.rows ?? 0;
  }
  /** Milliseconds since the open segment was opened (0 when none is open). */
  openAge(now: number): number {
    return this.cur ? now - this.cur.openedAt : 0;
  }

  /**
   * Appends `events[from..to)` (already encoded as `text`) to the open segment, opening one when
   * needed. Not durable until `sync`. On failure nothing counts as written and the segment is
   * marked failed (it will be cut back to its last good byte when rotated). `rowJson`, when given,
   * holds each event's JSON text (`rowJson[i - from]`, from encodeEvents), kept with the cache.
   */
  async append(text: string, events: readonly BidderEvent[], from: number, to: number, cache: boolean, rowJson?: readonly string[]): Promise<void> {
    if (this.dead) throw new Error('spool abandoned');
    const seg = this.cur ?? (await this.openSegment(cache));
    const data = Buffer.from(text, 'utf8');
    try {
      let off = 0;
      for (let tries = 0; off < data.length; tries++) {
        const { bytesWritten } = await seg.fh.write(data, off, data.length - off, seg.bytes + off);
        if (bytesWritten <= 0 || tries > 1000) throw new Error('spool write made no progress');
        off += bytesWritten;
      }
    } catch (err) {
      seg.failed = true;
      seg.cache = undefined;
      seg.cacheJson = undefined;
      throw err;
    }
    seg.bytes += data.length;
    seg.rows += to - from;
    seg.dirty = true;
    this.totalBytes += data.length;
    this.publish();
    if (seg.cache) {
      // The JSON text is kept only while every cached row has it.
      if (rowJson === undefined || rowJson.length !== to - from) seg.cacheJson = undefined;
      for (let i = from; i < to; i++) {
        const e = events[i];
        const t = EVENT_TABLES[e.type];
        let list = seg.cache.get(t);
        if (!list) seg.cache.set(t, (list = []));
        list.push(e as unknown as Row);
        if (seg.cacheJson !== undefined) {
          let json = seg.cacheJson.get(t);
          if (!json) seg.cacheJson.set(t, (json = []));
          json.push(rowJson![i - from]);
        }
      }
    }
  }

  /** fdatasync of the open segment, if anything was appended since the last one. */
  async sync(): Promise<void> {
    const seg = this.cur;
    if (!seg || !seg.dirty) return;
    try {
      await seg.fh.datasync();
    } catch (err) {
      seg.failed = true;
      seg.cache = undefined;
      seg.cacheJson = undefined;
      throw err;
    }
    seg.dirty = false;
  }

  /**
   * Closes the open segment (after fdatasync) and returns it for shipping; an empty one is
   * deleted. After a failed append or sync the segment is cut back to its last good byte and
   * closed without throwing: its rows are being re-appended elsewhere (duplicates are harmless,
   * storage keeps each event_id once).
   */
  async rotate(): Promise<Segment | undefined> {
    if (this.dead) return undefined;
    const seg = this.cur;
    if (!seg) return undefined;
    if (seg.failed) {
      this.cur = undefined;
      await seg.fh.truncate(seg.bytes).catch(() => undefined);
      await seg.fh.datasync().catch(() => undefined);
      await seg.fh.close().catch(() => undefined);
    } else {
      if (seg.dirty) await this.sync();
      this.cur = undefined;
      await seg.fh.close().catch(() => undefined);
    }
    if (seg.rows === 0) {
      await this.remove({ seq: seg.seq, path: seg.path, bytes: seg.bytes, rows: 0, cache: undefined, cacheJson: undefined });
      return undefined;
    }
    return { seq: seg.seq, path: seg.path, bytes: seg.bytes, rows: seg.rows, cache: seg.cache, cacheJson: seg.cache ? seg.cacheJson : undefined };
  }

  async read(seg: Segment): Promise<ReadResult> {
    return parseSegment(await readFile(seg.path, 'utf8'));
  }

  /** Deletes a shipped segment (already gone is fine). */
  async remove(seg: Segment): Promise<void> {
    try {
      await unlink(seg.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.totalBytes -= seg.bytes;
    this.segments--;
    this.publish();
  }

  /** Crash simulation / last resort: closes the open file without syncing or rotating. */
  abandon(): void {
    this.dead = true;
    const seg = this.cur;
    this.cur = undefined;
    if (seg) void seg.fh.close().catch(() => undefined);
  }

  private async openSegment(cache: boolean): Promise<OpenSegment> {
    const seq = this.nextSeq++;
    const path = join(this.dir, segmentName(seq));
    const fh = await open(path, 'wx');
    if (this.dead) {
      await fh.close();
      await unlink(path).catch(() => undefined);
      throw new Error('spool abandoned');
    }
    try {
      await syncDir(this.dir);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw err;
    }
    this.segments++;
    this.publish();
    this.cur = { seq, path, fh, bytes: 0, rows: 0, openedAt: this.clock(), dirty: false, failed: false, cache: cache ? new Map() : undefined, cacheJson: cache ? new Map() : undefined };
    return this.cur;
  }

  private publish(): void {
    this.stats.setBytes(this.totalBytes);
    this.stats.setSegments(this.segments);
  }
}

/** Makes a new directory entry durable (a synced file whose name was lost would be lost too). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
