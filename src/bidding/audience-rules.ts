/**
 * Audience rules for one campaign and one user: segments any-of, all-of and exclude, and what to
 * do when the user's segments are not fully known (the store was slow or down): the campaign's
 * `whenUnavailable` policy skips it (default) or lets it bid.
 */
import type { Audience } from '../audiences/audience-service.js';
import type { CompiledSegmentRules } from '../targeting/compiled-campaign.js';

function hasAny(segments: ReadonlySet<string>, list: readonly string[]): boolean {
  for (let i = 0; i < list.length; i++) if (segments.has(list[i])) return true;
  return false;
}

function hasAll(segments: ReadonlySet<string>, list: readonly string[]): boolean {
  for (let i = 0; i < list.length; i++) if (!segments.has(list[i])) return false;
  return true;
}

export function audienceAllows(r: CompiledSegmentRules | undefined, a: Audience): boolean {
  if (!r) return true;
  const s = a.segments;
  if (r.exclude && hasAny(s, r.exclude)) return false; // known to be excluded, whatever else is unknown
  const included = (!r.anyOf || hasAny(s, r.anyOf)) && (!r.allOf || hasAll(s, r.allOf));
  if (a.complete) return included;
  // Partly unknown: a positive inclusion still stands unless an exclusion could be hiding.
  if (included && !r.exclude) return true;
  return !r.skipWhenUnavailable;
}

/** Product of the segment multipliers for the segments the user is known to be in. */
export function segmentMultiplier(multipliers: ReadonlyMap<string, number> | undefined, a: Audience): number {
  if (!multipliers || a.segments.size === 0) return 1;
  let f = 1;
  for (const [segment, factor] of multipliers) if (a.segments.has(segment)) f *= factor;
  return f;
}
