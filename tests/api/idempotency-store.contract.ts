/**
 * The IdempotencyStore contract: every backend (in process, Redis, Redis Cluster) must pass it.
 * Each test gets a fresh store from `makeStore` (and, for Redis, `peer`: another instance's store
 * on the same data) and gives it back through `cleanup`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IdempotencyStore, StoredReply } from '../../src/api/idempotency.js';

export interface IdempotencyStoreUnderTest {
  readonly store: IdempotencyStore;
  /** A second store on the same data (another API instance); the memory backend has none. */
  readonly peer?: () => IdempotencyStore;
  readonly cleanup: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REPLY: StoredReply = {
  status: 201,
  body: { id: 'adv-1', name: 'Acme', tags: ['a', 'b'], nested: { n: 1.5, none: null } },
  version: 1,
  headers: { location: '/api/v1/advertisers/adv-1' },
};
const LEASE = 60_000;
const DAY = 86_400_000;

export function idempotencyStoreContract(name: string, makeStore: () => Promise<IdempotencyStoreUnderTest>): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let t: IdempotencyStoreUnderTest;
    beforeEach(async () => {
      t = await makeStore();
    });
    afterEach(async () => {
      await t.store.close();
      await t.cleanup();
    });

    it('the first claim of a key wins; the same request meanwhile is running, another one a mismatch', async () => {
      const c = await t.store.claim('k1', 'fp-a', LEASE);
      expect(c.kind).toBe('claimed');
      expect(await t.store.claim('k1', 'fp-a', LEASE)).toEqual({ kind: 'running' });
      expect(await t.store.claim('k1', 'fp-b', LEASE)).toEqual({ kind: 'mismatch' });
      expect((await t.store.claim('k2', 'fp-a', LEASE)).kind).toBe('claimed'); // keys are independent
    });

    it('a completed key answers the same request with the kept reply, exactly, and another request with a mismatch', async () => {
      const c = await t.store.claim('k1', 'fp-a', LEASE);
      if (c.kind !== 'claimed') throw new Error('not claimed');
      await t.store.complete('k1', c.token, REPLY, DAY);
      expect(await t.store.claim('k1', 'fp-a', LEASE)).toEqual({ kind: 'done', reply: REPLY });
      expect(await t.store.claim('k1', 'fp-a', LEASE)).toEqual({ kind: 'done', reply: REPLY }); // and again
      expect(await t.store.claim('k1', 'fp-b', LEASE)).toEqual({ kind: 'mismatch' });
    });

    it('a text answer (no JSON body) is kept as well', async () => {
      const c = await t.store.claim('k1', 'fp', LEASE);
      if (c.kind !== 'claimed') throw new Error('not claimed');
      const text: StoredReply = { status: 200, text: 'a: 1\n', contentType: 'application/yaml' };
      await t.store.complete('k1', c.token, text, DAY);
      expect(await t.store.claim('k1', 'fp', LEASE)).toEqual({ kind: 'done', reply: text });
    });

    it('a released key runs again; a stale token can neither complete nor release the new claim', async () => {
      const first = await t.store.claim('k1', 'fp-a', LEASE);
      if (first.kind !== 'claimed') throw new Error('not claimed');
      await t.store.release('k1', first.token);
      const second = await t.store.claim('k1', 'fp-b', LEASE); // after a release, any request may take it
      if (second.kind !== 'claimed') throw new Error('not claimed after release');
      await t.store.complete('k1', first.token, { status: 201, body: { stale: true } }, DAY);
      await t.store.release('k1', first.token);
      expect(await t.store.claim('k1', 'fp-b', LEASE)).toEqual({ kind: 'running' });
      await t.store.complete('k1', second.token, REPLY, DAY);
      expect(await t.store.claim('k1', 'fp-b', LEASE)).toEqual({ kind: 'done', reply: REPLY });
    });

    it('a claim lasts its lease (a crashed instance does not hold a key for ever); an answer lasts its TTL', async () => {
      expect((await t.store.claim('lease', 'fp', 150)).kind).toBe('claimed');
      expect((await t.store.claim('lease', 'fp', 150)).kind).toBe('running');
      await sleep(300);
      const again = await t.store.claim('lease', 'fp', LEASE);
      expect(again.kind).toBe('claimed');
      if (again.kind !== 'claimed') return;
      await t.store.complete('lease', again.token, REPLY, 200);
      expect((await t.store.claim('lease', 'fp', LEASE)).kind).toBe('done');
      await sleep(350);
      expect((await t.store.claim('lease', 'fp', LEASE)).kind).toBe('claimed');
    });

    it('of many claims at once on one key, exactly one wins', async () => {
      const all = await Promise.all(Array.from({ length: 25 }, () => t.store.claim('race', 'fp', LEASE)));
      expect(all.filter((c) => c.kind === 'claimed')).toHaveLength(1);
      expect(all.filter((c) => c.kind === 'running')).toHaveLength(24);
    });

    it('another instance sees the claim and the answer (shared backends)', async (ctx) => {
      if (!t.peer) return ctx.skip();
      const other = t.peer();
      try {
        const c = await t.store.claim('k1', 'fp', LEASE);
        if (c.kind !== 'claimed') throw new Error('not claimed');
        const races = await Promise.all([other.claim('k1', 'fp', LEASE), other.claim('k1', 'fp-x', LEASE)]);
        expect(races).toEqual([{ kind: 'running' }, { kind: 'mismatch' }]);
        await t.store.complete('k1', c.token, REPLY, DAY);
        expect(await other.claim('k1', 'fp', LEASE)).toEqual({ kind: 'done', reply: REPLY });
        // A token is its instance's own: another instance cannot settle it.
        const d = await other.claim('k2', 'fp', LEASE);
        if (d.kind !== 'claimed') throw new Error('not claimed');
        await t.store.release('k2', d.token);
        expect(await other.claim('k2', 'fp', LEASE)).toEqual({ kind: 'running' });
      } finally {
        await other.close();
      }
    });
  });
}
