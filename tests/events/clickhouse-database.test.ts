/** The EventDatabase contract on a real ClickHouse 18.16 server (Debian's package) over HTTP. */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseDatabase } from '../../src/events/clickhouse-database.js';
import { ClickHouseServer } from '../helpers/clickhouse-server.js';
import { eventDatabaseContract } from './event-database.contract.js';

eventDatabaseContract('ClickHouse server', async () => {
  const server = await ClickHouseServer.start();
  return {
    open: (database) => ClickHouseDatabase.open(database ? server.url.replace(/\/dsp$/, `/${database}`) : server.url),
    dispose: () => server.dispose(),
  };
});

describe('ClickHouseDatabase and the test server', () => {
  let server: ClickHouseServer;
  beforeAll(async () => {
    server = await ClickHouseServer.start({ database: 'dspdb' });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('talks to 18.16 and creates the database named in the URL', async () => {
    const store = new ClickHouseDatabase(server.url);
    try {
      expect(store.database).toBe('dspdb');
      expect(await store.serverVersion()).toMatch(/^18\.16\./);
      expect(await store.query('SELECT currentDatabase() AS db')).toEqual([{ db: 'dspdb' }]);
    } finally {
      await store.close();
    }
  });

  it('sends no ClickHouse settings: only query_id, database and the query (18.16 rejects unknown settings)', async () => {
    const seen: { params: string[]; headers: string[] }[] = [];
    const proxy = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ params: [...url.searchParams.keys()].sort(), headers: Object.keys(req.headers).sort() });
      const up = request({ host: '127.0.0.1', port: server.httpPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as AddressInfo).port;
    const store = new ClickHouseDatabase(`http://default:@127.0.0.1:${port}/proxied`);
    try {
      await store.exec('CREATE TABLE IF NOT EXISTS t (id String) ENGINE = MergeTree() ORDER BY id');
      await store.insert('t', [{ id: 'a' }]);
      expect(await store.query('SELECT id FROM t')).toEqual([{ id: 'a' }]);
    } finally {
      await store.close();
      proxy.close();
    }
    expect(seen.length).toBe(4); // CREATE DATABASE, CREATE TABLE, INSERT, SELECT
    for (const s of seen) {
      expect(s.params.filter((p) => !['query_id', 'database', 'query'].includes(p))).toEqual([]);
      expect(s.headers).not.toContain('accept-encoding');
      expect(s.headers).not.toContain('content-encoding');
    }
  });

  it('uses options.database (default dsp) when the URL has no path', async () => {
    const a = await ClickHouseDatabase.open(server.baseUrl);
    const b = await ClickHouseDatabase.open(server.baseUrl, { database: 'other' });
    try {
      expect(await a.query('SELECT currentDatabase() AS db')).toEqual([{ db: 'dsp' }]);
      expect(await b.query('SELECT currentDatabase() AS db')).toEqual([{ db: 'other' }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('fails while the server is stopped and works again after a restart, data kept', async () => {
    const store = await ClickHouseDatabase.open(server.url);
    try {
      await store.exec('CREATE TABLE IF NOT EXISTS kept (id String) ENGINE = MergeTree() ORDER BY id');
      await store.insert('kept', [{ id: 'a' }]);
      await server.stop();
      expect(server.running).toBe(false);
      await expect(store.query('SELECT count() AS n FROM kept')).rejects.toThrow();
      await server.restart();
      expect(await store.query('SELECT id FROM kept')).toEqual([{ id: 'a' }]);
      await server.kill();
      await server.restart();
      expect(await store.query('SELECT id FROM kept')).toEqual([{ id: 'a' }]);
    } finally {
      await store.close();
    }
  });

  it('creates the database lazily once the server is reachable', async () => {
    await server.stop();
    const store = new ClickHouseDatabase(server.url.replace(/\/dspdb$/, '/lazy'));
    try {
      await expect(store.exec('SELECT 1')).rejects.toThrow();
      await server.restart();
      await store.exec('SELECT 1');
      expect(await store.query('SELECT currentDatabase() AS db')).toEqual([{ db: 'lazy' }]);
    } finally {
      await store.close();
    }
  });
});
