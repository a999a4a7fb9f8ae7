/**
 * Bid requests shaped like real ones (see ../shared/openrtb-corpus: the IAB 2.5/2.6 examples,
 * Google's and prebid-server's fixtures): site and app traffic; banner (single size and `format`
 * lists, multi-imp pages), video (instream and CTV, 2.6 `rqddurs` and `plcmt`), audio and
 * Native 1.2; device and geo, user ids (`buyeruid`, `ifa`, `eids`), `bcat`/`badv`/`battr`,
 * floors in USD and EUR, PMP deals, GDPR and CCPA signals in their 2.6 places or their 2.5
 * `ext` places, `source.schain`.
 *
 * Deterministic: the same seed gives the same requests. The benchmark (bench/scenario/requests.ts)
 * and the exchange simulator both use this generator.
 */
import { Rng } from './rng.js';
import {
  APP_COUNT,
  AUDIO_MIMES,
  BANNER_SIZES,
  COUNTRIES,
  DEAL_COUNT,
  DEVICES,
  GDPR_COUNTRIES,
  IAB_CATEGORIES,
  SENSITIVE_CATEGORIES,
  SITE_COUNT,
  VIDEO_MIMES,
  appBundle,
  appName,
  dealId,
  publisherOfApp,
  publisherOfSite,
  siteDomain,
  userIdentity,
  type DeviceProfile,
} from './vocabulary.js';

export type Channel = 'site' | 'app';
export type Media = 'banner' | 'video' | 'audio' | 'native';

export interface RequestOptions {
  /** Size of the user population requests are drawn from (ids 0 .. users-1 are uploaded). */
  readonly users: number;
  /** Share of requests whose user is not in the uploaded population (unknown ids). Default 0.3. */
  readonly unknownUserShare?: number;
  /** Every floor is multiplied by this (the benchmark calibrates it). Default 1. */
  readonly floorScale?: number;
  /** Share of site requests (the rest are app). Default 0.6. */
  readonly siteShare?: number;
}

export interface GeneratedRequest {
  /** The BidRequest object (JSON-serialisable). */
  readonly request: Record<string, unknown>;
  readonly channel: Channel;
  /** The media of the first imp. */
  readonly media: Media;
  /** The request's tmax (the bidder's default, 100, when the request has none). */
  readonly tmax: number;
}

const SITE_MEDIA: readonly (readonly [Media, number])[] = [
  ['banner', 62],
  ['video', 14],
  ['native', 20],
  ['audio', 4],
];
const APP_MEDIA: readonly (readonly [Media, number])[] = [
  ['banner', 46],
  ['video', 24],
  ['native', 16],
  ['audio', 14],
];
/** Median floors (USD CPM) by media; each floor is log-normal around it. */
const FLOOR_MEDIAN: Record<Media, number> = { banner: 0.8, video: 6, audio: 3, native: 1.4 };
const TMAX: readonly (readonly [number | undefined, number])[] = [
  [100, 25],
  [120, 20],
  [150, 15],
  [200, 15],
  [250, 8],
  [300, 7],
  [500, 3],
  [undefined, 7],
];

/** Generates requests one by one from a seeded stream. */
export class RequestGenerator {
  private readonly rng: Rng;
  private n = 0;
  readonly users: number;
  readonly unknownUserShare: number;
  floorScale: number;
  readonly siteShare: number;

  constructor(seed: number | string, opts: RequestOptions) {
    this.rng = new Rng(seed);
    this.users = Math.max(0, Math.floor(opts.users));
    this.unknownUserShare = opts.unknownUserShare ?? 0.3;
    this.floorScale = opts.floorScale ?? 1;
    this.siteShare = opts.siteShare ?? 0.6;
  }

