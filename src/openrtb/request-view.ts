/**
 * The bidder's view of an OpenRTB 2.5/2.6 bid request: the fields the hot path reads,
 * normalised once (2.5 `ext` places and 2.6 top-level places merged), in objects of one fixed shape.
 */

export type Channel = 'site' | 'app' | 'dooh' | undefined;

export interface BannerView {
  /** Accepted sizes as `WxH` keys, from `format[]` and `w`/`h`. Empty means any size within `limits`. */
  readonly sizes: readonly string[];
  /** Only when `sizes` is empty: the bounds a creative must fit; undefined when there are none. */
  readonly limits: SizeLimits | undefined;
  readonly battr: readonly number[];
}

/** From the deprecated `wmin`/`wmax`/`hmin`/`hmax`, and a lone `w` or `h` (an exact bound). */
export interface SizeLimits {
  readonly wmin: number;
  readonly wmax: number;
  readonly hmin: number;
  readonly hmax: number;
}

/**
 * OpenRTB 2.6 floor guidance by creative duration (`mincpmpersec`, `durfloors`; Video, Audio and
 * Deal), CPM in the floor currency of the object that carries it (the imp's `bidfloorcur` for
 * Video and Audio, the deal's for a Deal). A seller should send one form; both are kept.
 */
export interface DurationFloors {
  /** `mincpmpersec`: the floor is this times the creative's duration in seconds; 0 when absent. */
  readonly perSecond: number;
  /** `durfloors`, each range inclusive at both ends; empty when absent. */
  readonly ranges: readonly DurationFloorRange[];
}

export interface DurationFloorRange {
  /** `mindur` (0 when absent: unbounded below). */
  readonly min: number;
  /** `maxdur` (Infinity when absent: unbounded above). */
  readonly max: number;
  readonly floor: number;
}

export interface VideoView {
  readonly mimes: readonly string[];
  readonly minDuration: number;
  readonly maxDuration: number;
  /** 2.6 `rqddurs`: exact durations only, when present. */
  readonly requiredDurations: readonly number[] | undefined;
  readonly protocols: readonly number[];
  readonly battr: readonly number[];
  readonly w: number | undefined;
  readonly h: number | undefined;
  /** 2.6 duration floors, in the imp's `bidfloorcur`; undefined when the seller sent none. */
  readonly durationFloors: DurationFloors | undefined;
  /** 2.6 `plcmt` (1 instream, 2 accompanying content, 3 interstitial, 4 no content); undefined when absent (2.5). */
  readonly placement: number | undefined;
}

export interface AudioView {
  readonly mimes: readonly string[];
  readonly minDuration: number;
  readonly maxDuration: number;
  readonly requiredDurations: readonly number[] | undefined;
  readonly protocols: readonly number[];
  readonly battr: readonly number[];
  /** 2.6 duration floors, in the imp's `bidfloorcur`; undefined when the seller sent none. */
  readonly durationFloors: DurationFloors | undefined;
}

export interface NativeView {
  /** The Native 1.x request as sent: a JSON string (standard) or an object (seen in the wild). */
  readonly request: unknown;
  readonly battr: readonly number[];
}

export interface DealView {
  readonly id: string;
  readonly bidFloor: number;
  readonly bidFloorCur: string;
  /** 2.6 duration floors for video and audio bids through the deal, in the deal's `bidfloorcur`; undefined when none. */
  readonly durationFloors: DurationFloors | undefined;
  readonly wseat: readonly string[] | undefined;
  readonly wadomain: readonly string[] | undefined;
}

export interface ImpView {
  readonly id: string;
  readonly banner: BannerView | undefined;
  readonly video: VideoView | undefined;
  readonly audio: AudioView | undefined;
  readonly native: NativeView | undefined;
  readonly bidFloor: number;
  readonly bidFloorCur: string;
  readonly secure: boolean;
  readonly privateAuction: boolean;
  readonly deals: readonly DealView[];
}

export interface BidRequestView {
  readonly id: string;
  readonly tmax: number | undefined;
  readonly test: boolean;
  /** Auction type: 1 first price, 2 second price plus. */
  readonly at: number;
  readonly cur: readonly string[] | undefined;
  readonly imps: readonly ImpView[];

  readonly channel: Channel;
  readonly domain: string | undefined;
  readonly bundle: string | undefined;
  readonly publisherId: string | undefined;
  /**
   * IAB content categories (taxonomy 1.0) of the site/app, its page and its content, each with its
   * tier-1 parent. Lists the request says are in another taxonomy (2.6 `cattax`) are left out.
   */
  readonly categories: readonly string[];
  /** False when some of the inventory's categories are in a taxonomy other than 1.0: `categories` is then not all of them. */
  readonly categoriesKnown: boolean;

  readonly country: string | undefined;
  readonly region: string | undefined;
  readonly city: string | undefined;
  /** `device.geo.zip`, else `user.geo.zip`, as sent (the targeting index normalises it only when a campaign has a postal rule). */
  readonly postalCode: string | undefined;
  /** `device.langb` (2.6, BCP 47), else `device.language`, as sent (normalised only when a campaign has a language rule). */
  readonly language: string | undefined;
  /** Latitude, longitude and `type` of `device.geo` when it has a position in range, else of `user.geo`. */
  readonly lat: number | undefined;
  readonly lon: number | undefined;
  readonly geoType: number | undefined;
  readonly deviceType: number | undefined;
  readonly os: string | undefined;
  /** `device.make`, `device.model` and `device.carrier` as sent (case is folded only when a campaign has such a rule). */
  readonly make: string | undefined;
  readonly model: string | undefined;
  readonly carrier: string | undefined;
  /** `device.connectiontype`. */
  readonly connectionType: number | undefined;
  readonly ua: string | undefined;
  readonly ip: string | undefined;
  readonly ipv6: string | undefined;

  readonly bcat: readonly string[];
  /** False when the request's `cattax` says `bcat` is in a taxonomy other than IAB content categories 1.0 (the default). */
  readonly bcatKnown: boolean;
  readonly badv: readonly string[];
  readonly bapp: readonly string[];
  readonly wseat: readonly string[] | undefined;
  readonly bseat: readonly string[];

  /** Privacy signals, read from both their 2.6 and 2.5 `ext` places. */
  readonly gdpr: number | undefined;
  readonly consent: string | undefined;
  readonly usPrivacy: string | undefined;
  /** IAB Global Privacy Platform string (`regs.gpp`, 2.5: `regs.ext.gpp`) and its applicable section ids. */
  readonly gpp: string | undefined;
  /** `regs.gpp_sid` (2.5: `regs.ext.gpp_sid`); undefined when absent or not an array of integers. */
  readonly gppSid: readonly number[] | undefined;
  readonly coppa: boolean;
  readonly lmt: boolean;

  /** User identity, for the audiences work. */
  readonly buyerUid: string | undefined;
  readonly userId: string | undefined;
  readonly ifa: string | undefined;
  readonly eids: unknown;
}

export const NO_NUMBERS: readonly number[] = Object.freeze([]);
export const NO_STRINGS: readonly string[] = Object.freeze([]);
export const NO_DEALS: readonly DealView[] = Object.freeze([]);
