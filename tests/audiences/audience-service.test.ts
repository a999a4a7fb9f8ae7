/**
 * AudienceService at unit level: the LRU cache (positive and negative entries), the per-request
 * lookup budget, the circuit breaker and the audience metrics, against a fake store whose latency
 * and failures the test controls, and against the in-process MemorySegmentStore.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS, NO_AUDIENCE, type Audience, type AudienceSettings } from '../../src/audiences/audience-service.js';
import { CircuitBreaker } from '../../src/audiences/circuit-breaker.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import type { MembershipRow, SegmentMeta, SegmentStore, UserSegments } from '../../src/audiences/segment-store.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';

const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A remote-like store (no `lookupNow`): answers from `users`, at once (`mode: 'ok'`), never until
 * the test releases it (`'hold'`), or with an error (`'fail'`). Every lookup is recorded.
 */
class FakeStore implements SegmentStore {
  readonly kind = 'redis' as const;
  readonly users = new Map<string, UserSegments>();
  readonly metas = new Map<string, SegmentMeta>();
  mode: 'ok' | 'hold' | 'fail' = 'ok';
  readonly calls: string[][] = [];
  readonly held: { keys: readonly string[]; d: Deferred<(UserSegments | undefined)[]> }[] = [];
  private version = 0;

  constructor(segments: string[] = []) {
    for (const id of segments) this.metas.set(id, meta(id));
  }

  lookup(keys: readonly string[]): Promise<(UserSegments | undefined)[]> {
    this.calls.push([...keys]);
    if (this.mode === 'fail') return Promise.reject(new Error('store down'));
    if (this.mode === 'hold') {
      const d = deferred<(UserSegments | undefined)[]>();
      this.held.push({ keys, d });
      return d.promise;
    }
    return Promise.resolve(this.answer(keys));
  }

  answer(keys: readonly string[]): (UserSegments | undefined)[] {
    return keys.map((k) => this.users.get(k));
  }

  /** Lets every held lookup answer now (with the data as it is now). */
  release(): void {
    for (const h of this.held.splice(0)) h.d.resolve(this.answer(h.keys));
  }

  failHeld(): void {
    for (const h of this.held.splice(0)) h.d.reject(new Error('late failure'));
  }

  async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    for (const r of rows) this.users.set(r.key, r.segments.map((segment) => ({ segment, expiresAt: r.expiresAt })));
  }
  async removeUser(key: string): Promise<boolean> {
    return this.users.delete(key);
  }
  async removeMembership(key: string, segment: string): Promise<boolean> {
    const list = this.users.get(key);
    if (!list?.some((m) => m.segment === segment)) return false;
    this.users.set(key, list.filter((m) => m.segment !== segment));
    return true;
  }
  async putMatch(exchangeKey: string, userKey: string, expiresAt: number): Promise<void> {
    this.users.set(exchangeKey, [...(this.users.get(exchangeKey) ?? []), { segment: `=${userKey}`, expiresAt }]);
  }
  async putSegment(m: SegmentMeta): Promise<void> {
    this.metas.set(m.id, m);
    this.version++;
  }
  async getSegment(id: string): Promise<SegmentMeta | undefined> {
    return this.metas.get(id);
  }
  async listSegments(): Promise<SegmentMeta[]> {
    return [...this.metas.values()];
  }
  async dropSegment(id: string): Promise<boolean> {
    const had = this.metas.delete(id);
    if (had) this.version++;
    return had;
  }
  async metaVersion(): Promise<number> {
    return this.version;
  }
  async close(): Promise<void> {}
}

function meta(id: string): SegmentMeta {
  return { id, name: id, ttlSeconds: 3600, createdAt: new Date(0).toISOString() };
}

const member = (segment: string, ttl = 3600) => ({ segment, expiresAt: nowSec() + ttl });

async function setup(store: SegmentStore, settings: Partial<AudienceSettings> = {}) {
  const registry = new Registry();
  const metrics = new AudienceMetrics(registry);
  const service = new AudienceService(store, metrics, { ...DEFAULT_AUDIENCE_SETTINGS, ...settings });
  await service.refreshRegistry(true);
  /** Current value of a metric (with the given labels), 0 when absent. */
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const m = registry.getSingleMetric(name);
    if (!m) throw new Error(`no metric ${name}`);
    const { values } = await m.get();
    const v = values.find((x) => Object.entries(labels).every(([k, want]) => x.labels[k] === want));
    return v?.value ?? 0;
  };
  return { service, metrics, registry, value };
}

