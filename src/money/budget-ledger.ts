/**
 * One bid thread's view of budgets (a lease holder). The hot path only reads and bumps counters
 * here, never awaits: `verdict` says whether a campaign may bid now, `reserve` counts a bid's price
 * against the thread's slice. In the background, every `renewMs`, `renew` sends the store what the
 * thread has in flight and gets its slices (leases) back with the global spend and the kill switch.
 *
 * The rule that gives the overspend bound (README, "Budgets, pacing and frequency caps"):
 * between two renewals a thread commits at most its grant, counting what it had in flight at the
 * renewal (`base`) and every bid since (`used`); reservations that end (loss, a recorded win, the
 * hold window passing) free room only at the next renewal, when the store has seen the spend.
 *
 * A notice may reach any thread of any instance (one load-balanced address, or worker threads
 * sharing a port). The bid id names the thread that made the bid (`holderOf`): a notice for
 * another holder's bid records the spend with that holder's name (or, for a loss, tells the store
 * so), and the holder ends the reservation when its next renewal hands it the ids (`ended`).
 */
import type { SnapshotRef } from '../campaigns/snapshot.js';
import type { CompiledCampaign } from '../targeting/compiled-campaign.js';
import type { NoBidReason } from '../bidding/no-bid-reason.js';
import type { MoneyGate } from '../bidding/money-gate.js';
import type { BidIdentity } from '../events/bid-identity.js';
import type { Currencies } from '../currency/currencies.js';
import type { BidEnd, BudgetStore, LeaseRequest, SpendEntry } from './budget-store.js';
import { accountsOf, dayOf, dayStartMs, type BudgetUnit, type CountUnit } from './accounts.js';
import { EvenPacer } from './pacing.js';
import { pacingDay, wholeDay, type PacingDay } from './pacing-day.js';
import { ShadingController } from './shading.js';
import type { MoneyMetrics } from '../metrics/money-metrics.js';
import type { NoticeType } from '../events/notices.js';
import { holderOf } from '../events/notice-urls.js';

export interface LedgerOptions {
  /** Unique per bid thread and start; the prefix of the thread's bid ids (events/notice-urls.ts). */
  readonly holder: string;
  readonly store: BudgetStore;
  readonly snapshots: SnapshotRef;
  /** Share of an account's budget a thread leases at a time. */
  readonly sliceFraction: number;
  readonly renewMs: number;
  /** How long a bid's price stays reserved when no notice ends it sooner. */
  readonly holdMs: number;
  /** A thread's lease lapses this long after its last renewal. */
  readonly leaseTtlMs: number;
  /** Budgeted campaigns stop when no renewal succeeded for this long. */
  readonly staleMs: number;
  /** Remembers spend event ids this long (at least the notice dedupe window). */
  readonly eventTtlSec: number;
  /** BUDGET_KILL_SWITCH: everything stopped, whatever the store says. */
  readonly killAll?: boolean;
  /** Epoch ms; injectable for tests. */
  readonly clock?: () => number;
  readonly random?: () => number;
  readonly onRenew?: (ledger: BudgetLedger) => void;
  readonly metrics?: MoneyMetrics;
}

/** What the ledger reads from an accepted notice. */
export interface NoticeFacts {
  readonly eventId: string;
  readonly exchange: string;
  readonly identity: BidIdentity;
  /** CPMs in the base currency (win and billing notices). */
  readonly clearCpmBase?: number;
  readonly bidCpmBase?: number;
  /** Win and loss notices: `${AUCTION_MIN_TO_WIN}` in the base currency, when the exchange sends it. */
  readonly minToWinBase?: number;
  /** Loss notices: the OpenRTB loss reason (0 when the exchange sent none). */
  readonly lossReason?: number;
  /** Win and loss notices of campaigns that shade: the bid's price before shading and the floor it faced, in the base currency. */
  readonly unshadedBase?: number;
  readonly floorBase?: number;
}

