/**
 * gzip in both directions. Request bodies are inflated with an output cap, so a small
 * compressed body cannot expand past the body limit (a gzip bomb is refused, not buffered).
 */
import { constants, gunzipSync, gzipSync } from 'node:zlib';

export type InflateResult = Buffer | 'too_large' | 'bad_gzip';

export function gunzipLimited(body: Buffer, limit: number): InflateResult {
  try {
    return gunzipSync(body, { maxOutputLength: limit });
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError ? 'too_large' : 'bad_gzip';
  }
}

export function gzip(body: string | Uint8Array): Buffer {
  return gzipSync(body, { level: 3, strategy: constants.Z_DEFAULT_STRATEGY });
}

/** True when an Accept-Encoding header value admits gzip. */
export function acceptsGzip(acceptEncoding: string): boolean {
  if (acceptEncoding.length === 0) return false;
  const i = acceptEncoding.indexOf('gzip');
  if (i < 0) return false;
  const rest = acceptEncoding.slice(i + 4, acceptEncoding.indexOf(',', i) >>> 0);
  return !/;\s*q=0(\.0*)?\s*$/.test(rest);
}