const sorted = (a: Audience) => [...a.segments].sort();

afterEach(() => {
  vi.useRealTimers();
});

describe('AudienceService cache', () => {
  it('answers a cached user synchronously, without asking the store again', async () => {
    const store = new FakeStore(['autos', 'vip']);
    store.users.set('uid:alice', [member('autos'), member('vip')]);
    const { service, value } = await setup(store);

    const first = service.resolve(['uid:alice'], 50);
    expect(first).toBeInstanceOf(Promise);
    const a1 = await first;
    expect(a1.complete).toBe(true);
    expect(sorted(a1)).toEqual(['autos', 'vip']);

    const second = service.resolve(['uid:alice'], 50);
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as Audience).complete).toBe(true);
    expect(sorted(second as Audience)).toEqual(['autos', 'vip']);
    expect(store.calls).toEqual([['uid:alice']]);

    expect(await value('audience_cache_lookups_total', { result: 'miss' })).toBe(1);
    expect(await value('audience_cache_lookups_total', { result: 'hit' })).toBe(1);
    expect(await value('audience_cache_lookups_total', { result: 'negative_hit' })).toBe(0);
    expect(await value('audience_store_lookups_total', { result: 'ok' })).toBe(1);
  });

  it('sends all of one request’s misses to the store together and merges them with its hits', async () => {
    const store = new FakeStore(['autos', 'vip', 'sports']);
    store.users.set('uid:alice', [member('autos')]);
    store.users.set('ifa:abc', [member('vip')]);
    store.users.set('eid:x.com:1', [member('sports')]);
    const { service, value } = await setup(store);
    await service.resolve(['uid:alice'], 50);

    const a = await service.resolve(['uid:alice', 'ifa:abc', 'eid:x.com:1'], 50);
    expect(sorted(a)).toEqual(['autos', 'sports', 'vip']);
    expect(a.complete).toBe(true);
    expect(store.calls).toEqual([['uid:alice'], ['ifa:abc', 'eid:x.com:1']]);
    expect(await value('audience_cache_lookups_total', { result: 'hit' })).toBe(1);
    expect(await value('audience_cache_lookups_total', { result: 'miss' })).toBe(3);
    expect(await value('audience_store_lookups_total', { result: 'ok' })).toBe(2);
  });

  it('remembers unknown users (negative entries) for negativeTtlMs, then asks again', async () => {
    const store = new FakeStore(['autos']);
    const { service, value } = await setup(store, { negativeTtlMs: 200 });

    const first = await service.resolve(['uid:nobody'], 50);
    expect(first).toEqual(NO_AUDIENCE);
    const second = service.resolve(['uid:nobody'], 50);
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toEqual({ segments: new Set(), complete: true });
    expect(store.calls).toHaveLength(1);
    expect(await value('audience_cache_lookups_total', { result: 'negative_hit' })).toBe(1);

    // The user was uploaded meanwhile; once the negative entry has expired the store is asked again.
    store.users.set('uid:nobody', [member('autos')]);
    await sleep(300);
    const third = service.resolve(['uid:nobody'], 50);
    expect(third).toBeInstanceOf(Promise);
    expect(sorted(await third)).toEqual(['autos']);
    expect(store.calls).toHaveLength(2);
    expect(await value('audience_cache_lookups_total', { result: 'miss' })).toBe(2);
  });

  it('asks the store again after a positive entry passes cacheTtlMs', async () => {
    const store = new FakeStore(['autos', 'vip']);
    store.users.set('uid:alice', [member('autos')]);
    const { service } = await setup(store, { cacheTtlMs: 200 });
    expect(sorted(await service.resolve(['uid:alice'], 50))).toEqual(['autos']);
    store.users.set('uid:alice', [member('autos'), member('vip')]);
    expect(sorted(service.resolve(['uid:alice'], 50) as Audience)).toEqual(['autos']); // still cached
    await sleep(300);
    const again = service.resolve(['uid:alice'], 50);
    expect(again).toBeInstanceOf(Promise);
    expect(sorted(await again)).toEqual(['autos', 'vip']);
  });

  it('invalidate() forgets cached users', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:alice', [member('autos')]);
    const { service } = await setup(store);
    await service.resolve(['uid:alice'], 50);
    store.users.delete('uid:alice');
    service.invalidate(['uid:alice']);
    const r = service.resolve(['uid:alice'], 50);
    expect(r).toBeInstanceOf(Promise);
    expect(await r).toEqual(NO_AUDIENCE);
  });

  it('answers a request without user ids at once, without touching cache or store', async () => {
    const store = new FakeStore(['autos']);
    const { service, value } = await setup(store);
    expect(service.resolve([], 50)).toBe(NO_AUDIENCE);
    expect(store.calls).toHaveLength(0);
    expect(await value('audience_cache_lookups_total', { result: 'miss' })).toBe(0);
  });
});

