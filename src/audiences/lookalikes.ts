/**
 * Lookalike audiences: a segment whose metadata carries `lookalike: {seed, size, refreshHours}`
 * is rebuilt off the hot path, every `refreshHours`, from the profiles of the users the bidder has
 * seen (profiles.ts):
 *
 * 1. Positives: seen users who are members of the seed segment now (asked of the segment store
 *    under their profile key), or who carried the seed when they were seen (a rule-built seed's
 *    members are stored under event keys, not the profile key, but the bid resolves them and the
 *    profile keeps the segments it resolved). Negatives: a seeded sample of the other seen
 *    users (up to NEGATIVES_PER_POSITIVE per positive); they are unlabelled rather than known
 *    non-converters, which is what a lookalike has to work with.
 * 2. A logistic regression on hashed profile features (the hashing trick of models/features.ts,
 *    trained with the FTRL of models/ftrl.ts, a few passes in shuffled order).
 * 3. Every seen user outside the seed is scored; the `size` best become the lookalike's members.
 * 4. Publish as a full replacement: the new members are added (until two refresh periods from
 *    now, so a lookalike whose builder stopped lapses by itself) and the previous build's members
 *    not in the new one are removed. The previous members are known in process: after a restart
 *    the first build cannot remove them, and they lapse at their expiry.
 *
 * The segment ids of the seed and of the lookalike itself are never features (the label would
 * leak into them). Scoring yields to the event loop every SCORE_CHUNK profiles.
 *
 * One build per lookalike at a time: the schedule skips a lookalike being built (by
 * `POST /api/v1/audiences/{id}/rebuild`), and `build` refuses a second one (LookalikeBusy).
 */
import { Ftrl, sigmoid } from '../models/ftrl.js';
import { FIELD, hashFeature, hashNumber } from '../models/features.js';
import { log } from '../log.js';
import type { AudienceService } from './audience-service.js';
import type { Profile, ProfileStore } from './profiles.js';
import { isLiveSegment, type LookalikeSpec, type SegmentMeta, type SegmentStore } from './segment-store.js';

/** Field tags of profile features beyond models/features.ts (never renumber). */
const CATEGORY = 40;
const HOUR = 41;
const MAX_PROFILE_FEATURES = 8 + 3 * 12 + 24;

export const NEGATIVES_PER_POSITIVE = 4;
const EPOCHS = 4;
const LOOKUP_BATCH = 500;
const SCORE_CHUNK = 5_000;
const BIAS = hashNumber(FIELD.bias, 0);

/** A profile's hashed features into `out` (returns how many). `skip`: segment ids left out. */
export function profileFeatures(p: Profile, skip: readonly string[], out: Uint32Array): number {
  let n = 0;
  out[n++] = BIAS;
  if (p.country !== undefined) out[n++] = hashFeature(FIELD.country, p.country);
  if (p.region !== undefined) out[n++] = hashFeature(FIELD.region, `${p.country}/${p.region}`);
  if (p.deviceType !== undefined) out[n++] = hashNumber(FIELD.deviceType, p.deviceType);
  if (p.os !== undefined) out[n++] = hashFeature(FIELD.os, p.os);
  if (p.browser !== undefined) out[n++] = hashFeature(FIELD.browser, p.browser);
  for (const c of p.categories) out[n++] = hashFeature(CATEGORY, c);
  for (const d of p.domains) out[n++] = hashFeature(FIELD.domain, d);
  for (const s of p.segments) if (!skip.includes(s)) out[n++] = hashFeature(FIELD.segment, s);
  for (let h = 0; h < 24; h++) if (p.hours & (1 << h)) out[n++] = hashNumber(HOUR, h);
  return n;
}

/** A small seeded generator (mulberry32): the negative sample and training order repeat for a seed. */
function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LookalikeResult {
  readonly members: string[];
  readonly positives: number;
  readonly negatives: number;
  /** Every scored user outside the seed, best first (for measurement). */
  readonly ranked: string[];
}

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** Which of `keys` are members of `segment` now, asked of the store in batches. */
export async function membersOf(store: SegmentStore, keys: readonly string[], segment: string, nowSec: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < keys.length; i += LOOKUP_BATCH) {
    const batch = keys.slice(i, i + LOOKUP_BATCH);
    const found = await store.lookup(batch);
    found.forEach((ms, k) => {
      if (ms?.some((m) => m.segment === segment && m.expiresAt > nowSec)) out.add(batch[k]);
    });
  }
  return out;
}

