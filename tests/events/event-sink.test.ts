/**
 * The EventSink contract on every sink: the event writer (memory buffer → spool on a temporary
 * directory → store), and the bid workers' ForwardingEventSink over a real MessageChannel into the
 * main thread's writer (two workers, one writer), as WorkerPool wires them. The store behind the
 * writer is the recording fake of the writer's own tests (the stores themselves have their own
 * contract, event-database.contract.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { EventWriter } from '../../src/events/event-writer.js';
import type { BidderEvent, EventSink } from '../../src/events/event-types.js';
import { EventMetrics } from '../../src/metrics/event-metrics.js';
import type { RpcMethod } from '../../src/workers/protocol.js';
import { ForwardingEventSink } from '../../src/workers/remote.js';
import { FakeEventDatabase } from '../helpers/fake-event-database.js';
import { workerLink } from '../helpers/worker-link.js';
import { eventSinkContract } from './event-sink.contract.js';

/** A writer on its own spool directory, restartable after a crash on the same spool and store. */
async function writerOnSpool() {
  const dataDir = await mkdtemp(join(tmpdir(), 'event-sink-'));
  const store = new FakeEventDatabase();
  const writers: EventWriter[] = [];
  const start = () => {
    const w = new EventWriter({ store, dataDir, metrics: new EventMetrics(new Registry()), batchRows: 1000, batchMs: 200, syncMs: 20, retryMinMs: 20, retryMaxMs: 100, log: () => undefined });
    writers.push(w);
    return w;
  };
  let writer = start();
  return {
    store,
    get writer() {
      return writer;
    },
    /** Abandons the writer (a crash: buffers lost, the spool stays) and starts another on the same spool; it replays. */
    async crashAndReplay(): Promise<string[]> {
      writer.abandon();
      writer = start();
      await writer.flush();
      return store.ids(); // taken before the crash or replayed after it
    },
    async cleanup() {
      for (const w of writers) w.abandon();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

eventSinkContract('event writer (spool on disk)', async () => {
  const w = await writerOnSpool();
  const sink = w.writer;
  return {
    sink,
    other: sink,
    stored: (table) => w.store.ids(table),
    settle: async () => {},
    crashAndReplay: () => w.crashAndReplay(),
    cleanup: () => w.cleanup(),
  };
});

eventSinkContract('worker proxy (ForwardingEventSink → event writer, two workers over MessageChannels)', async () => {
  const w = await writerOnSpool();
  // The main thread's writer as the pool holds it (the one it replaces after a crash, here).
  const main: EventSink = {
    write: (e: BidderEvent) => w.writer.write(e),
    writeDurable: (e: BidderEvent) => w.writer.writeDurable(e),
    flush: () => w.writer.flush(),
    close: () => w.writer.close(),
  };
  const a = workerLink({ events: main });
  const b = workerLink({ events: main });
  return {
    sink: new ForwardingEventSink(a.post, a.link),
    other: new ForwardingEventSink(b.post, b.link),
    stored: (table) => w.store.ids(table),
    settle: async () => {
      // Any answer from the main thread comes after the batches posted before the call (one ordered port each).
      for (const end of [a, b]) await end.link.call('settle' as RpcMethod).catch(() => undefined);
      await w.writer.flush();
    },
    crashAndReplay: () => w.crashAndReplay(),
    cleanup: async () => {
      a.close();
      b.close();
      await w.cleanup();
    },
  };
});
