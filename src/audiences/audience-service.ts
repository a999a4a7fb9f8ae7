/**
 * The user's segments for one bid request, within a time budget.
 *
 * An in-process LRU cache (with TTL, and negative entries for unknown users) answers most requests
 * synchronously; the misses of one request go to the store together (one round trip) and race the
 * request's lookup budget. A slow or dead store costs at most that budget, then the circuit breaker
 * stops asking it at all. A lookup that finishes after its budget still fills the cache.
 *
 * An exchange's user id matched to one of ours (user matching, segment-store.ts putMatch) brings
 * our user's segments too. The match rides in the exchange key's own answer, so following it costs
 * no extra round trip inside the request: an in-process store answers it at once; across the
 * network our user's segments come from the cache, and when they are not cached this answer is
 * incomplete and they are fetched in the background for the user's next request.
 */
import { LRUCache } from 'lru-cache';
import type { AudienceMetrics } from '../metrics/audience-metrics.js';
import { CircuitBreaker, type BreakerOptions } from './circuit-breaker.js';
import { EMPTY_RULE_INDEX, indexRules, type RuleIndex } from './rule-index.js';
import { DEFAULT_SEGMENT_TTL_SECONDS, isLiveSegment, matchedUser, type SegmentMeta, type SegmentStore, type UserSegments } from './segment-store.js';

export interface Audience {
  readonly segments: ReadonlySet<string>;
  /** False when some of the user's ids could not be looked up (store slow, down, or no time left). */
  readonly complete: boolean;
}

const EMPTY: ReadonlySet<string> = new Set();
export const NO_AUDIENCE: Audience = Object.freeze({ segments: EMPTY, complete: true });
const UNKNOWN_AUDIENCE: Audience = Object.freeze({ segments: EMPTY, complete: false });

export interface AudienceSettings {
  readonly cacheMaxUsers: number;
  readonly cacheTtlMs: number;
  readonly negativeTtlMs: number;
  readonly breaker: BreakerOptions;
  /** How often other instances' segment metadata changes are picked up. */
  readonly registryPollMs: number;
}

export const DEFAULT_AUDIENCE_SETTINGS: AudienceSettings = {
  cacheMaxUsers: 500_000,
  cacheTtlMs: 60_000,
  negativeTtlMs: 30_000,
  breaker: { failureThreshold: 5, openMs: 1_000, maxOpenMs: 15_000 },
  registryPollMs: 1_000,
};

/** The cached value for a key the store does not know. */
const NONE: UserSegments = Object.freeze([]);

export class AudienceService {
  readonly breaker: CircuitBreaker;
  /**
   * Only for stores across the network: an in-process store is asked directly (and an LRU of
   * cacheMaxUsers preallocates its arrays: megabytes of heap the garbage collector would walk).
   */
  private readonly cache: LRUCache<string, UserSegments> | undefined;
  private live: ReadonlyMap<string, SegmentMeta> = new Map();
  private rules: readonly SegmentMeta[] = [];
  private rulesIndexed: RuleIndex = EMPTY_RULE_INDEX;
  private registryVersion = -1;
  private poller: NodeJS.Timeout | undefined;
  /** Matched users being fetched in the background (one fetch per key at a time). */
  private readonly prefetching = new Set<string>();

  constructor(
    readonly store: SegmentStore,
    private readonly metrics: AudienceMetrics,
    private readonly settings: AudienceSettings = DEFAULT_AUDIENCE_SETTINGS,
  ) {
    this.cache = store.lookupNow ? undefined : new LRUCache({ max: settings.cacheMaxUsers, ttl: settings.cacheTtlMs, ttlAutopurge: false });
    this.breaker = new CircuitBreaker(settings.breaker, Date.now, (s) => metrics.breakerChanged(s));
  }

