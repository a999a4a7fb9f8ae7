/**
 * Languages. OpenRTB 2.5 sends `device.language` (ISO 639-1, `en`), 2.6 also `device.langb`
 * (BCP 47, `en-US`). Rules and requests are compared lower-cased, `_` read as `-`; a rule on a
 * language (`pt`) covers its regional forms (`pt-BR`), a rule on a regional form only that form.
 */

/** `en-US` → `en-us`; `pt_BR` → `pt-br`; undefined when empty. */
export function languageKey(tag: string | undefined): string | undefined {
  if (!tag) return undefined;
  const key = tag.trim().replace(/_/g, '-').toLowerCase();
  return key.length > 0 ? key : undefined;
}

/** A request's language tag and its primary language: `en-us` → [`en-us`, `en`]; `en` → [`en`]. */
export function languageAndPrimary(key: string): string[] {
  const dash = key.indexOf('-');
  return dash > 0 ? [key, key.slice(0, dash)] : [key];
}