describe('AudienceService: what counts as a membership', () => {
  it('ignores expired memberships and segments that are not in the registry', async () => {
    const store = new FakeStore(['autos', 'old']);
    store.users.set('uid:alice', [member('autos'), { segment: 'old', expiresAt: nowSec() - 1 }, member('ghost')]);
    const { service } = await setup(store);
    const fetched = await service.resolve(['uid:alice'], 50);
    expect(sorted(fetched)).toEqual(['autos']);
    expect(fetched.complete).toBe(true);
    // Same from the cache.
    expect(sorted(service.resolve(['uid:alice'], 50) as Audience)).toEqual(['autos']);
  });

  it('a user whose every membership is expired or unknown has no segments, and the answer is complete', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:bob', [{ segment: 'autos', expiresAt: nowSec() - 10 }, member('ghost')]);
    const { service } = await setup(store);
    const a = await service.resolve(['uid:bob'], 50);
    expect(a.segments.size).toBe(0);
    expect(a.complete).toBe(true);
  });

  it('a cached membership that expires while cached stops counting', async () => {
    const store = new FakeStore(['autos', 'vip']);
    store.users.set('uid:alice', [member('autos', 3600), member('vip', 5)]);
    const { service } = await setup(store);
    expect(sorted(await service.resolve(['uid:alice'], 50))).toEqual(['autos', 'vip']);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 10_000); // the LRU's own clock (performance.now) does not move: still cached
    const later = service.resolve(['uid:alice'], 50);
    expect(later).not.toBeInstanceOf(Promise);
    expect(sorted(later as Audience)).toEqual(['autos']);
    expect(store.calls).toHaveLength(1);
  });

  it('follows the registry: a segment created later counts for cached users, a dropped one stops counting', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:alice', [member('autos'), member('new-seg')]);
    const { service } = await setup(store);
    expect(sorted(await service.resolve(['uid:alice'], 50))).toEqual(['autos']);
    await store.putSegment(meta('new-seg'));
    await service.refreshRegistry();
    expect(sorted(service.resolve(['uid:alice'], 50) as Audience)).toEqual(['autos', 'new-seg']);
    await store.dropSegment('autos');
    await service.refreshRegistry();
    expect(sorted(service.resolve(['uid:alice'], 50) as Audience)).toEqual(['new-seg']);
    expect(store.calls).toHaveLength(1);
  });

  it('liveSegments(owners): only live segments of those advertisers (not shared ones, not paused ones)', async () => {
    const store = new FakeStore(['shared']);
    await store.putSegment({ ...meta('a-1'), advertiserId: 'a' });
    await store.putSegment({ ...meta('a-paused'), advertiserId: 'a', status: 'paused' });
    await store.putSegment({ ...meta('b-1'), advertiserId: 'b' });
    await store.putSegment({ ...meta('c-1'), advertiserId: 'c' });
    const { service } = await setup(store);
    expect([...service.liveSegments()].sort()).toEqual(['a-1', 'b-1', 'c-1', 'shared']);
    expect([...service.liveSegments(new Set(['a']))]).toEqual(['a-1']);
    expect([...service.liveSegments(new Set(['a', 'b']))].sort()).toEqual(['a-1', 'b-1']);
    expect([...service.liveSegments(new Set())]).toEqual([]);
  });

  it('asks an in-process store synchronously, even on the first lookup, with the same filtering', async () => {
    let storeNow = nowSec();
    const store = new MemorySegmentStore(() => storeNow);
    await store.putSegment(meta('autos'));
    await store.putSegment(meta('vip'));
    await store.addMemberships([
      { key: 'uid:alice', segments: ['autos', 'vip'], expiresAt: nowSec() + 3600 },
      { key: 'uid:alice', segments: ['ghost'], expiresAt: nowSec() + 3600 },
      { key: 'uid:carol', segments: ['vip'], expiresAt: nowSec() + 2 },
    ]);
    const { service } = await setup(store);
    const a = service.resolve(['uid:alice', 'uid:nobody'], 50);
    expect(a).not.toBeInstanceOf(Promise);
    expect(sorted(a as Audience)).toEqual(['autos', 'vip']);
    expect((a as Audience).complete).toBe(true);
    expect(service.resolve(['uid:nobody'], 50)).toEqual(NO_AUDIENCE);
    expect(sorted(service.resolve(['uid:carol'], 0) as Audience)).toEqual(['vip']); // no budget needed in process
    storeNow += 5;
    expect(service.resolve(['uid:carol'], 50)).toEqual(NO_AUDIENCE);
    // Removal is visible at once: there is no cache in front of an in-process store.
    await store.removeUser('uid:alice');
    expect(service.resolve(['uid:alice'], 50)).toEqual(NO_AUDIENCE);
  });
});

