/**
 * The web console (console/, built by `npm run build` into dist/console) on the admin port at `/`.
 * It is a single-page app that talks only to `/api/v1` with the key its user types in, so it needs
 * no routes of its own: only its files.
 *
 * The files are read once at start-up and kept in memory, text ones also gzipped once (the whole
 * build is a few hundred KB). Vite names the files under `assets/` by their content hash, so they
 * are cached for a year (`immutable`); `index.html`, which names the current ones, is `no-cache`
 * (revalidated with its ETag), so a new build is picked up on the next load.
 *
 * Not built (a checkout that ran `tsc` only): `/` says how to build it, and the API works as ever.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import type { AdminServer } from '../api/admin-server.js';
import { header } from '../api/admin-server.js';
import { acceptsGzip, gzip } from './gzip.js';

export interface ConsoleFile {
  readonly body: Buffer;
  /** Present when gzip makes it smaller. */
  readonly gzipped?: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
}

/** URL path (`/assets/index-3f2a.js`) to file; `/` is index.html. */
export type ConsoleFiles = ReadonlyMap<string, ConsoleFile>;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.ico']);
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** dist/console: above this module, beside dist/src when built, or under dist/ from the repository's src/. */
export function defaultConsoleDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (basename(dir) === 'dist' && existsSync(join(dir, 'console', 'index.html'))) return join(dir, 'console');
    if (existsSync(join(dir, 'dist', 'console', 'index.html'))) return join(dir, 'dist', 'console');
    dir = dirname(dir);
  }
  return undefined;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

/** Every file of a built console, ready to send. */
export function loadConsoleFiles(dir: string): ConsoleFiles {
  const files = new Map<string, ConsoleFile>();
  for (const path of walk(dir)) {
    const ext = extname(path).toLowerCase();
    const url = '/' + relative(dir, path).split(sep).join('/');
    const body = readFileSync(path);
    const zipped = COMPRESSIBLE.has(ext) ? gzip(body) : undefined;
    const file: ConsoleFile = {
      body,
      gzipped: zipped && zipped.length < body.length ? zipped : undefined,
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      cacheControl: url.startsWith('/assets/') ? IMMUTABLE : 'no-cache',
    };
    files.set(url, file);
    if (url === '/index.html') files.set('/', file);
  }
  return files;
}

let cached: { dir: string; files: ConsoleFiles } | undefined;

/** The default console build, read once per process (every admin app of a test process shares it). */
function defaultFiles(): ConsoleFiles | undefined {
  const dir = defaultConsoleDir();
  if (!dir) return undefined;
  if (cached?.dir !== dir) cached = { dir, files: loadConsoleFiles(dir) };
  return cached.files;
}

function send(reply: FastifyReply, f: ConsoleFile, ifNoneMatch: string, acceptEncoding: string): FastifyReply {
  if (ifNoneMatch === f.etag) return reply.code(304).header('etag', f.etag).header('cache-control', f.cacheControl).send();
  const zipped = f.gzipped !== undefined && acceptsGzip(acceptEncoding);
  reply.code(200).header('content-type', f.type).header('cache-control', f.cacheControl).header('etag', f.etag);
  if (f.gzipped) reply.header('vary', 'accept-encoding');
  if (zipped) reply.header('content-encoding', 'gzip');
  // The console is not to be framed by other sites, nor its types sniffed.
  reply.header('x-content-type-options', 'nosniff').header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
  return reply.send(zipped ? f.gzipped! : f.body);
}

/** GET `/` and each built file at its own path. `files` undefined: the default build, if there is one. */
export function registerConsoleRoutes(app: AdminServer, files: ConsoleFiles | undefined = defaultFiles()): void {
  if (!files || files.size === 0) {
    app.get('/', async (_request, reply) => reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('the console is not built: run `npm run build`\n'));
    return;
  }
  for (const [url, file] of files) {
    app.get(url, async (request, reply) => send(reply, file, header(request, 'if-none-match'), header(request, 'accept-encoding')));
  }
}
