/**
 * Rule audiences, the online path: a segment whose metadata carries a `rule` gains a user the
 * moment one of its owner's events matches (a pixel now; notices through the same `learn` call),
 * for `lookbackDays` after that event; an event of `excludeEvents` takes the user out.
 *
 * Only the owner's events count: a rule audience must name its advertiser, and an event is
 * offered only to the rules of the advertiser it belongs to (the pixel's path, the notice's
 * campaign). Memberships go to the shared segment store under `uid:<our user id>`, the key bid
 * requests carry as `user.buyeruid` (and that exchange ids matched to ours lead to), so every
 * bidder instance sees them: at once where the store is in process, and across the network
 * within its cache TTL (AUDIENCE_CACHE_TTL_MS, AUDIENCE_NEGATIVE_TTL_MS). Forgetting the user
 * removes them with the rest of the user's memberships.
 *
 * Not here yet: the scheduled rebuild from the event store (lookback expiry of exclusions and
 * backfill of a new rule from history). Until then a rule starts empty, and an excluded user who
 * does an included event later is a member again.
 */
import { invalid } from '../api/errors.js';
import type { FieldError } from '../errors.js';
import type { AudienceService } from './audience-service.js';
import type { AudienceRule } from './segment-store.js';
import { log } from '../log.js';

export const NOTICE_RULE_EVENTS = ['impression', 'click', 'conversion'] as const;

/** Refuses rules the online path could not honour (for the config API; the schema checked the shape). */
export function checkRule(candidate: Record<string, unknown>): void {
  const rule = candidate.rule as AudienceRule | undefined;
  if (rule === undefined) return;
  const errors: FieldError[] = [];
  if (candidate.advertiserId === undefined)
    errors.push({ path: '/advertiserId', code: 'required', message: "a rule audience reads one advertiser's own events: name it" });
  if (rule.source === 'notices') {
    for (const [field, list] of [['events', rule.events], ['excludeEvents', rule.excludeEvents ?? []]] as const)
      list.forEach((e, i) => {
        if (!(NOTICE_RULE_EVENTS as readonly string[]).includes(e))
          errors.push({ path: `/rule/${field}/${i}`, code: 'invalid', message: `notices rules count ${NOTICE_RULE_EVENTS.join(', ')}` });
      });
  } else if (rule.campaignIds !== undefined) errors.push({ path: '/rule/campaignIds', code: 'invalid', message: 'only for notices rules' });
  for (const e of rule.excludeEvents ?? [])
    if (rule.events.includes(e)) errors.push({ path: '/rule/excludeEvents', code: 'invalid', message: `"${e}" is both included and excluded` });
  if (errors.length) throw invalid(errors);
}

/** A rule audience's membership lifetime: its lookback. */
export function ruleTtl(candidate: Record<string, unknown>): number | undefined {
  const rule = candidate.rule as AudienceRule | undefined;
  return rule && rule.lookbackDays * 86_400;
}

export interface RuleEvent {
  readonly source: AudienceRule['source'];
  readonly advertiserId: string;
  readonly event: string;
  /** Notices: the campaign the event belongs to. */
  readonly campaignId?: string;
  /** Our user id (the cookie's, or `uid=`), only when the call gave the right to use it. */
  readonly userId: string;
  readonly nowSec: number;
}

export class RuleAudiences {
  constructor(private readonly audiences: AudienceService) {}

  /** Applies one event to its advertiser's live rules (writes happen in the background). */
  learn(e: RuleEvent): void {
    const key = `uid:${e.userId}`;
    const add = new Map<number, string[]>();
    const remove: string[] = [];
    for (const meta of this.audiences.ruleSegments()) {
      const rule = meta.rule!;
      if (meta.advertiserId !== e.advertiserId || rule.source !== e.source) continue; // only the owner's events
      if (rule.campaignIds !== undefined && (e.campaignId === undefined || !rule.campaignIds.includes(e.campaignId))) continue;
      if (rule.excludeEvents?.includes(e.event)) remove.push(meta.id);
      else if (rule.events.includes(e.event)) {
        const expiresAt = e.nowSec + rule.lookbackDays * 86_400;
        const list = add.get(expiresAt);
        if (list) list.push(meta.id);
        else add.set(expiresAt, [meta.id]);
      }
    }
    if (add.size === 0 && remove.length === 0) return;
    const store = this.audiences.store;
    const work: Promise<unknown>[] = [];
    if (add.size > 0) work.push(store.addMemberships([...add].map(([expiresAt, segments]) => ({ key, segments, expiresAt }))));
    for (const segment of remove) work.push(store.removeMembership(key, segment));
    void Promise.all(work).then(
      () => this.audiences.invalidate([key]),
      (err: Error) => log('warn', 'rule audience update failed', { error: err.message }),
    );
  }
}
