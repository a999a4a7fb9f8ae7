/**
 * The Dockerfile, without a Docker engine (there is none here, and hadolint is in neither npm nor
 * Debian): its instructions are parsed and checked for what operators rely on, the .dockerignore is
 * checked against what the build copies, and the runtime stage's file layout is rebuilt from the
 * repository (its COPY lines, with this checkout's node_modules and dist/) and started with the
 * image's CMD, ENV and HEALTHCHECK: a missing runtime file or a broken healthcheck fails here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { httpRequest } from '../helpers/bidder.js';
import { keyValues, NODE_ENV_NAMES, parseDockerfile, read, ROOT, settingDefault, settingsEnvNames, type DockerStage } from './support.js';

const docker = parseDockerfile(read('Dockerfile'));
const { stages } = docker;
const runtime = stages.at(-1)!;
const ins = (stage: DockerStage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const runtimeEnv = Object.assign({}, ...ins(runtime, 'ENV').map((i) => keyValues(i.args))) as Record<string, string>;
const argDefaults = Object.fromEntries(docker.args.filter((a) => a.keyword === 'ARG').map((a) => a.args.split('=') as [string, string]));
const resolve = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, k: string) => argDefaults[k] ?? '');

/** The exec-form array of a CMD/HEALTHCHECK CMD argument string. */
function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  return JSON.parse(json) as string[];
}

describe('Dockerfile', () => {
  it('multi-stage, every stage on Node 20 Debian slim (glibc, for the uWebSockets.js binaries)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(resolve(s.from)).toBe('node:20-bookworm-slim');
    expect(runtime.name).toBe('runtime');
  });

  it('production dependencies only in the runtime image; the build stage compiles with the dev ones', () => {
    const runs = stages.map((s) => ins(s, 'RUN').map((i) => i.args).join('\n'));
    const deps = stages.findIndex((s, i) => /npm ci --omit=dev\b/.test(runs[i]));
    const build = stages.findIndex((s, i) => /npm run build\b/.test(runs[i]));
    expect(deps).toBeGreaterThanOrEqual(0);
    expect(build).toBeGreaterThanOrEqual(0);
    expect(runs[build]).toMatch(/npm ci(?! --omit)/);
    const copies = ins(runtime, 'COPY').map((i) => i.args);
    expect(copies).toContain(`--from=${stages[deps].name} /app/node_modules ./node_modules`);
    expect(copies).toContain(`--from=${stages[build].name} /app/dist/src ./dist/src`);
    expect(copies).toContain(`--from=${stages[build].name} /app/dist/console ./dist/console`);
    // Nothing in the runtime stage installs or builds.
    expect(ins(runtime, 'RUN').map((i) => i.args).join('\n')).not.toMatch(/npm (ci|install|run)/);
    // chDB (optional dependency) is left out unless asked for, and uWS keeps only the binary this Node loads.
    expect(runs[deps]).toMatch(/WITH_CHDB/);
    expect(runs[deps]).toMatch(/--omit=optional/);
    expect(runs[deps]).toMatch(/uWebSockets\.js\/binaries/);
  });

  it('runs node directly (npm start would compile TypeScript), as a numeric non-root user', () => {
    expect(execForm(ins(runtime, 'CMD').at(-1)!.args)).toEqual(['node', 'dist/src/main.js']);
    expect(ins(runtime, 'ENTRYPOINT')).toEqual([]);
    const user = ins(runtime, 'USER').at(-1)!.args;
    expect(user).toMatch(/^\d+:\d+$/);
    expect(user.split(':').map(Number)).not.toContain(0);
    // DATA_DIR is created and owned by that user (an emptyDir or volume mounted there keeps fsGroup ownership).
    const uid = user.split(':')[0];
    expect(ins(runtime, 'RUN').map((i) => i.args).join('\n')).toMatch(new RegExp(`--uid ${uid}\\b[\\s\\S]*chown bidder:bidder ${runtimeEnv.DATA_DIR}`));
  });

  it('exposes the bid and admin ports, stops with SIGTERM, checks health on the admin port', () => {
    const ports = ins(runtime, 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number);
    expect(ports.sort()).toEqual([settingDefault('PORT'), settingDefault('ADMIN_PORT')].sort());
    expect(ins(runtime, 'STOPSIGNAL').map((i) => i.args)).toEqual(['SIGTERM']);
    const hc = ins(runtime, 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0].args).toMatch(/--interval=\d+s/);
    const cmd = execForm(hc[0].args);
    expect(cmd[0]).toBe('node'); // no curl or wget in the slim image
    expect(cmd.join(' ')).toMatch(/ADMIN_PORT/);
    expect(cmd.join(' ')).toMatch(/\/healthz/);
  });

  it('sensible defaults through ENV, every one a variable the bidder reads', () => {
    expect(runtimeEnv).toMatchObject({ HOST: '0.0.0.0', DATA_DIR: '/var/lib/bidder', CONFIG_DIR: '/app/config', NODE_ENV: 'production' });
    const known = settingsEnvNames();
    for (const k of Object.keys(runtimeEnv)) expect(known.has(k) || NODE_ENV_NAMES.has(k), k).toBe(true);
  });
});