  /** The next request; `id` defaults to a sequential id derived from the seed stream. */
  next(id?: string): GeneratedRequest {
    const r = this.rng;
    const seq = this.n++;
    const channel: Channel = r.chance(this.siteShare) ? 'site' : 'app';
    const media = r.weighted(channel === 'site' ? SITE_MEDIA : APP_MEDIA);
    const v25 = r.chance(0.3); // 2.5-era exchange: ext places for regs/user/source fields
    const country = r.weighted(COUNTRIES.map((c) => [c, c.weight] as const));
    const device = pickDevice(r, channel, media);
    const tmax = r.weighted(TMAX);

    const req: Record<string, unknown> = { id: id ?? `req-${seq.toString(36)}-${r.nextU32().toString(36)}` };
    if (r.chance(0.85)) req.at = r.chance(0.8) ? 1 : 2;
    if (tmax !== undefined) req.tmax = tmax;
    if (r.chance(0.5)) req.cur = ['USD'];

    // Imps
    const imps: Record<string, unknown>[] = [];
    const impCount = media === 'banner' && channel === 'site' && r.chance(0.18) ? r.int(2, 3) : 1;
    for (let i = 0; i < impCount; i++) imps.push(this.imp(r, i, media, channel, device));
    req.imp = imps;

    // Site or app
    let cats: string[];
    if (channel === 'site') {
      const si = r.zipf(SITE_COUNT, 0.9);
      const domain = siteDomain(si);
      cats = pickCategories(r, si);
      const site: Record<string, unknown> = {
        id: `site-${si}`,
        domain: r.chance(0.2) ? `www.${domain}` : domain,
        page: `https://${r.chance(0.3) ? 'www.' : ''}${domain}/${r.pick(SECTIONS)}/${r.int(1, 99_999)}.html`,
        cat: cats,
        publisher: { id: publisherOfSite(si), name: `Publisher ${publisherOfSite(si).slice(4)}` },
      };
      if (r.chance(0.5)) site.ref = r.pick(['https://www.google.com/', 'https://search.example/', 'https://social.example/feed']);
      if (r.chance(0.3)) site.pagecat = [r.pick(IAB_CATEGORIES)];
      if (r.chance(0.2)) site.mobile = device.devicetype === 4 || device.devicetype === 5 ? 1 : 0;
      if (media === 'video' && r.chance(0.6)) site.content = { id: `c-${r.int(1, 50_000)}`, cat: [r.pick(cats)], livestream: 0, len: r.int(60, 3_600) };
      req.site = site;
    } else {
      const ai = r.zipf(APP_COUNT, 0.9);
      cats = pickCategories(r, ai + 10_000);
      const bundle = appBundle(ai);
      const ios = device.os === 'iOS';
      const app: Record<string, unknown> = {
        id: `app-${ai}`,
        name: appName(ai),
        bundle,
        storeurl: /^\d+$/.test(bundle) || ios ? `https://apps.apple.com/app/id${/^\d+$/.test(bundle) ? bundle : '1234567890'}` : `https://play.google.com/store/apps/details?id=${bundle}`,
        cat: cats,
        ver: `${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 9)}`,
        publisher: { id: publisherOfApp(ai), name: `App Publisher ${Math.floor(ai / 4)}` },
      };
      if (media === 'video' || media === 'audio') app.content = { cat: [r.pick(cats)], livestream: r.chance(0.1) ? 1 : 0, len: r.int(30, 5_400) };
      req.app = app;
    }

    // Device and geo
    const geo: Record<string, unknown> = { country: country.a3, type: 2 };
    if (r.chance(0.75)) geo.region = r.pick(country.regions);
    if (r.chance(0.4)) geo.city = r.pick(country.cities);
    if (r.chance(0.3)) {
      geo.lat = Math.round((r.next() * 120 - 60) * 100) / 100;
      geo.lon = Math.round((r.next() * 360 - 180) * 100) / 100;
    }
    const dev: Record<string, unknown> = {
      ua: device.ua.split('{v}').join(r.pick(device.versions)),
      ip: ipv4(r),
      devicetype: device.devicetype,
      os: device.os,
      geo,
    };
    if (r.chance(0.1)) dev.ipv6 = ipv6(r);
    if (device.make) dev.make = device.make;
    if (device.model) dev.model = device.model;
    if (r.chance(0.6)) dev.language = r.pick(['en', 'de', 'fr', 'es', 'pt', 'ja', 'it']);
    if (r.chance(0.5)) dev.connectiontype = r.pick([2, 3, 5, 6]);
    if (r.chance(0.3)) dev.js = 1;
    if (r.chance(0.1)) dev.dnt = 0;

    // The user
    const user: Record<string, unknown> = {};
    const known = this.users > 0 && !r.chance(this.unknownUserShare);
    let n: number;
    if (known) {
      // Users known by ifa are those with n % 3 == 0 (see userIdentity): app traffic picks them.
      const base = r.int(0, Math.max(0, Math.floor((this.users - 1) / 3)));
      n = channel === 'app' ? base * 3 : base * 3 + r.int(1, 2);
      if (n >= this.users) n = channel === 'app' ? 0 : Math.min(1, this.users - 1);
    } else {
      n = this.users + r.int(0, Math.max(1_000, this.users));
    }
    const who = userIdentity(n);
    if (channel === 'app') {
      if (who.kind === 'ifa' && !r.chance(0.05)) {
        dev.ifa = r.chance(0.5) ? who.id.toUpperCase() : who.id;
        dev.lmt = 0;
      } else if (r.chance(0.1)) {
        dev.ifa = '00000000-0000-0000-0000-000000000000';
        dev.lmt = 1;
      }
    } else if (who.kind === 'uid' && r.chance(0.92)) {
      user.buyeruid = who.id;
    }
    if (r.chance(0.8)) user.id = `x${r.nextU32().toString(16)}${r.nextU32().toString(16)}`;
    if (r.chance(0.1)) user.yob = r.int(1950, 2008);
    if (r.chance(0.25)) {
      const eids = [{ source: r.pick(['uidapi.com', 'liveramp.com', 'id5-sync.com']), uids: [{ id: `E${r.nextU32().toString(36)}${r.nextU32().toString(36)}`, atype: 3 }] }];
      if (v25) user.ext = { ...(user.ext as object), eids };
      else user.eids = eids;
    }
    req.device = dev;

    // Regulation
    const gdpr = GDPR_COUNTRIES.has(country.a3) ? 1 : 0;
    const consent = gdpr ? 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA' : undefined;
    if (v25) {
      req.regs = { ext: { gdpr, ...(country.a3 === 'USA' && r.chance(0.5) ? { us_privacy: '1YNN' } : {}) } };
      if (consent) user.ext = { ...(user.ext as object), consent };
    } else {
      req.regs = { coppa: 0, gdpr, ...(country.a3 === 'USA' && r.chance(0.5) ? { us_privacy: '1YNN' } : {}) };
      if (consent) user.consent = consent;
    }
    if (Object.keys(user).length) req.user = user;

    // Supply chain
    if (r.chance(0.6)) {
      const schain = { ver: '1.0', complete: 1, nodes: [{ asi: r.pick(['ssp.example', 'exchange.example', 'adnet.example']), sid: `s${r.int(1, 9_999)}`, hp: 1 }] };
      const tid = `${r.nextU32().toString(16)}-${r.nextU32().toString(16)}`;
      req.source = v25 ? { tid, ext: { schain } } : { tid, schain };
    }

    // Blocks
    if (r.chance(0.55)) req.bcat = r.sample(SENSITIVE_CATEGORIES, r.int(2, 5));
    if (r.chance(0.35)) req.badv = r.sample(['competitor.example', 'rival.example', 'adv-3.example', 'adv-17.example', 'spam.example'], r.int(1, 3));
    if (channel === 'app' && r.chance(0.05)) req.bapp = [appBundle(r.int(0, APP_COUNT - 1))];

    return { request: req, channel, media, tmax: tmax ?? 100 };
  }

