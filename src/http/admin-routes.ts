/**
 * The admin port: liveness, readiness, Prometheus metrics, the config API, the audience API, reports
 * and the web console (`/`).
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import { registerAudienceRoutes, type AudienceRouteDeps } from './audience-routes.js';
import { registerReportRoutes, type ReportRouteDeps } from './report-routes.js';
import { registerConfigApi, type ConfigApi } from '../api/index.js';
import { guardedApp } from '../api/guard.js';
import { registerConsoleRoutes, type ConsoleFiles } from './console-routes.js';

export interface AdminDeps {
  readonly snapshots: SnapshotRef;
  /** Prometheus text exposition (aggregated across workers when there are several). */
  readonly metricsText: () => Promise<string>;
  /** False while starting or draining. */
  readonly isReady: () => boolean;
  /** Extra fields for /readyz (e.g. each worker's config version). */
  readonly readyStatus?: () => Record<string, unknown>;
  /** The audience API, when this process owns a segment store. */
  readonly audiences?: AudienceRouteDeps;
  /** Reports from the event store. */
  readonly reports?: ReportRouteDeps;
  /**
   * The config API (`/api/v1`, src/api). With it, the audience routes need API keys too and
   * segment metadata is served by the config API.
   */
  readonly configApi?: ConfigApi;
  /** The console's files (default: the build in dist/console, when there is one). */
  readonly console?: ConsoleFiles;
}

export function registerAdminRoutes(app: TemplatedApp, deps: AdminDeps): void {
  app.get('/healthz', (res) => {
    res.writeHeader('content-type', 'application/json').end('{"status":"ok"}');
  });
  app.get('/readyz', (res) => {
    const snap = deps.snapshots.current;
    const body = JSON.stringify({
      ready: deps.isReady(),
      configVersion: snap.version,
      campaigns: snap.index.campaigns.length,
      loadedAt: snap.loadedAt.toISOString(),
      ...deps.readyStatus?.(),
    });
    res.writeStatus(deps.isReady() ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json').end(body);
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    deps.metricsText().then(
      (text) => {
        if (!aborted) res.cork(() => res.writeHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8').end(text));
      },
      (e: Error) => {
        if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end(`metrics failed: ${e.message}`));
      },
    );
  });
  if (deps.configApi) registerConfigApi(app, deps.configApi);
  if (deps.audiences)
    registerAudienceRoutes(app, deps.configApi?.audienceAccess ? { ...deps.audiences, access: deps.configApi.audienceAccess } : deps.audiences);
  // With the config API, reports need a key; a key scoped to advertisers reads theirs only.
  if (deps.reports) registerReportRoutes(deps.configApi ? guardedApp(app, deps.configApi, 'reports') : app, deps.reports);
  registerConsoleRoutes(app, deps.console);
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end('not found');
  });
}
