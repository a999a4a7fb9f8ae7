/**
 * The online path's rule index (rule-index.ts) and RuleAudiences.learn on it: an event reaches only
 * its own advertiser's rules of its source and name; campaign-limited notices rules; an excluded
 * event takes the user out; a registry change swaps the index; the index is frozen.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { AudienceService, DEFAULT_AUDIENCE_SETTINGS } from '../../src/audiences/audience-service.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import { eventKey, RuleAudiences } from '../../src/audiences/rule-audiences.js';
import { indexRules, rulesFor } from '../../src/audiences/rule-index.js';
import type { SegmentMeta } from '../../src/audiences/segment-store.js';
import { AudienceMetrics } from '../../src/metrics/audience-metrics.js';

const DAY = 86_400;
const meta = (id: string, advertiserId: string | undefined, rule: SegmentMeta['rule']): SegmentMeta => ({
  id, name: id, advertiserId, ttlSeconds: rule!.lookbackDays * DAY, createdAt: new Date(0).toISOString(), rule,
});
const VISITORS = meta('acme-visitors', 'acme', { source: 'pixel', events: ['visit', 'product_view'], excludeEvents: ['purchase'], lookbackDays: 30 });
const CART = meta('acme-cart', 'acme', { source: 'pixel', events: ['add_to_cart', 'visit'], lookbackDays: 7 });
const CLICKERS = meta('acme-clickers', 'acme', { source: 'notices', events: ['click'], campaignIds: ['x'], lookbackDays: 7 });
const GLOBEX = meta('globex-visitors', 'globex', { source: 'pixel', events: ['visit'], lookbackDays: 30 });
const OWNERLESS = meta('nobody', undefined, { source: 'pixel', events: ['visit'], lookbackDays: 30 });

describe('indexRules', () => {
  const index = indexRules([VISITORS, CART, CLICKERS, GLOBEX, OWNERLESS]);

  it("leads an event to its own advertiser's rules of its source and name only", () => {
    expect(rulesFor(index, 'acme', 'pixel', 'visit').map((a) => [a.segment, a.exclude, a.lookbackSec])).toEqual([
      ['acme-visitors', false, 30 * DAY],
      ['acme-cart', false, 7 * DAY],
    ]);
    expect(rulesFor(index, 'acme', 'pixel', 'purchase').map((a) => [a.segment, a.exclude])).toEqual([['acme-visitors', true]]);
    expect(rulesFor(index, 'globex', 'pixel', 'visit').map((a) => a.segment)).toEqual(['globex-visitors']);
    expect(rulesFor(index, 'acme', 'notices', 'visit')).toEqual([]);
    expect(rulesFor(index, 'acme', 'pixel', 'click')).toEqual([]);
    expect(rulesFor(index, 'initech', 'pixel', 'visit')).toEqual([]);
    expect([...index.keys()].sort()).toEqual(['acme', 'globex']); // a rule without an owner reads nobody's events
    expect([...rulesFor(index, 'acme', 'notices', 'click')[0].campaignIds!]).toEqual(['x']);
  });

  it('is frozen: the online path cannot change a snapshot other events read', () => {
    const list = rulesFor(index, 'acme', 'pixel', 'visit');
    expect(Object.isFrozen(list)).toBe(true);
    expect(Object.isFrozen(list[0])).toBe(true);
  });
});

describe('RuleAudiences.learn on the index', () => {
  async function setup(metas: SegmentMeta[]) {
    const store = new MemorySegmentStore();
    for (const m of metas) await store.putSegment(m);
    const audiences = new AudienceService(store, new AudienceMetrics(new Registry()), DEFAULT_AUDIENCE_SETTINGS);
    await audiences.refreshRegistry(true);
    return { store, audiences, rules: new RuleAudiences(audiences) };
  }
  const segmentsOf = async (store: MemorySegmentStore, userKey: string) => ((await store.lookup([eventKey(userKey)]))[0] ?? []).map((m) => [m.segment, m.expiresAt]).sort();
  const now = Math.floor(Date.now() / 1000);

  it('adds the user to every matching rule for its lookback, takes them out on an excluded event, and ignores what matches nothing', async () => {
    const { store, rules } = await setup([VISITORS, CART, CLICKERS, GLOBEX]);
    await rules.learn({ source: 'pixel', advertiserId: 'acme', event: 'visit', userKey: 'u1', nowSec: now });
    expect(await segmentsOf(store, 'u1')).toEqual([['acme-cart', now + 7 * DAY], ['acme-visitors', now + 30 * DAY]]);
    await rules.learn({ source: 'pixel', advertiserId: 'acme', event: 'purchase', userKey: 'u1', nowSec: now });
    expect(await segmentsOf(store, 'u1')).toEqual([['acme-cart', now + 7 * DAY]]);
    expect(rules.learn({ source: 'pixel', advertiserId: 'acme', event: 'signup', userKey: 'u2', nowSec: now })).toBeUndefined();
    expect(rules.learn({ source: 'pixel', advertiserId: 'initech', event: 'visit', userKey: 'u2', nowSec: now })).toBeUndefined();
    expect(await segmentsOf(store, 'u2')).toEqual([]);
  });

  it('a campaign-limited notices rule counts only its campaigns', async () => {
    const { store, rules } = await setup([CLICKERS]);
    expect(rules.learn({ source: 'notices', advertiserId: 'acme', event: 'click', campaignId: 'y', userKey: 'u3', nowSec: now })).toBeUndefined();
    expect(rules.learn({ source: 'notices', advertiserId: 'acme', event: 'click', userKey: 'u3', nowSec: now })).toBeUndefined();
    await rules.learn({ source: 'notices', advertiserId: 'acme', event: 'click', campaignId: 'x', userKey: 'u3', nowSec: now });
    expect(await segmentsOf(store, 'u3')).toEqual([['acme-clickers', now + 7 * DAY]]);
  });

  it('a registry change swaps the index in: a paused rule stops learning, a new one starts', async () => {
    const { store, audiences, rules } = await setup([VISITORS]);
    await store.putSegment({ ...VISITORS, status: 'paused' });
    await store.putSegment(GLOBEX);
    await audiences.refreshRegistry();
    expect(rules.learn({ source: 'pixel', advertiserId: 'acme', event: 'visit', userKey: 'u4', nowSec: now })).toBeUndefined();
    await rules.learn({ source: 'pixel', advertiserId: 'globex', event: 'visit', userKey: 'u4', nowSec: now });
    expect(await segmentsOf(store, 'u4')).toEqual([['globex-visitors', now + 30 * DAY]]);
  });
});