/** One account as this thread sees it. Amounts in micros of the account's currency. */
export interface Slot {
  readonly account: string;
  limit: number;
  granted: number;
  spent: number;
  /** In flight at the last renewal. */
  base: number;
  /** Committed since the last renewal. */
  used: number;
  /** In flight now. */
  outstanding: number;
  readonly ttlSec: number;
  /** The most one impression of its campaigns costs at max bid (micros): the least slice worth asking for. */
  oneBid: number;
  /**
   * Money (micros), or whole impressions, clicks or conversions. Money and impressions are leased and
   * reserved per bid; clicks and conversions cannot be reserved (a bid does not know it will bring
   * one): the campaign stops once the recorded count reaches the limit.
   */
  readonly unit: BudgetUnit;
}

interface CampaignMoney {
  readonly campaign: CompiledCampaign;
  readonly slots: readonly Slot[];
  /** Per slot: micros of its currency per unit of the campaign's currency. */
  readonly factors: readonly number[];
  /** Any budget in units: without one, the hot path takes the money-only loops. */
  readonly counted: boolean;
  /** The campaign's daily money account (metrics). */
  readonly daily: Slot | undefined;
  /** Even pacing over the day: of the daily money budget, else the daily impressions. */
  readonly pacer: EvenPacer | undefined;
  readonly paceDaily: Slot | undefined;
  /** Even pacing over the flight: of the money total, else the impressions total. */
  readonly flightPacer: EvenPacer | undefined;
  readonly paceTotal: Slot | undefined;
}

/** What one bid of `amount` micros (the campaign's currency) holds on slot `k`: money at its rate, one impression, nothing for outcomes. */
function share(m: CampaignMoney, k: number, amount: number): number {
  const unit = m.slots[k].unit;
  return unit === 'money' ? amount * m.factors[k] : unit === 'impressions' ? 1 : 0;
}

const EXHAUSTED = { impressions: 'impressions_exhausted', clicks: 'clicks_exhausted', conversions: 'conversions_exhausted' } as const;

interface Reservation {
  readonly bidId: string;
  readonly money: CampaignMoney;
  /** Micros of the campaign's currency; 0 once released. */
  amount: number;
  readonly expiresAt: number;
  /** Order of the bid on this thread (a renewal tells what was in flight when it left). */
  readonly seq: number;
}

/** Loss notices of other holders' bids wait at most this long to go to the store together. */
const END_BATCH_MS = 10;

export class BudgetLedger implements MoneyGate {
  stopAll: boolean;
  /** Epoch ms of the last successful renewal. */
  confirmedAt = 0;
  renewals = 0;
  failures = 0;
  private killed: ReadonlySet<string> = new Set();
  private campaigns = new Map<string, CampaignMoney>();
  private slots = new Map<string, Slot>();
  /** Win-rate bid shading, per campaign that has it on. */
  private shaders = new Map<string, ShadingController>();
  /** Per compiled campaign (a new snapshot brings new ones), its running time today. */
  private readonly pacingDays = new WeakMap<CompiledCampaign, PacingDay>();
  private builtFor: { version: number; day: string } | undefined;
  private readonly held: Reservation[] = [];
  private heldHead = 0;
  private readonly byBid = new Map<string, Reservation>();
  private seq = 0;
  /** Loss notices of other holders' bids, sent to the store in batches (`flushEnds`). */
  private endsOut: BidEnd[] = [];
  private endsTimer: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private readonly clock: () => number;
  private readonly random: () => number;
  /** Spend that could not be recorded yet (store down): retried, idempotently, on each renewal. */
  private readonly retry: { eventId: string; entries: SpendEntry[]; bidId: string }[] = [];

  constructor(private readonly o: LedgerOptions) {
    this.clock = o.clock ?? Date.now;
    this.random = o.random ?? Math.random;
    this.stopAll = o.killAll === true;
    this.rebuild(this.clock());
  }

