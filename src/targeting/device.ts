/**
 * Device make, model and carrier: free strings (`Apple`, `iPhone`, `VERIZON`), matched whole and in
 * any case. Campaign values are lower-cased once, when the index is compiled; a request's value is
 * folded here, only when some campaign has such a rule, through a bounded table: the spellings
 * exchanges send repeat, so each is lower-cased once per thread, and a request allocates nothing.
 */
const folded = new Map<string, string>();
/** Entries the table holds (a flood of new spellings is folded per request, never kept). */
const FOLDED_MAX = 4096;
/** Longer values are folded per request and not kept, so the table stays small. */
const FOLDED_LENGTH_MAX = 64;

/** `Apple` → `apple`; undefined stays undefined. */
export function foldCase(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let key = folded.get(value);
  if (key === undefined) {
    key = value.toLowerCase();
    if (folded.size < FOLDED_MAX && value.length <= FOLDED_LENGTH_MAX) folded.set(value, key);
  }
  return key;
}

/** OpenRTB `connectiontype` 3, "cellular network, unknown generation", and the generations it covers (2G to 5G). */
const CELLULAR = 3;
const CELLULAR_GENERATIONS = [4, 5, 6, 7];

/** A rule on 3 (cellular) covers every generation, as a device-type rule on 1 covers phones and tablets. */
export function connectionTypeRule(types: readonly number[] | undefined): readonly number[] | undefined {
  return types?.includes(CELLULAR) ? [...new Set([...types, ...CELLULAR_GENERATIONS])] : types;
}
