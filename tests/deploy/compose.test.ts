/**
 * deploy/docker-compose.yml: Debian's docker-compose 1.29 parses and validates it without an engine
 * (`docker-compose config -q`; tests/run.sh installs the package), the load balancer's config passes
 * `haproxy -c`, and the services are wired the way the README says.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NODE_ENV_NAMES, ROOT, run, settingDefault, settingsEnvNames, tool } from './support.js';

const FILE = 'deploy/docker-compose.yml';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  volumes?: string[];
  ports?: string[];
  stop_grace_period?: string;
}

const composeBin = tool('docker-compose');
if (!composeBin) console.warn('docker-compose not found: skipping `docker-compose config` (tests/run.sh installs Debian\'s docker-compose package)');
const haproxyBin = tool('haproxy');
if (!haproxyBin) console.warn('haproxy not found: skipping `haproxy -c` (tests/run.sh installs Debian\'s haproxy package)');

describe.skipIf(!composeBin)('docker-compose config', () => {
  it('validates the file (docker-compose 1.29, no engine needed)', () => {
    const r = run(composeBin!, ['-f', FILE, 'config', '-q']);
    expect(r.status, r.out).toBe(0);
  });

  it('resolves the anchors and defaults into the expected services', () => {
    const r = run(composeBin!, ['-f', FILE, 'config']);
    expect(r.status, r.out).toBe(0);
    const resolved = parse(r.out) as { services: Record<string, Service> };
    expect(Object.keys(resolved.services).sort()).toEqual(['bidder-1', 'bidder-2', 'clickhouse', 'grafana', 'lb', 'prometheus', 'redis', 'simulator']);
    expect(resolved.services['bidder-1'].build).toEqual({ context: ROOT, dockerfile: 'Dockerfile' });
    expect(resolved.services['bidder-1'].environment?.NOTICE_SIGNING_KEYS).toMatch(/^[A-Za-z0-9_-]{1,16}:.{16,}$/);
  });
});

describe('compose services', () => {
  const compose = parse(readFileSync(join(ROOT, FILE), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const s = compose.services;
  const bidders = [s['bidder-1'], s['bidder-2']];

  it('two bidders from the repository Dockerfile, sharing keys and stores, with distinct instance ids', () => {
    for (const b of bidders) {
      expect(b.build).toEqual({ context: '..', dockerfile: 'Dockerfile' });
      expect(b.image).toBe('rtb-bidder:local');
      expect(b.depends_on).toEqual({ redis: { condition: 'service_healthy' }, clickhouse: { condition: 'service_healthy' } });
      // Longer than the bidder's shutdown budget.
      const env = { ...(s['bidder-1'].environment ?? {}), ...(b.environment ?? {}) };
      const ms = (name: string) => (env[name] !== undefined ? Number(env[name]) : settingDefault(name));
      expect(parseInt(b.stop_grace_period ?? '10', 10) * 1000).toBeGreaterThan(ms('SHUTDOWN_DELAY_MS') + ms('SHUTDOWN_TIMEOUT_MS'));
    }
    const [e1, e2] = bidders.map((b) => b.environment!);
    for (const k of ['NOTICE_SIGNING_KEYS', 'REDIS_URL', 'CLICKHOUSE_URL', 'NOTICE_BASE_URL']) expect(e1[k], k).toBe(e2[k]);
    expect(e1.INSTANCE_ID).not.toBe(e2.INSTANCE_ID);
    for (const id of [e1.INSTANCE_ID, e2.INSTANCE_ID]) expect(id).toMatch(/^[A-Za-z0-9]{1,16}$/);
    expect(new URL(e1.REDIS_URL).hostname).toBe('redis');
    expect(new URL(e1.CLICKHOUSE_URL.replace(/\$\{[^}]*\}/g, 'x')).hostname).toBe('clickhouse');
    // Through the load balancer, published on the host's :8080 (and the simulator's 127.0.0.1:8080).
    expect(e1.NOTICE_BASE_URL).toBe('http://localhost:8080');
    expect(s.lb.ports).toContain('8080:8080');
    // Each bidder keeps its own DATA_DIR (the event spool) on a named volume.
    expect(bidders.map((b) => b.volumes?.find((v) => v.endsWith(':/var/lib/bidder')))).toEqual(['bidder-1-data:/var/lib/bidder', 'bidder-2-data:/var/lib/bidder']);
  });

  it('publishes only the bid port on every interface: admin ports, ClickHouse and the tools on 127.0.0.1', () => {
    const published: { service: string; host: string; hostPort: string; target: string }[] = [];
    for (const [service, svc] of Object.entries(s))
      for (const p of svc.ports ?? []) {
        const parts = String(p).split(':');
        // "host:port", "ip:host:port" (a bare "port" publishes on a random port of every interface).
        const [host, hostPort, target] = parts.length === 3 ? parts : ['', parts.length === 2 ? parts[0] : '', parts.at(-1)!];
        published.push({ service, host, hostPort, target });
      }
    expect(published.length).toBeGreaterThan(5);
    for (const p of published) {
      if (p.service === 'lb' && p.target === '8080') {
        expect(p.host, 'the bid port is for exchanges').toBe('');
        continue;
      }
      expect(p.host, `${p.service} ${p.hostPort}:${p.target}`).toBe('127.0.0.1');
    }
    // The ones the issue named: both bidders' admin ports and ClickHouse.
    for (const name of ['bidder-1', 'bidder-2', 'clickhouse']) expect(published.some((p) => p.service === name && p.host === '127.0.0.1'), name).toBe(true);
    expect(s.redis.ports ?? []).toEqual([]);
  });

  it('sets only environment variables the bidder reads', () => {
    const known = settingsEnvNames();
    for (const b of bidders) for (const k of Object.keys(b.environment ?? {})) expect(known.has(k) || NODE_ENV_NAMES.has(k), k).toBe(true);
  });

  it('healthchecks on every stateful service, and start-up ordered by them', () => {
    for (const name of ['redis', 'clickhouse', 'prometheus', 'grafana']) expect(s[name].healthcheck?.test, name).toBeDefined();
    expect(s.lb.depends_on).toEqual({ 'bidder-1': { condition: 'service_healthy' }, 'bidder-2': { condition: 'service_healthy' } });
    expect(s.grafana.depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
    expect(s.simulator.depends_on?.lb).toBeDefined();
  });

  it('the simulator runs from the bidder image, in the load balancer\'s network namespace (it only calls localhost)', () => {
    expect(s.simulator.image).toBe('rtb-bidder:local');
    expect(s.simulator.command?.slice(0, 2)).toEqual(['node', 'dist/src/simulator/main.js']);
    expect(existsSync(join(ROOT, 'src', 'simulator', 'main.ts'))).toBe(true);
    expect((s.simulator as { network_mode?: string }).network_mode).toBe('service:lb');
    const cmd = s.simulator.command ?? [];
    const target = new URL(cmd[cmd.indexOf('--bidder') + 1]);
    expect(['127.0.0.1', 'localhost']).toContain(target.hostname);
    expect(target.port).toBe('8080'); // HAProxy's frontend (deploy/haproxy/haproxy.cfg: bind :8080)
    expect(s.simulator.healthcheck?.disable).toBe(true);
  });

  it('every file it mounts from the repository exists', () => {
    for (const svc of Object.values(s)) {
      for (const v of svc.volumes ?? []) {
        const src = v.split(':')[0];
        if (!src.startsWith('.')) {
          expect(compose.volumes, v).toHaveProperty(src);
          continue;
        }
        expect(existsSync(join(ROOT, 'deploy', src)), v).toBe(true);
      }
    }
  });
});

describe.skipIf(!haproxyBin)('haproxy', () => {
  it('haproxy -c accepts the load balancer config (only the compose host names do not resolve here)', () => {
    const r = run(haproxyBin!, ['-c', '-f', 'deploy/haproxy/haproxy.cfg']);
    expect(r.status, r.out).toBe(0);
    const warnings = r.out.split('\n').filter((l) => l.includes('[WARNING]') && !/could not resolve address 'bidder-[12]'/.test(l));
    expect(warnings).toEqual([]);
  });

  it('checks readiness on the admin port and sends traffic to the bid port', () => {
    const cfg = readFileSync(join(ROOT, 'deploy', 'haproxy', 'haproxy.cfg'), 'utf8');
    expect(cfg).toMatch(/http-check send meth GET uri \/readyz ver HTTP\/1.1 hdr Host /);
    expect(cfg.match(/^\s*server bidder-\d bidder-\d:8080 check port 8081\b/gm)).toHaveLength(2);
  });
});
