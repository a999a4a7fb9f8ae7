/**
 * Rule audiences, the online path: a segment whose metadata carries a `rule` gains a user the
 * moment one of its owner's events matches (a pixel now; notices through the same `learn` call),
 * for `lookbackDays` after that event; an event of `excludeEvents` takes the user out.
 *
 * Only the owner's events count: a rule audience must name its advertiser, and an event is
 * offered only to the rules of the advertiser it belongs to (the pixel's path, the notice's
 * campaign). Memberships go to the shared segment store under the event's user key (eventKey),
 * which a bid request's user leads to (bidEventKeys), so every bidder instance sees them: at once
 * where the store is in process, and across the network within its cache TTL
 * (AUDIENCE_CACHE_TTL_MS, AUDIENCE_NEGATIVE_TTL_MS). Forgetting the user removes them too.
 *
 * The scheduled rebuild (rule-rebuild.ts) recomputes each rule from the event store: it backfills
 * a new rule from history, expires members whose events left the lookback, and takes out a user
 * whose excluded event the online path saw before a later included one.
 */
import type { AudienceService } from './audience-service.js';
import type { AudienceRule, SegmentStore } from './segment-store.js';
import { log } from '../log.js';
import type { UserKeyer } from '../events/user-key.js';
import { userHash } from '../money/frequency.js';
import { rulesFor } from './rule-index.js';

export const NOTICE_RULE_EVENTS = ['impression', 'click', 'conversion'] as const;

export interface RuleEvent {
  readonly source: AudienceRule['source'];
  readonly advertiserId: string;
  readonly event: string;
  /** Notices: the campaign the event belongs to. */
  readonly campaignId?: string;
  /** The event's user key (events/user-key.ts), only when the call gave the right to use it. */
  readonly userKey: string;
  readonly nowSec: number;
}

/**
 * The segment-store key of an event row's user: `ek:<user key>`. Memberships a rule teaches live
 * there, not under `uid:`, because the event store holds only user keys (keyed hashes) and the
 * rebuild must reach the same memberships as the online path. A bid request reaches them through
 * bidEventKeys.
 */
export const eventKey = (userKey: string) => `ek:${userKey}`;

/**
 * The event keys a bid request's user may have: the pixel's (the user key of our user id,
 * `user.buyeruid`) and the notices' (the user key of the bid's hashed user, `u=` of its notice
 * URLs, money/frequency.ts userHash).
 */
export function bidEventKeys(buyerUid: string | undefined, userHash: string | undefined, keyer: UserKeyer): string[] {
  const keys: string[] = [];
  if (buyerUid) keys.push(eventKey(keyer.key(buyerUid)));
  if (userHash !== undefined) keys.push(eventKey(keyer.key(userHash)));
  return keys;
}

/**
 * The same for a forgotten user key (`uid:<id>`, `xid:...`, ...): the pixel's event key for a
 * `uid:`, and the notices' for any key (the hashed user is the hash of a request's first key).
 */
export function forgottenEventUserKeys(key: string, keyer: UserKeyer): string[] {
  const keys: string[] = [];
  if (key.startsWith('uid:')) keys.push(keyer.key(key.slice(4)));
  keys.push(keyer.key(userHash([key])!));
  return keys;
}

/**
 * Forgets a user key in the segment store and what events taught about it (its event keys).
 * True when anything was removed.
 */
export async function forgetUser(store: SegmentStore, key: string, keyer: UserKeyer | undefined): Promise<boolean> {
  const keys = [key, ...(keyer ? forgottenEventUserKeys(key, keyer).map(eventKey) : [])];
  const removed = await Promise.all(keys.map((k) => store.removeUser(k)));
  return removed.some(Boolean);
}

export class RuleAudiences {
  constructor(private readonly audiences: AudienceService) {}

  /**
   * Applies one event to its advertiser's live rules: only the rules its advertiser, source and
   * name lead to in the registry's index (rule-index.ts), so the cost does not grow with other
   * advertisers' rules. Writes happen in the background; the promise (undefined when the event
   * changes nothing) settles when they are done, for callers that wait.
   */
  learn(e: RuleEvent): Promise<void> | undefined {
    const actions = rulesFor(this.audiences.ruleIndex(), e.advertiserId, e.source, e.event);
    if (actions.length === 0) return undefined;
    const key = eventKey(e.userKey);
    let add: Map<number, string[]> | undefined;
    let remove: string[] | undefined;
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i];
      if (a.campaignIds !== undefined && (e.campaignId === undefined || !a.campaignIds.has(e.campaignId))) continue;
      if (a.exclude) (remove ??= []).push(a.segment);
      else {
        const expiresAt = e.nowSec + a.lookbackSec;
        const list = (add ??= new Map()).get(expiresAt);
        if (list) list.push(a.segment);
        else add.set(expiresAt, [a.segment]);
      }
    }
    if (add === undefined && remove === undefined) return undefined;
    const store = this.audiences.store;
    const work: Promise<unknown>[] = [];
    if (add !== undefined) work.push(store.addMemberships([...add].map(([expiresAt, segments]) => ({ key, segments, expiresAt }))));
    for (const segment of remove ?? []) work.push(store.removeMembership(key, segment));
    return Promise.all(work).then(
      () => this.audiences.invalidate([key]),
      (err: Error) => log('warn', 'rule audience update failed', { error: err.message }),
    );
  }
}