/** Trains on the seed's seen members against a sample of the other seen users and ranks the rest. */
export async function scoreLookalike(
  profiles: ProfileStore,
  seedMembers: ReadonlySet<string>,
  size: number,
  skipSegments: readonly string[],
  seed = 1,
): Promise<LookalikeResult> {
  const rng = rngOf(seed);
  const positives: Profile[] = [];
  const others: [string, Profile][] = [];
  for (const [key, p] of profiles.entries()) {
    if (seedMembers.has(key)) positives.push(p);
    else others.push([key, p]);
  }
  if (positives.length === 0) return { members: [], positives: 0, negatives: 0, ranked: [] };
  // A seeded partial shuffle picks the negatives.
  const want = Math.min(others.length, positives.length * NEGATIVES_PER_POSITIVE);
  const pool = others.slice();
  for (let i = 0; i < want; i++) {
    const j = i + Math.floor(rng() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  const examples: [Profile, 0 | 1][] = [...positives.map((p) => [p, 1] as [Profile, 1]), ...pool.slice(0, want).map(([, p]) => [p, 0] as [Profile, 0])];
  const model = new Ftrl(18, { alpha: 0.1, beta: 1, l1: 0.5, l2: 1 });
  const hashes = new Uint32Array(MAX_PROFILE_FEATURES);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = examples.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [examples[i], examples[j]] = [examples[j], examples[i]];
    }
    for (const [p, label] of examples) model.train(hashes, profileFeatures(p, skipSegments, hashes), label);
    await yieldNow();
  }
  const scores = new Float64Array(others.length);
  for (let i = 0; i < others.length; i++) {
    scores[i] = sigmoid(model.logit(hashes, profileFeatures(others[i][1], skipSegments, hashes)));
    if (i % SCORE_CHUNK === SCORE_CHUNK - 1) await yieldNow();
  }
  const order = Array.from(others.keys()).sort((a, b) => scores[b] - scores[a]);
  const ranked = order.map((i) => others[i][0]);
  return { members: ranked.slice(0, size), positives: positives.length, negatives: want, ranked };
}

/** A build's outcome as published. */
export interface LookalikeBuild extends LookalikeResult {
  /** Members of the previous build (in this process) no longer in this one. */
  readonly removed: number;
  readonly seconds: number;
}

/** `build` was asked for a lookalike already being built. */
export class LookalikeBusy extends Error {
  constructor(readonly segment: string) {
    super(`lookalike "${segment}" is being built`);
  }
}

export interface LookalikeMetricsSink {
  built(id: string, seconds: number, size: number): void;
}

/** Builds and publishes the live lookalike audiences whose refresh is due, on a timer. */
export class LookalikeBuilder {
  /** The members each lookalike was last published with, and when. */
  private readonly published = new Map<string, { members: Set<string>; atMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Lookalikes being built now. */
  private readonly building = new Set<string>();

  constructor(
    private readonly audiences: AudienceService,
    private readonly profiles: ProfileStore,
    private readonly metrics?: LookalikeMetricsSink,
    private readonly now: () => number = Date.now,
  ) {}

  private get store(): SegmentStore {
    return this.audiences.store;
  }

  /** Builds every live lookalike whose last build is older than its refreshHours (all when `force`). */
  async runDue(force = false): Promise<string[]> {
    const built: string[] = [];
    for (const meta of await this.store.listSegments()) {
      if (meta.lookalike === undefined || !isLiveSegment(meta) || this.building.has(meta.id)) continue;
      const last = this.published.get(meta.id);
      if (!force && last && this.now() - last.atMs < meta.lookalike.refreshHours * 3_600_000) continue;
      try {
        await this.build(meta);
        built.push(meta.id);
      } catch (err) {
        log('warn', 'lookalike build failed', { segment: meta.id, error: (err as Error).message });
      }
    }
    return built;
  }

  /** Whether this lookalike is being built now. */
  isBuilding(id: string): boolean {
    return this.building.has(id);
  }

  /** Builds one lookalike now and publishes it as a full replacement of its members (LookalikeBusy: one is running). */
  async build(meta: SegmentMeta): Promise<LookalikeBuild> {
    if (this.building.has(meta.id)) throw new LookalikeBusy(meta.id);
    this.building.add(meta.id);
    try {
      return await this.buildNow(meta);
    } finally {
      this.building.delete(meta.id);
    }
  }

  private async buildNow(meta: SegmentMeta): Promise<LookalikeBuild> {
    const spec = meta.lookalike as LookalikeSpec;
    const started = performance.now();
    const nowMs = this.now();
    const nowSec = Math.floor(nowMs / 1000);
    const keys = Array.from(this.profiles.entries(), ([k]) => k);
    const seedMembers = await membersOf(this.store, keys, spec.seed, nowSec);
    for (const [key, p] of this.profiles.entries()) if (p.segments.includes(spec.seed)) seedMembers.add(key);
    const result = await scoreLookalike(this.profiles, seedMembers, spec.size, [spec.seed, meta.id], nowSec);
    const next = new Set(result.members);
    const previous = this.published.get(meta.id)?.members ?? new Set<string>();
    const expiresAt = nowSec + 2 * spec.refreshHours * 3600;
    for (let i = 0; i < result.members.length; i += LOOKUP_BATCH)
      await this.store.addMemberships(result.members.slice(i, i + LOOKUP_BATCH).map((key) => ({ key, segments: [meta.id], expiresAt })));
    const gone = [...previous].filter((k) => !next.has(k));
    for (const key of gone) await this.store.removeMembership(key, meta.id);
    this.published.set(meta.id, { members: next, atMs: nowMs });
    this.audiences.invalidate([...result.members, ...gone]);
    const seconds = (performance.now() - started) / 1000;
    this.metrics?.built(meta.id, seconds, next.size);
    log('info', 'lookalike built', { segment: meta.id, seed: spec.seed, size: next.size, positives: result.positives, removed: gone.length, seconds });
    return { ...result, removed: gone.length, seconds };
  }

  start(checkMs: number): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.runDue().then(
        () => {},
        () => {},
      ).finally(() => (this.running = undefined));
    }, checkMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
