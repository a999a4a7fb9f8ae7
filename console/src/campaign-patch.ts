/**
 * The merge patch (RFC 7396) the campaign form sends: the fields it edits, at the top level, with a
 * field the form left empty removed (null). The budget is the exception: the form edits its money
 * fields only, so a budget that also holds what the form does not show (budgets in impressions,
 * clicks or conversions, flight pacing) keeps those when the form's money fields are emptied.
 */

/** The budget fields the form edits. */
const FORM_BUDGET = ['daily', 'total', 'pacing'];

const keepsBudget = (budget: unknown): boolean =>
  typeof budget === 'object' && budget !== null && Object.keys(budget).some((k) => !FORM_BUDGET.includes(k));

export function patchOf(before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const k of keys) {
    if (after[k] !== undefined) patch[k] = after[k];
    else if (k === 'budget' && keepsBudget(before.budget)) patch[k] = { daily: null, total: null, pacing: null };
    else if (before[k] !== undefined) patch[k] = null;
  }
  return patch;
}
