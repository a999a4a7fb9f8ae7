/**
 * The ConfigStore contract: every backend (in process, Redis, Redis Cluster) must pass it. Each test
 * gets a fresh, empty store from `makeStore` and gives it back through `cleanup`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bundleFromStore,
  seedStore,
  type AuditDraft,
  type ConfigStore,
  type StoredDoc,
} from '../../src/campaigns/config-store.js';
import { ConfigError } from '../../src/errors.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';

export interface StoreUnderTest {
  readonly store: ConfigStore;
  /** A second store on the same data (another bidder instance); the memory backend has none. */
  readonly peer?: () => ConfigStore;
  readonly cleanup: () => Promise<void>;
}

const T = '2026-01-01T00:00:00.000Z';
export const doc = (id: string, version: number, extra: Record<string, unknown> = {}): StoredDoc => ({
  id,
  version,
  createdAt: T,
  updatedAt: T,
  createdBy: 'k',
  updatedBy: 'k',
  ...extra,
});
const audit = (kind: string, id: string, extra: Partial<AuditDraft> = {}): AuditDraft => ({
  at: new Date().toISOString(),
  actor: { keyId: 'k1', role: 'admin' },
  action: 'create',
  kind,
  id,
  before: null,
  after: { id },
  ...extra,
});

export const contractBundle: ConfigBundle = {
  defaultExchange: 'ex1',
  exchanges: [{ id: 'ex1', seat: 'seat' }],
  currencies: { base: 'USD', rates: { EUR: 0.9 } },
  advertisers: [{ id: 'adv1', name: 'Adv', domains: ['adv.example'] }],
  campaigns: [
    {
      id: 'c1',
      advertiserId: 'adv1',
      bid: { base: 1, max: 2 },
      creatives: [{ id: 'cr1', type: 'banner', w: 300, h: 250, html: '<b>1</b>' }],
    },
  ],
};

/** Resolves with the next `n` versions a watcher hears (or what it heard by `ms`). */
function hear(store: ConfigStore, until: number, since: number, ms = 3_000): Promise<number[]> {
  return new Promise((resolve) => {
    const heard: number[] = [];
    const stop = store.watch((v) => {
      heard.push(v);
      if (v >= until) done();
    }, since);
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      stop();
      resolve(heard);
    }
  });
}

