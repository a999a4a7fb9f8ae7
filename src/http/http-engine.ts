/**
 * Which HTTP engine serves the bid, notice and admin ports. The uWebSockets.js package loads its native
 * binary for this platform and Node module ABI (it ships them for Node 16, 18 and 20); when there is
 * none (Node 21 and later) or UWS_USE_FALLBACK is set, it silently serves the same API from a JavaScript
 * implementation on Node's own networking, which is slower. The start line, a warning and the
 * bidder_http_engine gauge make that visible.
 */
import uws from 'uWebSockets.js';

export type HttpEngine = 'uws' | 'fallback';

export function httpEngine(): HttpEngine {
  return Function.prototype.toString.call(uws.App).includes('[native code]') ? 'uws' : 'fallback';
}
