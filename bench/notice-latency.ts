/**
 * Billing notice answer time, paced (open loop) on loopback: the time from sending a billing
 * notice to its answer, p50 and p99, at a few notice rates, for one or more builds run in turn
 * (interleaved, round after round, so a noisy machine hurts them alike).
 *
 *   node dist/bench/notice-latency.js [--rates 300,3000] [--seconds 5] [--rounds 3] <buildDir> [<buildDir> ...]
 *
 * A buildDir holds dist/src/main.js and node_modules (the working tree: `.`). Each run starts a
 * fresh bidder (WORKERS=1, an unreachable CLICKHOUSE_URL so the spool is the only disk work) with
 * a temporary DATA_DIR, and sends billing notices with freshly signed identities over up to 64
 * keep-alive connections.
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './processes.js';
import { NoticeSigner, parseSigningKeys } from '../src/events/notice-signer.js';
import { identityQuery } from '../src/events/bid-identity.js';

const KEYS = 'bench:notice-latency-secret-0123456789';
const signer = new NoticeSigner(parseSigningKeys(KEYS));

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const rates = arg('rates', '300,3000').split(',').map(Number);
const seconds = Number(arg('seconds', '5'));
const rounds = Number(arg('rounds', '3'));
const builds = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')));

const get = (port: number, agent: Agent, path: string) =>
  new Promise<number>((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });

async function run(buildDir: string, rate: number): Promise<{ p50: number; p99: number; n: number; bad: number }> {
  const port = await freePort();
  const adminPort = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'notice-latency-'));
  const child = spawn(process.execPath, [join(resolve(buildDir), 'dist/src/main.js')], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      WORKERS: '1',
      DATA_DIR: dataDir,
      CONFIG_DIR: 'config',
      CLICKHOUSE_URL: 'http://127.0.0.1:1/bench',
      NOTICE_SIGNING_KEYS: KEYS,
      NOTICE_BASE_URL: `http://127.0.0.1:${port}`,
      DSP_ADMIN_KEY: 'bench-admin-key-0123456789',
      LOG_LEVEL: 'error',
    },
    stdio: 'ignore',
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    for (let t = Date.now(); ; ) {
      if ((await get(adminPort, agent, '/readyz').catch(() => 0)) === 200) break;
      if (Date.now() - t > 20_000 || child.exitCode !== null) throw new Error(`bidder of ${buildDir} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const times: number[] = [];
    let bad = 0;
    let n = 0;
    const nowSec = Math.floor(Date.now() / 1000);
    const send = (measured: boolean) => {
      const id = `bench-${n++}`;
      const path = `/notice/billing/default?${identityQuery(
        { bidId: id, requestId: `r-${id}`, impId: '1', exchange: 'default', advertiserId: 'adv-acme', campaignId: 'cmp-acme-ron', creativeId: 'cr-1', dealId: '', price: 2, currency: 'USD', issuedAt: nowSec },
        signer,
      )}&p=1.25&pc=USD`;
      const t0 = performance.now();
      return get(port, agent, path).then(
        (status) => {
          if (status !== 204) bad++;
          else if (measured) times.push(performance.now() - t0);
        },
        () => bad++,
      );
    };
    // Paced: the notices due by now go out every millisecond, whether earlier ones were answered or not.
    const warmUpMs = 1_000;
    const start = performance.now();
    let sent = 0;
    const pending: Promise<unknown>[] = [];
    await new Promise<void>((done) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - start;
        const due = Math.floor((elapsed / 1000) * rate);
        while (sent < due) {
          sent++;
          pending.push(send(elapsed >= warmUpMs));
        }
        if (elapsed >= warmUpMs + seconds * 1000) {
          clearInterval(timer);
          done();
        }
      }, 1);
    });
    await Promise.all(pending);
    const measured = times.sort((a, b) => a - b);
    const q = (f: number) => measured[Math.min(measured.length - 1, Math.floor(f * measured.length))];
    return { p50: q(0.5), p99: q(0.99), n: measured.length, bad };
  } finally {
    agent.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

const results = new Map<string, { p50: number; p99: number }[]>();
for (let round = 1; round <= rounds; round++) {
  for (const rate of rates) {
    for (const b of builds) {
      const r = await run(b, rate);
      const key = `${b} @ ${rate}/s`;
      if (!results.has(key)) results.set(key, []);
      results.get(key)!.push(r);
      console.log(`round ${round} ${key}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (${r.n} answers, ${r.bad} not 204)`);
    }
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('\nmedian over rounds:');
for (const [key, rs] of results) console.log(`  ${key}: p50 ${median(rs.map((r) => r.p50)).toFixed(2)} ms, p99 ${median(rs.map((r) => r.p99)).toFixed(2)} ms`);