  start(): this {
    void this.renew();
    this.timer = setInterval(() => void this.renew(), this.o.renewMs);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    await this.flushEnds();
  }

  get holder(): string {
    return this.o.holder;
  }

  // ----- hot path

  verdict(c: CompiledCampaign, nowMs: number, picked = 0): NoBidReason | undefined {
    if (this.killed.size > 0 && this.killed.has(c.id)) return 'kill_switch';
    if (c.budget === undefined) return undefined;
    let m = this.campaigns.get(c.id);
    if (m === undefined || m.campaign !== c) {
      this.rebuild(nowMs); // a new snapshot (once per version): its slots keep their state
      m = this.campaigns.get(c.id);
      if (m === undefined || m.campaign !== c) return 'budget_unconfirmed';
    }
    if (nowMs - this.confirmedAt > this.o.staleMs) return 'budget_unconfirmed';
    const cost = c.maxBid * 1000 * (picked + 1); // micros of one impression at max bid, with the request's other imps it already won
    if (!m.counted) {
      for (let i = 0; i < m.slots.length; i++) {
        const s = m.slots[i];
        if (s.base + s.used + cost * m.factors[i] > s.granted) return s.limit < c.maxBid * 1000 * m.factors[i] ? 'budget_below_max_bid' : 'budget_exhausted';
      }
    } else for (let i = 0; i < m.slots.length; i++) {
      const s = m.slots[i];
      if (s.unit === 'money') {
        if (s.base + s.used + cost * m.factors[i] > s.granted) return s.limit < c.maxBid * 1000 * m.factors[i] ? 'budget_below_max_bid' : 'budget_exhausted';
      } else if (s.unit === 'impressions') {
        if (s.base + s.used + picked + 1 > s.granted) return EXHAUSTED.impressions;
      } else if (s.spent >= s.limit) return EXHAUSTED[s.unit];
    }
    let p = m.pacer === undefined ? 1 : m.pacer.p;
    if (m.flightPacer !== undefined && m.flightPacer.p < p) p = m.flightPacer.p;
    if (p < 1 && this.random() >= p) return 'paced';
    return undefined;
  }

  shading(c: CompiledCampaign): number {
    return this.shaders.get(c.id)?.factor ?? 1;
  }

  /** Counts each bid's price against its campaign's slices until a notice ends it or the hold window passes. */
  reserve(bids: readonly BidIdentity[], currencies: Currencies, nowMs: number): void {
    const metrics = this.o.metrics;
    for (let i = 0; i < bids.length; i++) {
      const b = bids[i];
      if (metrics !== undefined) metrics.bids.labels(metrics.labels.of(this.o.snapshots.current, b.campaignId)).inc();
      if (this.shaders.size > 0) this.shaders.get(b.campaignId)?.bid();
      const m = this.campaigns.get(b.campaignId);
      if (m === undefined) continue;
      const amount = currencies.convert(b.price, b.currency, m.campaign.currency) * 1000;
      if (!(amount > 0)) continue;
      for (let k = 0; k < m.slots.length; k++) {
        const s = m.slots[k];
        const x = m.counted ? share(m, k, amount) : amount * m.factors[k];
        s.used += x;
        s.outstanding += x;
      }
      const r: Reservation = { bidId: b.bidId, money: m, amount, expiresAt: nowMs + this.o.holdMs, seq: ++this.seq };
      this.held.push(r);
      this.byBid.set(b.bidId, r);
    }
  }

  /** The campaign's pacing day (its running time today), cached per campaign and UTC day. */
  private pacingDayOf(c: CompiledCampaign, nowMs: number): PacingDay {
    const start = dayStartMs(nowMs);
    const cached = this.pacingDays.get(c);
    if (cached !== undefined && cached.start === start) return cached;
    const day = pacingDay(start, c.budget?.dayparting);
    this.pacingDays.set(c, day);
    return day;
  }

  // ----- notices

