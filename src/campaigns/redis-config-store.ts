/**
 * The production configuration store, in Redis (one server or a Cluster: every key shares the
 * `{P}` hash tag, so one Lua script can change them together).
 *
 * Data model (`P` = prefix, default `cfg`):
 * - `{P}:doc:<kind>`  hash: id → document JSON, one hash per kind
 * - `{P}:rev:<kind>`  hash: id → revision (checked by the commit script without parsing JSON)
 * - `{P}:version`     the config version, bumped by every commit that changes a bundle kind
 * - `{P}:audit`       list of audit entries (JSON), oldest first; entry `seq` n sits at index n-1
 * - `{P}:audit:seq`   the last audit seq
 * - channel `{P}:changes`  the new config version, published by the commit script
 *
 * A commit is one Lua script: it checks every revision (and the config version, when asked),
 * then writes the documents, bumps the version, appends the audit entries and publishes, so
 * readers never see half of it. `readAll` reads the version and every hash in one MULTI.
 * Watchers hear the change feed, and poll the version every 500 ms in case a message was lost
 * (pub/sub is at most once: a reconnect can drop one).
 */
import { Redis } from 'ioredis';
import { createRedis, type RedisLike } from '../storage/redis-client.js';
import {
  BaseConfigStore,
  BUNDLE_KINDS,
  auditMatches,
  checkWrites,
  isBundleKind,
  type AuditDraft,
  type AuditEntry,
  type AuditPage,
  type AuditQuery,
  type BundleKind,
  type CommitOptions,
  type CommitResult,
  type StoreKind,
  type StoreState,
  type StoreWrite,
  type StoredDoc,
} from './config-store.js';

/**
 * KEYS: version, audit, audit seq, then (doc hash, rev hash) per write.
 * ARGV: channel, bump (0/1), ifVersion ('' = any), write count, then (id, expect, doc JSON or '') per write,
 *       then one audit entry JSON per remaining argument.
 * Returns {1, version} or {0, write index (0 = config version), actual}.
 */
const COMMIT_SCRIPT = `
local n = tonumber(ARGV[4])
if ARGV[3] ~= '' then
  local v = tonumber(redis.call('GET', KEYS[1]) or '0')
  if v ~= tonumber(ARGV[3]) then return {0, 0, v} end
end
for i = 0, n - 1 do
  local cur = tonumber(redis.call('HGET', KEYS[5 + i * 2], ARGV[5 + i * 3]) or '0')
  if cur ~= tonumber(ARGV[6 + i * 3]) then return {0, i + 1, cur} end
end
for i = 0, n - 1 do
  local id = ARGV[5 + i * 3]
  local doc = ARGV[7 + i * 3]
  if doc == '' then
    redis.call('HDEL', KEYS[4 + i * 2], id)
    redis.call('HDEL', KEYS[5 + i * 2], id)
  else
    redis.call('HSET', KEYS[4 + i * 2], id, doc)
    redis.call('HSET', KEYS[5 + i * 2], id, tonumber(ARGV[6 + i * 3]) + 1)
  end
end
local version
if ARGV[2] == '1' then
  version = redis.call('INCR', KEYS[1])
else
  version = tonumber(redis.call('GET', KEYS[1]) or '0')
end
for j = 5 + n * 3, #ARGV do
  local seq = redis.call('INCR', KEYS[3])
  redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ',"configVersion":' .. version .. ',' .. string.sub(ARGV[j], 2))
end
if ARGV[2] == '1' then redis.call('PUBLISH', ARGV[1], version) end
return {1, version}`;

type WithCommit = RedisLike & { cfgCommit(numKeys: number, ...args: (string | number)[]): Promise<[number, number, number?]> };

export interface RedisConfigStoreOptions {
  readonly prefix?: string;
  /** Fallback version poll, in ms (the change feed is the fast path). */
  readonly pollMs?: number;
}

export class RedisConfigStore extends BaseConfigStore {
  readonly kind = 'redis' as const;
  private readonly redis: WithCommit;
  private readonly tag: string;
  private readonly channel: string;
  private readonly pollMs: number;
  private readonly listeners = new Set<(version: number) => void>();
  private lastSeen = -1;
  private poller: NodeJS.Timeout | undefined;
  private subscribed = false;
  private closed = false;

  /**
   * `redis` carries commands; `subscriber` is put in subscriber mode for the change feed (a
   * connection in that mode can run nothing else). The store closes both.
   */
  constructor(
    redis: RedisLike,
    private readonly subscriber: RedisLike,
    options: RedisConfigStoreOptions = {},
  ) {
    super();
    this.redis = redis as WithCommit;
    this.tag = `{${options.prefix ?? 'cfg'}}`;
    this.channel = `${this.tag}:changes`;
    this.pollMs = options.pollMs ?? 500;
    this.redis.defineCommand('cfgCommit', { lua: COMMIT_SCRIPT });
  }

  private docKey = (kind: StoreKind) => `${this.tag}:doc:${kind}`;
  private revKey = (kind: StoreKind) => `${this.tag}:rev:${kind}`;
  private get versionKey() {
    return `${this.tag}:version`;
  }
  private get auditKey() {
    return `${this.tag}:audit`;
  }

  async version(): Promise<number> {
    return Number((await this.redis.get(this.versionKey)) ?? 0);
  }

  async get(kind: StoreKind, id: string): Promise<StoredDoc | undefined> {
    const raw = await this.redis.hget(this.docKey(kind), id);
    return raw === null ? undefined : (JSON.parse(raw) as StoredDoc);
  }

  async list(kind: StoreKind): Promise<StoredDoc[]> {
    return Object.values(await this.redis.hgetall(this.docKey(kind))).map((raw) => JSON.parse(raw) as StoredDoc);
  }

