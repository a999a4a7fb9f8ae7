/** User matching and pixel metrics, by result. Registered once per registry (apps built twice share them). */
import { Counter, type Registry } from 'prom-client';

export const MATCH_RESULTS = ['matched', 'cookie_set', 'no_right', 'unknown_exchange', 'bad_uid', 'store_error'] as const;
export type MatchResult = (typeof MATCH_RESULTS)[number];

export class IdentityMetrics {
  readonly matches: Counter<'result'>;
  constructor(registry: Registry) {
    this.matches =
      (registry.getSingleMetric('user_matches_total') as Counter<'result'> | undefined) ??
      new Counter({
        name: 'user_matches_total',
        help: 'User matching calls (GET /match/{exchange}) by result: matched (an exchange user id stored against ours), cookie_set (our id set or renewed, nothing else stored), no_right (privacy signals forbid storing anything: redirected without an id), unknown_exchange, bad_uid (an exchange user id too long), store_error.',
        labelNames: ['result'],
        registers: [registry],
      });
    for (const r of MATCH_RESULTS) this.matches.labels(r);
  }
}
