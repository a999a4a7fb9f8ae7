/**
 * A single pass over JSON text that answers whether objects/arrays nest deeper than a limit.
 * Run before JSON.parse so absurd nesting is refused cheaply and no later recursive walk (the
 * protobuf encoder, JSON.stringify of an echoed ext) can blow the stack.
 *
 * Most of an OpenRTB body is string content (ids, domains, user agents, markup), so string bodies
 * are skipped with the native `indexOf` for the closing quote rather than byte by byte.
 */
const OPEN_OBJ = 0x7b; // {
const OPEN_ARR = 0x5b; // [
const CLOSE_OBJ = 0x7d; // }
const CLOSE_ARR = 0x5d; // ]
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function exceedsJsonDepth(body: Buffer | string, maxDepth: number): boolean {
  return typeof body === 'string' ? textExceeds(body, maxDepth) : bytesExceed(body, maxDepth);
}

function bytesExceed(body: Buffer, maxDepth: number): boolean {
  const n = body.length;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = body[i];
    if (c === QUOTE) {
      i = closingQuote(body, i + 1);
      if (i < 0) return false; // unterminated: JSON.parse refuses it
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--;
  }
  return false;
}

/** Index of the quote that ends the string whose content starts at `from`, or -1. */
function closingQuote(body: Buffer, from: number): number {
  for (;;) {
    const q = body.indexOf(QUOTE, from);
    if (q < 0) return -1;
    let backslashes = 0;
    for (let j = q - 1; j >= from && body[j] === BACKSLASH; j--) backslashes++;
    if ((backslashes & 1) === 0) return q;
    from = q + 1;
  }
}

function textExceeds(body: string, maxDepth: number): boolean {
  const n = body.length;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < n; i++) {
    const c = body.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) depth--;
  }
  return false;
}
