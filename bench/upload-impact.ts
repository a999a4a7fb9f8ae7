/**
 * Does a large audience upload slow bidding? Starts the built bidder, drives bid requests at a
 * fixed rate for a while (baseline), then again while 1,000,000 rows (by default) are streamed
 * into the upload API, and reports both latency distributions side by side, with the upload's
 * own duration. Results: bench/results/upload-impact.json and .md.
 *
 *   npm run build && node dist/bench/upload-impact.js [--rows 1000000] [--rate 2000] [--seconds 15] [--workers 1]
 *
 * With --workers 2 or more the upload is parsed on the main thread and bids are served by worker threads.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import autocannon from 'autocannon';
import { BENCH_ADMIN_KEY } from './bidder-process.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg('rows', 1_000_000);
const RATE = arg('rate', 2_000);
const SECONDS = arg('seconds', 15);
const WORKERS = arg('workers', 1);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'upload-impact-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(
    join(dir, 'config', 'bundle.json'),
    JSON.stringify({
      exchanges: [{ id: 'default', seat: 'bench' }],
      advertisers: [{ id: 'adv', name: 'Bench', domains: ['bench.example'] }],
      campaigns: [
        {
          id: 'segment-campaign',
          advertiserId: 'adv',
          bid: { base: 2, max: 4 },
          targeting: { segments: { anyOf: ['bench-crm'] } },
          creatives: [{ id: 'cr-seg', type: 'banner', w: 300, h: 250, html: '<a href="${DSP_CLICK_URL}">ad</a>', landingUrl: 'https://bench.example/' }],
        },
        {
          id: 'contextual',
          advertiserId: 'adv',
          bid: { base: 1, max: 2 },
          creatives: [{ id: 'cr-ctx', type: 'banner', w: 300, h: 250, html: '<a href="${DSP_CLICK_URL}">ad</a>', landingUrl: 'https://bench.example/' }],
        },
      ],
    }),
  );
  return dir;
}

function requests() {
  const out = [];
  for (let i = 0; i < 200; i++)
    out.push({
      method: 'POST' as const,
      path: '/bid',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: `r${i}`,
        tmax: 100,
        imp: [{ id: '1', banner: { w: 300, h: 250 }, bidfloor: 0.1 }],
        site: { domain: 'news.example' },
        user: { buyeruid: `user-${i * 4999}` },
      }),
    });
  return out;
}

function upload(adminPort: number, rows: number): Promise<{ ms: number; body: string }> {
  const started = performance.now();
  let i = 0;
  const source = new Readable({
    read() {
      let chunk = '';
      for (let n = 0; n < 2000 && i < rows; n++, i++) chunk += `user-${i},uid,,\n`;
      this.push(chunk || null);
    },
  });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: adminPort, method: 'POST', path: '/api/v1/audiences/bench-crm/members', headers: { 'content-type': 'text/csv', authorization: `Bearer ${BENCH_ADMIN_KEY}` } },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ ms: performance.now() - started, body }));
      },
    );
    req.on('error', reject);
    source.pipe(req);
  });
}

type Run = { requests: { total: number }; latency: { p50: number; p90: number; p99: number; max: number }; non2xx: number; errors: number; timeouts: number };

function load(opts: Parameters<typeof autocannon>[0]): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result as unknown as Run)));
  });
}

const summary = (r: Run) => ({
  requests: r.requests.total,
  p50_ms: r.latency.p50,
  p90_ms: r.latency.p90,
  p99_ms: r.latency.p99,
  max_ms: r.latency.max,
  non2xx: r.non2xx,
  errors: r.errors,
  timeouts: r.timeouts,
});

async function main(): Promise<void> {
  const dir = configDir();
  const [port, adminPort] = [await freePort(), await freePort()];
  const bidder = spawn(process.execPath, ['dist/src/main.js'], {
    env: { ...process.env, PORT: String(port), ADMIN_PORT: String(adminPort), HOST: '127.0.0.1', CONFIG_DIR: join(dir, 'config'), DATA_DIR: join(dir, 'data'), WORKERS: String(WORKERS), DSP_ADMIN_KEY: BENCH_ADMIN_KEY, API_RATE_LIMIT: '100000', API_RATE_BURST: '100000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let t = 0; ; t++) {
      const ok = await new Promise<boolean>((r) =>
        request({ host: '127.0.0.1', port: adminPort, path: '/readyz' }, (res) => r(res.statusCode === 200)).on('error', () => r(false)).end(),
      );
      if (ok) break;
      if (t > 300) throw new Error('bidder did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const drive = () => load({ url: `http://127.0.0.1:${port}`, connections: 20, overallRate: RATE, duration: SECONDS, requests: requests() });
    await load({ url: `http://127.0.0.1:${port}`, connections: 10, duration: 3, requests: requests() }); // warm-up
    process.stderr.write(`baseline: ${RATE} rps for ${SECONDS} s\n`);
    const baseline = await drive();
    process.stderr.write(`with upload of ${ROWS} rows\n`);
    const [during, up] = await Promise.all([drive(), upload(adminPort, ROWS)]);
    const uploaded = JSON.parse(up.body) as { accepted: number; rejected: number };
    const result = {
      rows: ROWS,
      rate: RATE,
      workers: WORKERS,
      seconds: SECONDS,
      upload: { ms: Math.round(up.ms), accepted: uploaded.accepted, rejected: uploaded.rejected, rowsPerSecond: Math.round(ROWS / (up.ms / 1000)) },
      baseline: summary(baseline),
      duringUpload: summary(during),
      p99Ratio: +(during.latency.p99 / Math.max(baseline.latency.p99, 0.001)).toFixed(2),
      p50Ratio: +(during.latency.p50 / Math.max(baseline.latency.p50, 0.001)).toFixed(2),
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/upload-impact.json', JSON.stringify(result, null, 2) + '\n');
    const md = [
      `# Bidding during a ${ROWS.toLocaleString('en')}-row audience upload`,
      '',
      `Fixed rate ${RATE} bid requests/s for ${SECONDS} s, ${WORKERS === 1 ? 'one bid thread (the upload on the same thread)' : `${WORKERS} worker threads (the upload on the main thread)`}, embedded segment store. Upload: ${result.upload.ms} ms (${result.upload.rowsPerSecond.toLocaleString('en')} rows/s), ${uploaded.accepted} accepted.`,
      '',
      '| run | requests | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors |',
      '|---|---|---|---|---|---|---|---|',
      ...(['baseline', 'duringUpload'] as const).map((k) => {
        const s = result[k];
        return `| ${k} | ${s.requests} | ${s.p50_ms} | ${s.p90_ms} | ${s.p99_ms} | ${s.max_ms} | ${s.non2xx} | ${s.errors} |`;
      }),
      '',
      `p50 ratio ${result.p50Ratio}, p99 ratio ${result.p99Ratio} (during / baseline).`,
      '',
    ].join('\n');
    writeFileSync('bench/results/upload-impact.md', md);
    process.stdout.write(md);
  } finally {
    bidder.kill('SIGTERM');
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