  /**
   * An accepted notice: a loss ends the bid's reservation; the exchange's spend notice (billing,
   * or win with `spendOn: win`) records spend; a win counts for the win rate and price metrics.
   */
  notice(type: NoticeType, spendOn: 'billing' | 'win', n: NoticeFacts, currencies: Currencies, nowMs: number): void {
    const metrics = this.o.metrics;
    if (type === 'loss') {
      if (metrics !== undefined) {
        const label = metrics.labels.of(this.o.snapshots.current, n.identity.campaignId);
        metrics.losses.labels(label).inc();
        if (n.minToWinBase && n.bidCpmBase) metrics.minToWinToBid.labels(n.exchange, label).observe(n.minToWinBase / n.bidCpmBase);
      }
      if (this.shaders.size > 0 && n.minToWinBase && n.unshadedBase && lostOnPrice(n.lossReason))
        this.shaders.get(n.identity.campaignId)?.priceToWin(factorToWin(n.minToWinBase, n), false);
      return this.end(n.identity.bidId);
    }
    if (type === 'click') return void this.countOutcome('clicks', n.eventId, n.identity.campaignId, nowMs);
    if (type === 'win' && this.shaders.size > 0) {
      const s = this.shaders.get(n.identity.campaignId);
      s?.win();
      // A winning bid was enough: what it took is at most the bid.
      if (s !== undefined && n.minToWinBase && n.unshadedBase) s.priceToWin(factorToWin(Math.min(n.minToWinBase, n.bidCpmBase ?? Infinity), n), true);
    }
    if (type === 'win' && metrics !== undefined && n.clearCpmBase !== undefined) {
      const label = metrics.labels.of(this.o.snapshots.current, n.identity.campaignId);
      metrics.wins.labels(label).inc();
      metrics.clearingPrice.labels(n.exchange).observe(n.clearCpmBase);
      if (n.bidCpmBase) metrics.clearingToBid.labels(n.exchange, label).observe(n.clearCpmBase / n.bidCpmBase);
    }
    if (type === spendOn && n.clearCpmBase !== undefined)
      void this.spend(n.eventId, n.identity.bidId, n.identity.campaignId, n.clearCpmBase, currencies, nowMs).then((added) => {
        if (!added || metrics === undefined) return;
        const snap = this.o.snapshots.current;
        const label = metrics.labels.of(snap, n.identity.campaignId);
        metrics.spend.labels(label).inc(n.clearCpmBase! / 1000);
        if (snap.index.anyById.get(n.identity.campaignId)?.budget?.impressions !== undefined) metrics.counted.labels(label, 'impressions').inc();
      });
  }

  /**
   * A click or a conversion of a campaign with a budget in them: one more on its accounts, once per
   * event id (a retried postback counts once). Resolves true when this call counted it.
   */
  countOutcome(unit: Exclude<CountUnit, 'impressions'>, eventId: string, campaignId: string, nowMs: number): Promise<boolean> {
    const c = this.o.snapshots.current.index.anyById.get(campaignId) ?? this.campaigns.get(campaignId)?.campaign;
    if (c === undefined || c.budget?.[unit] === undefined) return Promise.resolve(false);
    const entries: SpendEntry[] = [];
    for (const a of accountsOf(c, dayOf(nowMs))) if (a.unit === unit) entries.push({ account: a.account, amount: 1, ttlSec: a.ttlSec });
    return this.o.store.recordSpend(`${unit}:${eventId}`, entries, this.o.eventTtlSec).then(
      (added) => {
        if (added) this.o.metrics?.counted.labels(this.o.metrics.labels.of(this.o.snapshots.current, campaignId), unit).inc();
        return added;
      },
      () => {
        if (this.retry.length < 100_000) this.retry.push({ eventId: `${unit}:${eventId}`, entries, bidId: '' });
        return false;
      },
    );
  }

