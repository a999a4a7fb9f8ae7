/**
 * The FrequencyStore contract, run against every backend (frequency-store.test.ts): counters per
 * user, field and bucket; and the ended bids (an impression recorded with its bid id, or a loss)
 * come back with the read of the user's counters that includes them, whichever client wrote them,
 * so the thread that made a bid stops counting it exactly when the counters start to.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bucketOf, type FrequencyStore } from '../../src/money/frequency-store.js';

export interface StoreUnderTest {
  readonly store: FrequencyStore;
  /** Another client of the same data (another instance of the fleet); the memory store is one process's, so the same. */
  readonly other: FrequencyStore;
  readonly cleanup: () => Promise<void>;
}

const NOW_SEC = Math.floor(Date.now() / 1000);
const hour = { window: 'hour' as const, bucket: bucketOf('hour', NOW_SEC) };
const next = { window: 'hour' as const, bucket: bucketOf('hour', NOW_SEC + 3600) };
const life = { window: 'lifetime' as const, bucket: bucketOf('lifetime', NOW_SEC) };

export function frequencyStoreContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`FrequencyStore contract: ${name}`, () => {
    let t: StoreUnderTest;
    let store: FrequencyStore;
    let n = 0;
    let u: string;
    beforeEach(async () => {
      t = await make();
      store = t.store;
      u = `user${++n}-${Math.random().toString(36).slice(2, 8)}`;
    });
    afterEach(async () => t.cleanup());

    it('counts per user, field and bucket; other buckets and users stay apart', async () => {
      expect(await store.counts(u, [hour, life])).toEqual({ rows: [{}, {}], ended: [] });
      await store.record(u, { fields: ['c:a', 'cr:x', 'a:adv'], buckets: [hour, life] });
      await store.record(u, { fields: ['c:a', 'cr:y', 'a:adv'], buckets: [hour, life] });
      await store.record(`${u}-2`, { fields: ['c:a'], buckets: [hour] });
      expect((await store.counts(u, [hour, next, life])).rows).toEqual([
        { 'c:a': 2, 'cr:x': 1, 'cr:y': 1, 'a:adv': 2 },
        {},
        { 'c:a': 2, 'cr:x': 1, 'cr:y': 1, 'a:adv': 2 },
      ]);
      expect(await store.counts(`${u}-2`, [hour])).toEqual({ rows: [{ 'c:a': 1 }], ended: [] });
    });

    it('any string is a user of its own: braces, colons, unicode, the empty string', async () => {
      const users = ['', '}', '}x', '~}x', '{', '{}', 'a}b', 'a}c', 'x:y', '~', 'ü'];
      for (const [i, user] of users.entries()) {
        for (let k = 0; k <= i; k++) await store.record(user, { fields: ['c:a'], buckets: [hour, life], bidId: `b${i}-${k}` });
      }
      for (const [i, user] of users.entries()) {
        const read = await t.other.counts(user, [hour, life]);
        expect(read.rows, JSON.stringify(user)).toEqual([{ 'c:a': i + 1 }, { 'c:a': i + 1 }]);
        expect([...read.ended].sort(), JSON.stringify(user)).toEqual(Array.from({ length: i + 1 }, (_, k) => `b${i}-${k}`).sort());
      }
    });

    it('an impression recorded with its bid id comes back as ended with the counters that include it, to any client', async () => {
      await t.other.record(u, { fields: ['c:a'], buckets: [hour], bidId: 'h1-1' });
      await t.other.record(u, { fields: ['c:a'], buckets: [hour], bidId: 'h2-7' });
      const read = await store.counts(u, [hour]);
      expect(read.rows).toEqual([{ 'c:a': 2 }]);
      expect([...read.ended].sort()).toEqual(['h1-1', 'h2-7']);
      expect((await store.counts(`${u}-2`, [hour])).ended).toEqual([]); // another user's bids stay theirs
    });

    it('a loss ends its bid without counting anything', async () => {
      await t.other.end(u, 'h1-3');
      expect(await store.counts(u, [hour, life])).toEqual({ rows: [{}, {}], ended: ['h1-3'] });
    });

    it('a read during concurrent records sees each ended bid only with its impression counted', async () => {
      const writes = Array.from({ length: 40 }, (_, i) => t.other.record(u, { fields: ['c:a'], buckets: [hour, life], bidId: `h-${i}` }));
      const reads = Array.from({ length: 40 }, () => store.counts(u, [hour, life]));
      await Promise.all(writes);
      for (const r of await Promise.all(reads)) {
        expect(r.rows[0]['c:a'] ?? 0).toBe(r.ended.length);
        expect(r.rows[1]['c:a'] ?? 0).toBe(r.ended.length);
      }
      expect((await store.counts(u, [hour])).ended).toHaveLength(40);
    });
  });
}
