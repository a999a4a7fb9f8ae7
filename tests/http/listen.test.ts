/**
 * `listenExclusive` refuses a port someone else holds. uWS listens with SO_REUSEPORT by default,
 * so a leftover bidder (another process, default options) would otherwise silently share the port
 * and take part of the traffic; these tests hold the port first and expect a clear failure.
 *
 * uWS (this build) sets SO_REUSEPORT only when listening on a concrete port, never on port 0,
 * so every holder here listens on a port picked beforehand, as a deployed bidder does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import uws, { type us_listen_socket } from 'uWebSockets.js';
import { listenExclusive } from '../../src/http/listen.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A port free right now on 127.0.0.1 (the kernel's pick, released at once). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Listens the way uWS does by default (no options: SO_REUSEPORT), in this process; closed after the test. */
function listenDefault(host: string, port: number): Promise<us_listen_socket | false> {
  return new Promise((resolve) =>
    uws.App().listen(host, port, (socket) => {
      if (socket) cleanups.push(() => uws.us_listen_socket_close(socket));
      resolve(socket);
    }),
  );
}

async function exclusive(host: string, port: number) {
  const l = await listenExclusive(uws.App(), host, port);
  cleanups.push(() => l.close());
  return l;
}

const inUse = (port: number) => new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`);

/** Starts `node -e` listening on `port` with a default-options uWS listen; resolves once it listens. */
async function childHoldingPort(host: string | undefined, port: number): Promise<ChildProcess> {
  const listen = host === undefined ? `app.listen(${port}, cb)` : `app.listen(${JSON.stringify(host)}, ${port}, cb)`;
  const script = `
    const uws = require('uWebSockets.js');
    const app = uws.App().any('/*', (res) => res.end('child'));
    const cb = (s) => console.log(s ? 'LISTENING ' + uws.us_socket_local_port(s) : 'FAILED');
    ${listen};
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
    setTimeout(() => process.exit(0), 20000).unref();
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(() => {
    child.stdin?.end();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not listen within 10 s')), 10_000);
    void exited.then(() => reject(new Error(`child exited early (${child.exitCode})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      clearTimeout(timer);
      if (line === `LISTENING ${port}`) resolve();
      else reject(new Error(`child could not listen on ${port}: ${line}`));
    });
  });
  return child;
}

describe('listenExclusive', () => {
  it('listens on a free port (0 or concrete) and reports it', async () => {
    const any = await exclusive('127.0.0.1', 0);
    expect(any.port).toBeGreaterThan(0);
    const port = await freePort();
    expect((await exclusive('127.0.0.1', port)).port).toBe(port);
  });

  it('fails with a clear error on a port held by another uWS app in this process', async () => {
    const first = await exclusive('127.0.0.1', await freePort());
    await expect(listenExclusive(uws.App(), '127.0.0.1', first.port)).rejects.toThrow(inUse(first.port));
  });

  it('fails on a port held by a default-options (SO_REUSEPORT) uWS app in this process', async () => {
    const port = await freePort();
    expect(await listenDefault('127.0.0.1', port)).toBeTruthy();
    // The trap: another default listener would share it without a word...
    expect(await listenDefault('127.0.0.1', port)).toBeTruthy();
    // ...listenExclusive does not.
    await expect(listenExclusive(uws.App(), '127.0.0.1', port)).rejects.toThrow(inUse(port));
  });

  it('keeps a later default-options listener from joining its port', async () => {
    const mine = await exclusive('127.0.0.1', await freePort());
    expect(await listenDefault('127.0.0.1', mine.port)).toBe(false);
  });

  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['all interfaces (no host)', undefined],
  ])('fails on a port held by another process listening with uWS defaults on %s (the leftover-process trap)', async (_name, host) => {
    const port = await freePort();
    const child = await childHoldingPort(host, port);
    expect(child.exitCode).toBeNull();

    // The trap is real here: a default-options listener silently joins the leftover's port...
    expect(await listenDefault('127.0.0.1', port)).toBeTruthy();

    // ...while listenExclusive refuses to start, naming the address.
    await expect(listenExclusive(uws.App(), '127.0.0.1', port)).rejects.toThrow(inUse(port));

    // Clean up the child and check it is gone.
    child.stdin!.end();
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    expect(child.exitCode).toBe(0);
  });
});