  async readAll(): Promise<StoreState> {
    const tx = this.redis.multi().get(this.versionKey);
    for (const k of BUNDLE_KINDS) tx.hgetall(this.docKey(k));
    const replies = (await tx.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const docs = {} as Record<BundleKind, Map<string, StoredDoc>>;
    BUNDLE_KINDS.forEach((k, i) => {
      const hash = replies[i + 1][1] as Record<string, string>;
      docs[k] = new Map(Object.entries(hash).map(([id, raw]) => [id, JSON.parse(raw) as StoredDoc]));
    });
    return { version: Number((replies[0][1] as string | null) ?? 0), docs };
  }

  async commit(writes: readonly StoreWrite[], audit: readonly AuditDraft[] = [], options: CommitOptions = {}): Promise<CommitResult> {
    checkWrites(writes);
    const bump = options.notify === true || writes.some((w) => isBundleKind(w.kind));
    const keys = [this.versionKey, this.auditKey, `${this.tag}:audit:seq`];
    const args: string[] = [this.channel, bump ? '1' : '0', options.ifVersion === undefined ? '' : String(options.ifVersion), String(writes.length)];
    for (const w of writes) {
      keys.push(this.docKey(w.kind), this.revKey(w.kind));
      args.push(w.id, String(w.expect), w.doc ? JSON.stringify(w.doc) : '');
    }
    for (const a of audit) args.push(JSON.stringify(a));
    const [ok, a, b] = await this.redis.cfgCommit(keys.length, ...keys, ...args);
    if (ok === 1) return { ok: true, version: Number(a) };
    if (a === 0) return { ok: false, conflict: { kind: 'config', id: 'version', expected: options.ifVersion!, actual: Number(b) } };
    const w = writes[a - 1];
    return { ok: false, conflict: { kind: w.kind, id: w.id, expected: w.expect, actual: Number(b) } };
  }

  /** Walks the log from the newest entry (or the cursor) back, in chunks, until a page is full. */
  async queryAudit(q: AuditQuery): Promise<AuditPage> {
    const length = await this.redis.llen(this.auditKey);
    let end = Math.min(length, q.before !== undefined ? q.before - 1 : length) - 1; // index of seq n is n-1
    const items: AuditEntry[] = [];
    const chunk = 256;
    while (end >= 0 && items.length <= q.limit) {
      const start = Math.max(0, end - chunk + 1);
      const raws = await this.redis.lrange(this.auditKey, start, end);
      let stop = false;
      for (let i = raws.length - 1; i >= 0 && items.length <= q.limit; i--) {
        const e = JSON.parse(raws[i]) as AuditEntry;
        if (q.since !== undefined && Date.parse(e.at) < Date.parse(q.since)) {
          stop = true;
          break;
        }
        if (auditMatches(e, q)) items.push(e);
      }
      if (stop) break;
      end = start - 1;
    }
    const more = items.length > q.limit;
    if (more) items.length = q.limit;
    return { items, nextCursor: more ? items[items.length - 1].seq : null };
  }

  watch(onChange: (version: number) => void, since?: number): () => void {
    // Without `since`, the version as first observed is the baseline, not news.
    let last = since ?? (this.lastSeen >= 0 ? this.lastSeen : undefined);
    const listener = (v: number) => {
      if (last === undefined) last = v;
      else if (v !== last) onChange((last = v));
    };
    this.listeners.add(listener);
    if (this.lastSeen >= 0) listener(this.lastSeen);
    this.startFeed();
    return () => this.listeners.delete(listener);
  }

  /** Versions taken in so far; a poll that started before the last one may carry an older version. */
  private seenCount = 0;

  /**
   * Any other version than the last one is news: normally higher; lower only when the store was
   * reset (a Redis without persistence restarted), and then only a poll sent after the last version
   * arrived says so: a lower version from a change message (published before a change a poll already
   * saw) or from a poll sent earlier (answered after a message on the other connection) is stale.
   */
  private seen(version: number, pollStartedAt?: number): void {
    if (version === this.lastSeen || !Number.isFinite(version)) return;
    if (version < this.lastSeen && pollStartedAt !== this.seenCount) return;
    this.lastSeen = version;
    this.seenCount++;
    for (const l of [...this.listeners]) l(version);
  }

  private startFeed(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.seen(Number(message));
    });
    const subscribe = () => void this.subscriber.subscribe(this.channel).catch(() => {});
    if (this.subscriber instanceof Redis) {
      // ioredis would subscribe again by itself after a reconnect, but without a catch: a connection
      // that drops again during that SUBSCRIBE rejects with nobody listening, and an unhandled
      // rejection ends the process. So the store subscribes again itself on every `ready`. (A Cluster
      // picks a new subscriber node and subscribes again with its own catch.) The poll covers the gap.
      this.subscriber.options.autoResubscribe = false;
      this.subscriber.on('ready', subscribe);
    }
    subscribe();
    const poll = () => {
      const startedAt = this.seenCount;
      return this.version().then(
        (v) => this.seen(v, startedAt),
        () => {}, // Redis down: keep the running snapshot, try again next tick
      );
    };
    void poll();
    this.poller = setInterval(poll, this.pollMs);
    this.poller.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.listeners.clear();
    for (const client of new Set<RedisLike>([this.redis, this.subscriber])) client.disconnect();
  }
}

/** A Redis config store on `url` (`redis://`, `rediss://` or `redis+cluster://`), with its own two connections. */
export function createRedisConfigStore(url: string, options: RedisConfigStoreOptions = {}): RedisConfigStore {
  // Admin-style clients: commands may queue briefly while reconnecting, with a 10 s timeout.
  return new RedisConfigStore(createRedis(url, { admin: true }), createRedis(url, { admin: true }), options);
}
