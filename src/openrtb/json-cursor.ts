/**
 * A forward-only JSON tokenizer over UTF-8 bytes, for readers that want a few fields of a document
 * and none of the rest. It validates everything it passes over by the grammar `JSON.parse` applies
 * (RFC 8259: whitespace, literals, number syntax, string escapes, no raw control characters in
 * strings), so a body it reads to the end is one `JSON.parse` accepts, and a value it returns is
 * the value `JSON.parse` would have put there.
 *
 * It never builds what it skips. Strings are sliced from the bytes only when asked for; nested
 * values a reader does not know are materialised by `JSON.parse` of their own bytes, once they
 * are validated. On anything it does not accept (malformed, too deep, a duplicate known key)
 * it throws the one `CursorStop` object: the caller then takes the general path.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Why the cursor stopped: the body is not valid JSON (or is nested too deep), or uses a construct the readers leave to the general path. */
export type StopReason = 'syntax' | 'too_deep' | 'duplicate_key';

export class CursorStop {
  reason: StopReason = 'syntax';
}
/** Thrown, never allocated per request. */
const STOP = new CursorStop();
function stop(reason: StopReason): never {
  STOP.reason = reason;
  throw STOP;
}

/** `key()` answers: the index of the key in its table, or one of these. */
export const UNKNOWN_KEY = -1;
export const END_OF_OBJECT = -2;

/** The field names one object reader knows, matched against key bytes without making strings. */
export class KeyTable {
  private readonly bytes: Uint8Array[];
  /** Indexes into `bytes`, by key length. */
  private readonly byLength: number[][] = [];
  constructor(readonly names: readonly string[]) {
    if (names.length > 31) throw new Error('a KeyTable holds at most 31 names (a seen-set is one int)');
    this.bytes = names.map((n) => Buffer.from(n, 'latin1'));
    names.forEach((n, i) => (this.byLength[n.length] ??= []).push(i));
  }

  /** The index of the name spelled by buf[start, end), or UNKNOWN_KEY. */
  find(buf: Uint8Array, start: number, end: number): number {
    const candidates = this.byLength[end - start];
    if (candidates === undefined) return UNKNOWN_KEY;
    for (let c = 0; c < candidates.length; c++) {
      const name = this.bytes[candidates[c]];
      let i = 0;
      while (i < name.length && name[i] === buf[start + i]) i++;
      if (i === name.length) return candidates[c];
    }
    return UNKNOWN_KEY;
  }
}

interface Utf8Buffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}

export class JsonCursor {
  private buf: Utf8Buffer = Buffer.alloc(0) as Utf8Buffer;
  private pos = 0;
  private depth = 0;
  private maxDepth = 64;

  /** Starts over on another body. */
  reset(buf: Buffer, maxDepth: number): void {
    this.buf = buf as Utf8Buffer;
    this.pos = 0;
    this.depth = 0;
    this.maxDepth = maxDepth;
  }

  /** After the top-level value: only whitespace may follow. */
  finish(): void {
    if (this.next() !== -1) stop('syntax');
  }

