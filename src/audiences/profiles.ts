/**
 * What the bidder knows of the users it has seen, for lookalike audiences (lookalikes.ts): geo,
 * device, the categories and domains they were seen on, the hours of day, and their segments.
 *
 * Privacy: only requests whose privacy outcome allows user data are offered (the caller checks
 * `privacy.userData`); a profile is keyed by the same user key the segment store uses, and
 * forgetting the user (DELETE .../users/{type}/{id}) forgets the profile with the memberships.
 * Nothing is written anywhere else: the store is in process, bounded, and evicts the user seen
 * longest ago when full.
 *
 * The bid path only offers: `ProfileFeed` takes every `sampleEvery`-th request into a
 * fixed ring of slots (references to strings the request view already holds, so nothing is
 * allocated), and a timer drains the ring into the store. A full ring overwrites its oldest slot:
 * the feed loses samples under overload instead of slowing bids.
 *
 * With bid workers (WORKERS>1) the ring is drained into a forwarder instead of a store
 * (workers/profile-link.ts): each worker posts its drained sightings to the main thread, whose one
 * store the lookalike builder reads.
 */
import type { BidRequestView } from '../openrtb/request-view.js';
import { parseUserAgent } from '../targeting/user-agent.js';

/** At most this many of each list are kept per user (the most recent). */
export const PROFILE_LIST_MAX = 12;

export interface Profile {
  country: string | undefined;
  region: string | undefined;
  deviceType: number | undefined;
  os: string | undefined;
  browser: string | undefined;
  /** Most recent last. Replaced, never changed in place (each list is exactly as long as it holds). */
  categories: readonly string[];
  domains: readonly string[];
  /** Bit h set: seen at UTC hour h. */
  hours: number;
  segments: readonly string[];
  seenAtMs: number;
}

/** One sighting of a user, as the feed drains it (or a simulator builds it). */
export interface Sighting {
  readonly key: string;
  readonly country?: string;
  readonly region?: string;
  readonly deviceType?: number;
  readonly os?: string;
  readonly browser?: string;
  readonly categories?: readonly string[];
  /** The site's domain or the app's bundle. */
  readonly domain?: string;
  readonly nowMs: number;
  readonly segments?: Iterable<string>;
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * `list` with `value` as its most recent entry, at most PROFILE_LIST_MAX long. A new array of
 * exactly that length (an array grown by push keeps spare slots: 17 for one entry), or `list`
 * itself when `value` is already the most recent.
 */
function remember(list: readonly string[], value: string): readonly string[] {
  if (list[list.length - 1] === value) return list;
  const at = list.indexOf(value);
  const kept = list.length - (at >= 0 ? 1 : 0);
  const from = kept >= PROFILE_LIST_MAX ? kept - PROFILE_LIST_MAX + 1 : 0;
  const out = new Array<string>(kept - from + 1);
  let n = 0;
  let skipped = 0;
  for (let i = 0; i < list.length; i++) {
    if (i === at) continue;
    if (skipped++ < from) continue;
    out[n++] = list[i];
  }
  out[n] = value;
  return out;
}

/** Strings many profiles share (domains, categories, geo, device), kept once; a bounded table: when full, new ones are kept as they come. */
const INTERN_MAX = 200_000;

/** Where a drained ring goes: the store itself (one thread), or a forwarder to the main thread's store. */
export interface SightingSink {
  observe(s: Sighting): void;
  /** Forgets one user (true when there was something of them). */
  forget(key: string): boolean;
  /** Called after every drain that moved samples (a forwarder posts its batch then). */
  flush?(): void;
}

export class ProfileStore implements SightingSink {
  /** Insertion order is recency: a sighting moves the user to the end, eviction takes the first. */
  private readonly profiles = new Map<string, Profile>();
  evictions = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`profile capacity must be at least 1, got ${capacity}`);
  }

  get size(): number {
    return this.profiles.size;
  }

  get(key: string): Profile | undefined {
    return this.profiles.get(key);
  }

  private readonly strings = new Map<string, string>();

  private intern(v: string): string {
    const known = this.strings.get(v);
    if (known !== undefined) return known;
    if (this.strings.size < INTERN_MAX) this.strings.set(v, v);
    return v;
  }

  observe(s: Sighting): void {
    let p = this.profiles.get(s.key);
    if (p) this.profiles.delete(s.key);
    else {
      p = { country: undefined, region: undefined, deviceType: undefined, os: undefined, browser: undefined, categories: NONE, domains: NONE, hours: 0, segments: NONE, seenAtMs: 0 };
      if (this.profiles.size >= this.capacity) {
        this.profiles.delete(this.profiles.keys().next().value!);
        this.evictions++;
      }
    }
    this.profiles.set(s.key, p);
    if (s.country !== undefined) p.country = this.intern(s.country);
    if (s.region !== undefined) p.region = this.intern(s.region);
    if (s.deviceType !== undefined) p.deviceType = s.deviceType;
    if (s.os !== undefined) p.os = this.intern(s.os);
    if (s.browser !== undefined) p.browser = this.intern(s.browser);
    if (s.categories) for (const c of s.categories) p.categories = remember(p.categories, this.intern(c));
    if (s.domain !== undefined) p.domains = remember(p.domains, this.intern(s.domain));
    if (s.segments) for (const seg of s.segments) p.segments = remember(p.segments, this.intern(seg));
    p.hours |= 1 << Math.floor(s.nowMs / 3_600_000) % 24;
    p.seenAtMs = s.nowMs;
  }

  /** Forgets one user (true when there was a profile). */
  forget(key: string): boolean {
    return this.profiles.delete(key);
  }

  entries(): IterableIterator<[string, Profile]> {
    return this.profiles.entries();
  }
}

