// Child process for tracing-off.test.ts: counts the OpenTelemetry modules the built app loads (a
// resolve hook sees every import), without tracing (`off`) and after startTracing (`on`).
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on('message', (m) => seen.push(m));
port1.unref();
register('data:text/javascript,' + encodeURIComponent(`let port; export function initialize(d){port=d.port} export async function resolve(s,c,n){const r=await n(s,c); if(r.url.includes('@opentelemetry')) port.postMessage(r.url); return r}`), import.meta.url, { data: { port: port2 }, transferList: [port2] });
await import(process.cwd() + '/dist/src/app.js');
const t = await import(process.cwd() + '/dist/src/telemetry/tracing.js');
if (process.argv[2] === 'on') { const tr = await t.startTracing({ endpoint: 'http://127.0.0.1:9/v1/traces', serviceName: 'x', instanceId: 'x' }); await tr.shutdown().catch(()=>{}); }
await new Promise((r) => setTimeout(r, 100));
console.log(JSON.stringify(seen.filter((u) => /sdk-trace|exporter|resources|\/api\//.test(u)).length));
process.exit(0);