  private imp(r: Rng, i: number, media: Media, channel: Channel, device: DeviceProfile): Record<string, unknown> {
    const imp: Record<string, unknown> = { id: String(i + 1) };
    if (r.chance(0.7)) imp.tagid = `${media}-${r.int(1, 500)}`;
    switch (media) {
      case 'banner': {
        const mobile = device.devicetype === 4;
        const sizes = BANNER_SIZES.filter(([w]) => (mobile ? w <= 336 : true));
        const first = r.weighted(sizes.map((s) => [s, s[2]] as const));
        const banner: Record<string, unknown> = {};
        if (r.chance(0.55)) {
          const more = r.sample(sizes, r.int(0, 2)).filter((s) => s !== first);
          banner.format = [first, ...more].map(([w, h]) => ({ w, h }));
          if (r.chance(0.5)) {
            banner.w = first[0];
            banner.h = first[1];
          }
        } else {
          banner.w = first[0];
          banner.h = first[1];
        }
        banner.pos = r.pick([0, 1, 1, 3, 4, 7]);
        if (r.chance(0.4)) banner.battr = r.sample([1, 3, 8, 9, 10, 14], r.int(1, 3));
        if (r.chance(0.3)) banner.api = r.sample([3, 5, 6, 7], r.int(1, 2));
        if (r.chance(0.1)) banner.btype = [4];
        imp.banner = banner;
        if (channel === 'app' && r.chance(0.15)) imp.instl = 1;
        break;
      }
      case 'video': {
        const ctv = device.devicetype === 3 || device.devicetype === 7;
        const video: Record<string, unknown> = {
          mimes: r.chance(0.7) ? ['video/mp4'] : r.sample(VIDEO_MIMES, r.int(2, 3)),
          protocols: r.sample([2, 3, 5, 6, 7, 8], r.int(2, 5)).sort((a, b) => a - b),
          w: ctv ? 1920 : r.pick([640, 1280, 400]),
          h: ctv ? 1080 : r.pick([360, 720, 300]),
          startdelay: r.pick([0, 0, -1]),
          linearity: 1,
        };
        if (r.chance(0.2)) video.rqddurs = [r.pick([15, 30])];
        else {
          video.minduration = r.pick([0, 5, 6, 15]);
          video.maxduration = r.pick([15, 30, 30, 60, 120]);
        }
        if (r.chance(0.6)) video.plcmt = ctv ? 1 : r.pick([1, 2, 4]);
        if (r.chance(0.4)) video.placement = ctv ? 1 : r.pick([1, 3, 4]);
        if (r.chance(0.5)) video.skip = r.pick([0, 1]);
        if (r.chance(0.4)) video.playbackmethod = [r.pick([1, 2, 3, 6])];
        if (r.chance(0.3)) video.api = r.sample([1, 2, 7], 2);
        if (r.chance(0.2)) video.battr = r.sample([13, 14, 6], 2);
        imp.video = video;
        break;
      }
      case 'audio': {
        const audio: Record<string, unknown> = {
          mimes: r.chance(0.5) ? ['audio/mpeg'] : r.sample(AUDIO_MIMES, 2),
          protocols: r.sample([2, 3, 5, 6, 7, 9, 10], r.int(2, 4)).sort((a, b) => a - b),
          minduration: r.pick([5, 10, 15]),
          maxduration: r.pick([30, 30, 60]),
          startdelay: 0,
        };
        if (r.chance(0.5)) audio.feed = r.pick([1, 3]);
        if (r.chance(0.3)) audio.stitched = 1;
        imp.audio = audio;
        break;
      }
      case 'native': {
        imp.native = { ver: '1.2', request: JSON.stringify(nativeRequest(r)), ...(r.chance(0.3) ? { battr: [r.pick([1, 3, 14])] } : {}) };
        break;
      }
    }
    // Floors: log-normal around the media's median, some in EUR, scaled by the calibration.
    let floor = r.lognormal(FLOOR_MEDIAN[media], 0.7) * this.floorScale;
    if (r.chance(0.08)) floor = 0; // no floor
    if (floor > 0) {
      if (r.chance(0.1)) {
        imp.bidfloor = round4(floor * 0.92);
        imp.bidfloorcur = 'EUR';
      } else {
        imp.bidfloor = round4(floor);
        if (r.chance(0.4)) imp.bidfloorcur = 'USD';
      }
    }
    // 2.6 duration floors on long-form spots (CTV video, audio), in place of the flat floor for them:
    // a rate per second (a 20 s spot pays the flat floor) or tiers (shorter cheaper, longer dearer).
    const spec = (media === 'video' && (device.devicetype === 3 || device.devicetype === 7)) || media === 'audio' ? (imp[media] as Record<string, unknown>) : undefined;
    if (spec !== undefined && typeof imp.bidfloor === 'number' && r.chance(0.3)) {
      const f = imp.bidfloor;
      if (r.chance(0.5)) spec.mincpmpersec = round4(f / 20);
      else spec.durfloors = [{ maxdur: 15, bidfloor: round4(f * 0.75) }, { mindur: 16, maxdur: 30, bidfloor: f }, { mindur: 31, bidfloor: round4(f * 1.8) }];
    }
    if (channel === 'site' ? r.chance(0.7) : r.chance(0.4)) imp.secure = 1;
    // Private marketplace: a few deals, some of which campaigns hold.
    if (r.chance(0.07)) {
      const deals = r.sample(Array.from({ length: DEAL_COUNT }, (_, k) => k), r.int(1, 3)).map((k) => ({
        id: dealId(k),
        bidfloor: round4(Math.max(Number(imp.bidfloor ?? 0), r.lognormal(FLOOR_MEDIAN[media] * 1.5, 0.4) * this.floorScale)),
        ...(imp.bidfloorcur ? { bidfloorcur: imp.bidfloorcur } : {}),
        at: 1,
        ...(r.chance(0.3) ? { wseat: ['dsp-seat-1', 'other-seat'] } : {}),
      }));
      imp.pmp = { private_auction: r.chance(0.4) ? 1 : 0, deals };
    }
    return imp;
  }
}