  /** Synchronous when every key is cached; otherwise a promise that settles within `budgetMs`. */
  resolve(keys: readonly string[], budgetMs: number): Audience | Promise<Audience> {
    if (keys.length === 0) return NO_AUDIENCE;
    const nowSec = Math.floor(Date.now() / 1000);
    if (this.store.lookupNow) return this.direct(keys, nowSec);
    let segments: Set<string> | undefined;
    let misses: string[] | undefined;
    let linked: string[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const hit = this.cache!.get(keys[i]);
      if (hit === undefined) {
        this.metrics.cacheMiss.inc();
        (misses ??= []).push(keys[i]);
      } else if (hit === NONE) this.metrics.cacheNegativeHit.inc();
      else {
        this.metrics.cacheHit.inc();
        segments = this.collect(hit, nowSec, segments);
        linked = this.linkOf(keys[i], hit, nowSec, linked);
      }
    }
    if (!misses) return linked ? this.withMatches(keys, linked, segments, true, nowSec) : segments ? { segments, complete: true } : NO_AUDIENCE;
    if (budgetMs <= 0) return this.partial('no_budget', segments);
    if (!this.breaker.allow()) return this.partial('breaker_open', segments);
    return this.fetch(misses, segments, budgetMs, nowSec, keys, linked);
  }

  /** Adds the `uid:` key an exchange key (`xid:`) is matched to, when it is not among the request's keys. */
  private linkOf(key: string, memberships: UserSegments, nowSec: number, into: string[] | undefined): string[] | undefined {
    if (key.charCodeAt(0) !== 120 /* x */) return into;
    const user = matchedUser(memberships, nowSec);
    if (user !== undefined) (into ??= []).push(user);
    return into;
  }

  /** Merges matched users' cached segments; one not cached makes the answer incomplete and is fetched for next time. */
  private withMatches(keys: readonly string[], linked: readonly string[], known: Set<string> | undefined, complete: boolean, nowSec: number): Audience {
    let segments = known;
    for (const user of linked) {
      if (keys.includes(user)) continue;
      const hit = this.cache!.get(user);
      if (hit === undefined) {
        complete = false;
        this.prefetch(user);
      } else if (hit !== NONE) segments = this.collect(hit, nowSec, segments);
    }
    if (segments) return { segments, complete };
    return complete ? NO_AUDIENCE : UNKNOWN_AUDIENCE;
  }

  private prefetch(key: string): void {
    if (this.prefetching.has(key) || !this.breaker.allow()) return;
    this.prefetching.add(key);
    let lookup: Promise<(UserSegments | undefined)[]>;
    try {
      lookup = this.store.lookup([key]);
    } catch (e) {
      lookup = Promise.reject(e);
    }
    lookup
      .then(
        (results) => void this.fill([key], results, undefined, Math.floor(Date.now() / 1000)),
        () => undefined,
      )
      .finally(() => this.prefetching.delete(key));
  }

  private partial(result: 'no_budget' | 'breaker_open' | 'timeout' | 'error', segments: Set<string> | undefined): Audience {
    this.metrics.lookups.labels(result).inc();
    return segments ? { segments, complete: false } : UNKNOWN_AUDIENCE;
  }