  /** A loss notice: the bid will cost nothing. Another holder's bid: that holder is told, through the store. */
  end(bidId: string): void {
    const holder = this.otherHolder(bidId);
    if (holder === undefined) return this.release(bidId);
    this.endsOut.push({ holder, bidId });
    if (this.endsTimer === undefined) {
      this.endsTimer = setTimeout(() => void this.flushEnds(), END_BATCH_MS);
      this.endsTimer.unref();
    }
  }

  /** This thread's bid: its reservation ends now. */
  release(bidId: string): void {
    const r = this.byBid.get(bidId);
    if (r === undefined) return;
    this.byBid.delete(bidId);
    this.free(r);
  }

  /** The holder that made the bid when it is another than this thread (bid ids start with their holder's name). */
  private otherHolder(bidId: string): string | undefined {
    const holder = holderOf(bidId);
    return holder === undefined || holder === this.o.holder ? undefined : holder;
  }

  /**
   * Sends the loss notices of other holders' bids gathered since the last call, at most every
   * END_BATCH_MS. One that cannot be sent (store down) is dropped: the reservation ends with the hold.
   */
  flushEnds(): Promise<void> {
    if (this.endsTimer !== undefined) clearTimeout(this.endsTimer);
    this.endsTimer = undefined;
    if (this.endsOut.length === 0) return Promise.resolve();
    const ends = this.endsOut;
    this.endsOut = [];
    return this.o.store.endBids(ends).catch(() => undefined);
  }

  /**
   * A spend notice (billing, or win for `spendOn: win` exchanges): records the clearing price
   * (CPM in the base currency) once per event id, then ends the bid's reservation when it is ours.
   */
  spend(eventId: string, bidId: string, campaignId: string, clearCpmBase: number, currencies: Currencies, nowMs: number): Promise<boolean> {
    const c = this.o.snapshots.current.index.anyById.get(campaignId) ?? this.campaigns.get(campaignId)?.campaign;
    if (c === undefined || c.budget === undefined) {
      this.release(bidId);
      return Promise.resolve(false);
    }
    const day = dayOf(nowMs);
    // Money at the clearing price, and one impression: recorded together, once per event id.
    const entries: SpendEntry[] = [];
    for (const a of accountsOf(c, day)) {
      if (a.unit === 'money')
        entries.push({
          account: a.account,
          amount: Math.round(currencies.convert(clearCpmBase, currencies.base, a.owner === 'campaign' ? c.currency : c.budget!.advertiserCurrency) * 1000),
          ttlSec: a.ttlSec,
        });
      else if (a.unit === 'impressions') entries.push({ account: a.account, amount: 1, ttlSec: a.ttlSec });
    }
    return this.o.store.recordSpend(eventId, entries, this.o.eventTtlSec, this.endOf(bidId)).then(
      (added) => {
        this.release(bidId);
        return added;
      },
      () => {
        if (this.retry.length < 100_000) this.retry.push({ eventId, entries, bidId });
        return false;
      },
    );
  }

  /** What the store needs to tell another holder that its bid ended (undefined: this thread's bid). */
  private endOf(bidId: string): BidEnd | undefined {
    const holder = this.otherHolder(bidId);
    return holder === undefined ? undefined : { holder, bidId };
  }

  // ----- background

