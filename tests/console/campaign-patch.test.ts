/** The campaign form's merge patch keeps the budget fields the form does not show. */
import { describe, expect, it } from 'vitest';
import { patchOf } from '../../console/src/campaign-patch.js';

const KEYS = ['name', 'budget', 'end'];

describe('patchOf (campaign form)', () => {
  it('sends the edited fields and removes emptied ones', () => {
    expect(patchOf({ name: 'a', budget: { daily: 5 }, end: 'x' }, { name: 'b', budget: { daily: 6, pacing: 'even' } }, KEYS)).toEqual({ name: 'b', budget: { daily: 6, pacing: 'even' }, end: null });
    expect(patchOf({ name: 'a', budget: { daily: 5, total: 9, pacing: 'asap' } }, { name: 'a' }, KEYS)).toEqual({ name: 'a', budget: null });
  });

  it('emptying the money fields keeps budgets in units and flight pacing (the form does not show them)', () => {
    const before = { name: 'a', budget: { daily: 5, pacing: 'even', impressions: { total: 1000 }, flightPacing: 'even' } };
    const patch = patchOf(before, { name: 'a' }, KEYS);
    expect(patch).toEqual({ name: 'a', budget: { daily: null, total: null, pacing: null } });
    // Applied as a merge patch, the unit budget and flight pacing stay.
    const merged = Object.fromEntries(Object.entries({ ...before.budget, ...(patch.budget as object) }).filter(([, v]) => v !== null));
    expect(merged).toEqual({ impressions: { total: 1000 }, flightPacing: 'even' });
  });
});
