/**
 * A single pass over JSON text that answers whether objects/arrays nest deeper than a limit.
 * Run before JSON.parse so absurd nesting is refused cheaply (about 1 ns a byte) and no later
 * recursive walk can blow the stack.
 */
const OPEN_OBJ = 0x7b; // {
const OPEN_ARR = 0x5b; // [
const CLOSE_OBJ = 0x7d; // }
const CLOSE_ARR = 0x5d; // ]
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function exceedsJsonDepth(body: Buffer | string, maxDepth: number): boolean {
  const text = typeof body === 'string';
  const n = body.length;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < n; i++) {
    const c = text ? (body as string).charCodeAt(i) : (body as Buffer)[i];
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
