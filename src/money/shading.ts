/**
 * Win-rate bid shading for one campaign on one bid thread (off unless the campaign sets `shading`):
 * every `everyMs` with at least `minBids` bids, the share of them that won moves the factor the
 * campaign's price is multiplied by — down by `step` while it wins more than its target (pay less
 * per win), up by `step` while it wins less — within [minFactor, 1]. The factor only ever lowers a
 * price, so a shaded bid stays under the campaign's max bid (and floors still apply).
 * Wins are the win notices this thread receives; behind a load balancer each thread sees its share of
 * every thread's wins, so the ratio estimates the fleet's win rate as long as traffic is spread evenly.
 */
export interface ShadingOptions {
  readonly targetWinRate: number;
  readonly minFactor: number;
  readonly everyMs?: number;
  readonly minBids?: number;
  readonly step?: number;
}

export type ShadingMove = 'down' | 'up' | 'hold';

export class ShadingController {
  factor = 1;
  private bids = 0;
  private wins = 0;
  private lastAt: number | undefined;
  private readonly everyMs: number;
  private readonly minBids: number;
  private readonly step: number;

  constructor(readonly o: ShadingOptions) {
    this.everyMs = o.everyMs ?? 10_000;
    this.minBids = o.minBids ?? 50;
    this.step = o.step ?? 0.05;
  }

  bid(): void {
    this.bids++;
  }

  win(): void {
    this.wins++;
  }

  /** One control step when due; undefined when not due or too few bids yet. */
  update(nowMs: number): ShadingMove | undefined {
    if (this.lastAt === undefined) this.lastAt = nowMs;
    if (nowMs - this.lastAt < this.everyMs || this.bids < this.minBids) return undefined;
    const rate = Math.min(1, this.wins / this.bids);
    this.bids = 0;
    this.wins = 0;
    this.lastAt = nowMs;
    // A dead band of a quarter step around the target keeps the factor from hunting.
    const band = this.o.targetWinRate * this.step * 0.25;
    let move: ShadingMove = 'hold';
    if (rate > this.o.targetWinRate + band) move = 'down';
    else if (rate < this.o.targetWinRate - band) move = 'up';
    if (move === 'down') this.factor = Math.max(this.o.minFactor, this.factor * (1 - this.step));
    else if (move === 'up') this.factor = Math.min(1, this.factor * (1 + this.step));
    return move;
  }
}
