/**
 * IAB content categories. Tier-2 codes of the 1.0 taxonomy (`IAB1-2`) also count as their
 * tier-1 parent (`IAB1`), so a rule on `IAB1` covers the whole family, on either side.
 */
import { NO_STRINGS } from './request-view.js';

export function parentCategory(cat: string): string | undefined {
  const dash = cat.indexOf('-');
  return dash > 0 && cat.startsWith('IAB') ? cat.slice(0, dash) : undefined;
}

/** Union of the string members of the given lists, each with its parent; non-arrays are ignored. */
export function withParentCategories(...lists: unknown[]): readonly string[] {
  let out: string[] | undefined;
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const cat of list) {
      if (typeof cat !== 'string' || cat === '') continue;
      out ??= [];
      if (out.indexOf(cat) < 0) out.push(cat);
      const parent = parentCategory(cat);
      if (parent && out.indexOf(parent) < 0) out.push(parent);
    }
  }
  return out ?? NO_STRINGS;
}
