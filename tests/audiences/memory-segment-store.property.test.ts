/**
 * The in-process store against a plain model (Maps), under random sequences of uploads, removals,
 * segment drops and lookups: enough users and churn to grow, rehash and compact its off-heap table.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';

type Model = Map<string, Map<string, number>>;

const NOW = 1_800_000_000;
const keyArb = fc.oneof(
  fc.integer({ min: 0, max: 3_000 }).map((n) => `uid:u${n}`),
  fc.integer({ min: 0, max: 50 }).map((n) => `eid:é✓.example:${n}`), // non-ASCII keys
  fc.string({ minLength: 1, maxLength: 40 }).map((s) => `xid:x:${s}`),
);
const segArb = fc.integer({ min: 0, max: 12 }).map((n) => `seg-${n}`);
const expiryArb = fc.oneof(fc.constant(NOW - 10), fc.integer({ min: NOW + 1, max: NOW + 1_000 }));

const opArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), rows: fc.array(fc.record({ key: keyArb, segments: fc.uniqueArray(segArb, { maxLength: 4 }), expiresAt: expiryArb }), { maxLength: 200 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), segment: segArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('lookup' as const), keys: fc.array(keyArb, { maxLength: 20 }) }) },
);

function modelLookup(model: Model, key: string): Map<string, number> | undefined {
  const m = model.get(key);
  if (!m) return undefined;
  for (const e of m.values()) if (e > NOW) return m;
  model.delete(key); // the store forgets users whose memberships all expired
  return undefined;
}

describe('MemorySegmentStore (off-heap users) against a model', () => {
  it('answers every lookup as the model does, and counts segment sizes alike', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const store = new MemorySegmentStore(() => NOW);
        const model: Model = new Map();
        for (const o of ops) {
          if (o.op === 'add') {
            for (const s of new Set(o.rows.flatMap((r) => r.segments))) await store.putSegment({ id: s, name: s, ttlSeconds: 60, createdAt: '2026-01-01T00:00:00Z' });
            await store.addMemberships(o.rows);
            for (const r of o.rows) {
              if (r.segments.length === 0) continue;
              let m = model.get(r.key);
              if (!m) model.set(r.key, (m = new Map()));
              for (const s of r.segments) m.set(s, Math.max(m.get(s) ?? 0, r.expiresAt));
            }
          } else if (o.op === 'remove') {
            expect(await store.removeUser(o.key)).toBe(model.delete(o.key));
          } else if (o.op === 'drop') {
            const existed = (await store.getSegment(o.segment)) !== undefined;
            expect(await store.dropSegment(o.segment)).toBe(existed);
            if (existed)
              for (const [k, m] of model) {
                m.delete(o.segment);
                if (m.size === 0) model.delete(k);
              }
          } else {
            const got = store.lookupNow(o.keys);
            o.keys.forEach((k, i) => {
              const want = modelLookup(model, k);
              const have = got[i];
              if (!want) expect(have).toBeUndefined();
              else expect(new Map(have!.map((m) => [m.segment, m.expiresAt]))).toEqual(want);
            });
          }
        }
        // Every user, at the end.
        for (const k of [...model.keys()]) {
          const want = modelLookup(model, k);
          const [have] = store.lookupNow([k]);
          if (!want) expect(have).toBeUndefined();
          else expect(new Map(have!.map((m) => [m.segment, m.expiresAt]))).toEqual(want);
        }
        expect(store.userCount).toBe(model.size);
      }),
      { numRuns: 60 },
    );
  });

  it('holds 200,000 users through heavy churn (growth, deletes, compaction) without losing one', async () => {
    const store = new MemorySegmentStore(() => NOW);
    const rows = (from: number, to: number, seg: string) => Array.from({ length: to - from }, (_, i) => ({ key: `ifa:${(from + i).toString(36)}-device`, segments: [seg], expiresAt: NOW + 100 }));
    await store.addMemberships(rows(0, 200_000, 'a'));
    for (let i = 0; i < 200_000; i += 2) await store.removeUser(`ifa:${i.toString(36)}-device`); // half gone: compaction
    await store.addMemberships(rows(1, 200_000, 'b').filter((_, i) => i % 2 === 0)); // the odd ones get a second segment: lists move
    expect(store.userCount).toBe(100_000);
    const keys = Array.from({ length: 200_000 }, (_, i) => `ifa:${i.toString(36)}-device`);
    const got = store.lookupNow(keys);
    got.forEach((u, i) => {
      if (i % 2 === 0) expect(u).toBeUndefined();
      else expect(u!.map((m) => m.segment).sort()).toEqual(['a', 'b']);
    });
    expect((await store.getSegment('a'))?.approximateSize).toBe(undefined); // no metadata was put
    await store.putSegment({ id: 'b', name: 'b', ttlSeconds: 60, createdAt: '2026-01-01T00:00:00Z' });
    expect((await store.getSegment('b'))?.approximateSize).toBe(100_000);
    expect(await store.dropSegment('b')).toBe(true);
    expect(store.lookupNow([keys[1]])[0]!.map((m) => m.segment)).toEqual(['a']);
  });
});
