/**
 * Reading a request body from uWS with a hard size limit. uWS has no limit of its own and hands
 * out chunks that are only valid during the callback, so each is copied. With a Content-Length
 * the body is copied straight into one buffer of that size; without one, chunks are kept and joined.
 * The caller must have registered `onAborted` first.
 */
import type { HttpResponse } from 'uWebSockets.js';

export interface BodySink {
  /** The whole body arrived. */
  onBody(body: Buffer): void;
  /** The body passed the limit; nothing more will be delivered. */
  onTooLarge(): void;
}

export function readBody(res: HttpResponse, contentLength: number, limit: number, sink: BodySink): void {
  if (contentLength > 0) {
    const buf = Buffer.allocUnsafe(contentLength);
    let offset = 0;
    let done = false;
    res.onData((chunk, isLast) => {
      if (done) return;
      const n = chunk.byteLength;
      if (offset + n > contentLength) {
        done = true;
        sink.onTooLarge();
        return;
      }
      buf.set(new Uint8Array(chunk), offset);
      offset += n;
      if (isLast) {
        done = true;
        sink.onBody(offset === contentLength ? buf : buf.subarray(0, offset));
      }
    });
    return;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let done = false;
  res.onData((chunk, isLast) => {
    if (done) return;
    total += chunk.byteLength;
    if (total > limit) {
      done = true;
      sink.onTooLarge();
      return;
    }
    if (chunk.byteLength) chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) {
      done = true;
      sink.onBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    }
  });
}
