/**
 * SIGTERM with SHUTDOWN_DELAY_MS=0 (the default) under load, with the built bidder as a real process:
 * 40 busy keep-alive connections, each sending its next bid request as soon as the last is answered
 * (as an exchange does), and opening a new connection when told `Connection: close`. From SIGTERM on
 * every answer must carry `Connection: close`, and no request sent on a connection the bidder was
 * already serving may be cut off unanswered: such a request is on the wire when the drain starts, and
 * the drain must read and answer it rather than close the connection under it (it used to: one reset
 * per connection). Connections opened after SIGTERM are refused once the listener is closed; one that
 * raced the close may be dropped unanswered, never having been read (counted, not asserted).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BidderProcess } from '../helpers/bidder-process.js';
import { bidBody, RawConnection } from '../helpers/gate-kit.js';

const CONNECTIONS = 40;
let p: BidderProcess | undefined;
let dir = '';
afterAll(async () => {
  p?.kill();
  await p?.exited;
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('40 busy keep-alive connections, SIGTERM: every request the bidder was sent on a served connection is answered, with Connection: close after SIGTERM', async () => {
  dir = await mkdtemp(join(tmpdir(), 'shutdown-resets-'));
  p = await BidderProcess.start({ CONFIG_DIR: 'config', SHED_MAX_IN_FLIGHT: '0', DATA_DIR: join(dir, 'data') });
  const bidder = p;
  let sigtermAt = 0;
  /** When the first answer with Connection: close came back: the bidder was draining by then. */
  let firstCloseAt = 0;
  const counts = { answered: 0, answeredAfterSigterm: 0, keepAliveAfterDrain: 0, cutOffOnServed: 0, droppedOnFresh: 0, refused: 0, timedOut: 0 };
  const cutOff: string[] = [];
  const loop = async (lane: number) => {
    for (let n = 0; ; ) {
      let c: RawConnection;
      try {
        c = await RawConnection.open(bidder.port);
      } catch {
        counts.refused++;
        return; // the listener is closed
      }
      let served = 0;
      try {
        for (;;) {
          const id = `l${lane}-${n++}`;
          const sentAt = Date.now();
          c.post('/bid', bidBody(id));
          const r = await c.next(5_000).catch(() => 'timeout' as const);
          if (r === 'timeout') {
            counts.timedOut++;
            return;
          }
          if (r === undefined) {
            if (served > 0) {
              counts.cutOffOnServed++;
              cutOff.push(id);
            } else counts.droppedOnFresh++;
            break;
          }
          served++;
          counts.answered++;
          const closing = r.headers['connection']?.toLowerCase() === 'close';
          if (sigtermAt > 0) counts.answeredAfterSigterm++;
          if (closing && firstCloseAt === 0) firstCloseAt = Date.now();
          // Sent once the bidder was seen draining, so read after SIGTERM: it must say close.
          if (!closing && firstCloseAt > 0 && sentAt > firstCloseAt) counts.keepAliveAfterDrain++;
          if (closing) break;
        }
      } finally {
        c.destroy();
      }
      if (sigtermAt > 0 && Date.now() - sigtermAt > 10_000) return;
    }
  };
  const lanes = Array.from({ length: CONNECTIONS }, (_, i) => loop(i));
  await new Promise((r) => setTimeout(r, 1_500));
  const before = counts.answered;
  sigtermAt = Date.now();
  bidder.child.kill('SIGTERM');
  const exit = await bidder.exited;
  await Promise.all(lanes);

  expect(before).toBeGreaterThan(CONNECTIONS); // the connections were busy
  expect(exit, bidder.logs).toEqual({ code: 0, signal: null });
  expect(bidder.logs).toMatch(/"msg":"bid traffic drained".*"inFlightLeft":0/);
  expect(counts.timedOut).toBe(0);
  expect(cutOff).toEqual([]);
  expect(firstCloseAt).toBeGreaterThan(0);
  expect(counts.keepAliveAfterDrain).toBe(0);
  // Each busy connection had a request on the wire at SIGTERM: it was answered (with Connection: close).
  expect(counts.answeredAfterSigterm).toBeGreaterThanOrEqual(CONNECTIONS);
}, 40_000);