const SECTIONS = ['news', 'sport', 'money', 'life', 'tech', 'travel', 'food', 'video', 'weather', 'opinion'];

function pickDevice(r: Rng, channel: Channel, media: Media): DeviceProfile {
  const candidates = DEVICES.filter((d) => {
    if (d.channel !== 'both' && d.channel !== channel) return false;
    if (d.devicetype === 3 || d.devicetype === 7) return media === 'video' || media === 'audio';
    return true;
  });
  return r.weighted(candidates.map((d) => [d, d.weight] as const));
}

/** A site's / app's categories are stable per property (two of them). */
function pickCategories(r: Rng, property: number): string[] {
  const a = IAB_CATEGORIES[(property * 7) % IAB_CATEGORIES.length];
  const b = IAB_CATEGORIES[(property * 13 + 5) % IAB_CATEGORIES.length];
  return r.chance(0.5) ? [a] : a === b ? [a] : [a, b];
}

/** A Native 1.2 asset request: title, main image, sponsored; icon, description and CTA optional. */
function nativeRequest(r: Rng): Record<string, unknown> {
  const assets: Record<string, unknown>[] = [
    { id: 1, required: 1, title: { len: r.pick([25, 50, 90, 140]) } },
    { id: 2, required: r.chance(0.8) ? 1 : 0, img: { type: 3, wmin: r.pick([300, 600, 1200]), hmin: r.pick([157, 314, 627]) } },
  ];
  if (r.chance(0.6)) assets.push({ id: 3, required: 0, img: { type: 1, wmin: 50, hmin: 50 } });
  assets.push({ id: 4, required: r.chance(0.7) ? 1 : 0, data: { type: 1, len: 25 } });
  if (r.chance(0.7)) assets.push({ id: 5, required: r.chance(0.2) ? 1 : 0, data: { type: 2, len: 140 } });
  if (r.chance(0.3)) assets.push({ id: 6, required: 0, data: { type: 12, len: 15 } });
  return {
    ver: '1.2',
    context: r.pick([1, 2]),
    plcmttype: r.pick([1, 1, 2, 4]),
    plcmtcnt: 1,
    assets,
    eventtrackers: [{ event: 1, methods: [1] }],
  };
}