export interface ProfileFeedOptions {
  /** Slots in the ring. */
  readonly slots: number;
  /** One request in this many is offered to the ring (1: all). */
  readonly sampleEvery: number;
}

/**
 * The ring between the bid path and the store. Slots are parallel arrays of references, written in
 * place; the user agent is parsed when the ring is drained, not on the bid path.
 */
export class ProfileFeed<S extends SightingSink = ProfileStore> {
  private readonly keys: (string | undefined)[];
  private readonly reqs: (BidRequestView | undefined)[];
  private readonly segments: (Iterable<string> | undefined)[];
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;
  private tick = 0;
  /** Samples overwritten before a drain reached them. */
  overwritten = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: S,
    readonly options: ProfileFeedOptions,
  ) {
    const n = options.slots;
    this.keys = new Array<string | undefined>(n).fill(undefined);
    this.reqs = new Array<BidRequestView | undefined>(n).fill(undefined);
    this.segments = new Array<Iterable<string> | undefined>(n).fill(undefined);
    this.times = new Float64Array(n);
  }

  /** Whether this request is one of the sampled (counts it): only then is `put` called. */
  sampled(): boolean {
    if (++this.tick < this.options.sampleEvery) return false;
    this.tick = 0;
    return true;
  }

  /** From the bid path, only when the privacy outcome allows user data. `segments` must not change afterwards. */
  put(key: string, req: BidRequestView, nowMs: number, segments: Iterable<string> | undefined): void {
    const n = this.keys.length;
    const at = (this.head + this.count) % n;
    if (this.count === n) {
      this.head = (this.head + 1) % n;
      this.overwritten++;
    } else this.count++;
    this.keys[at] = key;
    this.reqs[at] = req;
    this.segments[at] = segments;
    this.times[at] = nowMs;
  }

  /** Forgets a user: the profile, and samples of it still waiting in the ring (true when there was either). */
  forget(key: string): boolean {
    let found = false;
    for (let i = 0; i < this.keys.length; i++)
      if (this.keys[i] === key) {
        this.keys[i] = undefined;
        found = true;
      }
    return this.store.forget(key) || found;
  }

  /** Moves every waiting sample into the store; returns how many. */
  drain(): number {
    const n = this.keys.length;
    const moved = this.count;
    for (let i = 0; i < moved; i++) {
      const at = (this.head + i) % n;
      const key = this.keys[at];
      if (key === undefined) continue; // forgotten while waiting
      const req = this.reqs[at]!;
      const ua = req.ua ? parseUserAgent(req.ua) : undefined;
      this.store.observe({
        key,
        country: req.country,
        region: req.region,
        deviceType: req.deviceType ?? ua?.deviceType,
        os: req.os ?? ua?.os,
        browser: ua?.browser,
        categories: req.categories,
        domain: req.bundle ?? req.domain,
        nowMs: this.times[at],
        segments: this.segments[at],
      });
    }
    // Let the requests go.
    this.keys.fill(undefined);
    this.reqs.fill(undefined);
    this.segments.fill(undefined);
    this.head = 0;
    this.count = 0;
    if (moved > 0) this.store.flush?.();
    return moved;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.drain(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