describe('AudienceService budget', () => {
  it('a slow store costs at most the budget: complete:false with what is known, and the late answer fills the cache', async () => {
    const store = new FakeStore(['autos', 'vip']);
    store.users.set('uid:alice', [member('autos')]);
    store.users.set('ifa:slow', [member('vip')]);
    const { service, value } = await setup(store, { breaker: { failureThreshold: 100, openMs: 1000, maxOpenMs: 1000 } });
    await service.resolve(['uid:alice'], 50);

    store.mode = 'hold';
    const started = performance.now();
    const pending = service.resolve(['uid:alice', 'ifa:slow'], 25);
    expect(pending).toBeInstanceOf(Promise);
    const partial = await pending;
    const took = performance.now() - started;
    expect(partial.complete).toBe(false);
    expect(sorted(partial)).toEqual(['autos']); // the cached part is kept
    expect(took).toBeGreaterThanOrEqual(20);
    expect(took).toBeLessThan(1000);
    expect(await value('audience_store_lookups_total', { result: 'timeout' })).toBe(1);
    expect(await value('audience_store_lookups_total', { result: 'ok' })).toBe(1);

    // A second request for the same user while the first lookup is still out: again within budget.
    const meanwhile = await service.resolve(['ifa:slow'], 10);
    expect(meanwhile.complete).toBe(false);
    expect(meanwhile.segments.size).toBe(0);

    store.release();
    await sleep(0);
    const after = service.resolve(['uid:alice', 'ifa:slow'], 25);
    expect(after).not.toBeInstanceOf(Promise);
    expect(after).toEqual({ segments: new Set(['autos', 'vip']), complete: true });
    // The late answer is timed, but not counted as an ok lookup for a request.
    expect(await value('audience_store_lookups_total', { result: 'ok' })).toBe(1);
  });

  it('a late answer for an unknown user fills a negative entry', async () => {
    const store = new FakeStore(['autos']);
    const { service } = await setup(store);
    store.mode = 'hold';
    expect((await service.resolve(['uid:late'], 5)).complete).toBe(false);
    store.release();
    await sleep(0);
    expect(service.resolve(['uid:late'], 5)).toEqual({ segments: new Set(), complete: true });
    expect(store.calls).toHaveLength(1);
  });

  it('with no budget left, misses are not looked up and the audience is incomplete', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:alice', [member('autos')]);
    const { service, value } = await setup(store);
    await service.resolve(['uid:alice'], 50);
    const a = service.resolve(['uid:alice', 'uid:other'], 0);
    expect(a).not.toBeInstanceOf(Promise);
    expect(a).toEqual({ segments: new Set(['autos']), complete: false });
    expect(service.resolve(['uid:other'], -3)).toEqual({ segments: new Set(), complete: false });
    expect(store.calls).toHaveLength(1);
    expect(await value('audience_store_lookups_total', { result: 'no_budget' })).toBe(2);
  });

  it('a failing store: the request gets complete:false at once, errors are counted and nothing is cached', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:alice', [member('autos')]);
    const { service, value } = await setup(store);
    store.mode = 'fail';
    const started = performance.now();
    const a = await service.resolve(['uid:alice'], 500);
    expect(performance.now() - started).toBeLessThan(400); // did not wait for the budget
    expect(a).toEqual({ segments: new Set(), complete: false });
    expect(await value('audience_store_lookups_total', { result: 'error' })).toBe(1);
    store.mode = 'ok';
    const b = service.resolve(['uid:alice'], 50);
    expect(b).toBeInstanceOf(Promise); // the failure was not cached
    expect(sorted(await b)).toEqual(['autos']);
    expect(await value('audience_store_lookups_total', { result: 'error' })).toBe(1);
    expect(await value('audience_store_lookups_total', { result: 'ok' })).toBe(1);
  });

  it('a failure after the request already timed out is not counted twice', async () => {
    const store = new FakeStore(['autos']);
    const { service, value } = await setup(store);
    store.mode = 'hold';
    await service.resolve(['uid:x'], 5);
    store.failHeld();
    await sleep(0);
    expect(await value('audience_store_lookups_total', { result: 'timeout' })).toBe(1);
    expect(await value('audience_store_lookups_total', { result: 'error' })).toBe(0);
    // And nothing was cached.
    store.mode = 'ok';
    expect(service.resolve(['uid:x'], 5)).toBeInstanceOf(Promise);
  });
});

