/**
 * May this bid request's user-level data be used? One pure verdict per request, from the privacy
 * signals the request carries (read from their 2.6 and 2.5 `ext` places by parse-request.ts).
 *
 * Checked in this order; the first that forbids gives the reason:
 * 1. `coppa`              `regs.coppa` = 1.
 * 2. `lmt`                `device.lmt` = 1, or an all-zero `device.ifa` (iOS without tracking permission).
 * 3. `gdpr_malformed`     GDPR applies and the TCF consent string does not decode as TCF v2.
 *    `gdpr_no_consent`    GDPR applies and there is no consent string, or it lacks what tcf.ts requires.
 *    GDPR applies when `regs.gdpr` = 1; when `regs.gdpr` is absent but a consent string is sent;
 *    or when `regs.gpp_sid` lists section 2 (TCF EU). The consent string is `user.consent`, else
 *    the GPP string's TCF EU section.
 * 4. `us_privacy_opt_out` the US privacy string (`1YYN` style) has 'Y' (opted out of sale) as its third character.
 * 5. `gpp_opt_out`        an applicable GPP section opts out, or cannot be read (see gpp.ts).
 * Otherwise `allowed`.
 *
 * "No user-level data" means: no segment lookup (nothing user-keyed is looked up at all), an
 * audience of none that is complete (so campaigns that need segments do not bid), and, once they
 * exist, no user frequency caps. Only contextual campaigns bid.
 *
 * Pure and synchronous (decoded strings are memoised in LRUs); never throws.
 */
import type { BidRequestView } from '../openrtb/request-view.js';
import { tcfVerdict } from './tcf.js';
import { gppVerdict } from './gpp.js';

export const PRIVACY_REASONS = ['allowed', 'gdpr_no_consent', 'gdpr_malformed', 'coppa', 'us_privacy_opt_out', 'gpp_opt_out', 'lmt'] as const;
export type PrivacyReason = (typeof PRIVACY_REASONS)[number];

export interface PrivacyOutcome {
  /** Whether user-level data (segments, user ids, and later frequency caps) may be used. */
  readonly userData: boolean;
  readonly reason: PrivacyReason;
}

export interface PrivacySettings {
  /** Our TCF vendor id; undefined: no consent string can consent to us. */
  readonly gdprVendorId: number | undefined;
}

/** One frozen outcome per reason: the hot path allocates none. */
export const PRIVACY_OUTCOMES: Readonly<Record<PrivacyReason, PrivacyOutcome>> = Object.freeze(
  Object.fromEntries(PRIVACY_REASONS.map((r) => [r, Object.freeze({ userData: r === 'allowed', reason: r })])) as Record<
    PrivacyReason,
    PrivacyOutcome
  >,
);

const ZERO_IFA = /^[0-]+$/;

/** The signals the verdict reads: a bid request's, or a browser call's (user matching, the pixel) read from its query. */
export type PrivacySignals = Pick<BidRequestView, 'coppa' | 'lmt' | 'ifa' | 'gpp' | 'gppSid' | 'consent' | 'gdpr' | 'usPrivacy'>;

export function privacyOutcome(req: PrivacySignals, settings: PrivacySettings): PrivacyOutcome {
  try {
    return PRIVACY_OUTCOMES[reasonOf(req, settings)];
  } catch {
    // Not expected (the decoders catch their own errors); a bug here must not allow user data.
    return PRIVACY_OUTCOMES.gdpr_malformed;
  }
}

function reasonOf(req: PrivacySignals, settings: PrivacySettings): PrivacyReason {
  if (req.coppa) return 'coppa';
  if (req.lmt || (req.ifa !== undefined && ZERO_IFA.test(req.ifa))) return 'lmt';

  const gpp = req.gpp !== undefined ? gppVerdict(req.gpp, req.gppSid) : undefined;
  const consent = req.consent ?? gpp?.tcfString;
  const gdprApplies = req.gdpr === 1 || (req.gdpr === undefined && consent !== undefined) || gpp?.tcfApplies === true;
  if (gdprApplies) {
    if (consent === undefined) return 'gdpr_no_consent';
    const v = tcfVerdict(consent, settings.gdprVendorId);
    if (v === 'malformed') return 'gdpr_malformed';
    if (v === 'no_consent') return 'gdpr_no_consent';
  }

  if (req.usPrivacy !== undefined && usPrivacyOptOut(req.usPrivacy)) return 'us_privacy_opt_out';
  if (gpp?.optOut) return 'gpp_opt_out';
  return 'allowed';
}

/**
 * IAB US Privacy string: version '1', notice, opt-out of sale, LSPA covered; each Y, N or '-'.
 * Opted out when the third character is 'Y'. A string of another shape carries no opt-out we can read.
 */
export function usPrivacyOptOut(usp: string): boolean {
  return usp.length === 4 && usp[0] === '1' && (usp[2] === 'Y' || usp[2] === 'y');
}
