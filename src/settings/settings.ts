/**
 * Process settings from the environment: validated, defaulted, frozen.
 * Every variable is documented in docs/configuration.md.
 */
import { logLevelFrom } from './log-level.js';
import { processEnvironment, type Environment } from './environment.js';
import { randomBytes } from 'node:crypto';
import { usableCpus } from './cpu-count.js';
import { ConfigError, type FieldError } from '../errors.js';

export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly adminPort: number;
  readonly configDir: string;
  /** Largest accepted request body in bytes, counted after gzip decompression too. */
  readonly bodyLimitBytes: number;
  readonly maxJsonDepth: number;
  /** Deadline used when a request carries no tmax. */
  readonly defaultTmaxMs: number;
  /** Upper bound on any request's deadline, whatever its tmax says. */
  readonly tmaxCapMs: number;
  /** Taken off every deadline for the way back to the exchange. */
  readonly networkAllowanceMs: number;
  /** Adds an `x-nobid-reason` header to no-bids. */
  readonly debugNoBid: boolean;
  /** LOG_LEVEL: the least severe level logged (src/log.ts reads it; checked here so a typo refuses the start). */
  readonly logLevel: string;
  /** UWS_USE_FALLBACK is set: uWebSockets.js (which reads it itself) serves from its JavaScript fallback; said in the start warning. */
  readonly httpFallbackForced: boolean;
  /** Train click and conversion models from this process's bids and notices (every worker's), and price goals from them. */
  readonly outcomeModels: boolean;
  /** Lookalike audiences: profiles of the users seen (sampled on every bid thread), and the builder on the main thread (LOOKALIKES). */
  readonly lookalikes: boolean;
  readonly profileUsers: number;
  readonly profileSampleEvery: number;
  /** How often the trainer settles expired examples and publishes new tables (to every bid thread). */
  readonly outcomePublishSeconds: number;
  /** A model prices bids once it has trained on this many examples, this many of them positive. */
  readonly outcomeMinExamples: number;
  readonly outcomeMinPositives: number;
  /** A model whose mean prediction over observed rate leaves [min, max] on recent examples bids CPM until it is back. */
  readonly outcomeCalibrationMin: number;
  readonly outcomeCalibrationMax: number;
  /** Positives among the recent examples before calibration and AUC are judged. */
  readonly outcomeCalibrationMinPositives: number;
  /** Lowest AUC on recent examples at which a model may price goals. */
  readonly outcomeMinAuc: number;
  /** Base of the win/billing/loss notice URLs put in bids. */
  readonly noticeBaseUrl: string;
  /** Unique per process; prefixes bid ids so they never collide across instances. */
  readonly instanceId: string;
  /** Set: segments live in Redis (`redis://` or `redis+cluster://`). Unset: in this process. */
  readonly redisUrl: string | undefined;
  /** Longest a request waits for the segment store, carved out of its deadline. */
  readonly audienceLookupBudgetMs: number;
  /** Time kept back from the deadline for scoring and answering after a segment lookup. */
  readonly scoringReserveMs: number;
  readonly audienceCacheUsers: number;
  readonly audienceCacheTtlMs: number;
  readonly audienceNegativeTtlMs: number;
  /** Largest audience upload, in bytes (streamed, never held whole). */
  readonly uploadLimitBytes: number;
  /** The share of a thread's event loop an audience upload may take (the rest stays for bids). */
  readonly uploadLoopShare: number;
  /**
   * OpenTelemetry traces (OTLP/HTTP) go here: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or
   * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. Unset (the default): no tracing, and no SDK loaded.
   */
  readonly tracesEndpoint: string | undefined;
  /** OTEL_SERVICE_NAME (default rtb-bidder). */
  readonly serviceName: string;
  /** Every rule audience is rebuilt from the event store this often, in minutes (0: only new rules are backfilled). */
  readonly ruleRebuildMinutes: number;
  /** Local state: embedded stores, the event spool, the generated notice signing key. */
  readonly dataDir: string;
  /** `id:secret,id:secret`: the first signs notice URLs, all verify. Unset: a key generated once under dataDir. */
  readonly noticeSigningKeys: string | undefined;
  /** Set: events go to this ClickHouse server (`http://user:pass@host:8123/db`). Unset: embedded chDB under dataDir. */
  readonly clickhouseUrl: string | undefined;
  /** Share of bids written to the bid log (each row weighted by 1/rate in reports). */
  readonly bidLogSampleRate: number;
  /** Share of bid requests (bid or not) written to the request log. */
  readonly requestLogSampleRate: number;
  /** Notices older than this are refused. */
  readonly noticeMaxAgeSeconds: number;
  /** How long a notice is remembered for deduplication (longer than noticeMaxAgeSeconds). */
  readonly noticeDedupeWindowSeconds: number;
  /**
   * Our vendor id in the IAB TCF Global Vendor List. Unset: no TCF string can consent to us, so every
   * request where GDPR applies is bid on without user-level data.
   */
  readonly gdprVendorId: number | undefined;
  /** Bid threads. 1: everything in the main thread. More: that many worker threads share the bid port. */
  readonly workers: number;
  /** A bid thread sheds new bid requests (fast 204) while its event loop lags more than this; 0: never. */
  readonly shedLagMs: number;
  /** ... or while this many of its bid requests are in flight; 0: no cap. */
  readonly shedMaxInFlight: number;
  /**
   * A bid request's body must arrive within this long of its headers, else 408 and the connection
   * closes. The effective timeout is min(this, TMAX_CAP_MS): tmax is unknown until the body is parsed,
   * and no deadline we honour is longer than the cap. 0: no body timeout.
   */
  readonly bodyTimeoutMs: number;
  /** At most this many bid request bodies arriving at once per bid thread; more get 503 and close. 0: no cap. */
  readonly maxPendingBodies: number;
  /** On SIGTERM: keep listening this long (readiness already failing) before closing the listener. */
  readonly shutdownDelayMs: number;
  /** On SIGTERM, after the delay: longest wait for in-flight requests; the event flush gets what is left of it too. */
  readonly shutdownTimeoutMs: number;
  /** Test-only admin routes (crash a worker, lag the bid threads). Never in production. */
  readonly testHooks: boolean;
  /** Budgets (src/money): how often each bid thread renews its budget slices, in ms. */
  readonly budgetRenewMs: number;
  /** Share of an account's budget one bid thread leases at a time (the overspend bound is one slice per thread). */
  readonly budgetSliceFraction: number;
  /** How long a bid's price stays reserved against the slice when no notice ends it sooner. */
  readonly budgetHoldMs: number;
  /** A bid thread's lease lapses this long after its last renewal (a dead instance's slice comes back). */
  readonly budgetLeaseTtlMs: number;
  /** Budgeted campaigns stop bidding when budget state could not be confirmed for this long. */
  readonly budgetStaleMs: number;
  /** The global kill switch at start (BUDGET_KILL_SWITCH=1): no bids at all. */
  readonly budgetKillSwitch: boolean;
  /** Frequency caps: how long a user's counters read from the store are trusted. */
  readonly freqCacheTtlMs: number;
  /** Frequency caps: how long a thread counts its own bid for a user while the impression notice is on its way. */
  readonly freqHoldMs: number;
  /** Frequency caps: users kept in the in-process counter cache. */
  readonly freqCacheUsers: number;
  /** User matching: lifetime of our user id cookie (`Max-Age`), renewed at every match. */
  readonly userCookieMaxAgeSeconds: number;
  /** User matching: how long an exchange's user id stays matched to ours (renewed at every match). */
  readonly userMatchTtlSeconds: number;
  /** The secret event rows' user keys are made with (events/user-key.ts); unset: one generated under dataDir. */
  readonly userKeySecret: string | undefined;
  /** Campaigns with their own label value in per-campaign metrics; the rest are "other". */
  readonly metricsTopCampaigns: number;
}