export function configStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`ConfigStore contract: ${name}`, () => {
    let s: StoreUnderTest;
    let store: ConfigStore;
    beforeEach(async () => {
      s = await makeStore();
      store = s.store;
    });
    afterEach(async () => {
      await s.cleanup();
    });

    it('starts empty at version 0', async () => {
      expect(await store.version()).toBe(0);
      expect(await store.list('campaigns')).toEqual([]);
      expect(await store.get('campaigns', 'x')).toBeUndefined();
      const all = await store.readAll();
      expect(all.version).toBe(0);
      expect([...all.docs.campaigns.values()]).toEqual([]);
    });

    it('put, get, list; each bundle-kind commit bumps the version by one; keys do not', async () => {
      expect(await store.put('advertisers', doc('a', 1, { name: 'A' }), 0)).toEqual({ ok: true, version: 1 });
      expect(await store.put('campaigns', doc('c', 1, { advertiserId: 'a' }), 0)).toEqual({ ok: true, version: 2 });
      expect(await store.put('keys', doc('k', 1, { role: 'admin' }), 0)).toEqual({ ok: true, version: 2 });
      expect(await store.version()).toBe(2);
      expect(await store.get('advertisers', 'a')).toEqual(doc('a', 1, { name: 'A' }));
      expect(await store.get('keys', 'k')).toEqual(doc('k', 1, { role: 'admin' }));
      expect((await store.list('campaigns')).map((d) => d.id)).toEqual(['c']);
      const all = await store.readAll();
      expect(all.version).toBe(2);
      expect(all.docs.advertisers.get('a')).toEqual(doc('a', 1, { name: 'A' }));
      expect('keys' in all.docs).toBe(false);
    });

    it('documents come back as copies: changing what get returned changes nothing', async () => {
      await store.put('advertisers', doc('a', 1, { name: 'A', domains: ['x'] }), 0);
      const got = (await store.get('advertisers', 'a')) as unknown as { domains: string[] };
      got.domains.push('mutated');
      expect((await store.get('advertisers', 'a'))!.domains).toEqual(['x']);
    });

    it('compare-and-set: a write must name the revision it read (0: must not exist)', async () => {
      await store.put('campaigns', doc('c', 1), 0);
      expect(await store.put('campaigns', doc('c', 1), 0)).toEqual({ ok: false, conflict: { kind: 'campaigns', id: 'c', expected: 0, actual: 1 } });
      expect(await store.put('campaigns', doc('c', 3), 2)).toEqual({ ok: false, conflict: { kind: 'campaigns', id: 'c', expected: 2, actual: 1 } });
      expect((await store.put('campaigns', doc('c', 2, { name: 'two' }), 1)).ok).toBe(true);
      expect((await store.get('campaigns', 'c'))!.name).toBe('two');
      expect(await store.version()).toBe(2); // the refused writes did not bump it
    });

    it('a commit is all or nothing: one stale revision refuses every write and audit entry of it', async () => {
      await store.put('campaigns', doc('c', 1), 0);
      const r = await store.commit(
        [
          { kind: 'advertisers', id: 'a', expect: 0, doc: doc('a', 1) },
          { kind: 'campaigns', id: 'c', expect: 5, doc: doc('c', 6) },
        ],
        [audit('advertisers', 'a'), audit('campaigns', 'c')],
      );
      expect(r.ok).toBe(false);
      expect(await store.get('advertisers', 'a')).toBeUndefined();
      expect(await store.version()).toBe(1);
      expect((await store.queryAudit({ limit: 10 })).items).toEqual([]);
    });

    it('ifVersion: a commit only lands while the config version is still the one the writer validated against', async () => {
      await store.put('advertisers', doc('a', 1), 0);
      const stale = await store.commit([{ kind: 'campaigns', id: 'c', expect: 0, doc: doc('c', 1) }], [], { ifVersion: 0 });
      expect(stale).toEqual({ ok: false, conflict: { kind: 'config', id: 'version', expected: 0, actual: 1 } });
      expect((await store.commit([{ kind: 'campaigns', id: 'c', expect: 0, doc: doc('c', 1) }], [], { ifVersion: 1 })).ok).toBe(true);
    });

    it('a null document removes it for good (its id can be created again)', async () => {
      await store.put('exchanges', doc('e', 1), 0);
      expect((await store.delete('exchanges', 'e', 1)).ok).toBe(true);
      expect(await store.get('exchanges', 'e')).toBeUndefined();
      expect((await store.put('exchanges', doc('e', 1), 0)).ok).toBe(true);
    });

    it('malformed writes are programming errors', async () => {
      await expect(store.commit([{ kind: 'campaigns', id: 'c', expect: 0, doc: doc('c', 2) }])).rejects.toThrow(/version 1/);
      await expect(store.commit([{ kind: 'campaigns', id: 'c', expect: 0, doc: doc('d', 1) }])).rejects.toThrow(/id c/);
    });

    it('notify: an empty commit can bump the version (and record audit entries)', async () => {
      const r = await store.commit([], [audit('audiences', 's1')], { notify: true });
      expect(r).toEqual({ ok: true, version: 1 });
      const r2 = await store.commit([], [audit('audiences', 's2')]);
      expect(r2).toEqual({ ok: true, version: 1 });
      expect((await store.queryAudit({ limit: 10 })).items.map((e) => [e.id, e.seq, e.configVersion])).toEqual([
        ['s2', 2, 1],
        ['s1', 1, 1],
      ]);
    });

    it('audit: entries get gap-free seqs and the config version, newest first; filters and cursor paging', async () => {
      for (let i = 1; i <= 30; i++) {
        const kind = i % 3 === 0 ? 'campaigns' : 'advertisers';
        const r = await store.commit(
          [{ kind, id: `r${i}`, expect: 0, doc: doc(`r${i}`, 1) }],
          [audit(kind, `r${i}`, { actor: { keyId: i % 2 ? 'odd' : 'even', role: 'admin' }, advertiserId: i % 5 === 0 ? 'adv5' : 'other' })],
        );
        expect(r.ok).toBe(true);
      }
      const first = await store.queryAudit({ limit: 7 });
      expect(first.items.map((e) => e.seq)).toEqual([30, 29, 28, 27, 26, 25, 24]);
      expect(first.items[0]).toMatchObject({ seq: 30, configVersion: 30, kind: 'campaigns', id: 'r30', action: 'create', after: { id: 'r30' }, before: null });
      expect(first.nextCursor).toBe(24);
      const second = await store.queryAudit({ limit: 7, before: first.nextCursor! });
      expect(second.items.map((e) => e.seq)).toEqual([23, 22, 21, 20, 19, 18, 17]);
      // every page, back to the first entry
      const seen: number[] = [];
      let cursor: number | undefined;
      for (;;) {
        const p = await store.queryAudit({ limit: 4, before: cursor });
        seen.push(...p.items.map((e) => e.seq));
        if (p.nextCursor === null) break;
        cursor = p.nextCursor;
      }
      expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i));

      expect((await store.queryAudit({ limit: 100, kind: 'campaigns' })).items.map((e) => e.id)).toEqual(
        [30, 27, 24, 21, 18, 15, 12, 9, 6, 3].map((i) => `r${i}`),
      );
      expect((await store.queryAudit({ limit: 100, actor: 'even', kind: 'campaigns' })).items.map((e) => e.id)).toEqual(['r30', 'r24', 'r18', 'r12', 'r6']);
      expect((await store.queryAudit({ limit: 100, id: 'r7' })).items.map((e) => e.seq)).toEqual([7]);
      expect((await store.queryAudit({ limit: 100, advertiserIds: ['adv5'] })).items.map((e) => e.id)).toEqual(['r30', 'r25', 'r20', 'r15', 'r10', 'r5']);
      expect((await store.queryAudit({ limit: 100, advertiserId: 'adv5', kind: 'advertisers' })).items.map((e) => e.id)).toEqual(['r25', 'r20', 'r10', 'r5']);
      expect((await store.queryAudit({ limit: 2, kind: 'campaigns' })).nextCursor).toBe(27);
      expect((await store.queryAudit({ limit: 100, action: 'delete' })).items).toEqual([]);
      expect((await store.queryAudit({ limit: 100, since: new Date(Date.now() + 60_000).toISOString() })).items).toEqual([]);
      expect((await store.queryAudit({ limit: 100, until: '2000-01-01T00:00:00Z' })).items).toEqual([]);
    });

    it('watch: hears new config versions in increasing order, ending on the latest; keys-only commits are not config changes', async () => {
      const heard = hear(store, 3, 0);
      await store.put('advertisers', doc('a', 1), 0);
      await store.put('keys', doc('k', 1), 0);
      await store.put('campaigns', doc('c', 1), 0);
      await store.commit([], [], { notify: true });
      const versions = await heard;
      expect(versions.at(-1)).toBe(3);
      expect(versions).toEqual([...new Set(versions)].sort());
      expect(versions.every((v) => v >= 1 && v <= 3)).toBe(true);
      // after a while, nothing more (keys commits and repeats are not news)
      await store.put('keys', doc('k', 2), 1);
      await new Promise((r) => setTimeout(r, store.kind === 'redis' ? 700 : 10));
      const late: number[] = [];
      const stop = store.watch((v) => late.push(v), 3);
      await new Promise((r) => setTimeout(r, store.kind === 'redis' ? 700 : 10));
      stop();
      expect(late).toEqual([]);
    });

    it('watch: a watcher that knows an older version hears the current one at once', async () => {
      await store.put('advertisers', doc('a', 1), 0);
      await store.put('campaigns', doc('c', 1), 0);
      expect(await hear(store, 2, 0)).toEqual([2]);
    });

    it('watch: another instance on the same store hears the change within a second', async () => {
      if (!s.peer) return; // one process only: nothing to share
      const peer = s.peer();
      try {
        const heard = hear(peer, 1, 0);
        await new Promise((r) => setTimeout(r, 100)); // subscribed
        const t0 = performance.now();
        await store.put('campaigns', doc('c', 1), 0);
        expect(await heard).toEqual([1]);
        expect(performance.now() - t0).toBeLessThan(1_000);
        expect(await peer.get('campaigns', 'c')).toEqual(doc('c', 1));
      } finally {
        await peer.close();
      }
    });

    it('seedStore seeds an empty store once, as one commit; a second seed (another instance) does nothing', async () => {
      const [a, b] = await Promise.all([seedStore(store, contractBundle), seedStore(s.peer?.() ?? store, contractBundle)]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      expect(await store.version()).toBe(1);
      expect(await seedStore(store, contractBundle)).toBe(false);
      const cr = await store.get('creatives', 'cr1');
      expect(cr).toMatchObject({ id: 'cr1', campaignId: 'c1', advertiserId: 'adv1', status: 'approved', paused: false, version: 1 });
      const { version, bundle } = await bundleFromStore(store);
      expect(version).toBe(1);
      expect(bundle).toEqual({
        defaultExchange: 'ex1',
        currencies: contractBundle.currencies,
        exchanges: [{ id: 'ex1', seat: 'seat' }],
        advertisers: [{ id: 'adv1', name: 'Adv', domains: ['adv.example'] }],
        campaigns: [{ ...contractBundle.campaigns![0], status: 'active' }],
      });
      expect((await store.queryAudit({ limit: 100 })).items.map((e) => `${e.action} ${e.kind}/${e.id}`).sort()).toEqual(
        ['seed advertisers/adv1', 'seed campaigns/c1', 'seed creatives/cr1', 'seed exchanges/ex1', 'seed settings/global'],
      );
    });

    it('bundleFromStore leaves out what must not bid: paused, deleted, unapproved, and campaigns left without creatives', async () => {
      await seedStore(store, contractBundle);
      const put = async (kind: 'campaigns' | 'creatives' | 'advertisers' | 'exchanges', d: StoredDoc) => {
        const cur = await store.get(kind, d.id);
        expect((await store.put(kind, { ...d, version: (cur?.version ?? 0) + 1 }, cur?.version ?? 0)).ok).toBe(true);
      };
      const base = { advertiserId: 'adv1', bid: { base: 1, max: 2 } };
      const cr = (id: string, campaignId: string, extra: Record<string, unknown> = {}) =>
        doc(id, 1, { campaignId, advertiserId: 'adv1', type: 'banner', w: 300, h: 250, html: 'x', status: 'approved', paused: false, ...extra });
      await put('campaigns', doc('paused', 1, { ...base, status: 'paused' }));
      await put('creatives', cr('p-cr', 'paused'));
      await put('campaigns', doc('deleted', 1, { ...base, status: 'active', deletedAt: T }));
      await put('creatives', cr('d-cr', 'deleted'));
      await put('campaigns', doc('pending-only', 1, { ...base, status: 'active' }));
      await put('creatives', cr('pend', 'pending-only', { status: 'pending' }));
      await put('creatives', cr('rej', 'pending-only', { status: 'rejected', reason: 'no' }));
      await put('creatives', cr('paused-cr', 'pending-only', { paused: true }));
      await put('creatives', cr('deleted-cr', 'pending-only', { deletedAt: T }));
      await put('campaigns', doc('mixed', 1, { ...base, status: 'active' }));
      await put('creatives', cr('mixed-ok', 'mixed'));
      await put('creatives', cr('mixed-pend', 'mixed', { status: 'pending' }));
      await put('exchanges', doc('ex-paused', 1, { seat: 's', status: 'paused' }));
      const { bundle } = await bundleFromStore(store);
      expect(bundle.campaigns!.map((c) => [c.id, c.creatives.map((x) => x.id)])).toEqual([
        ['c1', ['cr1']],
        ['mixed', ['mixed-ok']],
      ]);
      expect(bundle.exchanges!.map((e) => e.id)).toEqual(['ex1']);
      // the creative in the bundle has only file-schema fields
      expect(bundle.campaigns![1].creatives[0]).toEqual({ id: 'mixed-ok', type: 'banner', w: 300, h: 250, html: 'x' });

      // An advertiser paused: its campaigns stop.
      await put('advertisers', doc('adv1', 1, { name: 'Adv', domains: ['adv.example'], status: 'paused' }));
      expect((await bundleFromStore(store)).bundle.campaigns).toEqual([]);
    });

    it('bundleFromStore validates like the file loader: a state the loader would refuse is refused with kind/id paths', async () => {
      await seedStore(store, contractBundle);
      const c = (await store.get('campaigns', 'c1'))!;
      await store.put('campaigns', { ...c, version: 2, bid: { base: 5, max: 2 } }, 1);
      const e = await bundleFromStore(store).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).errors).toContainEqual({ path: 'campaigns/c1#/bid/base', code: 'out_of_range', message: 'must not exceed bid.max' });
    });

    it('readAll is one version: concurrent commits never show half of a commit', async () => {
      // Each commit writes two documents that must agree; a reader must never see them disagree.
      await store.commit(
        [
          { kind: 'advertisers', id: 'x', expect: 0, doc: doc('x', 1, { n: 0 }) },
          { kind: 'exchanges', id: 'y', expect: 0, doc: doc('y', 1, { n: 0 }) },
        ],
        [],
      );
      let writing = true;
      const writer = (async () => {
        for (let n = 1; n <= 60; n++)
          await store.commit(
            [
              { kind: 'advertisers', id: 'x', expect: n, doc: doc('x', n + 1, { n }) },
              { kind: 'exchanges', id: 'y', expect: n, doc: doc('y', n + 1, { n }) },
            ],
            [],
          );
        writing = false;
      })();
      const reader = s.peer?.() ?? store;
      let reads = 0;
      try {
        while (writing) {
          const st = await reader.readAll();
          expect(st.docs.advertisers.get('x')!.n).toBe(st.docs.exchanges.get('y')!.n);
          expect(st.version).toBe((st.docs.advertisers.get('x')!.n as number) + 1);
          reads++;
        }
      } finally {
        await writer;
        if (reader !== store) await reader.close();
      }
      expect(reads).toBeGreaterThan(0);
    });
  });
}
