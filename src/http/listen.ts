/**
 * Listening without sharing. uWS sets SO_REUSEPORT by default, so a leftover bidder on the same
 * port would silently take half the traffic; we listen with LIBUS_LISTEN_EXCLUSIVE_PORT, which
 * fails when anything else holds the port (and keeps anything else from joining it).
 */
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
    (app.listen as unknown as ListenWithOptions).call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (!socket) {
        reject(new Error(`cannot listen on ${host}:${port}: the port is in use (or the address is not available)`));
        return;
      }
      let open = true;
      resolve({
        port: uws.us_socket_local_port(socket as never),
        close() {
          if (open) uws.us_listen_socket_close(socket);
          open = false;
        },
      });
    });
  });
}
