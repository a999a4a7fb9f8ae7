/**
 * The NoticeDedupe contract, run against every backend (notice-dedupe.test.ts): an event id is
 * first exactly once, whichever client (bidder instance, bid thread) asks and however many ask at
 * once; `forget` takes the mark back so the next notice is first again; ids are kept verbatim; and
 * a check that cannot be made answers "first" (record the notice) without throwing.
 *
 * What backends may differ in is not asserted here: how long past the window an id is remembered
 * (each backend's own tests cover its window).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NoticeDedupe } from '../../src/events/notice-dedupe.js';

export interface DedupeUnderTest {
  readonly dedupe: NoticeDedupe;
  /** Another client of the same marks (another instance or bid thread); the same object when there is only one. */
  readonly other: NoticeDedupe;
  readonly cleanup: () => Promise<void>;
}

export interface DedupeBackend {
  /** A fresh pair of clients on one fresh set of marks. */
  readonly make: () => Promise<DedupeUnderTest>;
  /** A client whose backend cannot be reached (absent for backends that cannot fail). */
  readonly unreachable?: () => Promise<{ readonly dedupe: NoticeDedupe; readonly cleanup: () => Promise<void> }>;
}

export function noticeDedupeContract(name: string, backend: DedupeBackend): void {
  describe(`NoticeDedupe contract: ${name}`, () => {
    let t: DedupeUnderTest;
    let d: NoticeDedupe;
    let n = 0;
    let id: (s: string) => string;
    beforeEach(async () => {
      t = await backend.make();
      d = t.dedupe;
      const run = `${++n}-${Math.random().toString(36).slice(2, 8)}`;
      id = (s) => `${s}:${run}`;
    });
    afterEach(async () => t.cleanup());

    it('an event id is first once; repeats are not; other ids are first on their own', async () => {
      expect(await d.firstSeen(id('billing:a'))).toBe(true);
      expect(await d.firstSeen(id('billing:a'))).toBe(false);
      expect(await d.firstSeen(id('billing:b'))).toBe(true);
      expect(await d.firstSeen(id('win:a'))).toBe(true);
      expect(await d.firstSeen(id('billing:a'))).toBe(false);
      expect(await d.firstSeen(id('win:a'))).toBe(false);
    });

    it('the mark is shared: an id first on one client is a repeat on the other', async () => {
      expect(await d.firstSeen(id('billing:x'))).toBe(true);
      expect(await t.other.firstSeen(id('billing:x'))).toBe(false);
      expect(await t.other.firstSeen(id('billing:y'))).toBe(true);
      expect(await d.firstSeen(id('billing:y'))).toBe(false);
    });

    it('of many concurrent checks of one id, from both clients, exactly one is first; in a batch of ids, each is first once', async () => {
      const one = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? t.other : d).firstSeen(id('billing:race'))));
      expect(one.filter(Boolean)).toHaveLength(1);
      const ids = Array.from({ length: 200 }, (_, i) => id(`imp:${i}`));
      const firsts = await Promise.all([...ids, ...ids].map((e, i) => (i % 3 ? d : t.other).firstSeen(e)));
      // Per id: exactly one of its two checks said first.
      for (let i = 0; i < ids.length; i++) expect([firsts[i], firsts[i + ids.length]].filter(Boolean)).toHaveLength(1);
    });

    it('forget takes the mark back, for every client: the next check is first again, once', async () => {
      expect(await d.firstSeen(id('billing:f'))).toBe(true);
      await d.forget(id('billing:f'));
      expect(await t.other.firstSeen(id('billing:f'))).toBe(true);
      expect(await d.firstSeen(id('billing:f'))).toBe(false);
      await t.other.forget(id('billing:f'));
      expect(await d.firstSeen(id('billing:f'))).toBe(true);
    });

    it('forget touches only its own id, and forgetting an id never seen is harmless', async () => {
      expect(await d.firstSeen(id('billing:keep'))).toBe(true);
      expect(await d.firstSeen(id('billing:drop'))).toBe(true);
      await d.forget(id('billing:drop'));
      await d.forget(id('never-seen'));
      expect(await d.firstSeen(id('billing:keep'))).toBe(false);
      expect(await d.firstSeen(id('billing:drop'))).toBe(true);
      expect(await d.firstSeen(id('never-seen'))).toBe(true);
    });

    it('keeps ids verbatim: ids differing only in braces, glob characters, colons, case or unicode are distinct', async () => {
      const ids = ['billing:{a}', 'billing:a', 'billing:*', 'billing:?', 'billing:[a]', 'billing::a', 'billing:A', 'billing:ä', 'billing:a\u0308', 'billing:' + 'x'.repeat(500)].map(id);
      for (const e of ids) expect(await d.firstSeen(e)).toBe(true);
      for (const e of ids) expect(await t.other.firstSeen(e)).toBe(false);
    });

    if (backend.unreachable) {
      const unreachable = backend.unreachable;
      it('when the check cannot be made, says first (record the notice) and forget does not throw', async () => {
        const u = await unreachable();
        try {
          expect(await u.dedupe.firstSeen(id('billing:down'))).toBe(true);
          expect(await u.dedupe.firstSeen(id('billing:down'))).toBe(true);
          await expect(u.dedupe.forget(id('billing:down'))).resolves.toBeUndefined();
        } finally {
          await u.cleanup();
        }
      });
    }
  });
}
