/**
 * Benchmark users: `users` identities (see userIdentity) with 1-5 audience segments each,
 * streamed as CSV to the bidder's audience upload API on the admin port:
 *   PUT  /api/v1/audiences/{segment}            for every segment first (rows may only name existing ones)
 *   POST /api/v1/audiences/bench-users/members  user_id,id_type,segments  (one streamed upload)
 * Rows are generated on the fly with back-pressure: the CSV is never held in memory.
 */
import { request } from 'node:http';
import { ALL_USERS_SEGMENT, SEGMENT_COUNT, segmentId, userIdentity, userSegments } from '../../src/simulator/vocabulary.js';
import { BENCH_ADMIN_KEY } from '../bidder-process.js';

/** The CSV line for user `n` (with its trailing newline). */
export function userRow(n: number): string {
  const who = userIdentity(n);
  return `${who.id},${who.kind},${userSegments(n).join('|')}\n`;
}

export const CSV_HEADER = 'user_id,id_type,segments\n';

/** Yields the CSV in chunks of about `chunkRows` rows. */
export function* userCsvChunks(users: number, chunkRows = 2_000): Generator<string> {
  yield CSV_HEADER;
  for (let start = 0; start < users; start += chunkRows) {
    let s = '';
    const end = Math.min(users, start + chunkRows);
    for (let n = start; n < end; n++) s += userRow(n);
    yield s;
  }
}

export interface UploadResult {
  readonly users: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly seconds: number;
  readonly errors: unknown[];
}

/** Creates every segment, then uploads the users. `onProgress(rowsSent)` is called as chunks go out. */
export async function uploadUsers(
  adminPort: number,
  users: number,
  onProgress: (rowsSent: number) => void = () => {},
  cancelled: () => boolean = () => false,
  host = '127.0.0.1',
): Promise<UploadResult> {
  const t0 = Date.now();
  for (let i = 0; i < SEGMENT_COUNT; i++)
    await send(adminPort, host, 'PUT', `/api/v1/audiences/${segmentId(i)}`, JSON.stringify({ name: `Bench segment ${i}`, ttlSeconds: 30 * 24 * 3600 }));
  await send(adminPort, host, 'PUT', `/api/v1/audiences/${ALL_USERS_SEGMENT}`, JSON.stringify({ name: 'Benchmark users' }));
  if (users <= 0) return { users: 0, accepted: 0, rejected: 0, seconds: (Date.now() - t0) / 1000, errors: [] };

  const body = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        host,
        port: adminPort,
        method: 'POST',
        path: `/api/v1/audiences/${ALL_USERS_SEGMENT}/members?uploadId=bench-${Date.now().toString(36)}`,
        headers: { 'content-type': 'text/csv', 'transfer-encoding': 'chunked', authorization: `Bearer ${BENCH_ADMIN_KEY}` },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`upload answered ${res.statusCode}: ${text.slice(0, 500)}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const watch = setInterval(() => {
      if (cancelled()) req.destroy(new Error('upload cancelled'));
    }, 200);
    req.once('close', () => clearInterval(watch));
    const chunks = userCsvChunks(users);
    let rows = 0;
    const pump = () => {
      for (;;) {
        const next = chunks.next();
        if (next.done) return void req.end();
        if (next.value !== CSV_HEADER) {
          rows = Math.min(users, rows + 2_000);
          onProgress(rows);
        }
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
  const p = JSON.parse(body) as { accepted: number; rejected: number; errors: unknown[] };
  return { users, accepted: p.accepted, rejected: p.rejected, seconds: (Date.now() - t0) / 1000, errors: p.errors };
}

function send(port: number, host: string, method: string, path: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_ADMIN_KEY}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve(text) : reject(new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
