/**
 * Listening without sharing. uWS sets SO_REUSEPORT by default, so a leftover bidder on the same
 * port would silently take half the traffic; we listen with LIBUS_LISTEN_EXCLUSIVE_PORT, which
 * fails when anything else holds the port (and keeps anything else from joining it).
 */
import { createServer, type AddressInfo } from 'node:net';
import uws, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';

const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => void;

export interface Listening {
  readonly port: number;
  close(): void;
}

export function listenExclusive(app: TemplatedApp, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    // The binding accepts (host, port, options, cb); the published typings omit that overload.
    (app.listen as unknown as ListenWithOptions).call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) =>
      settle(socket, resolve, () => reject(new Error(`cannot listen on ${host}:${port}: the port is in use (or the address is not available)`))),
    );
  });
}

/** The listen callback's outcome: a Listening handle for a socket, the refusal otherwise. */
function settle(socket: unknown, resolve: (l: Listening) => void, refuse: () => void): void {
  if (!socket) return refuse();
  let open = true;
  resolve({
    port: uws.us_socket_local_port(socket as never),
    close() {
      if (open) uws.us_listen_socket_close(socket as never);
      open = false;
    },
  });
}

/**
 * Listening with uWS's default options (SO_REUSEPORT), for bid workers: each worker thread listens
 * on the same concrete port and the kernel spreads new connections over them. The main thread
 * checks the port is free first (`assertPortFree`), so a leftover process is still refused.
 */
export function listenShared(app: TemplatedApp, host: string, port: number): Promise<Listening> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => settle(socket, resolve, () => reject(new Error(`cannot listen on ${host}:${port}`))));
  });
}

/**
 * Binds `host:port` with a plain (non-SO_REUSEPORT) socket and releases it: fails with a clear
 * error when anything holds the port, a leftover bidder included (its uWS listeners share only
 * with other SO_REUSEPORT sockets). Port 0 picks a free port. Returns the port.
 */
export function assertPortFree(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`)),
    );
    server.listen({ host, port, exclusive: true }, () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}