describe('AudienceService circuit breaker', () => {
  const breaker = { failureThreshold: 3, openMs: 300, maxOpenMs: 1200 };

  it('opens after the threshold, stops calling the store, half-opens after openMs and closes on success', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:alice', [member('autos')]);
    const { service, value } = await setup(store, { breaker });
    expect(await value('audience_store_breaker_state')).toBe(0);

    store.mode = 'fail';
    for (let i = 0; i < 2; i++) expect((await service.resolve([`uid:u${i}`], 50)).complete).toBe(false);
    expect(service.breaker.state).toBe('closed'); // below the threshold
    store.mode = 'hold'; // a timeout counts as a failure too
    expect((await service.resolve(['uid:u2'], 5)).complete).toBe(false);
    expect(service.breaker.state).toBe('open');
    expect(await value('audience_store_breaker_state')).toBe(2);
    expect(await value('audience_store_breaker_transitions_total', { state: 'open' })).toBe(1);
    store.failHeld();

    // Open: refused at once (synchronously), the store is not called.
    const calls = store.calls.length;
    store.mode = 'ok';
    for (let i = 0; i < 5; i++) {
      const r = service.resolve(['uid:alice'], 50);
      expect(r).not.toBeInstanceOf(Promise);
      expect(r).toEqual({ segments: new Set(), complete: false });
    }
    expect(store.calls.length).toBe(calls);
    expect(await value('audience_store_lookups_total', { result: 'breaker_open' })).toBe(5);
    expect(await value('audience_store_lookups_total', { result: 'error' })).toBe(2);
    expect(await value('audience_store_lookups_total', { result: 'timeout' })).toBe(1);

    await sleep(breaker.openMs + 20);
    // Half-open: exactly one probe goes through; others are still refused while it is out.
    store.mode = 'hold';
    const probe = service.resolve(['uid:alice'], 200);
    expect(probe).toBeInstanceOf(Promise);
    expect(service.breaker.state).toBe('half_open');
    expect(await value('audience_store_breaker_state')).toBe(1);
    expect(service.resolve(['uid:bob'], 50)).toEqual({ segments: new Set(), complete: false });
    expect(store.calls.length).toBe(calls + 1);

    store.release();
    expect(await probe).toEqual({ segments: new Set(['autos']), complete: true });
    expect(service.breaker.state).toBe('closed');
    expect(await value('audience_store_breaker_state')).toBe(0);
    expect(await value('audience_store_breaker_transitions_total', { state: 'half_open' })).toBe(1);
    expect(await value('audience_store_breaker_transitions_total', { state: 'closed' })).toBe(1);

    // Closed again: lookups flow.
    store.mode = 'ok';
    expect(await service.resolve(['uid:bob'], 50)).toEqual(NO_AUDIENCE);
    expect(store.calls.length).toBe(calls + 2);
  });

  it('a failed probe opens it again for longer', async () => {
    const store = new FakeStore(['autos']);
    const { service, value } = await setup(store, { breaker });
    store.mode = 'fail';
    for (let i = 0; i < 3; i++) await service.resolve([`uid:u${i}`], 50);
    expect(service.breaker.state).toBe('open');
    await sleep(breaker.openMs + 20);
    await service.resolve(['uid:probe'], 50); // the probe fails
    expect(service.breaker.state).toBe('open');
    expect(await value('audience_store_breaker_transitions_total', { state: 'open' })).toBe(2);
    const calls = store.calls.length;
    await sleep(breaker.openMs + 30); // the first open period, but not the doubled one
    store.mode = 'ok';
    expect(service.resolve(['uid:probe'], 50)).not.toBeInstanceOf(Promise);
    expect(store.calls.length).toBe(calls);
    await sleep(breaker.openMs + 30);
    expect(await service.resolve(['uid:probe'], 50)).toEqual(NO_AUDIENCE);
    expect(service.breaker.state).toBe('closed');
  });

  it('a success resets the count of consecutive failures', async () => {
    const store = new FakeStore(['autos']);
    const { service } = await setup(store, { breaker });
    for (let round = 0; round < 3; round++) {
      store.mode = 'fail';
      await service.resolve([`uid:f${round}a`], 50);
      await service.resolve([`uid:f${round}b`], 50);
      store.mode = 'ok';
      await service.resolve([`uid:ok${round}`], 50);
    }
    expect(service.breaker.state).toBe('closed');
  });

  it('CircuitBreaker on its own clock: open time doubles up to maxOpenMs and resets after a success', () => {
    let t = 0;
    const changes: string[] = [];
    const b = new CircuitBreaker({ failureThreshold: 2, openMs: 100, maxOpenMs: 300 }, () => t, (s) => changes.push(s));
    b.failure();
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.allow()).toBe(false);
    t = 99;
    expect(b.allow()).toBe(false);
    t = 100;
    expect(b.allow()).toBe(true); // the probe
    expect(b.allow()).toBe(false); // only one at a time
    b.failure(); // → open for 200
    t = 299;
    expect(b.allow()).toBe(false);
    t = 300;
    expect(b.allow()).toBe(true);
    b.failure(); // → open for 300 (capped)
    t = 599;
    expect(b.allow()).toBe(false);
    t = 600;
    expect(b.allow()).toBe(true);
    b.failure(); // still 300
    t = 900;
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
    b.failure();
    b.failure(); // open again, for the base openMs
    t = 999;
    expect(b.allow()).toBe(false);
    t = 1000;
    expect(b.allow()).toBe(true);
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'open', 'half_open', 'open', 'half_open', 'closed', 'open', 'half_open']);
  });
});