  /** The next byte that is not whitespace (not consumed), or -1 at the end. */
  private next(): number {
    const buf = this.buf;
    const n = buf.length;
    let i = this.pos;
    while (i < n) {
      const c = buf[i];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.pos = i;
    return i < n ? buf[i] : -1;
  }

  isObject(): boolean {
    return this.next() === OPEN_OBJ;
  }

  isArray(): boolean {
    return this.next() === OPEN_ARR;
  }

  // --- objects ------------------------------------------------------------------------------

  /** Enters the object at the cursor and reads its first key: the key's index in `table`, UNKNOWN_KEY, or END_OF_OBJECT. */
  firstKey(table: KeyTable): number {
    if (this.next() !== OPEN_OBJ) stop('syntax');
    this.pos++;
    this.enter();
    if (this.next() === CLOSE_OBJ) {
      this.pos++;
      this.depth--;
      return END_OF_OBJECT;
    }
    return this.key(table);
  }

  /** After a member's value: the next key's index, UNKNOWN_KEY, or END_OF_OBJECT. */
  nextKey(table: KeyTable): number {
    const c = this.next();
    this.pos++;
    if (c === COMMA) return this.key(table);
    if (c === CLOSE_OBJ) {
      this.depth--;
      return END_OF_OBJECT;
    }
    return stop('syntax');
  }

  /** Marks key `k` as seen in `seen`; a second member of the same known name stops the cursor (JSON.parse keeps the last: the general path does that). */
  static once(seen: number, k: number): number {
    if (k < 0) return seen;
    const bit = 1 << k;
    if ((seen & bit) !== 0) stop('duplicate_key');
    return seen | bit;
  }

  private key(table: KeyTable): number {
    if (this.next() !== QUOTE) stop('syntax');
    const start = this.pos + 1;
    const end = this.scanString(start);
    let k: number;
    if (end >= 0) {
      this.pos = end + 1;
      k = table.find(this.buf, start, end);
    } else {
      // Written with escapes (`"\u0069d"` is `id`): rare, decoded natively and looked up by name.
      this.skipString();
      k = table.names.indexOf(JSON.parse(this.buf.utf8Slice(start - 1, this.pos)) as string);
    }
    if (this.next() !== COLON) stop('syntax');
    this.pos++;
    return k;
  }

  // --- arrays -------------------------------------------------------------------------------

  /** Enters the array at the cursor: true when it has a first element (the cursor is on it). */
  firstElement(): boolean {
    if (this.next() !== OPEN_ARR) stop('syntax');
    this.pos++;
    this.enter();
    if (this.next() === CLOSE_ARR) {
      this.pos++;
      this.depth--;
      return false;
    }
    return true;
  }

  /** After an element: true when another follows (the cursor is on it), false at the end of the array. */
  nextElement(): boolean {
    const c = this.next();
    this.pos++;
    if (c === COMMA) return true;
    if (c === CLOSE_ARR) {
      this.depth--;
      return false;
    }
    return stop('syntax');
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) stop('too_deep');
  }

  // --- values -------------------------------------------------------------------------------

  /** The value at the cursor, exactly as JSON.parse would build it. */
  value(): unknown {
    const c = this.next();
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.number();
    if (c === OPEN_OBJ || c === OPEN_ARR) return this.nested();
    return this.literal(c);
  }

  /**
   * An object or array (`eids`, a Native request object...) as JSON.parse builds it, natively: its end is found by
   * counting brackets outside strings, and JSON.parse of those bytes validates them (bytes that are
   * not one valid value make it throw, whatever the count found).
   */
  private nested(): unknown {
    const buf = this.buf;
    const start = this.pos;
    const n = buf.length;
    let depth = 0;
    for (let i = start; i < n; i++) {
      const c = buf[i];
      if (c === QUOTE) {
        i = closingQuote(buf, i + 1);
        if (i < 0) break;
      } else if (c === OPEN_OBJ || c === OPEN_ARR) {
        if (this.depth + ++depth > this.maxDepth) stop('too_deep');
      } else if ((c === CLOSE_OBJ || c === CLOSE_ARR) && --depth === 0) {
        let value: unknown;
        try {
          value = JSON.parse(buf.utf8Slice(start, i + 1));
        } catch {
          stop('syntax');
        }
        this.pos = i + 1;
        return value;
      }
    }
    return stop('syntax');
  }

  /** An array at the cursor read element by element with value() (flat lists of strings or numbers, without JSON.parse), else value(). */
  list(): unknown {
    if (!this.isArray()) return this.value();
    const out: unknown[] = [];
    for (let more = this.firstElement(); more; more = this.nextElement()) out.push(this.value());
    return out;
  }

  /** Validates and passes over the value at the cursor. */
  skip(): void {
    const c = this.next();
    if (c === QUOTE) {
      this.skipString();
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      this.scanNumber();
    } else if (c === OPEN_OBJ) {
      for (let k = this.firstKey(NO_KEYS); k !== END_OF_OBJECT; k = this.nextKey(NO_KEYS)) this.skip();
    } else if (c === OPEN_ARR) {
      for (let more = this.firstElement(); more; more = this.nextElement()) this.skip();
    } else this.literal(c);
  }

