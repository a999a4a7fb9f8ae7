/**
 * The console's files on the admin port: `/` is index.html (no-cache, revalidated by ETag), hashed
 * assets are immutable, text is gzipped for clients that take it, and without a build `/` says how
 * to make one while the API and the 404 for other paths are unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildSnapshot, SnapshotRef } from '../../src/campaigns/snapshot.js';
import { registerAdminRoutes } from '../../src/http/admin-routes.js';
import { loadConsoleFiles, type ConsoleFiles } from '../../src/http/console-routes.js';
import type { Listening } from '../../src/http/listen.js';
import { createAdminServer, listenAdmin } from '../../src/api/admin-server.js';
import { httpRequest } from '../helpers/bidder.js';
import { TempDirs } from '../helpers/temp-dirs.js';

const temp = new TempDirs();
const INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-AbC123.js"></script></head><body><div id="app"></div></body></html>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});`;
let built: Listening;
let bare: Listening;

async function admin(files: ConsoleFiles): Promise<Listening> {
  const app = await createAdminServer();
  registerAdminRoutes(app, { snapshots: new SnapshotRef(buildSnapshot({}, 1)), metricsText: async () => '', isReady: () => true, console: files });
  return listenAdmin(app, '127.0.0.1', 0);
}

beforeAll(async () => {
  const dir = await temp.make('console-');
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), INDEX);
  await writeFile(join(dir, 'assets', 'index-AbC123.js'), SCRIPT);
  await writeFile(join(dir, 'assets', 'logo-Zz9.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  built = await admin(loadConsoleFiles(dir));
  bare = await admin(new Map()); // an empty dist/console
});

afterAll(async () => {
  built?.close();
  bare?.close();
  await temp.removeAll();
});

describe('the console on the admin port', () => {
  it('/ and /index.html answer index.html, no-cache, with an ETag that answers 304', async () => {
    for (const path of ['/', '/index.html']) {
      const r = await httpRequest(built.port, 'GET', path);
      expect(r.status).toBe(200);
      expect(r.text).toBe(INDEX);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
      const again = await httpRequest(built.port, 'GET', path, undefined, { 'if-none-match': r.headers.etag as string });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
    }
  });

  it('hashed assets are immutable for a year; text is gzipped when the client takes gzip', async () => {
    const plain = await httpRequest(built.port, 'GET', '/assets/index-AbC123.js');
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toBe(SCRIPT);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers.vary).toBe('accept-encoding');
    const zipped = await httpRequest(built.port, 'GET', '/assets/index-AbC123.js', undefined, { 'accept-encoding': 'gzip, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(SCRIPT.length / 10);
    expect(gunzipSync(zipped.body).toString()).toBe(SCRIPT);
    const png = await httpRequest(built.port, 'GET', '/assets/logo-Zz9.png', undefined, { 'accept-encoding': 'gzip' });
    expect(png.headers['content-encoding']).toBeUndefined();
    expect(png.headers['content-type']).toBe('image/png');
  });

  it('other paths are still 404, and the admin routes answer as before', async () => {
    expect((await httpRequest(built.port, 'GET', '/assets/missing.js')).status).toBe(404);
    expect((await httpRequest(built.port, 'GET', '/../package.json')).status).toBe(404);
    expect((await httpRequest(built.port, 'GET', '/healthz')).text).toBe('{"status":"ok"}');
  });

  it('without a build, / says how to make one', async () => {
    const r = await httpRequest(bare.port, 'GET', '/');
    expect(r.status).toBe(404);
    expect(r.text).toMatch(/npm run build/);
  });
});
