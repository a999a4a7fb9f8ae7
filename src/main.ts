/**
 * Composition root: settings from the environment, campaigns from the config directory,
 * in-process stores, the bid and admin listeners, and signal handling
 * (SIGHUP reloads campaigns; SIGTERM/SIGINT stop).
 */
import { loadSettings } from './config/settings.js';
import { SnapshotRef } from './campaigns/snapshot.js';
import { loadSnapshot, reloadSnapshot } from './campaigns/config-source.js';
import { BidderMetrics } from './metrics/bidder-metrics.js';
import { buildAdminApp, buildBidApp } from './app.js';
import { listenExclusive } from './http/listen.js';
import { ConfigError, formatFieldErrors } from './errors.js';
import { log } from './log.js';
import { AudienceMetrics } from './metrics/audience-metrics.js';
import { buildAudiences } from './audiences/build-audiences.js';
import { loadSigner } from './events/load-signer.js';
import { buildEvents } from './events/build-events.js';
import { BidLog } from './events/bid-log.js';
import { createRedis } from './audiences/redis-client.js';

async function main(): Promise<void> {
  const settings = loadSettings();
  const metrics = new BidderMetrics();
  const snapshots = new SnapshotRef(await loadSnapshot(settings.configDir, 1));
  metrics.configVersion.set(1);
  metrics.campaignsLive.set(snapshots.current.index.campaigns.length);
  for (const id of snapshots.current.exchanges.keys()) metrics.forExchange(id);

  const audienceMetrics = new AudienceMetrics(metrics.registry);
  const audiences = await buildAudiences(settings, audienceMetrics);

  const events = await buildEvents(settings, metrics.registry, settings.redisUrl ? createRedis(settings.redisUrl) : undefined);
  events.schemaReady.catch(() => process.exit(1)); // a schema newer than this code: refuse to run

  let ready = false;
  const signer = await loadSigner(settings);
  const deps = {
    settings,
    snapshots,
    metrics,
    audiences,
    audienceMetrics,
    signer,
    isReady: () => ready,
    notices: { events: events.writer, dedupe: events.dedupe, metrics: events.noticeMetrics, maxAgeSec: settings.noticeMaxAgeSeconds },
    bidLog: new BidLog(events.writer, settings.bidLogSampleRate, settings.requestLogSampleRate, `${settings.instanceId}${Date.now().toString(36)}-`),
    reports: { store: events.store },
  };
  const bid = await listenExclusive(buildBidApp(deps), settings.host, settings.port);
  const admin = await listenExclusive(buildAdminApp(deps), settings.host, settings.adminPort);
  ready = true;
  log('info', 'bidder listening', {
    bid: `http://${settings.host}:${bid.port}/bid`,
    admin: `http://${settings.host}:${admin.port}`,
    campaigns: snapshots.current.index.campaigns.length,
    exchanges: [...snapshots.current.exchanges.keys()],
    instance: settings.instanceId,
    segmentStore: audiences.store.kind,
    eventStore: events.store.kind,
  });

  if (!settings.noticeBaseUrl.startsWith('https:'))
    log('warn', 'NOTICE_BASE_URL is not https: bids on secure imps will carry no impression pixel or click tracking', {
      noticeBaseUrl: settings.noticeBaseUrl,
    });

  process.on('SIGHUP', () => {
    void reloadSnapshot(settings.configDir, snapshots, metrics).then((r) => {
      if (r.ok) log('info', 'configuration reloaded', { version: r.snapshot.version, campaigns: r.snapshot.index.campaigns.length });
      else log('error', 'configuration reload refused; keeping the running campaigns', describe(r.error));
    });
  });
  // Stop taking traffic, let in-flight requests finish, flush every event (to the store, or durably
  // to the spool for the next start), then exit. A hard limit keeps a stuck store from holding us.
  const stop = (signal: string) => {
    log('info', 'stopping', { signal });
    ready = false;
    bid.close();
    admin.close();
    setTimeout(() => {
      log('error', 'shutdown took too long; exiting (unsent events stay in the spool)');
      process.exit(1);
    }, 15_000).unref();
    void new Promise((r) => setTimeout(r, 100))
      .then(() => events.close())
      .then(() => audiences.close())
      .then(
        () => {
          log('info', 'stopped');
          process.exit(0);
        },
        (e: Error) => {
          log('error', 'shutdown failed', { error: e.message });
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

function describe(e: Error): Record<string, unknown> {
  return e instanceof ConfigError ? { errors: e.errors } : { error: e.message };
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError) process.stderr.write(`${e.message.split('\n')[0]}\n${formatFieldErrors(e.errors)}\n`);
  else log('error', 'bidder failed to start', { error: (e as Error)?.stack ?? String(e) });
  process.exit(1);
});
