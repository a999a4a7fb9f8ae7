/**
 * `npm run bench:upload`: audience upload parsing throughput (AudienceUpload: CSV through csv-parse,
 * or NDJSON), rows per second over N generated rows (default 1,000,000) fed in 64 KiB chunks as a
 * socket would deliver them. The store discards the batches, so what is measured is parsing and
 * validation (the part that holds the event loop), not a store. Every 50th user id is quoted with a
 * comma and a doubled quote inside; every row has extra segments and a ttl.
 *
 *   npm run bench:upload -- [--rows 1000000] [--format csv|ndjson] [--runs 3]
 */
import { parseArgs } from 'node:util';
import { AudienceUpload, type UploadFormat } from '../src/audiences/upload.js';
import { MemorySegmentStore } from '../src/audiences/memory-segment-store.js';
import type { MembershipRow } from '../src/audiences/segment-store.js';

class DiscardingStore extends MemorySegmentStore {
  rows = 0;
  override async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    this.rows += rows.length;
  }
}

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, format: { type: 'string', default: 'csv' }, runs: { type: 'string', default: '3' } } });
const rows = Number(values.rows);
const format = values.format as UploadFormat;
const CHUNK = 64 * 1024;

function line(i: number): string {
  const id = i % 50 === 0 ? `"user,${i} ""q"""` : `user-${i}`;
  if (format === 'ndjson') return JSON.stringify({ user_id: id, id_type: 'uid', segments: ['vip', 'loyal'], ttl: 3600 }) + '\n';
  return `${id},uid,vip|loyal,3600\n`;
}

/** The input as 64 KiB chunks, made ahead so generation is not timed (about 30 MB for 1M rows). */
function chunks(): Buffer[] {
  const out: Buffer[] = [];
  let text = format === 'csv' ? 'user_id,id_type,segments,ttl\n' : '';
  for (let i = 0; i < rows; i++) {
    text += line(i);
    if (text.length >= CHUNK) {
      out.push(Buffer.from(text));
      text = '';
    }
  }
  if (text) out.push(Buffer.from(text));
  return out;
}

async function once(input: Buffer[]): Promise<number> {
  const store = new DiscardingStore();
  const u = new AudienceUpload(store, { uploadId: 'bench', segmentId: 'crm', format, defaultTtlSeconds: 86_400, knownSegments: new Set(['crm', 'vip', 'loyal']), nowSeconds: 1_700_000_000 });
  const t0 = performance.now();
  for (const c of input) {
    const wait = u.push(c);
    if (wait) await wait;
  }
  const p = await u.end();
  const s = (performance.now() - t0) / 1000;
  if (p.accepted !== rows || store.rows !== rows) throw new Error(`accepted ${p.accepted} of ${rows}: ${JSON.stringify(p.errors.slice(0, 3))}`);
  return rows / s;
}

const input = chunks();
const results: number[] = [];
for (let r = 0; r < Number(values.runs); r++) results.push(await once(input));
results.sort((a, b) => a - b);
console.log(JSON.stringify({ format, rows, bytes: input.reduce((n, c) => n + c.length, 0), rowsPerSecond: results.map(Math.round), median: Math.round(results[Math.floor(results.length / 2)]!) }));
