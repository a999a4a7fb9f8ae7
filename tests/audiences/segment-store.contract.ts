/**
 * The SegmentStore contract: every backend (in-process, Redis, Redis Cluster) must pass it.
 * Each test gets a fresh, empty store from `makeStore` and gives it back through `cleanup`.
 *
 * What the interface allows to differ is not asserted: the order of a user's memberships, and
 * whether expired memberships are still returned (they may be, with their expiry).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { matchedUser, type Membership, type MembershipRow, type SegmentMeta, type SegmentStore, type UserSegments } from '../../src/audiences/segment-store.js';

export interface StoreUnderTest {
  readonly store: SegmentStore;
  readonly cleanup: () => Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);

/** Memberships sorted by segment, for order-independent comparison. */
export function sorted(u: UserSegments | undefined): Membership[] | undefined {
  return u && [...u].map((m) => ({ segment: m.segment, expiresAt: m.expiresAt })).sort((a, b) => a.segment.localeCompare(b.segment));
}

export function meta(id: string, over: Partial<SegmentMeta> = {}): SegmentMeta {
  return { id, name: `Segment ${id}`, ttlSeconds: 86_400, createdAt: '2025-01-02T03:04:05.000Z', ...over };
}

/** Rows in batches, as an upload writes them. */
async function addInBatches(store: SegmentStore, rows: MembershipRow[], batch = 1_000): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) await store.addMemberships(rows.slice(i, i + batch));
}