  private literal(c: number): true | false | null {
    const buf = this.buf;
    const i = this.pos;
    if (c === 0x74 && buf[i + 1] === 0x72 && buf[i + 2] === 0x75 && buf[i + 3] === 0x65) {
      this.pos = i + 4;
      return true;
    }
    if (c === 0x66 && buf[i + 1] === 0x61 && buf[i + 2] === 0x6c && buf[i + 3] === 0x73 && buf[i + 4] === 0x65) {
      this.pos = i + 5;
      return false;
    }
    if (c === 0x6e && buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c) {
      this.pos = i + 4;
      return null;
    }
    return stop('syntax');
  }

  // --- strings ------------------------------------------------------------------------------

  private string(): string {
    const start = this.pos + 1;
    const end = this.scanString(start);
    if (end >= 0) {
      this.pos = end + 1;
      return this.buf.utf8Slice(start, end);
    }
    this.skipString();
    return JSON.parse(this.buf.utf8Slice(start - 1, this.pos)) as string; // escapes: rare, decoded natively
  }

  private skipString(): void {
    const end = this.scanString(this.pos + 1);
    if (end >= 0) {
      this.pos = end + 1;
      return;
    }
    this.pos = this.scanEscapedString(this.pos + 1);
  }

  /**
   * From the first content byte: the index of the closing quote of a string without escapes, or
   * -1 at the first backslash. Raw control characters are a syntax error, as for JSON.parse; bytes
   * from 0x80 are taken as they are (a malformed UTF-8 sequence decodes to U+FFFD, as in JSON.parse
   * of the body's text).
   */
  private scanString(from: number): number {
    const buf = this.buf;
    const n = buf.length;
    for (let i = from; i < n; i++) {
      const c = buf[i];
      if (c === QUOTE) return i;
      if (c === BACKSLASH) return -1;
      if (c < 0x20) stop('syntax');
    }
    return stop('syntax');
  }

  /** Like scanString but through escapes, validating each: the index after the closing quote. */
  private scanEscapedString(from: number): number {
    const buf = this.buf;
    const n = buf.length;
    for (let i = from; i < n; i++) {
      const c = buf[i];
      if (c === QUOTE) return i + 1;
      if (c < 0x20) stop('syntax');
      if (c !== BACKSLASH) continue;
      const e = buf[++i];
      if (e === 0x75) {
        // \uXXXX
        for (let h = 1; h <= 4; h++) if (!isHex(buf[i + h])) stop('syntax');
        i += 4;
      } else if (!(e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74)) stop('syntax');
    }
    return stop('syntax');
  }

  // --- numbers ------------------------------------------------------------------------------

  private number(): number {
    const start = this.pos;
    const buf = this.buf;
    const end = this.scanNumber();
    // Plain integers of up to 15 digits are exact in a double: summed here; anything else as JSON.parse reads it.
    const negative = buf[start] === MINUS;
    const first = negative ? start + 1 : start;
    if (end - first <= 15) {
      let v = 0;
      let i = first;
      for (; i < end; i++) {
        const c = buf[i];
        if (c < ZERO || c > NINE) break;
        v = v * 10 + (c - ZERO);
      }
      if (i === end) return negative ? -v : v;
    }
    return Number(buf.latin1Slice(start, end));
  }

  /** Validates the number at the cursor (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`) and returns the index after it. */
  private scanNumber(): number {
    const buf = this.buf;
    let i = this.pos;
    if (buf[i] === MINUS) i++;
    if (buf[i] === ZERO) i++;
    else if (isDigit(buf[i])) while (isDigit(buf[++i]));
    else stop('syntax');
    if (buf[i] === DOT) {
      if (!isDigit(buf[++i])) stop('syntax');
      while (isDigit(buf[++i]));
    }
    if (buf[i] === 0x65 || buf[i] === 0x45) {
      i++;
      if (buf[i] === PLUS || buf[i] === MINUS) i++;
      if (!isDigit(buf[i])) stop('syntax');
      while (isDigit(buf[++i]));
    }
    this.pos = i;
    return i;
  }
}

const NO_KEYS = new KeyTable([]);

/** Index of the quote that ends the string whose content starts at `from` (one not escaped by an odd run of backslashes), or -1. */
function closingQuote(buf: Uint8Array & { indexOf(byte: number, from: number): number }, from: number): number {
  for (;;) {
    const q = buf.indexOf(QUOTE, from);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let j = q - 1; j >= from && buf[j] === BACKSLASH; j--) backslashes++;
    if ((backslashes & 1) === 0) return q;
    from = q + 1;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= NINE;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}
