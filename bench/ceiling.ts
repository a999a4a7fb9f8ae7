/**
 * Starts the bare uWebSockets.js ceiling server (bench/ceiling-server.ts: read the body, parse it,
 * answer 204) as a child process on a free port, for the benchmarks to drive.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './processes.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench

export interface Ceiling {
  readonly child: ChildProcess;
  readonly port: number;
}

/** `protobuf`: the server decodes protobuf BidRequests instead of JSON.parse. */
export function startCeiling(logFile: string, protobuf = false): Promise<Ceiling> {
  const child = startChild(process.execPath, [join(HERE, 'ceiling-server.js')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', CEILING_PROTOBUF: protobuf ? '1' : '0' },
    logFile,
  });
  return new Promise<Ceiling>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /\{"port":(\d+)\}/.exec(buf);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`the ceiling server exited (${code})`)));
    setTimeout(() => reject(new Error('the ceiling server did not start')), 15_000);
  });
}
