/**
 * Starts a real bidder (both uWS apps) inside the test process on free ports, from a config
 * bundle or a config directory, and talks to it over real HTTP.
 */
import { request } from 'node:http';
import { loadSettings } from '../../src/settings/settings.js';
import { bundleFromTexts, loadBundleFromDir } from '../../src/campaigns/load-bundle.js';
import { buildSnapshot, SnapshotRef } from '../../src/campaigns/snapshot.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { BidderMetrics } from '../../src/metrics/bidder-metrics.js';
import { buildAdminApp, buildBidApp, type AppDeps } from '../../src/app.js';
import { listenExclusive } from '../../src/http/listen.js';
import { listenAdmin } from '../../src/api/admin-server.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS, type AudienceSettings } from '../../src/audiences/audience-service.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import type { SegmentStore } from '../../src/audiences/segment-store.js';
import { NoticeSigner, parseSigningKeys } from '../../src/events/notice-signer.js';
import type { EventSink } from '../../src/events/event-types.js';
import type { EventDatabase } from '../../src/events/event-database.js';
import { MemoryNoticeDedupe, type NoticeDedupe } from '../../src/events/notice-dedupe.js';
import { NoticeMetrics } from '../../src/metrics/notice-metrics.js';
import { UserKeyer } from '../../src/events/user-key.js';
import { BidLog } from '../../src/events/bid-log.js';
import type { FrequencyService } from '../../src/money/frequency.js';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json<T = any>(): T;
}

export interface TestBidder {
  readonly port: number;
  readonly adminPort: number;
  readonly snapshots: SnapshotRef;
  readonly metrics: BidderMetrics;
  readonly audiences: AudienceService;
  readonly signer: NoticeSigner;
  post(path: string, body: string | Buffer | object, headers?: Record<string, string>): Promise<HttpResult>;
  get(path: string, admin?: boolean): Promise<HttpResult>;
  metricsText(): Promise<string>;
  close(): void;
}

/** Validates a bundle exactly as files are validated, so tests cannot use configs the bidder would refuse. */
export function validBundle(bundle: ConfigBundle): ConfigBundle {
  return bundleFromTexts([{ name: 'test.json', text: JSON.stringify(bundle) }]);
}

export interface StartOptions {
  bundle?: ConfigBundle;
  configDir?: string;
  env?: Record<string, string>;
  /** The segment store behind the audience service (default: a fresh in-process one). */
  segmentStore?: SegmentStore;
  audienceSettings?: Partial<AudienceSettings>;
  /** Where notices and bid logs go; with it, the notice routes are served on the bid port. */
  events?: EventSink;
  /** Notice deduplication (default: in-process, 7 h window). */
  dedupe?: NoticeDedupe;
  /** Serves reports on the admin port from this store. */
  reportStore?: EventDatabase;
  /** Frequency caps (default: none). */
  frequency?: FrequencyService;
  /** Outcome models and the trainer that takes bids' features and notices (default: none). */
  models?: AppDeps['models'];
  outcomes?: AppDeps['outcomes'];
  profiles?: AppDeps['profiles'];
  /** This bid thread's budget ledger, made from the bidder's snapshots (default: no budgets). */
  money?: (snapshots: SnapshotRef) => AppDeps['money'];
}

export async function startBidder(opts: StartOptions = {}): Promise<TestBidder> {
  // A generous default deadline: a loaded CI machine must not turn functional tests into deadline no-bids.
  // Tests about deadlines set tmax (or these variables) themselves.
  const settings = loadSettings({
    HOST: '127.0.0.1',
    PORT: '0',
    ADMIN_PORT: '0',
    INSTANCE_ID: 'test',
    DEFAULT_TMAX_MS: '2000',
    TMAX_CAP_MS: '2000',
    ...opts.env,
  });
  const bundle = opts.bundle ? validBundle(opts.bundle) : await loadBundleFromDir(opts.configDir ?? 'config');
  const snapshots = new SnapshotRef(buildSnapshot(bundle, 1));
  const metrics = new BidderMetrics({ defaultMetrics: false });
  const audienceMetrics = new AudienceMetrics(metrics.registry);
  const audiences = new AudienceService(opts.segmentStore ?? new MemorySegmentStore(), audienceMetrics, {
    ...DEFAULT_AUDIENCE_SETTINGS,
    ...opts.audienceSettings,
  });
  await audiences.refreshRegistry(true).catch(() => {});
  const signer = new NoticeSigner(parseSigningKeys(opts.env?.NOTICE_SIGNING_KEYS ?? 'test:0123456789abcdef0123456789abcdef'));
  const deps = {
    settings,
    snapshots,
    metrics,
    audiences,
    audienceMetrics,
    signer,
    userKeys: new UserKeyer('test-user-key-secret'),
    isReady: () => true,
    notices: opts.events && {
      events: opts.events,
      dedupe: opts.dedupe ?? new MemoryNoticeDedupe(settings.noticeDedupeWindowSeconds),
      metrics: new NoticeMetrics(metrics.registry),
      maxAgeSec: settings.noticeMaxAgeSeconds,
    },
    bidLog: opts.events && new BidLog(opts.events, settings.bidLogSampleRate, settings.requestLogSampleRate, 'test-'),
    reports: opts.reportStore && { store: opts.reportStore },
    frequency: opts.frequency,
    models: opts.models,
    outcomes: opts.outcomes,
    profiles: opts.profiles,
    money: opts.money?.(snapshots),
  };
  const bid = await listenExclusive(buildBidApp(deps), '127.0.0.1', 0);
  const admin = await listenAdmin(await buildAdminApp(deps), '127.0.0.1', 0);
  return {
    port: bid.port,
    adminPort: admin.port,
    snapshots,
    metrics,
    audiences,
    signer,
    post: (path, body, headers = {}) =>
      httpRequest(bid.port, 'POST', path, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers),
    get: (path, isAdmin = true) => httpRequest(isAdmin ? admin.port : bid.port, 'GET', path),
    metricsText: () => metrics.text(),
    close() {
      bid.close();
      admin.close();
      void audiences.close();
    },
  };
}

/** Plain HTTP/1.1 (no automatic decompression), so tests see exactly what an exchange would. */
export function httpRequest(
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: buf,
          text: buf.toString('utf8'),
          json: () => JSON.parse(buf.toString('utf8')),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
