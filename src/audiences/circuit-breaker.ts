/**
 * A circuit breaker for a remote store. After `failureThreshold` consecutive failures it opens:
 * calls are refused at once (the bidder proceeds without the store) for `openMs`; then one probe
 * is let through (half-open), and its result closes the breaker or opens it again, each time for
 * longer, up to `maxOpenMs`.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  readonly failureThreshold: number;
  readonly openMs: number;
  readonly maxOpenMs: number;
}

export class CircuitBreaker {
  state: BreakerState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private currentOpenMs: number;
  private probing = false;

  constructor(
    private readonly o: BreakerOptions,
    private readonly now: () => number = Date.now,
    private readonly onChange: (s: BreakerState) => void = () => {},
  ) {
    this.currentOpenMs = o.openMs;
  }

  /** May a call go to the store now? In half-open, only one call at a time is let through. */
  allow(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() < this.openUntil) return false;
      this.set('half_open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.currentOpenMs = this.o.openMs;
    if (this.state !== 'closed') this.set('closed');
  }

  failure(): void {
    this.probing = false;
    if (this.state === 'half_open') {
      this.currentOpenMs = Math.min(this.currentOpenMs * 2, this.o.maxOpenMs);
      this.open();
    } else if (++this.failures >= this.o.failureThreshold && this.state === 'closed') this.open();
  }

  private open(): void {
    this.openUntil = this.now() + this.currentOpenMs;
    this.set('open');
  }

  private set(s: BreakerState): void {
    this.state = s;
    this.onChange(s);
  }
}