export function segmentStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`SegmentStore contract: ${name}`, () => {
    let store: SegmentStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('lookup', () => {
      it('answers undefined for unknown keys, aligned with the input, and [] for no keys', async () => {
        expect(await store.lookup([])).toEqual([]);
        expect(await store.lookup(['uid:nobody', 'ifa:nobody', 'uid:nobody'])).toEqual([undefined, undefined, undefined]);
      });

      it('returns what addMemberships wrote, with expiries, aligned with the input (unknown and repeated keys included)', async () => {
        const t = now() + 3_600;
        await store.addMemberships([
          { key: 'uid:alice', segments: ['s1'], expiresAt: t },
          { key: 'ifa:6d92078a-8246-4ba4-ae5b-76104861e7dc', segments: ['s2'], expiresAt: t + 10 },
        ]);
        const r = await store.lookup(['uid:nobody', 'uid:alice', 'ifa:6d92078a-8246-4ba4-ae5b-76104861e7dc', 'uid:alice', 'uid:bob']);
        expect(r).toHaveLength(5);
        expect(r[0]).toBeUndefined();
        expect(sorted(r[1])).toEqual([{ segment: 's1', expiresAt: t }]);
        expect(sorted(r[2])).toEqual([{ segment: 's2', expiresAt: t + 10 }]);
        expect(sorted(r[3])).toEqual([{ segment: 's1', expiresAt: t }]);
        expect(r[4]).toBeUndefined();
      });

      it('keeps several segments of one row, and segments of several rows for the same key', async () => {
        const t = now() + 3_600;
        await store.addMemberships([
          { key: 'uid:alice', segments: ['s1', 's2', 's3'], expiresAt: t },
          { key: 'uid:alice', segments: ['s4'], expiresAt: t + 1 },
        ]);
        await store.addMemberships([{ key: 'uid:alice', segments: ['s5'], expiresAt: t + 2 }]);
        const [alice] = await store.lookup(['uid:alice']);
        expect(sorted(alice)).toEqual([
          { segment: 's1', expiresAt: t },
          { segment: 's2', expiresAt: t },
          { segment: 's3', expiresAt: t },
          { segment: 's4', expiresAt: t + 1 },
          { segment: 's5', expiresAt: t + 2 },
        ]);
      });

      it('keeps keys and segment ids verbatim (braces, glob characters, colons, unicode)', async () => {
        const t = now() + 3_600;
        const keys = ['uid:a{b}c', 'uid:}x{', 'uid:*', 'uid:[a-z]?', 'xid:ex-1:Üser 7', 'eid:uidapi.com:A4AAAABlh75XmviGJi-hkLGM96duGY7T'];
        await store.addMemberships(keys.map((key, i) => ({ key, segments: ['acme:crm.vip-2', `s${i}`], expiresAt: t + i })));
        const r = await store.lookup(keys);
        keys.forEach((_, i) =>
          expect(sorted(r[i])).toEqual([
            { segment: 'acme:crm.vip-2', expiresAt: t + i },
            { segment: `s${i}`, expiresAt: t + i },
          ]),
        );
        expect(await store.lookup(['uid:a', 'uid:a{b', 'uid:x', 'uid:ab'])).toEqual([undefined, undefined, undefined, undefined]);
      });
    });

    describe('expiry', () => {
      it('a later expiry wins; an earlier one never shortens a membership', async () => {
        const t = now() + 3_600;
        await store.addMemberships([{ key: 'uid:alice', segments: ['s1', 's2'], expiresAt: t }]);
        await store.addMemberships([{ key: 'uid:alice', segments: ['s1'], expiresAt: t + 500 }]);
        expect(sorted((await store.lookup(['uid:alice']))[0])).toEqual([
          { segment: 's1', expiresAt: t + 500 },
          { segment: 's2', expiresAt: t },
        ]);
        await store.addMemberships([{ key: 'uid:alice', segments: ['s1', 's2'], expiresAt: t - 100 }]);
        expect(sorted((await store.lookup(['uid:alice']))[0])).toEqual([
          { segment: 's1', expiresAt: t + 500 },
          { segment: 's2', expiresAt: t },
        ]);
      });

      it('the later of two expiries for the same membership wins within one batch, whatever the order', async () => {
        const t = now() + 3_600;
        await store.addMemberships([
          { key: 'uid:a', segments: ['s1'], expiresAt: t + 9 },
          { key: 'uid:a', segments: ['s1'], expiresAt: t },
          { key: 'uid:b', segments: ['s1'], expiresAt: t },
          { key: 'uid:b', segments: ['s1'], expiresAt: t + 9 },
        ]);
        const [a, b] = await store.lookup(['uid:a', 'uid:b']);
        expect(sorted(a)).toEqual([{ segment: 's1', expiresAt: t + 9 }]);
        expect(sorted(b)).toEqual([{ segment: 's1', expiresAt: t + 9 }]);
      });

      it('a new user whose only membership has already expired stays unknown', async () => {
        await store.addMemberships([{ key: 'uid:late', segments: ['s1'], expiresAt: now() - 60 }]);
        expect(await store.lookup(['uid:late'])).toEqual([undefined]);
      });

      it('an expired membership next to live ones never hides them (and if returned, carries its expiry)', async () => {
        const t = now() + 3_600;
        const past = now() - 60;
        await store.addMemberships([{ key: 'uid:alice', segments: ['live'], expiresAt: t }]);
        await store.addMemberships([{ key: 'uid:alice', segments: ['old'], expiresAt: past }]);
        const got = sorted((await store.lookup(['uid:alice']))[0]) ?? [];
        expect(got).toContainEqual({ segment: 'live', expiresAt: t });
        for (const m of got) if (m.segment === 'old') expect(m.expiresAt).toBe(past);
        expect(got.length).toBeLessThanOrEqual(2);
      });
    });

    describe('removeUser', () => {
      it('forgets every segment of one key, and only that key', async () => {
        const t = now() + 3_600;
        await store.addMemberships([
          { key: 'uid:alice', segments: ['s1', 's2'], expiresAt: t },
          { key: 'uid:bob', segments: ['s1'], expiresAt: t },
        ]);
        expect(await store.removeUser('uid:alice')).toBe(true);
        const [alice, bob] = await store.lookup(['uid:alice', 'uid:bob']);
        expect(alice).toBeUndefined();
        expect(sorted(bob)).toEqual([{ segment: 's1', expiresAt: t }]);
        expect(await store.removeUser('uid:alice')).toBe(false);
        expect(await store.removeUser('uid:never-seen')).toBe(false);
      });

      it('a removed user can be added again', async () => {
        const t = now() + 3_600;
        await store.addMemberships([{ key: 'uid:alice', segments: ['s1', 's2'], expiresAt: t }]);
        await store.removeUser('uid:alice');
        await store.addMemberships([{ key: 'uid:alice', segments: ['s3'], expiresAt: t }]);
        expect(sorted((await store.lookup(['uid:alice']))[0])).toEqual([{ segment: 's3', expiresAt: t }]);
      });
    });

    describe('removeMembership', () => {
      it('takes one key out of one segment, keeping its others and other keys', async () => {
        const t = now() + 3_600;
        await store.addMemberships([
          { key: 'uid:alice', segments: ['s1', 's2'], expiresAt: t },
          { key: 'uid:bob', segments: ['s1'], expiresAt: t },
        ]);
        expect(await store.removeMembership('uid:alice', 's1')).toBe(true);
        expect(await store.removeMembership('uid:alice', 's1')).toBe(false);
        expect(await store.removeMembership('uid:nobody', 's1')).toBe(false);
        const [alice, bob] = await store.lookup(['uid:alice', 'uid:bob']);
        expect(sorted(alice)).toEqual([{ segment: 's2', expiresAt: t }]);
        expect(sorted(bob)).toEqual([{ segment: 's1', expiresAt: t }]);
        expect(await store.removeMembership('uid:alice', 's2')).toBe(true);
        expect(await store.lookup(['uid:alice'])).toEqual([undefined]);
      });
    });

    describe('putMatch (the match table)', () => {
      it('links an exchange user key and our user key both ways, in the answer to their own lookups', async () => {
        const t = now() + 3_600;
        await store.putMatch('xid:ex1:abc', 'uid:ours-1', t);
        const [theirs, ours] = await store.lookup(['xid:ex1:abc', 'uid:ours-1']);
        expect(sorted(theirs)).toEqual([{ segment: '=uid:ours-1', expiresAt: t }]);
        expect(sorted(ours)).toEqual([{ segment: '=xid:ex1:abc', expiresAt: t }]);
        expect(matchedUser(theirs!, now())).toBe('uid:ours-1');
        expect(matchedUser(ours!, now())).toBeUndefined(); // only an exchange key points at one of our users
      });

      it('keeps the key\'s memberships beside the link, and keeps the later expiry of a repeated match', async () => {
        const t = now() + 3_600;
        await store.addMemberships([{ key: 'xid:ex1:abc', segments: ['s1'], expiresAt: t }]);
        await store.putMatch('xid:ex1:abc', 'uid:ours-1', t + 100);
        await store.putMatch('xid:ex1:abc', 'uid:ours-1', t + 50);
        expect(sorted((await store.lookup(['xid:ex1:abc']))[0])).toEqual([
          { segment: '=uid:ours-1', expiresAt: t + 100 },
          { segment: 's1', expiresAt: t },
        ]);
      });

      it('a newer match of the same exchange key replaces the older one', async () => {
        const t = now() + 3_600;
        await store.putMatch('xid:ex1:abc', 'uid:old', t);
        await store.putMatch('xid:ex1:abc', 'uid:new', t);
        const [theirs] = await store.lookup(['xid:ex1:abc']);
        expect(sorted(theirs)).toEqual([{ segment: '=uid:new', expiresAt: t }]);
        expect(matchedUser(theirs!, now())).toBe('uid:new');
      });

      it('one of our users can be matched by several exchanges', async () => {
        const t = now() + 3_600;
        await store.putMatch('xid:ex1:abc', 'uid:ours-1', t);
        await store.putMatch('xid:ex2:def', 'uid:ours-1', t);
        expect(sorted((await store.lookup(['uid:ours-1']))[0])).toEqual([
          { segment: '=xid:ex1:abc', expiresAt: t },
          { segment: '=xid:ex2:def', expiresAt: t },
        ]);
      });

      it('an expired match is not followed', async () => {
        await store.putMatch('xid:ex1:abc', 'uid:ours-1', now() - 5);
        const [theirs] = await store.lookup(['xid:ex1:abc']);
        expect(theirs === undefined || matchedUser(theirs, now()) === undefined).toBe(true);
      });

      it('removeUser of either key forgets both, with their segments, and nobody else', async () => {
        const t = now() + 3_600;
        await store.addMemberships([
          { key: 'uid:ours-1', segments: ['s1'], expiresAt: t },
          { key: 'xid:ex1:abc', segments: ['s2'], expiresAt: t },
          { key: 'uid:ours-2', segments: ['s1'], expiresAt: t },
        ]);
        await store.putMatch('xid:ex1:abc', 'uid:ours-1', t);
        await store.putMatch('xid:ex2:zzz', 'uid:ours-2', t);
        expect(await store.removeUser('uid:ours-1')).toBe(true);
        expect(await store.lookup(['uid:ours-1', 'xid:ex1:abc'])).toEqual([undefined, undefined]);
        expect(await store.removeUser('xid:ex2:zzz')).toBe(true);
        expect(await store.lookup(['uid:ours-2', 'xid:ex2:zzz'])).toEqual([undefined, undefined]);
      });
    });

    describe('segment metadata', () => {
      it('putSegment / getSegment round-trip every field; an unknown id gives undefined', async () => {
        expect(await store.getSegment('nope')).toBeUndefined();
        const m = meta('acme-crm-customers', { advertiserId: 'acme', ttlSeconds: 604_800 });
        await store.putSegment(m);
        expect(await store.getSegment('acme-crm-customers')).toEqual({ ...m, approximateSize: 0 });
        const shared = meta('in-market:shoes');
        await store.putSegment(shared);
        const got = await store.getSegment('in-market:shoes');
        expect(got).toEqual({ ...shared, approximateSize: 0 });
        expect(got?.advertiserId).toBeUndefined();
      });

      it('putSegment replaces the metadata; an approximateSize passed in is not stored', async () => {
        await store.putSegment(meta('s1'));
        await store.putSegment(meta('s1', { name: 'Renamed', ttlSeconds: 60, approximateSize: 999 }));
        expect(await store.getSegment('s1')).toEqual({ ...meta('s1', { name: 'Renamed', ttlSeconds: 60 }), approximateSize: 0 });
      });

      it('listSegments lists every segment once, with its size', async () => {
        expect(await store.listSegments()).toEqual([]);
        await store.putSegment(meta('b'));
        await store.putSegment(meta('a', { advertiserId: 'acme' }));
        await store.putSegment(meta('b', { name: 'B2' }));
        const t = now() + 3_600;
        await store.addMemberships([
          { key: 'uid:1', segments: ['a', 'b'], expiresAt: t },
          { key: 'uid:2', segments: ['a'], expiresAt: t },
          { key: 'uid:3', segments: ['a'], expiresAt: t },
        ]);
        const list = (await store.listSegments()).sort((x, y) => x.id.localeCompare(y.id));
        expect(list).toEqual([
          { ...meta('a', { advertiserId: 'acme' }), approximateSize: 3 },
          { ...meta('b', { name: 'B2' }), approximateSize: 1 },
        ]);
      });

      it('approximateSize counts distinct users (2,000 users, uploaded twice, within 3%)', async () => {
        await store.putSegment(meta('big'));
        await store.putSegment(meta('small'));
        const t = now() + 3_600;
        const rows: MembershipRow[] = [];
        for (let i = 0; i < 2_000; i++)
          rows.push({ key: `eid:uidapi.com:${i.toString(36).padStart(8, 'x')}AAAABlh75XmviGJi`, segments: i % 10 === 0 ? ['big', 'small'] : ['big'], expiresAt: t });
        await addInBatches(store, rows);
        await addInBatches(store, rows.slice(0, 500).map((r) => ({ ...r, expiresAt: t + 60 }))); // re-uploads count once
        const big = (await store.getSegment('big'))!.approximateSize!;
        const small = (await store.getSegment('small'))!.approximateSize!;
        expect(Math.abs(big - 2_000) / 2_000).toBeLessThan(0.03);
        expect(Math.abs(small - 200) / 200).toBeLessThan(0.03);
        const listed = new Map((await store.listSegments()).map((m) => [m.id, m.approximateSize]));
        expect(listed.get('big')).toBe(big);
        expect(listed.get('small')).toBe(small);
      });

      it('metaVersion changes on every put and drop (not on a drop of an unknown id, nor on uploads)', async () => {
        const v0 = await store.metaVersion();
        expect(typeof v0).toBe('number');
        await store.putSegment(meta('s1'));
        const v1 = await store.metaVersion();
        expect(v1).not.toBe(v0);
        await store.putSegment(meta('s1', { name: 'again' }));
        const v2 = await store.metaVersion();
        expect([v0, v1]).not.toContain(v2);
        await store.addMemberships([{ key: 'uid:alice', segments: ['s1'], expiresAt: now() + 60 }]);
        expect(await store.metaVersion()).toBe(v2);
        expect(await store.dropSegment('unknown')).toBe(false);
        expect(await store.metaVersion()).toBe(v2);
        expect(await store.dropSegment('s1')).toBe(true);
        const v3 = await store.metaVersion();
        expect([v0, v1, v2]).not.toContain(v3);
      });
    });

    describe('dropSegment', () => {
      it('removes the metadata and that segment\'s memberships only; other segments of the same users stay', async () => {
        const t = now() + 3_600;
        await store.putSegment(meta('s1'));
        await store.putSegment(meta('s2'));
        await store.addMemberships([
          { key: 'uid:alice', segments: ['s1', 's2'], expiresAt: t },
          { key: 'uid:bob', segments: ['s1'], expiresAt: t },
          { key: 'uid:carol', segments: ['s2', 'unregistered'], expiresAt: t + 5 },
        ]);
        expect(await store.dropSegment('s1')).toBe(true);
        expect(await store.getSegment('s1')).toBeUndefined();
        expect((await store.listSegments()).map((m) => m.id)).toEqual(['s2']);
        expect(await store.getSegment('s2')).toEqual({ ...meta('s2'), approximateSize: 2 });
        const [alice, bob, carol] = await store.lookup(['uid:alice', 'uid:bob', 'uid:carol']);
        expect(sorted(alice)).toEqual([{ segment: 's2', expiresAt: t }]);
        expect(bob).toBeUndefined(); // its only segment went
        expect(sorted(carol)).toEqual([
          { segment: 's2', expiresAt: t + 5 },
          { segment: 'unregistered', expiresAt: t + 5 },
        ]);
      });

      it('returns false for an unknown id and changes nothing', async () => {
        const t = now() + 3_600;
        await store.putSegment(meta('s1'));
        await store.addMemberships([{ key: 'uid:alice', segments: ['s1', 'orphan'], expiresAt: t }]);
        expect(await store.dropSegment('nope')).toBe(false);
        expect(await store.dropSegment('orphan')).toBe(false); // memberships without metadata are not a segment
        expect(sorted((await store.lookup(['uid:alice']))[0])).toEqual([
          { segment: 'orphan', expiresAt: t },
          { segment: 's1', expiresAt: t },
        ]);
        expect(await store.getSegment('s1')).toEqual({ ...meta('s1'), approximateSize: 1 });
        expect(await store.dropSegment('s1')).toBe(true);
        expect(await store.dropSegment('s1')).toBe(false);
      });

      it('sweeps every user of a large segment, whatever their keys look like', async () => {
        const t = now() + 3_600;
        await store.putSegment(meta('gone'));
        await store.putSegment(meta('kept'));
        const rows: MembershipRow[] = [];
        for (let i = 0; i < 2_500; i++) rows.push({ key: `uid:u${i}`, segments: i % 2 ? ['gone', 'kept'] : ['gone'], expiresAt: t });
        const odd = ['uid:a{b}c', 'uid:}x{', 'uid:*', 'uid:[a-z]?', 'xid:ex-1:Üser 7'];
        for (const key of odd) rows.push({ key, segments: ['gone', 'kept'], expiresAt: t });
        await addInBatches(store, rows);
        expect(await store.dropSegment('gone')).toBe(true);
        const r = await store.lookup(rows.map((row) => row.key));
        rows.forEach((row, i) => {
          if (row.segments.includes('kept')) expect(sorted(r[i]), row.key).toEqual([{ segment: 'kept', expiresAt: t }]);
          else expect(r[i], row.key).toBeUndefined();
        });
      });

      it('a segment created again after a drop starts empty', async () => {
        const t = now() + 3_600;
        await store.putSegment(meta('s1'));
        await store.addMemberships([{ key: 'uid:alice', segments: ['s1'], expiresAt: t }]);
        await store.dropSegment('s1');
        await store.putSegment(meta('s1'));
        expect(await store.getSegment('s1')).toEqual({ ...meta('s1'), approximateSize: 0 });
        expect(await store.lookup(['uid:alice'])).toEqual([undefined]);
        await store.addMemberships([{ key: 'uid:bob', segments: ['s1'], expiresAt: t }]);
        expect((await store.getSegment('s1'))!.approximateSize).toBe(1);
      });
    });
  });
}
