/**
 * A bid worker's link to the main thread, for running the store contracts through the worker
 * proxies (src/workers/remote.ts): a real MessageChannel pair, so every call and event batch is
 * structured-cloned and delivered in order exactly as between a Worker and the main thread. The
 * worker end is a MainLink and a poster, as bid-worker.ts builds them; the main end answers calls
 * with the pool's own dispatcher (`serveStoreCall`) and takes event batches into the main sink, as
 * WorkerPool does.
 */
import { MessageChannel } from 'node:worker_threads';
import type { EventSink } from '../../src/events/event-types.js';
import type { NoticeDedupe } from '../../src/events/notice-dedupe.js';
import type { SegmentStore } from '../../src/audiences/segment-store.js';
import type { BudgetStore } from '../../src/money/budget-store.js';
import type { FrequencyStore } from '../../src/money/frequency-store.js';
import { serveStoreCall, UNKNOWN_CALL } from '../../src/workers/pool.js';
import type { FromWorker, ToWorker } from '../../src/workers/protocol.js';
import { MainLink, poster } from '../../src/workers/remote.js';

/** The main thread's stores a test wires (the rest answer every call with an error). */
export interface MainStores {
  readonly segmentStore?: SegmentStore;
  readonly dedupe?: NoticeDedupe;
  readonly events?: EventSink;
  readonly budgetStore?: BudgetStore;
  readonly frequencyStore?: FrequencyStore;
}

export interface WorkerEnd {
  readonly link: MainLink;
  readonly post: (m: FromWorker) => void;
  /** Closes both ends: calls still waiting time out, later posts go nowhere. */
  close(): void;
}

const notWired = new Proxy({}, { get: () => () => Promise.reject(new Error('not wired in this test')) });

export function workerLink(main: MainStores, timeoutMs = 5_000): WorkerEnd {
  const { port1: workerPort, port2: mainPort } = new MessageChannel();
  const deps = {
    segmentStore: main.segmentStore ?? (notWired as SegmentStore),
    dedupe: main.dedupe ?? (notWired as NoticeDedupe),
    events: main.events ?? (notWired as EventSink),
    budgetStore: main.budgetStore,
    frequencyStore: main.frequencyStore,
  };
  const reply = (m: ToWorker) => mainPort.postMessage(m);
  mainPort.on('message', (m: FromWorker) => {
    if (m.t === 'events') {
      for (const e of m.events) deps.events.write(e);
    } else if (m.t === 'rpc') {
      try {
        const result = serveStoreCall(deps, m.method, m.args);
        if (result === UNKNOWN_CALL) return reply({ t: 'rpc-reply', id: m.id, ok: false, error: `unknown call ${m.method}` });
        Promise.resolve(result).then(
          (value) => reply({ t: 'rpc-reply', id: m.id, ok: true, value }),
          (e: Error) => reply({ t: 'rpc-reply', id: m.id, ok: false, error: e?.message ?? String(e) }),
        );
      } catch (e) {
        reply({ t: 'rpc-reply', id: m.id, ok: false, error: (e as Error).message });
      }
    }
  });
  const post = poster(workerPort);
  const link = new MainLink(post, timeoutMs);
  workerPort.on('message', (m: ToWorker) => {
    if (m.t === 'rpc-reply') link.reply(m.id, m.ok, m.value, m.error);
  });
  return {
    link,
    post,
    close() {
      workerPort.close();
      mainPort.close();
    },
  };
}
