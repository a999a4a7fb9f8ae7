/**
 * The live rule audiences indexed for the online path: advertiser → source → event name → what an
 * event of that name does to which rule (add the user for the rule's lookback, or take them out).
 * An event then costs three map lookups and its own few rules, whatever other advertisers have:
 * scanning every rule cost about 0.6 ms an event at 2,000 rules (bench/audiences.ts).
 *
 * Built off the hot path, when the segment registry changes (audience-service.ts refreshRegistry),
 * and swapped in whole: the index and everything in it are never changed after they are built.
 */
import type { AudienceRule, SegmentMeta } from './segment-store.js';

export interface RuleAction {
  readonly segment: string;
  /** True: the event takes the user out (an `excludeEvents` event); false: puts them in. */
  readonly exclude: boolean;
  readonly lookbackSec: number;
  /** Notices rules limited to some campaigns: an event of another campaign does nothing. */
  readonly campaignIds?: ReadonlySet<string>;
}

type BySource = Readonly<Record<AudienceRule['source'], ReadonlyMap<string, readonly RuleAction[]>>>;
export type RuleIndex = ReadonlyMap<string, BySource>;

export const EMPTY_RULE_INDEX: RuleIndex = new Map();
const NONE: readonly RuleAction[] = Object.freeze([]);

export function indexRules(rules: readonly SegmentMeta[]): RuleIndex {
  const index = new Map<string, Record<AudienceRule['source'], Map<string, RuleAction[]>>>();
  for (const meta of rules) {
    const rule = meta.rule;
    if (rule === undefined || meta.advertiserId === undefined) continue; // a rule reads its owner's events only: no owner, no events
    let bySource = index.get(meta.advertiserId);
    if (!bySource) index.set(meta.advertiserId, (bySource = { pixel: new Map(), notices: new Map() }));
    const byEvent = bySource[rule.source];
    const campaignIds = rule.campaignIds && new Set(rule.campaignIds);
    const base = { segment: meta.id, lookbackSec: rule.lookbackDays * 86_400, campaignIds };
    const put = (event: string, action: RuleAction) => {
      const list = byEvent.get(event);
      if (list) list.push(action);
      else byEvent.set(event, [action]);
    };
    // An event both included and excluded is refused by the config API; were one stored, exclusion wins.
    const excluded = new Set(rule.excludeEvents ?? []);
    for (const event of excluded) put(event, Object.freeze({ ...base, exclude: true }));
    for (const event of new Set(rule.events)) if (!excluded.has(event)) put(event, Object.freeze({ ...base, exclude: false }));
  }
  for (const bySource of index.values()) for (const byEvent of Object.values(bySource)) for (const list of byEvent.values()) Object.freeze(list);
  return index;
}

/** What an event of `advertiserId`'s `source` named `event` does (empty: nothing). */
export function rulesFor(index: RuleIndex, advertiserId: string, source: AudienceRule['source'], event: string): readonly RuleAction[] {
  return index.get(advertiserId)?.[source].get(event) ?? NONE;
}