function ipv4(r: Rng): string {
  const first = r.pick([24, 31, 46, 62, 73, 81, 98, 104, 151, 185, 198, 203]);
  return `${first}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

function ipv6(r: Rng): string {
  const seg = () => r.int(0, 0xffff).toString(16);
  return `2001:db8:${seg()}:${seg()}::${seg()}`;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** `count` requests from one seed. */
export function generateRequests(seed: number | string, count: number, opts: RequestOptions): GeneratedRequest[] {
  const g = new RequestGenerator(seed, opts);
  const out: GeneratedRequest[] = [];
  for (let i = 0; i < count; i++) out.push(g.next());
  return out;
}

/** A copy of a request with every floor (imp and deal) multiplied by `factor`. */
export function scaleFloors(request: Record<string, unknown>, factor: number): Record<string, unknown> {
  const imps = (request.imp as Record<string, unknown>[]).map((imp) => {
    const out: Record<string, unknown> = { ...imp };
    if (typeof imp.bidfloor === 'number') out.bidfloor = round4(imp.bidfloor * factor);
    for (const media of ['video', 'audio'] as const) if (imp[media]) out[media] = scaleDurationFloors(imp[media] as Record<string, unknown>, factor);
    const pmp = imp.pmp as { deals?: Record<string, unknown>[] } | undefined;
    if (pmp?.deals)
      out.pmp = { ...pmp, deals: pmp.deals.map((d) => scaleDurationFloors(typeof d.bidfloor === 'number' ? { ...d, bidfloor: round4(d.bidfloor * factor) } : d, factor)) };
    return out;
  });
  return { ...request, imp: imps };
}

/** `mincpmpersec` and `durfloors` (2.6) scaled like the flat floors. */
function scaleDurationFloors(o: Record<string, unknown>, factor: number): Record<string, unknown> {
  if (o.mincpmpersec === undefined && o.durfloors === undefined) return o;
  const out = { ...o };
  if (typeof o.mincpmpersec === 'number') out.mincpmpersec = round4(o.mincpmpersec * factor);
  if (Array.isArray(o.durfloors))
    out.durfloors = o.durfloors.map((r: Record<string, unknown>) => (typeof r.bidfloor === 'number' ? { ...r, bidfloor: round4(r.bidfloor * factor) } : r));
  return out;
}
