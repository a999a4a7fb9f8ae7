import type { FastifyRequest } from 'fastify';

/** How a pumped body ended: read to its end, over the limit, or cut off by the client. */
export type PumpEnd = 'end' | 'too_large' | 'aborted';

/**
 * Reads the request body chunk by chunk into `feed`, up to `limit` bytes; while a promise `feed`
 * returned is pending, the socket is paused (backpressure).
 */
export function pump(request: FastifyRequest, limit: number, feed: (chunk: Buffer) => Promise<unknown> | undefined): Promise<PumpEnd> {
  const raw = request.raw;
  if (raw.destroyed) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    let received = 0;
    let waiting = false;
    let done = false;
    const settle = (how: PumpEnd) => {
      if (done) return;
      done = true;
      raw.off('data', onData);
      resolve(how);
    };
    const onData = (chunk: Buffer) => {
      if (done) return;
      received += chunk.length;
      if (received > limit) {
        raw.pause();
        return settle('too_large');
      }
      const wait = feed(chunk);
      if (wait && !waiting) {
        waiting = true;
        raw.pause();
        void wait.then(() => {
          waiting = false;
          if (!done) raw.resume();
        });
      }
    };
    raw.on('data', onData);
    raw.once('end', () => settle('end'));
    raw.once('close', () => settle(raw.complete ? 'end' : 'aborted'));
    raw.once('error', () => settle('aborted'));
  });
}