function tracesEndpoint(env: Environment, errors: FieldError[]): string | undefined {
  const direct = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const url = direct || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (url === undefined) return undefined;
  if (!/^https?:\/\/[^\s]+$/.test(url)) {
    errors.push({ path: direct ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT', code: 'invalid', message: 'must be an http(s) URL' });
    return undefined;
  }
  return url;
}

export function loadSettings(env: Environment = processEnvironment()): Settings {
  const errors: FieldError[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      errors.push({ path: name, code: 'out_of_range', message: `must be an integer from ${min} to ${max}` });
      return fallback;
    }
    return n;
  };
  const ratio = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = /^\s*(0(\.\d+)?|1(\.0+)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(n)) errors.push({ path: name, code: 'out_of_range', message: 'must be a number from 0 to 1' });
    return Number.isFinite(n) ? n : fallback;
  };
  const positive = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = /^\s*(\d+(\.\d+)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) {
      errors.push({ path: name, code: 'out_of_range', message: `must be a number from ${min} to ${max}` });
      return fallback;
    }
    return n;
  };
  const bool = (name: string): boolean => {
    const raw = (env[name] ?? '').trim();
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (!/^(|0|false|no|off)$/i.test(raw)) errors.push({ path: name, code: 'invalid', message: 'must be 1/true/yes/on or 0/false/no/off' });
    return false;
  };
  const port = int('PORT', 8080, 0, 65535);
  const settings: Settings = {
    host: env.HOST || '0.0.0.0',
    port,
    adminPort: int('ADMIN_PORT', 8081, 0, 65535),
    configDir: env.CONFIG_DIR || 'config',
    bodyLimitBytes: int('BODY_LIMIT_BYTES', 256 * 1024, 1024, 64 * 1024 * 1024),
    maxJsonDepth: int('MAX_JSON_DEPTH', 64, 8, 1000),
    defaultTmaxMs: int('DEFAULT_TMAX_MS', 100, 1, 10_000),
    tmaxCapMs: int('TMAX_CAP_MS', 200, 1, 10_000),
    networkAllowanceMs: int('NETWORK_ALLOWANCE_MS', 10, 0, 1000),
    debugNoBid: bool('DEBUG_NOBID'),
    logLevel: (() => {
      try {
        return logLevelFrom({ LOG_LEVEL: env.LOG_LEVEL });
      } catch (e) {
        errors.push({ path: 'LOG_LEVEL', code: 'invalid', message: (e as Error).message.replace(/^LOG_LEVEL /, '') });
        return 'info';
      }
    })(),
    httpFallbackForced: Boolean(env.UWS_USE_FALLBACK),
    outcomeModels: bool('OUTCOME_MODELS'),
    lookalikes: bool('LOOKALIKES'),
    profileUsers: int('PROFILE_USERS', 200_000, 1, 50_000_000),
    profileSampleEvery: int('PROFILE_SAMPLE_EVERY', 4, 1, 1_000_000),
    outcomePublishSeconds: int('OUTCOME_PUBLISH_SECONDS', 60, 1, 3600),
    outcomeMinExamples: int('OUTCOME_MIN_EXAMPLES', 10_000, 1, 1_000_000_000),
    outcomeMinPositives: int('OUTCOME_MIN_POSITIVES', 200, 1, 1_000_000_000),
    outcomeMinAuc: positive('OUTCOME_MIN_AUC', 0.6, 0.5, 1),
    outcomeCalibrationMin: positive('OUTCOME_CALIBRATION_MIN', 0.5, 0.01, 1),
    outcomeCalibrationMax: positive('OUTCOME_CALIBRATION_MAX', 2, 1, 100),
    outcomeCalibrationMinPositives: int('OUTCOME_CALIBRATION_MIN_POSITIVES', 50, 1, 1_000_000),
    noticeBaseUrl: (env.NOTICE_BASE_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    instanceId: env.INSTANCE_ID || randomBytes(4).toString('hex'),
    redisUrl: env.REDIS_URL || undefined,
    audienceLookupBudgetMs: int('AUDIENCE_LOOKUP_BUDGET_MS', 10, 0, 1000),
    scoringReserveMs: int('SCORING_RESERVE_MS', 2, 0, 100),
    audienceCacheUsers: int('AUDIENCE_CACHE_USERS', 500_000, 0, 50_000_000),
    audienceCacheTtlMs: int('AUDIENCE_CACHE_TTL_MS', 60_000, 1, 86_400_000),
    audienceNegativeTtlMs: int('AUDIENCE_NEGATIVE_TTL_MS', 30_000, 1, 86_400_000),
    uploadLimitBytes: int('UPLOAD_LIMIT_BYTES', 2 * 1024 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
    uploadLoopShare: ratio('UPLOAD_LOOP_SHARE', 0.25),
    tracesEndpoint: tracesEndpoint(env, errors),
    serviceName: env.OTEL_SERVICE_NAME || 'rtb-bidder',
    ruleRebuildMinutes: int('RULE_REBUILD_MINUTES', 60, 0, 7 * 1440),
    dataDir: env.DATA_DIR || 'data',
    noticeSigningKeys: env.NOTICE_SIGNING_KEYS || undefined,
    clickhouseUrl: env.CLICKHOUSE_URL || undefined,
    bidLogSampleRate: ratio('BID_LOG_SAMPLE_RATE', 1),
    requestLogSampleRate: ratio('REQUEST_LOG_SAMPLE_RATE', 0.01),
    noticeMaxAgeSeconds: int('NOTICE_MAX_AGE_SECONDS', 6 * 3600, 60, 7 * 24 * 3600),
    noticeDedupeWindowSeconds: int('NOTICE_DEDUPE_WINDOW_SECONDS', 7 * 3600, 60, 30 * 24 * 3600),
    gdprVendorId: env.GDPR_VENDOR_ID ? int('GDPR_VENDOR_ID', 0, 1, 65535) || undefined : undefined,
    workers: int('WORKERS', usableCpus(), 1, 256),
    shedLagMs: int('SHED_LAG_MS', 20, 0, 10_000),
    shedMaxInFlight: int('SHED_MAX_IN_FLIGHT', 1_000, 0, 1_000_000),
    bodyTimeoutMs: int('BODY_TIMEOUT_MS', 300, 0, 60_000),
    maxPendingBodies: int('MAX_PENDING_BODIES', 10_000, 0, 1_000_000),
    shutdownDelayMs: int('SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    testHooks: bool('BIDDER_TEST_HOOKS'),
    budgetRenewMs: int('BUDGET_RENEW_MS', 250, 10, 60_000),
    budgetSliceFraction: ratio('BUDGET_SLICE', 0.002),
    budgetHoldMs: int('BUDGET_HOLD_MS', 5_000, 10, 3_600_000),
    budgetLeaseTtlMs: int('BUDGET_LEASE_TTL_MS', 3_000, 50, 3_600_000),
    budgetStaleMs: int('BUDGET_STALE_MS', 2_000, 50, 3_600_000),
    budgetKillSwitch: bool('BUDGET_KILL_SWITCH'),
    metricsTopCampaigns: int('METRICS_TOP_CAMPAIGNS', 20, 0, 1000),
    freqCacheTtlMs: int('FREQ_CACHE_TTL_MS', 1_000, 0, 3_600_000),
    freqHoldMs: int('FREQ_HOLD_MS', 10_000, 0, 3_600_000),
    freqCacheUsers: int('FREQ_CACHE_USERS', 200_000, 1, 50_000_000),
    // 13 months at most is what European regulators accept for such a cookie (CNIL); browsers cap at 400 days.
    userCookieMaxAgeSeconds: int('USER_COOKIE_MAX_AGE_SECONDS', 390 * 86_400, 60, 400 * 86_400),
    userMatchTtlSeconds: int('USER_MATCH_TTL_SECONDS', 30 * 86_400, 60, 400 * 86_400),
    userKeySecret: env.USER_KEY_SECRET || undefined,
  };
  if (settings.userKeySecret !== undefined && settings.userKeySecret.length < 16)
    errors.push({ path: 'USER_KEY_SECRET', code: 'invalid', message: 'must be at least 16 characters' });
  if (settings.noticeDedupeWindowSeconds < settings.noticeMaxAgeSeconds)
    errors.push({ path: 'NOTICE_DEDUPE_WINDOW_SECONDS', code: 'out_of_range', message: 'must be at least NOTICE_MAX_AGE_SECONDS' });
  if (settings.budgetHoldMs < settings.budgetRenewMs)
    errors.push({ path: 'BUDGET_HOLD_MS', code: 'out_of_range', message: 'must be at least BUDGET_RENEW_MS' });
  if (settings.budgetLeaseTtlMs <= settings.budgetStaleMs)
    errors.push({ path: 'BUDGET_LEASE_TTL_MS', code: 'out_of_range', message: 'must exceed BUDGET_STALE_MS (a thread stops bidding before its lease lapses)' });
  if (settings.budgetStaleMs <= settings.budgetRenewMs)
    errors.push({ path: 'BUDGET_STALE_MS', code: 'out_of_range', message: 'must exceed BUDGET_RENEW_MS' });
  if (!(settings.budgetSliceFraction > 0)) errors.push({ path: 'BUDGET_SLICE', code: 'out_of_range', message: 'must be above 0' });
  if (settings.clickhouseUrl && !/^https?:\/\//.test(settings.clickhouseUrl))
    errors.push({ path: 'CLICKHOUSE_URL', code: 'invalid_url', message: 'must start with http:// or https://' });
  if (settings.redisUrl && !/^redis(s|\+cluster)?:\/\//.test(settings.redisUrl))
    errors.push({ path: 'REDIS_URL', code: 'invalid_url', message: 'must start with redis://, rediss:// or redis+cluster://' });
  if (!/^https?:\/\//.test(settings.noticeBaseUrl))
    errors.push({ path: 'NOTICE_BASE_URL', code: 'invalid_url', message: 'must start with http:// or https://' });
  if (!/^[A-Za-z0-9]{1,16}$/.test(settings.instanceId))
    errors.push({ path: 'INSTANCE_ID', code: 'invalid', message: 'must be 1 to 16 letters or digits' });
  if (errors.length) throw new ConfigError(errors);
  return Object.freeze(settings);
}

/** The body timeout in force: BODY_TIMEOUT_MS, never past TMAX_CAP_MS (0: none). */
export function effectiveBodyTimeoutMs(s: Pick<Settings, 'bodyTimeoutMs' | 'tmaxCapMs'>): number {
  return s.bodyTimeoutMs > 0 ? Math.min(s.bodyTimeoutMs, s.tmaxCapMs) : 0;
}