  /** One renewal: expire reservations, send what is in flight, take the grants and the kill switch. */
  renew(): Promise<void> {
    if (this.renewing) return this.renewing;
    this.renewing = this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    const now = this.clock();
    this.rebuild(now);
    this.expire(now);
    await Promise.all([this.flushRetries(), this.flushEnds()]);
    const slots = [...this.slots.values()];
    const requests: LeaseRequest[] = slots.map((s) => ({
      account: s.account,
      limit: s.limit,
      want: this.want(s),
      outstanding: Math.ceil(s.outstanding),
      ttlSec: s.ttlSec,
    }));
    // What is in flight as the request leaves: bids made while it travels count as `used` on top.
    const base = slots.map((s) => s.outstanding);
    const usedBefore = slots.map((s) => s.used);
    const seqBefore = this.seq;
    try {
      const r = await this.o.store.renew(this.o.holder, requests, this.o.leaseTtlMs);
      slots.forEach((s, i) => {
        s.granted = r.grants[i].granted;
        s.spent = r.grants[i].spent;
        s.base = base[i];
        s.used -= usedBefore[i];
      });
      this.endedElsewhere(r.ended, seqBefore);
      this.stopAll = this.o.killAll === true || r.kill.all;
      this.killed = new Set(r.kill.campaigns);
      this.confirmedAt = now;
      this.renewals++;
      this.o.metrics?.renewals.labels('ok').inc();
      const at = this.clock();
      for (const m of this.campaigns.values()) {
        if (m.pacer && m.paceDaily) m.pacer.updateOn(m.paceDaily.limit, m.paceDaily.spent, this.pacingDayOf(m.campaign, at), at);
        if (m.flightPacer && m.paceTotal) m.flightPacer.updateOn(m.paceTotal.limit, m.paceTotal.spent, flightOf(m.campaign), at);
      }
    } catch {
      this.failures++;
      this.o.metrics?.renewals.labels('failed').inc();
    }
    this.steer(this.clock());
    this.report(now);
    this.o.onRenew?.(this);
  }

  /**
   * The slice to ask for: BUDGET_SLICE of the budget, but never less than one impression at the
   * highest max bid of the account's campaigns (a smaller slice could never hold a bid). The store
   * still grants no more than the budget has left.
   */
  private want(s: Slot): number {
    if (s.unit === 'clicks' || s.unit === 'conversions') return 0; // read, never reserved
    return Math.max(1, Math.floor(s.limit * this.o.sliceFraction), Math.ceil(s.oneBid));
  }

  /**
   * Bids of this thread whose spend was recorded (or loss told) on another thread before the
   * renewal that reports them ran: their reservations end now. Those in flight when the renewal
   * left are also out of `base`, since the store had their spend when it granted (later ones stay
   * in `used` until the next renewal, as a bid ended here would).
   */
  private endedElsewhere(ids: readonly string[], seqBefore: number): void {
    for (const id of ids) {
      const r = this.byBid.get(id);
      if (r === undefined) continue;
      this.byBid.delete(id);
      if (r.seq <= seqBefore && r.amount > 0) {
        const m = r.money;
        for (let k = 0; k < m.slots.length; k++) m.slots[k].base = Math.max(0, m.slots[k].base - share(m, k, r.amount));
      }
      this.free(r);
    }
  }

  /** Win-rate shading: one control step per campaign when due; decisions and factors as metrics. */
  private steer(now: number): void {
    const metrics = this.o.metrics;
    for (const [id, s] of this.shaders) {
      const move = s.update(now);
      if (move === undefined || metrics === undefined) continue;
      const label = metrics.labels.of(this.o.snapshots.current, id);
      metrics.shadingMoves.labels(label, move).inc();
      if (label !== metrics.labels.other) metrics.shadingFactor.labels(label).set(s.factor);
    }
  }

