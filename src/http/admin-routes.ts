/**
 * The admin port: liveness, readiness, Prometheus metrics, the config API, the audience API, reports
 * and the web console (`/`).
 */
import type { AdminServer } from '../api/admin-server.js';
import type { SnapshotRef } from '../campaigns/snapshot.js';
import { registerAudienceRoutes, type AudienceRouteDeps } from './audience-routes.js';
import { registerReportRoutes, type ReportRouteDeps } from './report-routes.js';
import { registerConfigApi, type ConfigApi } from '../api/index.js';
import { keyGuard } from '../api/guard.js';
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

export function registerAdminRoutes(app: AdminServer, deps: AdminDeps): void {
  app.get('/healthz', async (_request, reply) => reply.header('content-type', 'application/json').send(Buffer.from('{"status":"ok"}')));
  app.get('/readyz', async (_request, reply) => {
    const snap = deps.snapshots.current;
    const body = JSON.stringify({
      ready: deps.isReady(),
      configVersion: snap.version,
      campaigns: snap.index.campaigns.length,
      loadedAt: snap.loadedAt.toISOString(),
      ...deps.readyStatus?.(),
    });
    return reply.code(deps.isReady() ? 200 : 503).header('content-type', 'application/json').send(Buffer.from(body));
  });
  app.get('/metrics', async (_request, reply) => {
    try {
      const text = await deps.metricsText();
      return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(text);
    } catch (e) {
      return reply.code(500).header('content-type', 'text/plain; charset=utf-8').send(`metrics failed: ${(e as Error).message}`);
    }
  });
  if (deps.configApi) registerConfigApi(app, deps.configApi);
  else app.setNotFoundHandler((_request, reply) => reply.code(404).send('not found'));
  if (deps.audiences)
    registerAudienceRoutes(app, deps.configApi?.audienceAccess ? { ...deps.audiences, access: deps.configApi.audienceAccess } : deps.audiences);
  // With the config API, reports need a key; a key scoped to advertisers reads theirs only.
  if (deps.reports) registerReportRoutes(app, deps.reports, deps.configApi && keyGuard(deps.configApi, 'reports'));
  registerConsoleRoutes(app, deps.console);
}
