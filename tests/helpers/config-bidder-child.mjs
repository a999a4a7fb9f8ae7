// A bidder process wired the way src/main.ts is to be wired for the config API (see the report /
// README "Config API"): bid port with a snapshot that follows the Redis config store through
// startConfigSync, admin port with the config API. Run from the compiled tree (tests/run.sh builds
// dist first): node tests/helpers/config-bidder-child.mjs <dist root>
// Env: CONFIG_REDIS_URL, DSP_ADMIN_KEY. Prints one JSON line {"port","adminPort"} when listening;
// exits on SIGTERM.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.argv[2];
const load = (p) => import(pathToFileURL(join(root, p)).href);
const { default: uws } = await import('uWebSockets.js');
const { loadSettings } = await load('src/config/settings.js');
const { buildBidApp } = await load('src/app.js');
const { listenExclusive } = await load('src/http/listen.js');
const { SnapshotRef } = await load('src/campaigns/snapshot.js');
const { BidderMetrics } = await load('src/metrics/bidder-metrics.js');
const { NoticeSigner, parseSigningKeys } = await load('src/events/notice-signer.js');
const { createRedisConfigStore } = await load('src/campaigns/redis-config-store.js');
const { snapshotFromStore, startConfigSync } = await load('src/campaigns/config-sync.js');
const { createConfigApi, loadApiSettings } = await load('src/api/index.js');
const { registerAdminRoutes } = await load('src/http/admin-routes.js');

const settings = loadSettings({ ...process.env, HOST: '127.0.0.1', PORT: '0', ADMIN_PORT: '0', DEFAULT_TMAX_MS: '1000', TMAX_CAP_MS: '1000' });
const api = loadApiSettings(process.env);
const store = createRedisConfigStore(api.redisUrl, { prefix: api.redisPrefix });
const metrics = new BidderMetrics({ defaultMetrics: false });
const snapshots = new SnapshotRef(await snapshotFromStore(store));
const sync = startConfigSync({ store, snapshots, metrics, onError: (e) => process.stderr.write(`config refused: ${e.message}\n`) });
const signer = new NoticeSigner(parseSigningKeys('test:0123456789abcdef0123456789abcdef'));
const bid = await listenExclusive(buildBidApp({ settings, snapshots, metrics, signer, isReady: () => true }), '127.0.0.1', 0);
const adminApp = uws.App();
registerAdminRoutes(adminApp, {
  snapshots,
  metricsText: () => metrics.text(),
  isReady: () => true,
  configApi: createConfigApi({ store, adminKey: api.adminKey, rateLimit: api.rateLimit }),
});
const admin = await listenExclusive(adminApp, '127.0.0.1', 0);
process.stdout.write(JSON.stringify({ port: bid.port, adminPort: admin.port, version: snapshots.current.version }) + '\n');
process.on('SIGTERM', async () => {
  sync.stop();
  bid.close();
  admin.close();
  await store.close();
  process.exit(0);
});
