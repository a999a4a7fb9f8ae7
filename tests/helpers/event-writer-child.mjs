// A bidder stand-in for the crash test, run as a child process and killed with SIGKILL.
// argv: <dir with the transpiled src/> <dataDir> <storeFile> <up|down> <syncMs>
// Writes events steadily (ids c0, c1, ... ; request_id = epoch ms when written) through a real
// EventWriter. Its store appends `event_id\trequest_id` lines to storeFile synchronously (so
// they survive the kill), or fails every insert ("down"). Reports progress over IPC.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, dataDir, storeFile, mode, syncMs] = process.argv.slice(2);
const { EventWriter } = await import(pathToFileURL(join(root, 'src/events/event-writer.js')).href);
const { EventMetrics } = await import(pathToFileURL(join(root, 'src/metrics/event-metrics.js')).href);
const { Registry } = await import('prom-client');

const store = {
  kind: 'chdb',
  async exec() {},
  async query() {
    return [];
  },
  async close() {},
  async insert(table, rows) {
    if (mode === 'down') throw new Error('store down');
    appendFileSync(storeFile, rows.map((r) => `${r.event_id}\t${r.request_id}\n`).join(''));
  },
};

const writer = new EventWriter({
  store,
  dataDir,
  metrics: new EventMetrics(new Registry()),
  syncMs: Number(syncMs),
  log: () => {},
});
await writer.started;

const now = () => performance.timeOrigin + performance.now();
let n = 0;
function burst() {
  for (let i = 0; i < 10; i++) {
    n++;
    writer.write({
      type: 'win',
      event_id: `c${n - 1}`,
      event_time: Math.floor(Date.now() / 1000),
      exchange: 'x1',
      advertiser_id: 'a',
      campaign_id: 'c',
      creative_id: 'cr',
      bid_id: `b${n}`,
      request_id: String(now()),
      imp_id: '1',
      deal_id: '',
      bid_cpm_base: 1,
      clear_cpm_base: 1,
      currency: 'USD',
    });
  }
}
setInterval(burst, 1);
setInterval(() => process.send?.({ written: n, maxSyncLagMs: writer.maxSyncLagMs }), 50);
process.send?.({ ready: true });
