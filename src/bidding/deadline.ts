/**
 * A request's time budget: `min(tmax, cap) - network allowance`, in milliseconds from the moment
 * its headers arrived. A request with no tmax gets the configured default. A budget of zero or
 * less means the answer is an immediate no-bid: the exchange would not wait for anything else.
 */
export interface DeadlineSettings {
  readonly defaultTmaxMs: number;
  readonly tmaxCapMs: number;
  readonly networkAllowanceMs: number;
}

export function deadlineMs(tmax: number | undefined, s: DeadlineSettings): number {
  const t = tmax === undefined || tmax === 0 ? s.defaultTmaxMs : tmax;
  return (t < s.tmaxCapMs ? t : s.tmaxCapMs) - s.networkAllowanceMs;
}
