/**
 * IAB Global Privacy Platform strings (`regs.gpp` + `regs.gpp_sid`), decoded with the IAB Tech Lab's
 * own library (`@iabgpp/cmpapi`, its GppModel decoder).
 *
 * The applicable sections are those listed in `gpp_sid` (header 3 and signal-integrity 4 skipped,
 * ids <= 0 mean "none"); with no usable `gpp_sid`, every section in the string applies. Per section:
 * - 2 `tcfeuv2`: GDPR applies; the section (a TCF v2 string) is the consent string when
 *   `user.consent` has none (see privacy-outcome.ts).
 * - 6 `uspv1`: opted out when `OptOutSale` is 'Y'.
 * - 7 `usnat` and the US state sections (8 to 27): opted out when any of `SaleOptOut`,
 *   `SharingOptOut`, `TargetedAdvertisingOptOut` is 1 (opted out), or when the GPC flag is set.
 * - anything else (5 `tcfcav1`, ids the decoder does not know), a listed section missing from the
 *   string, or a string or section that does not decode: treated as an opt-out. We cannot read the
 *   signal, so we do not assume permission.
 * Verdicts are cached like TCF ones. Never throws.
 */
import { LRUCache } from 'lru-cache';
import { GppModel } from '@iabgpp/cmpapi';

export interface GppVerdict {
  /** An applicable non-TCF section forbids (or may forbid) user-level data. */
  readonly optOut: boolean;
  /** The TCF EU v2 section applies, so GDPR does. */
  readonly tcfApplies: boolean;
  /** That section's TCF string, when the GPP string carries it. */
  readonly tcfString: string | undefined;
}

export const MAX_GPP_STRING_LENGTH = 16_384;

const TCF_EU = 2;
const TCF_CA = 5;
const USP_V1 = 6;
const US_FIRST = 7;
const US_LAST = 27;
const OPT_OUT_FIELDS = ['SaleOptOut', 'SharingOptOut', 'TargetedAdvertisingOptOut'] as const;
/** 1 = opted out, in every US section (0 = not applicable, 2 = did not opt out). */
const OPTED_OUT = 1;

const UNREADABLE: GppVerdict = Object.freeze({ optOut: true, tcfApplies: false, tcfString: undefined });

const cache = new LRUCache<string, GppVerdict>({
  max: 20_000,
  maxSize: 8_000_000,
  sizeCalculation: (_v, k) => k.length + 1,
});

export function gppVerdict(gpp: string, sids: readonly number[] | undefined): GppVerdict {
  const listed = sids?.filter((id) => id > 0 && id !== 3 && id !== 4);
  if (listed && listed.length === 0) return NOT_APPLICABLE;
  if (gpp.length > MAX_GPP_STRING_LENGTH) return unreadable(listed);
  const key = `${listed ? listed.join(',') : '*'}|${gpp}`;
  let v = cache.get(key);
  if (v === undefined) {
    v = decideGpp(gpp, listed);
    cache.set(key, v);
  }
  return v;
}

const NOT_APPLICABLE: GppVerdict = Object.freeze({ optOut: false, tcfApplies: false, tcfString: undefined });

/** A string we cannot read: opted out, unless the only listed section is TCF EU (which user.consent may still answer). */
function unreadable(listed: readonly number[] | undefined): GppVerdict {
  if (!listed) return UNREADABLE;
  const tcfApplies = listed.includes(TCF_EU);
  return { optOut: listed.some((id) => id !== TCF_EU), tcfApplies, tcfString: undefined };
}

function decideGpp(gpp: string, listed: readonly number[] | undefined): GppVerdict {
  let model: GppModel;
  let present: number[];
  try {
    model = new GppModel(gpp);
    present = model.getSectionIds() as number[];
  } catch {
    return unreadable(listed);
  }
  const applicable = listed ?? present;
  let optOut = false;
  let tcfApplies = false;
  let tcfString: string | undefined;
  for (const id of applicable) {
    const at = present.indexOf(id);
    if (id === TCF_EU) {
      tcfApplies = true;
      // The section as sent: GPP carries a TCF v2 string as-is (segments joined by '.').
      if (at >= 0) tcfString = gpp.split('~')[at + 1] || undefined;
      continue;
    }
    if (at < 0 || sectionOptsOut(model, id)) optOut = true;
  }
  return { optOut, tcfApplies, tcfString };
}

function sectionOptsOut(model: GppModel, id: number): boolean {
  try {
    if (id === USP_V1) return String(model.getFieldValueBySectionId(id, 'OptOutSale')).toUpperCase() === 'Y';
    if (id === TCF_CA || id < US_FIRST || id > US_LAST) return true; // not evaluated: conservative
    for (const f of OPT_OUT_FIELDS)
      if (model.hasFieldBySectionId(id, f) && model.getFieldValueBySectionId(id, f) === OPTED_OUT) return true;
    return model.hasFieldBySectionId(id, 'Gpc') && model.getFieldValueBySectionId(id, 'Gpc') === true;
  } catch {
    return true;
  }
}

export function clearGppCache(): void {
  cache.clear();
}
