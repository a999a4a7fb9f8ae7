/**
 * Daily budgets and daily frequency caps start afresh at UTC midnight. A test that spends a day's
 * budget or counts a day's impressions must not straddle it (a CI run at 23:59 saw a second day's
 * budget spent on top of the first): it waits for the new day when the current one is nearly over.
 */
const DAY_MS = 86_400_000;

/** Resolves at once when more than `marginMs` of the UTC day is left, else just after midnight. */
export async function clearOfUtcMidnight(marginMs: number): Promise<void> {
  const left = DAY_MS - (Date.now() % DAY_MS);
  if (left <= marginMs) await new Promise((r) => setTimeout(r, left + 1_000));
}
