/**
 * The machine's ceiling: a bare uWebSockets.js server that reads each request body, JSON.parses
 * it and answers 204, nothing else. Driven exactly like the bidder, its throughput is what this
 * machine, this Node and this driver can do at best; the report gives the bidder as a ratio of it.
 *
 * Run as its own process (like the bidder): `PORT=0 node dist/bench/ceiling-server.js` (with
 * `CEILING_PROTOBUF=1` the bodies are protobuf and are decoded instead of JSON.parsed); it prints
 * `{"port":N}` on stdout once it listens and exits on SIGTERM/SIGINT.
 */
import uws from 'uWebSockets.js';
import { listenExclusive } from '../src/http/listen.js';
import { readBody } from '../src/uws/read-body.js';
import { isRefusal, openRtbProtobuf } from '../src/openrtb/protobuf-codec.js';

const LIMIT = 256 * 1024;

/** `protobuf`: bodies are protobuf BidRequests (bench --protobuf), decoded with the bidder's codec instead of JSON.parse. */
export function buildCeilingApp(protobuf = false): uws.TemplatedApp {
  const app = uws.App();
  const codec = protobuf ? openRtbProtobuf() : undefined;
  let parsed = 0;
  const handler = (res: uws.HttpResponse, req: uws.HttpRequest) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const length = Number(req.getHeader('content-length') || 0);
    readBody(res, Number.isFinite(length) ? length : 0, LIMIT, {
      onBody(body) {
        if (aborted) return;
        let ok = true;
        if (codec) {
          const decoded = codec.decodeRequestDocument(body);
          if (isRefusal(decoded)) ok = false;
          else parsed++;
        } else
          try {
            const doc = JSON.parse(body.toString('utf8')) as { id?: unknown };
            if (doc && typeof doc.id === 'string') parsed++; // keep the parse observable
          } catch {
            ok = false;
          }
        res.cork(() => {
          if (ok) res.writeStatus('204 No Content').endWithoutBody();
          else res.writeStatus('400 Bad Request').end('bad json');
        });
      },
      onTooLarge() {
        if (!aborted) res.cork(() => res.writeStatus('413 Payload Too Large').end());
      },
    });
  };
  app.post('/bid', handler);
  app.post('/bid/:exchange', handler);
  app.get('/healthz', (res) => void res.end(`ok ${parsed}`));
  return app;
}

async function main(): Promise<void> {
  const listening = await listenExclusive(buildCeilingApp(process.env.CEILING_PROTOBUF === '1'), process.env.HOST || '127.0.0.1', Number(process.env.PORT || 0));
  process.stdout.write(`${JSON.stringify({ port: listening.port })}\n`);
  const stop = () => {
    listening.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
}

if (process.argv[1] && /ceiling-server\.[jt]s$/.test(process.argv[1])) void main();