/** .dockerignore semantics for the patterns used there: `**`, `dir`, `dir/**`, `**\/x`, `!` exceptions; last match wins. */
function ignored(path: string, patterns: string[]): boolean {
  const toRegex = (p: string) =>
    new RegExp(
      '^' +
        p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '(?:.*/)?')
          .replace(/\*\*/g, '.*')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]') +
        '(?:/.*)?$',
    );
  let out = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const p = (neg ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    if (toRegex(p).test(path)) out = !neg;
  }
  return out;
}

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('sends every file the Dockerfile copies from the context', () => {
    const sources = stages.flatMap((s) => ins(s, 'COPY').filter((i) => !i.args.startsWith('--from'))).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect(existsSync(join(ROOT, src)), src).toBe(true);
      const probe = src.includes('.') ? src : `${src}/x.ts`;
      expect(ignored(probe, patterns), src).toBe(false);
    }
  });

  it('keeps out node_modules, build output, local state and VCS data', () => {
    for (const p of ['node_modules/chdb/index.js', 'dist/src/main.js', 'data/spool/0001', '.git/HEAD', 'deploy/docker-compose.yml', 'tests/run.sh', 'bench/results/run.json'])
      expect(ignored(p, patterns), p).toBe(true);
  });
});

describe('the build stage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'image-build-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles from the files it copies alone (npm run build)', () => {
    const build = stages.find((s) => ins(s, 'RUN').some((i) => /npm run build\b/.test(i.args)))!;
    for (const c of ins(build, 'COPY')) {
      const parts = c.args.split(/\s+/);
      const dest = parts.at(-1)!;
      for (const src of parts.slice(0, -1)) cpSync(join(ROOT, src), dest.endsWith('/') ? join(dir, dest, src) : join(dir, dest), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const r = spawnSync('npm', ['run', 'build', '--silent', '--', '--outDir', join(dir, 'out')], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(existsSync(join(dir, 'out', 'src', 'main.js'))).toBe(true);
    // The web console: Vite's build, which the runtime stage copies from /app/dist/console.
    expect(existsSync(join(dir, 'dist', 'console', 'index.html'))).toBe(true);
  }, 150_000);
});

describe('the runtime stage, rebuilt from the repository and started like the image', () => {
  const dir = mkdtempSync(join(tmpdir(), 'image-'));
  let child: ReturnType<typeof spawn> | undefined;
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const built = existsSync(join(ROOT, 'dist', 'src', 'main.js'));
  if (!built) console.warn('dist/ is missing: skipping the runtime layout test (tests/run.sh builds it first)');

  it.skipIf(!built)('starts from the COPY-ed files alone, answers its HEALTHCHECK and bids, and stops cleanly on SIGTERM', async () => {
    const app = join(dir, 'app');
    mkdirSync(app);
    for (const c of ins(runtime, 'COPY')) {
      const parts = c.args.split(/\s+/);
      const dest = join(app, parts.at(-1)!);
      if (parts[0].startsWith('--from=')) {
        const src = parts[1].replace(/^\/app\//, '');
        if (src === 'node_modules') symlinkSync(join(ROOT, 'node_modules'), dest);
        else cpSync(join(ROOT, src), dest, { recursive: true });
      } else for (const src of parts.slice(0, -1)) cpSync(join(ROOT, src), parts.at(-1)!.endsWith('/') ? join(dest, src) : dest, { recursive: true });
    }
    const workdir = ins(runtime, 'WORKDIR').at(-1)!.args;
    expect(workdir).toBe('/app');
    const port = await freePort();
    let adminPort = await freePort();
    while (adminPort === port) adminPort = await freePort();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...runtimeEnv,
      // Paths of the image, moved under the temporary root; ports free on this machine.
      CONFIG_DIR: join(app, runtimeEnv.CONFIG_DIR.replace(/^\/app\/?/, '')),
      DATA_DIR: join(dir, 'data'),
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      // Production images carry no chDB: a ClickHouse server that is not there yet (events spool meanwhile).
      CLICKHOUSE_URL: `http://default:@127.0.0.1:${await freePort()}/dsp`,
      WORKERS: '1',
      // NODE_ENV=production: the config API refuses to start without its first admin key (a Secret in deploy/).
      DSP_ADMIN_KEY: 'dockerfile-test-admin-key-0123456789',
    };
    const cmd = execForm(ins(runtime, 'CMD').at(-1)!.args);
    let output = '';
    child = spawn(cmd[0] === 'node' ? process.execPath : cmd[0], cmd.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));

    const healthcheck = () => {
      const hc = execForm(ins(runtime, 'HEALTHCHECK')[0].args);
      return spawnSync(process.execPath, hc.slice(1), { env: { PATH: env.PATH, ADMIN_PORT: String(adminPort) }, timeout: 10_000 }).status;
    };
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await httpRequest(adminPort, 'GET', '/readyz').catch(() => undefined);
      if (r?.status === 200) break;
      if (child.exitCode !== null) throw new Error(`the bidder exited at start:\n${output}`);
      if (Date.now() > deadline) throw new Error(`not ready in 20 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(healthcheck(), output).toBe(0);
    const bid = await httpRequest(
      port,
      'POST',
      '/bid',
      JSON.stringify({
        id: 'req-image',
        tmax: 100,
        imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] }, bidfloor: 0.2 }],
        site: { domain: 'news.example', page: 'https://news.example/story' },
        device: { ua: 'Mozilla/5.0', ip: '203.0.113.7', geo: { country: 'USA' } },
      }),
      { 'content-type': 'application/json' },
    );
    expect([200, 204]).toContain(bid.status);
    // The web console, from the image's dist/console.
    const page = await httpRequest(adminPort, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<script type="module"[^>]* src="\/assets\/index-[\w-]+\.js"/);
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    // Down: the healthcheck says so.
    expect(healthcheck()).toBe(1);
  }, 60_000);
});

// The image's config directory is the repository's config/ (the demo campaigns).
it('the image ships config/ and proto/, which the bidder reads at start', () => {
  const copies = ins(runtime, 'COPY').map((i) => i.args);
  expect(copies).toEqual(expect.arrayContaining(['package.json ./', 'proto ./proto', 'config ./config']));
  expect(readFileSync(join(ROOT, 'proto', 'openrtb.proto'), 'utf8').length).toBeGreaterThan(0);
});
