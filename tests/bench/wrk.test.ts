/**
 * `--driver wrk`: wrk with bench/wrk/mix.lua sends every body of the mix, counts answers by status,
 * and its own CPU is read from the shell that waited for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { childTicks, wrkAvailable, wrkRun } from '../../bench/wrk.js';

describe('wrk driver', () => {
  it('reads the CPU of waited-for children (cutime + cstime, fields 16 and 17)', () => {
    const tail = 'S 1 1 1 0 -1 4194560 100 0 0 0 1234 56 70 8 20 0 1 0 500 1000 200';
    expect(childTicks(`77 (sh) ${tail}`)).toBe(78);
    expect(childTicks(`77 (a) b) ${tail}`)).toBe(78);
  });

  describe.skipIf(!wrkAvailable())('against a server', () => {
    let server: Server;
    const seen = new Set<string>();
    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.add(body);
          const { id } = JSON.parse(body) as { id: number };
          res.writeHead(id % 2 === 0 ? 200 : req.headers['content-type'] === 'application/json' ? 204 : 415).end(id % 2 === 0 ? '{}' : undefined);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('sends every body of the mix in turn and counts the answers by status', async () => {
      const bodies = Array.from({ length: 10 }, (_, id) => Buffer.from(JSON.stringify({ id, imp: [{ id: '1' }] })));
      const port = (server.address() as AddressInfo).port;
      const r = await wrkRun({ url: `http://127.0.0.1:${port}/bid`, bodies, tmax: bodies.map(() => 100) }, { name: 'saturation', label: 'sat', mode: 'closed', connections: 4, durationS: 1 }, { write: () => undefined });
      expect(r.requests).toBeGreaterThan(20);
      expect(seen.size).toBe(10);
      expect(r.status_counts['200']).toBeGreaterThan(0);
      expect(r.status_counts['204']).toBeGreaterThan(0);
      expect(r.status_counts['4xx']).toBe(0);
      expect(Math.abs(r.status_counts['200'] - r.status_counts['204'])).toBeLessThanOrEqual(4);
      expect(r.status_counts['200'] + r.status_counts['204']).toBeLessThanOrEqual(r.requests + 4);
      expect(r.latency.count).toBe(r.requests);
      expect(r.latency.p99_ms).toBeGreaterThanOrEqual(r.latency.p50_ms);
      expect(r.latency.p50_ms).toBeGreaterThan(0);
      expect(r.driver_cpu_s).toBeGreaterThan(0);
      expect(r.qps).toBeGreaterThan(0);
    }, 30_000);
  });
});
