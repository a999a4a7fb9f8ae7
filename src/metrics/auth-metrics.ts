/** Failed authentication on the admin port, and refusals of addresses over the failure limit (api/auth-failures.ts). */
import { Counter, type Registry } from 'prom-client';

/** Where a request authenticated: the config API, the audience upload routes, reports, the kill switch. */
export const AUTH_SURFACES = ['config_api', 'audiences', 'reports', 'kill_switch'] as const;
export type AuthSurface = (typeof AUTH_SURFACES)[number];

export class AuthMetrics {
  readonly failures: Counter<'surface'>;
  readonly refused: Counter<'surface'>;
  readonly limitStoreErrors: Counter<'limiter'>;

  constructor(readonly registry: Registry) {
    this.failures = new Counter({
      name: 'api_auth_failures_total',
      help: 'Requests to the admin port whose API key was missing, malformed, unknown, wrong, paused or revoked, by surface (config_api, audiences, reports, kill_switch).',
      labelNames: ['surface'],
      registers: [registry],
    });
    this.refused = new Counter({
      name: 'api_auth_refused_total',
      help: 'Requests answered 429 without their key being checked, because their source address had too many failed authentications (API_AUTH_FAILURE_LIMIT in API_AUTH_FAILURE_WINDOW_SECONDS), by surface.',
      labelNames: ['surface'],
      registers: [registry],
    });
    this.limitStoreErrors = new Counter({
      name: 'api_limit_store_errors_total',
      help: 'Rate-limit checks the shared Redis (API_REDIS_URL) could not answer, counted by this instance alone instead (fail open to the per-instance limit), by limiter (requests: per API key; auth_failures: per source address).',
      labelNames: ['limiter'],
      registers: [registry],
    });
    for (const l of ['requests', 'auth_failures']) this.limitStoreErrors.labels(l).inc(0);
    // At 0 from the start, so a rate or an alert sees the series before the first failure.
    for (const s of AUTH_SURFACES) {
      this.failures.labels(s).inc(0);
      this.refused.labels(s).inc(0);
    }
  }
}
