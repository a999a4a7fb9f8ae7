/**
 * The embedded budget store: one per process (the main thread's; worker threads reach it through
 * their port). Exactly the Redis store's rules (redis-budget-store.ts), without the network.
 */
import { ENDED_TTL_SEC, type BidEnd, type BudgetStore, type KillState, type LeaseGrant, type LeaseRequest, type RenewResult, type SpendEntry } from './budget-store.js';

interface Account {
  spent: number;
  readonly holds: Map<string, { amount: number; expiresAt: number }>;
  expiresAt: number;
}

export class MemoryBudgetStore implements BudgetStore {
  readonly kind = 'memory' as const;
  private readonly accounts = new Map<string, Account>();
  private readonly markers = new Map<string, number>();
  /** Per holder: ids of its bids that ended elsewhere, until its next renewal takes them. */
  private readonly ended = new Map<string, { ids: string[]; expiresAt: number }>();
  private all = false;
  private readonly killed = new Set<string>();
  private sweptAt = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  async renew(holder: string, requests: readonly LeaseRequest[], leaseTtlMs: number): Promise<RenewResult> {
    const now = this.clock();
    this.sweep(now);
    const grants: LeaseGrant[] = [];
    for (const r of requests) {
      const a = this.account(r.account, now, r.ttlSec);
      let others = 0;
      for (const [h, hold] of a.holds) {
        if (hold.expiresAt <= now) a.holds.delete(h);
        else if (h !== holder) others += hold.amount;
      }
      const granted = Math.max(0, Math.min(r.want, r.limit - a.spent - others));
      a.holds.set(holder, { amount: Math.max(granted, r.outstanding), expiresAt: now + leaseTtlMs });
      grants.push({ granted, spent: a.spent });
    }
    const ended = this.ended.get(holder);
    this.ended.delete(holder);
    return { grants, kill: this.killState(), ended: ended && ended.expiresAt > now ? ended.ids : [] };
  }

  async recordSpend(eventId: string, entries: readonly SpendEntry[], markerTtlSec: number, end?: BidEnd): Promise<boolean> {
    const now = this.clock();
    const seen = this.markers.get(eventId);
    if (seen !== undefined && seen > now) return false;
    this.markers.set(eventId, now + markerTtlSec * 1000);
    for (const e of entries) this.account(e.account, now, e.ttlSec).spent += Math.round(e.amount);
    if (end !== undefined) this.end(end, now);
    return true;
  }

  async endBids(ends: readonly BidEnd[]): Promise<void> {
    const now = this.clock();
    for (const e of ends) this.end(e, now);
  }

  private end(e: BidEnd, now: number): void {
    let list = this.ended.get(e.holder);
    if (list === undefined || list.expiresAt <= now) this.ended.set(e.holder, (list = { ids: [], expiresAt: 0 }));
    list.ids.push(e.bidId);
    list.expiresAt = now + ENDED_TTL_SEC * 1000;
  }

  async spent(accounts: readonly string[]): Promise<number[]> {
    const now = this.clock();
    return accounts.map((k) => {
      const a = this.accounts.get(k);
      return a && a.expiresAt > now ? a.spent : 0;
    });
  }

  async setKill(on: boolean, campaign?: string): Promise<KillState> {
    if (campaign === undefined) this.all = on;
    else if (on) this.killed.add(campaign);
    else this.killed.delete(campaign);
    return this.killState();
  }

  async close(): Promise<void> {}

  private killState(): KillState {
    return { all: this.all, campaigns: [...this.killed] };
  }

  private account(key: string, now: number, ttlSec: number): Account {
    let a = this.accounts.get(key);
    if (!a || a.expiresAt <= now) this.accounts.set(key, (a = { spent: 0, holds: new Map(), expiresAt: 0 }));
    a.expiresAt = now + ttlSec * 1000;
    return a;
  }

  /** Forgets expired event ids, accounts and ended bids of holders gone, at most once a minute. */
  private sweep(now: number): void {
    if (now - this.sweptAt < 60_000) return;
    this.sweptAt = now;
    for (const [k, exp] of this.markers) if (exp <= now) this.markers.delete(k);
    for (const [k, a] of this.accounts) if (a.expiresAt <= now) this.accounts.delete(k);
    for (const [h, e] of this.ended) if (e.expiresAt <= now) this.ended.delete(h);
  }
}