  /** Campaign → slots for the current snapshot and day (slots keep their state across rebuilds). */
  private rebuild(now: number): void {
    const snap = this.o.snapshots.current;
    const day = dayOf(now);
    if (this.builtFor && this.builtFor.version === snap.version && this.builtFor.day === day) return;
    this.builtFor = { version: snap.version, day };
    const slots = new Map<string, Slot>();
    const campaigns = new Map<string, CampaignMoney>();
    const currencies = snap.currencies;
    const shaders = new Map<string, ShadingController>();
    for (const c of snap.index.campaigns) {
      if (c.shading === undefined) continue;
      const old = this.shaders.get(c.id);
      const same = old && old.o.targetWinRate === c.shading.targetWinRate && old.o.minFactor === c.shading.minFactor;
      shaders.set(c.id, same ? old : new ShadingController(c.shading, this.random()));
    }
    this.shaders = shaders;
    for (const c of snap.index.campaigns) {
      if (c.budget === undefined) continue;
      const specs = accountsOf(c, day);
      const list: Slot[] = [];
      const factors: number[] = [];
      for (const a of specs) {
        let s = slots.get(a.account) ?? this.slots.get(a.account);
        if (!s) s = { account: a.account, limit: a.limit, granted: 0, spent: 0, base: 0, used: 0, outstanding: 0, ttlSec: a.ttlSec, oneBid: 0, unit: a.unit };
        const factor = a.owner === 'campaign' ? 1 : currencies.convert(1, c.currency, c.budget.advertiserCurrency);
        if (!slots.has(a.account)) s.oneBid = 0; // first campaign of this snapshot on the account
        s.limit = a.limit;
        const oneBid = a.unit === 'money' ? c.maxBid * 1000 * factor : a.unit === 'impressions' ? 1 : 0;
        if (oneBid > s.oneBid) s.oneBid = oneBid;
        slots.set(a.account, s);
        list.push(s);
        factors.push(factor);
      }
      const slotOf = (unit: BudgetUnit, daily: boolean) => {
        const i = specs.findIndex((a) => a.owner === 'campaign' && a.unit === unit && a.daily === daily);
        return i < 0 ? undefined : list[i];
      };
      const daily = slotOf('money', true);
      const paceDaily = daily ?? slotOf('impressions', true);
      const paceTotal = slotOf('money', false) ?? slotOf('impressions', false);
      const old = this.campaigns.get(c.id);
      const pacer = paceDaily && c.budget.pacing === 'even' ? (old?.pacer ?? new EvenPacer()) : undefined;
      const flight = paceTotal && c.budget.flightPacing === 'even' && Number.isFinite(c.startMs) && Number.isFinite(c.endMs);
      const flightPacer = flight ? (old?.flightPacer ?? new EvenPacer()) : undefined;
      const counted = list.some((s) => s.unit !== 'money');
      campaigns.set(c.id, { campaign: c, slots: list, factors, counted, daily, pacer, paceDaily, flightPacer, paceTotal });
    }
    this.slots = slots;
    this.campaigns = campaigns;
  }

  private expire(now: number): void {
    const held = this.held;
    while (this.heldHead < held.length && held[this.heldHead].expiresAt <= now) {
      const r = held[this.heldHead++];
      if (this.byBid.get(r.bidId) === r) this.byBid.delete(r.bidId);
      this.free(r);
    }
    if (this.heldHead > 1024 && this.heldHead * 2 > held.length) {
      held.splice(0, this.heldHead);
      this.heldHead = 0;
    }
  }

  private free(r: Reservation): void {
    if (r.amount === 0) return;
    const m = r.money;
    for (let k = 0; k < m.slots.length; k++) {
      const s = m.slots[k];
      s.outstanding = Math.max(0, s.outstanding - share(m, k, r.amount));
    }
    r.amount = 0;
  }

  private async flushRetries(): Promise<void> {
    if (this.retry.length === 0) return;
    const batch = this.retry.splice(0, 1000);
    for (let i = 0; i < batch.length; i++) {
      const x = batch[i];
      try {
        await this.o.store.recordSpend(x.eventId, x.entries, this.o.eventTtlSec, this.endOf(x.bidId));
        this.release(x.bidId);
      } catch {
        this.retry.unshift(...batch.slice(i));
        return;
      }
    }
  }

  // ----- read-outs (metrics, admin)

  private reportedAt = 0;