describe('AudienceService: an exchange user id matched to one of ours', () => {
  it('in-process: the matched user’s segments come with the exchange key’s lookup, at once', async () => {
    const store = new MemorySegmentStore();
    await store.putSegment(meta('autos'));
    await store.putSegment(meta('vip'));
    await store.addMemberships([
      { key: 'uid:ours-1', segments: ['autos'], expiresAt: nowSec() + 3600 },
      { key: 'xid:ex1:abc', segments: ['vip'], expiresAt: nowSec() + 3600 },
    ]);
    await store.putMatch('xid:ex1:abc', 'uid:ours-1', nowSec() + 3600);
    const { service } = await setup(store);
    const a = service.resolve(['xid:ex1:abc'], 10) as Audience;
    expect(a.complete).toBe(true);
    expect(sorted(a)).toEqual(['autos', 'vip']);
    // A link on our own user's key points at the exchange's: not followed (its segments are not ours to borrow).
    expect(sorted(service.resolve(['uid:ours-1'], 10) as Audience)).toEqual(['autos']);
  });

  it('across the network: no second round trip in the request; the matched user is fetched for the next one', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:ours-1', [member('autos')]);
    await store.putMatch('xid:ex1:abc', 'uid:ours-1', nowSec() + 3600);
    const { service } = await setup(store);
    const first = await service.resolve(['xid:ex1:abc'], 50);
    expect(first.complete).toBe(false); // an exclusion could be hiding in the user not yet known
    expect(sorted(first)).toEqual([]);
    await sleep(5);
    expect(store.calls).toEqual([['xid:ex1:abc'], ['uid:ours-1']]);
    const second = service.resolve(['xid:ex1:abc'], 50);
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as Audience).complete).toBe(true);
    expect(sorted(second as Audience)).toEqual(['autos']);
    expect(store.calls).toHaveLength(2);
  });

  it('across the network: a matched user the request also names (buyeruid) is not fetched twice', async () => {
    const store = new FakeStore(['autos']);
    store.users.set('uid:ours-1', [member('autos')]);
    await store.putMatch('xid:ex1:abc', 'uid:ours-1', nowSec() + 3600);
    const { service } = await setup(store);
    const a = await service.resolve(['uid:ours-1', 'xid:ex1:abc'], 50);
    expect(a.complete).toBe(true);
    expect(sorted(a)).toEqual(['autos']);
    await sleep(5);
    expect(store.calls).toEqual([['uid:ours-1', 'xid:ex1:abc']]);
  });
});
