/** The config API's checks of a rule audience (audiences/rule-audiences.ts is its online path). */
import { invalid } from './errors.js';
import type { FieldError } from '../errors.js';
import type { AudienceRule } from '../audiences/segment-store.js';
import { NOTICE_RULE_EVENTS } from '../audiences/rule-audiences.js';

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