  /** Gauges, at most once a second: spend, remaining budget and pacing of the labelled campaigns ("other" summed). */
  private report(now: number): void {
    const metrics = this.o.metrics;
    if (metrics === undefined) return;
    metrics.unconfirmed.set(this.confirmedAt === 0 ? 0 : Math.max(0, now - this.confirmedAt) / 1000);
    metrics.spendBacklog.set(this.retry.length);
    if (now - this.reportedAt < 1000) return;
    this.reportedAt = now;
    const snap = this.o.snapshots.current;
    const cur = snap.currencies;
    const spent = new Map<string, number>();
    const remaining = new Map<string, number>();
    const limits = new Map<string, number>();
    for (const m of this.campaigns.values()) {
      const label = metrics.labels.of(snap, m.campaign.id);
      const toBase = (micros: number) => cur.convert(micros / 1e6, m.campaign.currency, cur.base);
      const k = m.slots.findIndex((s) => s.unit === 'money'); // the campaign's daily account if it has one, else its total (advertiser budgets alone: theirs)
      if (k < 0) continue;
      const main = m.slots[k];
      const factor = m.factors[k];
      spent.set(label, (spent.get(label) ?? 0) + (m.daily ? toBase(m.daily.spent) : 0));
      limits.set(label, (limits.get(label) ?? 0) + (m.daily ? toBase(m.daily.limit) : 0));
      remaining.set(label, (remaining.get(label) ?? 0) + toBase(Math.max(0, main.limit - main.spent) / factor));
      if (label !== metrics.labels.other && m.pacer && m.paceDaily) {
        const target = EvenPacer.targetOn(m.paceDaily.limit, this.pacingDayOf(m.campaign, now), now);
        metrics.pacingRatio.labels(label).set(target > 0 ? m.paceDaily.spent / target : 0);
        metrics.participation.labels(label).set(m.pacer.p);
      }
      if (label !== metrics.labels.other && m.flightPacer && m.paceTotal) {
        const target = EvenPacer.targetOn(m.paceTotal.limit, flightOf(m.campaign), now);
        metrics.flightPacingRatio.labels(label).set(target > 0 ? m.paceTotal.spent / target : 0);
        metrics.flightParticipation.labels(label).set(m.flightPacer.p);
      }
    }
    for (const [label, v] of spent) metrics.spent.labels(label).set(v);
    for (const [label, v] of remaining) metrics.remaining.labels(label).set(v);
    for (const [label, v] of limits) metrics.dailyLimit.labels(label).set(v);
  }

  /** Per budgeted campaign: its accounts' limit, global spend, grant and what this thread has in flight. */
  state(): { campaign: string; pacing: number | undefined; flightPacing: number | undefined; accounts: Pick<Slot, 'account' | 'unit' | 'limit' | 'spent' | 'granted' | 'outstanding'>[] }[] {
    return [...this.campaigns.values()].map((m) => ({
      campaign: m.campaign.id,
      pacing: m.pacer?.p,
      flightPacing: m.flightPacer?.p,
      accounts: m.slots.map((s) => ({ account: s.account, unit: s.unit, limit: s.limit, spent: s.spent, granted: s.granted, outstanding: s.outstanding })),
    }));
  }

  get retryQueue(): number {
    return this.retry.length;
  }
}

/** The campaign's flight as one pacing span: its running time is the whole of start to end. */
function flightOf(c: CompiledCampaign): PacingDay {
  return wholeDay(c.startMs, c.endMs - c.startMs);
}

/**
 * The shading factor that would just have won an auction whose min-to-win was `minToWin`: that
 * share of the price before shading, or 0 when it was the floor, which a campaign shading below
 * the floor still meets (its price is raised to the floor) whatever its factor.
 */
function factorToWin(minToWin: number, n: NoticeFacts): number {
  return n.floorBase !== undefined && minToWin <= n.floorBase * (1 + 1e-9) ? 0 : minToWin / n.unshadedBase!;
}

/**
 * Loss reasons whose min-to-win is a price the bid could have paid (OpenRTB 2.6 loss reason codes):
 * below the auction or deal floor, lost to a higher bid or to a deal's; 0 when the exchange sent
 * none. Not errors, expiry, blocked seats or filtered creatives, which no price would have won.
 */
function lostOnPrice(reason: number | undefined): boolean {
  return reason === undefined || reason === 0 || (reason >= 100 && reason <= 103);
}