  private fetch(
    misses: string[],
    known: Set<string> | undefined,
    budgetMs: number,
    nowSec: number,
    keys: readonly string[],
    linked: string[] | undefined,
  ): Promise<Audience> {
    const started = performance.now();
    return new Promise<Audience>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.breaker.failure();
        resolve(this.partial('timeout', known));
      }, budgetMs);
      let lookup: Promise<(UserSegments | undefined)[]>;
      try {
        lookup = this.store.lookup(misses);
      } catch (e) {
        lookup = Promise.reject(e); // a store that throws synchronously must not leave the request unanswered
      }
      lookup.then(
        (results) => {
          this.metrics.lookupDuration.observe((performance.now() - started) / 1000);
          if (settled) return void this.fill(misses, results, undefined, nowSec); // too late for this request; cache it for the next
          settled = true;
          clearTimeout(timer);
          this.breaker.success();
          this.metrics.lookups.labels('ok').inc();
          const audience = this.fill(misses, results, known, nowSec);
          for (let i = 0; i < misses.length; i++) if (results[i]) linked = this.linkOf(misses[i], results[i]!, nowSec, linked);
          resolve(linked ? this.withMatches(keys, linked, audience === NO_AUDIENCE ? undefined : (audience.segments as Set<string>), true, nowSec) : audience);
        },
        () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.breaker.failure();
          resolve(this.partial('error', known));
        },
      );
    });
  }

  /** An in-process store is its own cache: ask it directly, synchronously. */
  private direct(keys: readonly string[], nowSec: number): Audience {
    const results = this.store.lookupNow!(keys);
    let segments: Set<string> | undefined;
    let linked: string[] | undefined;
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      if (r) {
        segments = this.collect(r, nowSec, segments);
        linked = this.linkOf(keys[i], r, nowSec, linked);
      }
    }
    if (linked) {
      const others = linked.filter((k) => !keys.includes(k));
      if (others.length > 0) for (const r of this.store.lookupNow!(others)) if (r) segments = this.collect(r, nowSec, segments);
    }
    return segments ? { segments, complete: true } : NO_AUDIENCE;
  }

  /** Caches a store answer and merges it into the request's audience. */
  private fill(misses: string[], results: (UserSegments | undefined)[], known: Set<string> | undefined, nowSec: number): Audience {
    let segments = known;
    for (let i = 0; i < misses.length; i++) {
      const r = results[i];
      if (r) {
        this.cache?.set(misses[i], r);
        segments = this.collect(r, nowSec, segments);
      } else this.cache?.set(misses[i], NONE, { ttl: this.settings.negativeTtlMs });
    }
    return segments ? { segments, complete: true } : NO_AUDIENCE;
  }

  /** Adds the live, unexpired segments of one key. */
  private collect(memberships: UserSegments, nowSec: number, into: Set<string> | undefined): Set<string> | undefined {
    for (let i = 0; i < memberships.length; i++) {
      const m = memberships[i];
      if (m.expiresAt > nowSec && this.live.has(m.segment)) (into ??= new Set()).add(m.segment);
    }
    return into;
  }

  /**
   * Segments that exist now (as of the last registry refresh); with `owners`, only those owned by
   * one of these advertisers (shared segments, which have no owner, are not among them).
   */
  liveSegments(owners?: ReadonlySet<string>): ReadonlySet<string> {
    if (!owners) return new Set(this.live.keys());
    const out = new Set<string>();
    for (const [id, m] of this.live) if (m.advertiserId !== undefined && owners.has(m.advertiserId)) out.add(id);
    return out;
  }

  segmentTtl(id: string): number {
    return this.live.get(id)?.ttlSeconds ?? DEFAULT_SEGMENT_TTL_SECONDS;
  }

  /** Forget cached entries (after this instance changed them). */
  invalidate(keys: readonly string[]): void {
    if (this.cache) for (const k of keys) this.cache.delete(k);
  }

  /** Re-reads the set of live segments when the store's metadata version moved. */
  async refreshRegistry(force = false): Promise<void> {
    const version = await this.store.metaVersion();
    if (!force && version === this.registryVersion) return;
    const metas = await this.store.listSegments();
    this.live = new Map(metas.filter(isLiveSegment).map((m) => [m.id, m]));
    this.rules = [...this.live.values()].filter((m) => m.rule !== undefined);
    this.rulesIndexed = indexRules(this.rules);
    this.registryVersion = version;
  }

  /** Live rule audiences (as of the last registry refresh). */
  ruleSegments(): readonly SegmentMeta[] {
    return this.rules;
  }

  /** The same rules indexed by advertiser, source and event name, for the online path (rule-index.ts). */
  ruleIndex(): RuleIndex {
    return this.rulesIndexed;
  }

  startRegistryPolling(): void {
    this.poller = setInterval(() => void this.refreshRegistry().catch(() => {}), this.settings.registryPollMs);
    this.poller.unref();
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    await this.store.close();
  }
}
