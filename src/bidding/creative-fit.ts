/**
 * Which of a campaign's creatives an imp accepts: size or format, durations, mimes, protocols,
 * blocked creative attributes (`battr`), `secure`, and native required assets.
 */
import type { AudioView, ImpView, SizeLimits, VideoView } from '../openrtb/request-view.js';
import type { CompiledCampaign, CompiledCreative } from '../targeting/compiled-campaign.js';
import { nativeFits, type NativeRequest } from '../openrtb/native.js';

function attrsAllowed(cr: CompiledCreative, battr: readonly number[]): boolean {
  if (battr.length === 0 || cr.attrs.length === 0) return true;
  for (let i = 0; i < cr.attrs.length; i++) if (battr.indexOf(cr.attrs[i]) >= 0) return false;
  return true;
}

function basicFit(cr: CompiledCreative, imp: ImpView, battr: readonly number[]): boolean {
  return (!imp.secure || cr.secure) && attrsAllowed(cr, battr);
}

function withinLimits(cr: CompiledCreative, l: SizeLimits | undefined): boolean {
  return !l || (cr.w! >= l.wmin && cr.w! <= l.wmax && cr.h! >= l.hmin && cr.h! <= l.hmax);
}

function durationFits(d: number, min: number, max: number, required: readonly number[] | undefined): boolean {
  if (required && required.length) return required.indexOf(d) >= 0;
  return (min === 0 || d >= min) && (max === 0 || d <= max);
}

function someIn<T>(mine: readonly T[], theirs: readonly T[]): boolean {
  for (let i = 0; i < mine.length; i++) if (theirs.indexOf(mine[i]) >= 0) return true;
  return false;
}

function avFits(cr: CompiledCreative, spec: VideoView | AudioView): boolean {
  return (
    durationFits(cr.duration, spec.minDuration, spec.maxDuration, spec.requiredDurations) &&
    (spec.mimes.length === 0 || someIn(cr.mimes, spec.mimes)) &&
    (spec.protocols.length === 0 || cr.protocols.length === 0 || someIn(cr.protocols, spec.protocols))
  );
}

/**
 * The first creative of `c` that the imp accepts (and `accept`, when given, approves), or undefined.
 * `native` is the imp's parsed Native request (undefined when absent or malformed).
 */
export function fitCreative(
  c: CompiledCampaign,
  imp: ImpView,
  native: NativeRequest | undefined,
  accept?: (cr: CompiledCreative) => boolean,
): CompiledCreative | undefined {
  const banner = imp.banner;
  if (banner && c.banners.length) {
    if (banner.sizes.length === 0) {
      for (const cr of c.banners) if (withinLimits(cr, banner.limits) && basicFit(cr, imp, banner.battr) && (!accept || accept(cr))) return cr;
    } else {
      for (let s = 0; s < banner.sizes.length; s++) {
        const list = c.bannersBySize.get(banner.sizes[s]);
        if (list) for (const cr of list) if (basicFit(cr, imp, banner.battr) && (!accept || accept(cr))) return cr;
      }
    }
  }
  const video = imp.video;
  if (video) for (const cr of c.videos) if (basicFit(cr, imp, video.battr) && avFits(cr, video) && (!accept || accept(cr))) return cr;
  const audio = imp.audio;
  if (audio) for (const cr of c.audios) if (basicFit(cr, imp, audio.battr) && avFits(cr, audio) && (!accept || accept(cr))) return cr;
  if (imp.native && native)
    for (const cr of c.natives) if (basicFit(cr, imp, imp.native.battr) && nativeFits(native, cr.native!) && (!accept || accept(cr))) return cr;
  return undefined;
}
