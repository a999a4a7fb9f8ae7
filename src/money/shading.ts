/**
 * Bid shading for one campaign on one bid thread (off unless the campaign sets `shading`): the
 * campaign's price is multiplied by a factor in [minFactor, 1], set every `everyMs` (with at least
 * `minBids` bids since the last step) in one of two ways.
 *
 * - **From the bid landscape**, when the exchange tells us what it took to win: `${AUCTION_MIN_TO_WIN}`
 *   in win and loss notices. Each such notice gives the factor that would just have won that
 *   auction: min-to-win over the price before shading (which the bid's notice URLs carry), or 0
 *   when min-to-win was the floor, which a shaded price under it is raised to. The target win
 *   rate's quantile of the last `landscapeSize` of them (2,000 by default: a few intervals of a
 *   campaign bidding 100 times a second, steady enough not to swing the price) is the factor that
 *   would have won that share of the auctions. Used while notices with a price to win cover at
 *   least `landscapeCoverage` of the bids and of the wins (an exchange that sends none, or only on
 *   losses, would bias it).
 * - **From the win rate** otherwise: down by `step` while the campaign won more than its target
 *   share of its bids (it pays less per win), up by `step` while it won less.
 *
 * The factor only ever lowers a price, so a shaded bid stays under the campaign's max bid (and
 * floors still apply). Notices are this thread's: behind a load balancer each thread sees its share
 * of every thread's, so its ratios estimate the fleet's as long as traffic is spread evenly.
 */
export interface ShadingOptions {
  readonly targetWinRate: number;
  readonly minFactor: number;
  readonly everyMs?: number;
  readonly minBids?: number;
  readonly step?: number;
  readonly landscapeSize?: number;
  readonly landscapeCoverage?: number;
}

export type ShadingMove = 'down' | 'up' | 'hold';

export class ShadingController {
  factor = 1;
  private bids = 0;
  private wins = 0;
  /** Notices with a price to win since the last step, and the win notices among them. */
  private priced = 0;
  private pricedWins = 0;
  private lastAt: number | undefined;
  private readonly everyMs: number;
  private readonly minBids: number;
  private readonly step: number;
  private readonly coverage: number;
  /** The last factors needed to win (ring), and a scratch copy to sort. */
  private readonly landscape: Float64Array;
  private readonly sorted: Float64Array;
  private landscapeCount = 0;
  private landscapeAt = 0;

  /**
   * `phase` in [0, 1): how much of the first interval has already passed when the controller's clock
   * starts. Random phases spread the steps of many campaigns (each sorts its landscape) over the
   * interval instead of running them all in one renewal of the bid thread.
   */
  constructor(
    readonly o: ShadingOptions,
    private readonly phase = 0,
  ) {
    this.everyMs = o.everyMs ?? 10_000;
    this.minBids = o.minBids ?? 50;
    this.step = o.step ?? 0.05;
    this.coverage = o.landscapeCoverage ?? 0.8;
    this.landscape = new Float64Array(o.landscapeSize ?? 2000); // 32 KB with `sorted`, per campaign and bid thread
    this.sorted = new Float64Array(this.landscape.length);
  }

  bid(): void {
    this.bids++;
  }

  win(): void {
    this.wins++;
  }

  /**
   * The factor that would just have won an auction: its price to win as a share of the bid's price
   * before shading (`minToWin / unshaded`), 0 when any factor would have (it was the floor, which a
   * shaded bid is raised to). `won`: it came with a win notice (count the win with `win()` as well).
   */
  priceToWin(factor: number, won: boolean): void {
    if (!(factor >= 0) || !Number.isFinite(factor)) return;
    if (won) this.pricedWins++;
    this.landscape[this.landscapeAt] = factor;
    this.landscapeAt = (this.landscapeAt + 1) % this.landscape.length;
    if (this.landscapeCount < this.landscape.length) this.landscapeCount++;
    this.priced++;
  }

  /** One control step when due; undefined when not due or too few bids yet. */
  update(nowMs: number): ShadingMove | undefined {
    if (this.lastAt === undefined) this.lastAt = nowMs - this.phase * this.everyMs;
    if (nowMs - this.lastAt < this.everyMs || this.bids < this.minBids) return undefined;
    const rate = Math.min(1, this.wins / this.bids);
    // Wins must carry the price to win as well: from losses alone, every auction would look dearer than it was.
    const landscape = this.priced >= this.bids * this.coverage && this.pricedWins >= this.wins * this.coverage && this.landscapeCount >= this.minBids;
    this.bids = 0;
    this.wins = 0;
    this.priced = 0;
    this.pricedWins = 0;
    this.lastAt = nowMs;
    const before = this.factor;
    if (landscape) this.factor = Math.min(1, Math.max(this.o.minFactor, this.quantile(this.o.targetWinRate)));
    else {
      // A dead band of a quarter step around the target keeps the factor from hunting.
      const band = this.o.targetWinRate * this.step * 0.25;
      if (rate > this.o.targetWinRate + band) this.factor = Math.max(this.o.minFactor, this.factor * (1 - this.step));
      else if (rate < this.o.targetWinRate - band) this.factor = Math.min(1, this.factor * (1 + this.step));
    }
    if (this.factor === before) return 'hold';
    return this.factor < before ? 'down' : 'up';
  }

  /** The `p` quantile of the landscape: the smallest factor that would have won a share `p` of its auctions. */
  private quantile(p: number): number {
    const n = this.landscapeCount;
    const s = this.sorted.subarray(0, n);
    s.set(this.landscape.subarray(0, n));
    s.sort();
    return s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  }
}
