/**
 * Builds the bid port's uWS app and the admin port's Fastify server from their dependencies,
 * without listening, so tests and the composition root share one construction.
 */
import uws, { type TemplatedApp } from 'uWebSockets.js';
import type { Settings } from './settings/settings.js';
import type { SnapshotRef } from './campaigns/snapshot.js';
import type { BidderMetrics } from './metrics/bidder-metrics.js';
import { registerBidRoutes } from './http/bid-route.js';
import { registerAdminRoutes } from './http/admin-routes.js';
import { registerNoticeRoutes, type NoticeRouteDeps } from './http/notice-routes.js';
import type { ReportRouteDeps } from './http/report-routes.js';
import type { BidLog } from './events/bid-log.js';
import type { AudienceService } from './audiences/audience-service.js';
import type { AudienceMetrics } from './metrics/audience-metrics.js';
import type { NoticeSigner } from './events/notice-signer.js';
import { closeAware, type RequestGate } from './http/request-gate.js';
import type { ConfigApi } from './api/index.js';
import type { BudgetLedger } from './money/budget-ledger.js';
import type { BudgetStore } from './money/budget-store.js';
import type { FrequencyService } from './money/frequency.js';
import { registerMoneyRoutes } from './http/money-routes.js';
import { createAdminServer, type AdminServer } from './api/admin-server.js';
import { registerTestHooks, type TestHooks } from './http/test-hooks.js';
import { registerUserMatchRoutes } from './http/user-match-routes.js';
import { registerPixelRoutes } from './http/pixel-routes.js';
import { RuleAudiences } from './audiences/rule-audiences.js';
import type { UserKeyer } from './events/user-key.js';
import type { OutcomeModelsRef } from './models/outcome-models.js';
import type { OutcomeFeed } from './http/bid-route.js';
import type { ProfileFeed, SightingSink } from './audiences/profiles.js';
import type { OutcomeNotices } from './http/notice-routes.js';
import type { Tracing } from './telemetry/tracing.js';

export interface AppDeps {
  readonly settings: Settings;
  readonly snapshots: SnapshotRef;
  readonly metrics: BidderMetrics;
  readonly isReady: () => boolean;
  readonly metricsText?: () => Promise<string>;
  readonly signer: NoticeSigner;
  readonly audiences?: AudienceService;
  readonly audienceMetrics?: AudienceMetrics;
  /** Notice endpoints on the bid port (win, billing, loss, impression, click, conversion). */
  readonly notices?: Omit<NoticeRouteDeps, 'snapshots' | 'signer'>;
  readonly bidLog?: BidLog;
  /** Reports on the admin port. */
  readonly reports?: ReportRouteDeps;
  /** The bid thread's gate: load shedding, in-flight accounting, `Connection: close` while draining. */
  readonly gate?: RequestGate;
  /** Extra fields for /readyz (the workers' state). */
  readonly readyStatus?: () => Record<string, unknown>;
  /** The config API (`/api/v1`) on the admin port; with it, audience routes and reports need API keys. */
  readonly configApi?: ConfigApi;
  /** This bid thread's budget ledger (bids reserve against it, notices record spend). */
  readonly money?: BudgetLedger;
  /** This bid thread's frequency caps. */
  readonly frequency?: FrequencyService;
  /** Keys event rows' users (events/user-key.ts); with `notices`, the pixel is served on the bid port. */
  readonly userKeys?: UserKeyer;
  /** The budget store the admin port's kill switch writes to (the main thread's). */
  readonly budgetStore?: BudgetStore;
  /** The outcome models goals are priced from, and the trainer that takes bids' features and notices (OUTCOME_MODELS). */
  readonly models?: OutcomeModelsRef;
  readonly outcomes?: OutcomeFeed & OutcomeNotices;
  /** Samples of the users seen, for lookalike audiences (LOOKALIKES). */
  readonly profiles?: ProfileFeed<SightingSink>;
  /** Forgets a user's lookalike profile where no feed is in this thread (WORKERS>1: the main thread's store and the workers' rings). */
  readonly forgetProfile?: (key: string) => boolean;
  /** Spans for the admin port's requests (off: NO_TRACING or undefined). */
  readonly tracing?: Tracing;
}

export function buildBidApp(deps: AppDeps): TemplatedApp {
  const app = uws.App();
  // Routes are registered through closeAware: answers close their connection (and say so) while draining, or when asked.
  const routes = closeAware(app, deps.gate);
  const rules = deps.audiences && new RuleAudiences(deps.audiences);
  if (deps.notices)
    registerNoticeRoutes(routes, {
      ...deps.notices,
      snapshots: deps.snapshots,
      signer: deps.signer,
      money: deps.money,
      frequency: deps.frequency,
      outcomes: deps.outcomes,
      userKeys: deps.userKeys,
      onNotice: rules && ((advertiserId, event, campaignId, userKey, nowSec) => void rules.learn({ source: 'notices', advertiserId, event, campaignId, userKey, nowSec })),
    });
  if (deps.notices && deps.userKeys)
    registerPixelRoutes(routes, {
      settings: deps.settings,
      snapshots: deps.snapshots,
      events: deps.notices.events,
      userKeys: deps.userKeys,
      onPixel: rules && ((advertiserId, event, userKey, nowSec) => void rules.learn({ source: 'pixel', advertiserId, event, userKey, nowSec })),
    });
  if (deps.audiences) registerUserMatchRoutes(routes, { settings: deps.settings, snapshots: deps.snapshots, store: deps.audiences.store, registry: deps.metrics.registry });
  registerBidRoutes(routes, deps);
  return app;
}

/** The admin port (Fastify on node:http, api/admin-server.ts); `testHooks` only with BIDDER_TEST_HOOKS=1. */
export async function buildAdminApp(deps: AppDeps, testHooks?: TestHooks): Promise<AdminServer> {
  const app = await createAdminServer({ tracing: deps.tracing });
  if (deps.budgetStore) registerMoneyRoutes(app, { store: deps.budgetStore, configApi: deps.configApi });
  if (testHooks) registerTestHooks(app, testHooks);
  registerAdminRoutes(app, {
    snapshots: deps.snapshots,
    isReady: deps.isReady,
    readyStatus: deps.readyStatus,
    metricsText: deps.metricsText ?? (() => deps.metrics.text()),
    audiences:
      deps.audiences && deps.audienceMetrics
        ? {
            audiences: deps.audiences,
            metrics: deps.audienceMetrics,
            uploadLimitBytes: deps.settings.uploadLimitBytes,
            uploadLoopShare: deps.settings.uploadLoopShare,
            userKeys: deps.userKeys,
            events: deps.reports?.store,
            forget: deps.forgetProfile ?? (deps.profiles && ((key: string) => deps.profiles!.forget(key))),
          }
        : undefined,
    reports: deps.reports,
    configApi: deps.configApi,
  });
  return app;
}
