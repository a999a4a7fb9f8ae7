/**
 * An independent checker of our 200 answers: given the bid request as the exchange sent it (raw
 * JSON, not the bidder's parsed view) and the bid response we returned, list every rule the
 * response breaks. It reads the request with OpenRTB 2.5/2.6 defaults (`bidfloorcur` and
 * `deal.bidfloorcur` default to USD, `cur` defaults to USD) and shares no code with src/.
 */

export interface CurrencyRates {
  /** rates[X] = how many X one unit of `base` buys. */
  readonly base: string;
  readonly rates: Readonly<Record<string, number>>;
}

export interface CheckOptions {
  readonly currencies: CurrencyRates;
  /** The OpenRTB version the exchange speaks; under '2.5' the 2.6-only bid fields must be absent. */
  readonly version?: '2.5' | '2.6';
}

type Obj = Record<string, any>;
type Media = 'banner' | 'video' | 'audio' | 'native';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strs = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');
const nums = (v: unknown): number[] => arr(v).filter((x): x is number => typeof x === 'number');
const pos = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);
const MTYPES: Record<number, Media> = { 1: 'banner', 2: 'video', 3: 'audio', 4: 'native' };
/** Slack for floating-point currency conversion; prices are quoted to 4 decimals. */
const EPS = 1e-9;

export function convert(amount: number, from: string, to: string, table: CurrencyRates): number {
  if (from === to) return amount;
  const rate = (c: string) => (c === table.base ? 1 : table.rates[c]);
  const f = rate(from);
  const t = rate(to);
  return f === undefined || t === undefined ? NaN : (amount / f) * t;
}

const bareDomain = (d: string) => d.toLowerCase().replace(/^www\./, '');

/** `shop.ford.com` is blocked by `ford.com` in badv. */
function domainBlocked(adomain: string, badv: readonly string[]): boolean {
  const a = bareDomain(adomain);
  return badv.some((b) => {
    const x = bareDomain(b);
    return x !== '' && (a === x || a.endsWith(`.${x}`));
  });
}

/** `IAB1` in bcat covers `IAB1-x` too. */
function categoryBlocked(cat: string, bcat: readonly string[]): boolean {
  if (bcat.includes(cat)) return true;
  const dash = cat.indexOf('-');
  return dash > 0 && cat.startsWith('IAB') && bcat.includes(cat.slice(0, dash));
}

/** The Native request an imp carries (string or object, with or without the `native` wrapper). */
function nativeRequestOf(imp: Obj): Obj | undefined {
  let raw: unknown = imp.native?.request;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  if (!isObj(raw)) return undefined;
  return isObj(raw.native) ? raw.native : raw;
}

/** Seconds in a VAST `<Duration>HH:MM:SS(.mmm)</Duration>`, or undefined. */
export function vastDuration(adm: string): number | undefined {
  const m = /<Duration>\s*(\d+):(\d{2}):(\d{2})(?:\.\d+)?\s*<\/Duration>/i.exec(adm);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : undefined;
}

/** The `type` attributes of a VAST's `<MediaFile>` elements. */
function vastMediaTypes(adm: string): string[] {
  const out: string[] = [];
  for (const m of adm.matchAll(/<MediaFile\b[^>]*\btype="([^"]+)"/gi)) out.push(m[1].toLowerCase());
  return out;
}

/** The media type of a bid: `mtype` when given, else what the imp offers and the markup says. */
function mediaOf(bid: Obj, imp: Obj): Media | undefined {
  if (bid.mtype !== undefined) return MTYPES[bid.mtype as number];
  const offered = (['banner', 'video', 'audio', 'native'] as const).filter((m) => isObj(imp[m]));
  if (offered.length === 1) return offered[0];
  const adm = typeof bid.adm === 'string' ? bid.adm.trim() : '';
  if (/<VAST\b/i.test(adm)) return isObj(imp.video) || !isObj(imp.audio) ? 'video' : 'audio';
  if (adm.startsWith('{')) return 'native';
  return 'banner';
}

function checkBannerSize(bid: Obj, banner: Obj, out: string[], where: string): void {
  const w = pos(bid.w);
  const h = pos(bid.h);
  const fixed: string[] = [];
  const flexible: Obj[] = [];
  for (const f of arr(banner.format)) {
    if (!isObj(f)) continue;
    if (pos(f.w) && pos(f.h)) fixed.push(`${f.w}x${f.h}`);
    else if (pos(f.wratio) && pos(f.hratio)) flexible.push(f);
  }
  if (pos(banner.w) && pos(banner.h)) fixed.push(`${banner.w}x${banner.h}`);
  if (fixed.length || flexible.length) {
    const ok =
      w !== undefined &&
      h !== undefined &&
      (fixed.includes(`${w}x${h}`) || flexible.some((f) => w * f.hratio === h * f.wratio && w >= (pos(f.wmin) ?? 0)));
    if (!ok) out.push(`${where}: banner size ${bid.w}x${bid.h} is not one the imp accepts (${[...fixed, ...flexible.map((f) => `${f.wratio}:${f.hratio}`)].join(', ')})`);
    return;
  }
  // No complete size listed: a lone w or h is still exact, and the 2.x ranges (wmin/wmax/hmin/hmax) still bound it.
  const bounds: [string, number | undefined, (a: number, b: number) => boolean, number | undefined][] = [
    ['w', pos(banner.w), (a, b) => a === b, w],
    ['h', pos(banner.h), (a, b) => a === b, h],
    ['wmin', pos(banner.wmin), (a, b) => a >= b, w],
    ['wmax', pos(banner.wmax), (a, b) => a <= b, w],
    ['hmin', pos(banner.hmin), (a, b) => a >= b, h],
    ['hmax', pos(banner.hmax), (a, b) => a <= b, h],
  ];
  for (const [name, bound, fits, value] of bounds)
    if (bound !== undefined && (value === undefined || !fits(value, bound)))
      out.push(`${where}: banner size ${bid.w}x${bid.h} breaks banner.${name}=${bound}`);
}

function checkDuration(bid: Obj, spec: Obj, out: string[], where: string, media: Media): void {
  const declared = typeof bid.dur === 'number' ? bid.dur : undefined;
  const inVast = typeof bid.adm === 'string' ? vastDuration(bid.adm) : undefined;
  if (declared !== undefined && inVast !== undefined && declared !== inVast)
    out.push(`${where}: dur ${declared} differs from the VAST <Duration> ${inVast}s`);
  const dur = declared ?? inVast;
  if (dur === undefined) return;
  const required = nums(spec.rqddurs);
  if (required.length) {
    if (!required.includes(dur)) out.push(`${where}: ${media} duration ${dur}s is not one of rqddurs ${required.join(',')}`);
    return;
  }
  const min = pos(spec.minduration);
  const max = pos(spec.maxduration);
  if (min !== undefined && dur < min) out.push(`${where}: ${media} duration ${dur}s is below minduration ${min}`);
  if (max !== undefined && dur > max) out.push(`${where}: ${media} duration ${dur}s is above maxduration ${max}`);
}

function checkNativeMarkup(adm: string, imp: Obj, out: string[], where: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(adm);
  } catch {
    out.push(`${where}: native adm is not a JSON string`);
    return;
  }
  const body = isObj(doc) && isObj(doc.native) ? doc.native : doc;
  if (!isObj(body)) {
    out.push(`${where}: native adm is not a JSON object`);
    return;
  }
  if (!isObj(body.link) || typeof body.link.url !== 'string') out.push(`${where}: native adm has no link.url`);
  const assets = arr(body.assets).filter(isObj);
  if (!assets.length && typeof body.assetsurl !== 'string' && typeof body.dcourl !== 'string')
    out.push(`${where}: native adm has no assets`);
  const req = nativeRequestOf(imp);
  if (!req) return;
  const asked = new Map<number, Obj>();
  for (const a of arr(req.assets)) if (isObj(a) && typeof a.id === 'number') asked.set(a.id, a);
  const given = new Set(assets.map((a) => a.id));
  for (const a of assets) if (!asked.has(a.id)) out.push(`${where}: native asset id ${a.id} was not requested`);
  for (const [id, a] of asked) if (a.required === 1 && !given.has(id)) out.push(`${where}: required native asset ${id} is missing`);
  for (const a of assets) {
    const q = asked.get(a.id);
    if (!q) continue;
    if (isObj(q.title) && pos(q.title.len) && typeof a.title?.text === 'string' && a.title.text.length > q.title.len)
      out.push(`${where}: native title of ${a.title.text.length} chars exceeds len ${q.title.len}`);
    if (isObj(q.data) && pos(q.data.len) && typeof a.data?.value === 'string' && a.data.value.length > q.data.len)
      out.push(`${where}: native data asset ${a.id} exceeds len ${q.data.len}`);
  }
}

/**
 * A duration-based floor (2.6 `mincpmpersec`, `durfloors`) for a creative of `dur` seconds; the
 * highest where several apply. Without a duration (a 2.5 answer has no `dur`), the lowest the
 * guidance can set for the shortest duration the imp accepts. undefined: no guidance for it.
 */
function durationFloorOf(o: Obj, dur: unknown, shortest: number): number | undefined {
  const rate = typeof o.mincpmpersec === 'number' && o.mincpmpersec > 0 ? o.mincpmpersec : undefined;
  const ranges = arr(o.durfloors).filter(isObj);
  if (rate === undefined && ranges.length === 0) return undefined;
  const floorOf = (r: Obj) => (typeof r.bidfloor === 'number' ? r.bidfloor : 0);
  if (typeof dur !== 'number') return Math.min(rate === undefined ? Infinity : rate * shortest, ...ranges.map(floorOf));
  let best: number | undefined = rate === undefined ? undefined : rate * dur;
  for (const r of ranges) {
    const lo = typeof r.mindur === 'number' ? r.mindur : 0;
    const hi = typeof r.maxdur === 'number' ? r.maxdur : Infinity;
    if (dur >= lo && dur <= hi && (best === undefined || floorOf(r) > best)) best = floorOf(r);
  }
  return best;
}

function bindingFloor(imp: Obj, deal: Obj | undefined, media: Media | undefined, dur: unknown): { floor: number; cur: string; what: string } {
  const av = media === 'video' || media === 'audio';
  const spec = av && isObj(imp[media]) ? imp[media] : undefined;
  const shortest = spec ? Math.min(...(nums(spec.rqddurs).length ? nums(spec.rqddurs) : [typeof spec.minduration === 'number' ? spec.minduration : 0])) : 0;
  if (deal) {
    const cur = typeof deal.bidfloorcur === 'string' ? deal.bidfloorcur : 'USD';
    const plain = typeof deal.bidfloor === 'number' && deal.bidfloor > 0 ? deal.bidfloor : undefined;
    const byDuration = av ? durationFloorOf(deal, dur, shortest) : undefined;
    if (plain !== undefined || byDuration !== undefined) return { floor: Math.max(plain ?? 0, byDuration ?? 0), cur, what: `deal ${deal.id}'s floor` };
  }
  const impCur = typeof imp.bidfloorcur === 'string' ? imp.bidfloorcur : 'USD';
  if (spec) {
    const byDuration = durationFloorOf(spec, dur, shortest);
    if (byDuration !== undefined) return { floor: byDuration, cur: impCur, what: `the ${media} duration floor` };
  }
  return { floor: typeof imp.bidfloor === 'number' ? imp.bidfloor : 0, cur: impCur, what: 'the imp floor' };
}

/** Every rule the response breaks; empty when it is a conforming bid for this request. */
export function checkBid(request: unknown, response: unknown, opts: CheckOptions): string[] {
  const out: string[] = [];
  if (!isObj(request)) return ['request is not an object'];
  if (!isObj(response)) return ['response is not a JSON object'];
  const req = request as Obj;
  const res = response as Obj;
  if (res.id !== req.id) out.push(`response id ${JSON.stringify(res.id)} is not the request id ${JSON.stringify(req.id)}`);

  const cur = typeof res.cur === 'string' ? res.cur : 'USD';
  const accepted = strs(req.cur);
  if (accepted.length && !accepted.includes(cur)) out.push(`response cur ${cur} is not among the request's cur ${accepted.join(',')}`);

  const imps = new Map<string, Obj>();
  for (const imp of arr(req.imp)) if (isObj(imp) && typeof imp.id === 'string') imps.set(imp.id, imp);
  const badv = strs(req.badv);
  const bcat = strs(req.bcat);
  const bapp = strs(req.bapp).map((b) => b.toLowerCase());
  const wseat = strs(req.wseat);
  const bseat = strs(req.bseat);
  const bidsPerImp = new Map<string, number>();
  const bidIds = new Set<string>();
  let bidCount = 0;

  const seatbids = arr(res.seatbid);
  if (!seatbids.length) out.push('a 200 response without seatbid (a no-bid must be a 204)');
  seatbids.forEach((sb, s) => {
    if (!isObj(sb)) return void out.push(`seatbid[${s}] is not an object`);
    const seat = typeof sb.seat === 'string' ? sb.seat : undefined;
    if (seat !== undefined && wseat.length && !wseat.includes(seat)) out.push(`seat ${seat} is not in wseat ${wseat.join(',')}`);
    if (seat !== undefined && bseat.includes(seat)) out.push(`seat ${seat} is in bseat`);
    const bids = arr(sb.bid);
    if (!bids.length) out.push(`seatbid[${s}] has no bids`);
    bids.forEach((bid, b) => {
      const where = `seatbid[${s}].bid[${b}]`;
      if (!isObj(bid)) return void out.push(`${where} is not an object`);
      bidCount++;
      if (typeof bid.id !== 'string' || bid.id === '') out.push(`${where}: id must be a non-empty string`);
      else if (bidIds.has(bid.id)) out.push(`${where}: bid id ${bid.id} is used twice`);
      else bidIds.add(bid.id);

      const imp = imps.get(bid.impid);
      if (!imp) return void out.push(`${where}: impid ${JSON.stringify(bid.impid)} is not an imp of the request`);
      const n = (bidsPerImp.get(bid.impid) ?? 0) + 1;
      bidsPerImp.set(bid.impid, n);
      if (n === 2) out.push(`${where}: more than one bid for imp ${bid.impid}`);

      // Price and floors.
      const price = bid.price;
      if (typeof price !== 'number' || !Number.isFinite(price) || !(price > 0)) out.push(`${where}: price ${price} must be a number above 0`);
      // The floor that binds (OpenRTB 2.6 implementation guidance 7.11.2): a bid through a deal faces the
      // deal's floor guidance (bidfloor, mincpmpersec or durfloors); without any there, or in the open
      // market, a video or audio bid faces the Video/Audio object's guidance; failing both, the imp floor.
      const pmp = isObj(imp.pmp) ? imp.pmp : undefined;
      const deals = arr(pmp?.deals).filter(isObj);
      const bidDeal = bid.dealid === undefined ? undefined : deals.find((d) => d.id === bid.dealid);
      const bound = bindingFloor(imp, bidDeal, mediaOf(bid, imp), bid.dur);
      if (bound.floor > 0 && typeof price === 'number') {
        const floor = convert(bound.floor, bound.cur, cur, opts.currencies);
        if (!(price >= floor - EPS)) out.push(`${where}: price ${price} ${cur} is below ${bound.what} ${bound.floor} ${bound.cur} (= ${floor} ${cur})`);
      }

      // Deals.
      if (bid.dealid !== undefined) {
        const deal = deals.find((d) => d.id === bid.dealid);
        if (!deal) out.push(`${where}: dealid ${JSON.stringify(bid.dealid)} is not a deal offered on imp ${imp.id}`);
        else {
          const dws = strs(deal.wseat);
          if (dws.length && (seat === undefined || !dws.includes(seat))) out.push(`${where}: seat ${seat} is not in deal ${deal.id}'s wseat ${dws.join(',')}`);
          const wad = strs(deal.wadomain).map(bareDomain);
          if (wad.length && !strs(bid.adomain).some((a) => wad.includes(bareDomain(a))))
            out.push(`${where}: adomain ${strs(bid.adomain).join(',')} is not in deal ${deal.id}'s wadomain ${wad.join(',')}`);
        }
      } else if (pmp?.private_auction === 1) out.push(`${where}: imp ${imp.id} is a private auction but the bid has no dealid`);

      // Block lists.
      for (const a of strs(bid.adomain)) if (domainBlocked(a, badv)) out.push(`${where}: adomain ${a} is blocked by badv`);
      for (const c of strs(bid.cat)) if (categoryBlocked(c, bcat)) out.push(`${where}: cat ${c} is blocked by bcat`);
      if (typeof bid.bundle === 'string' && bapp.includes(bid.bundle.toLowerCase())) out.push(`${where}: bundle ${bid.bundle} is blocked by bapp`);

      // Media type, creative attributes, sizes, durations, markup.
      const media = mediaOf(bid, imp);
      if (bid.mtype !== undefined && !media) out.push(`${where}: mtype ${bid.mtype} is not a known media type`);
      if (media && !isObj(imp[media])) out.push(`${where}: a ${media} bid on imp ${imp.id}, which offers no ${media}`);
      const spec: Obj | undefined = media && isObj(imp[media]) ? imp[media] : undefined;
      if (spec) {
        const battr = nums(spec.battr);
        for (const a of nums(bid.attr)) if (battr.includes(a)) out.push(`${where}: creative attribute ${a} is blocked by ${media}.battr`);
      }
      const adm = bid.adm;
      if (typeof adm !== 'string' || adm.trim() === '') out.push(`${where}: adm must be a non-empty string`);
      if (media === 'banner' && spec) checkBannerSize(bid, spec, out, where);
      if ((media === 'video' || media === 'audio') && spec) {
        checkDuration(bid, spec, out, where, media);
        const mimes = strs(spec.mimes).map((m) => m.toLowerCase());
        const types = typeof adm === 'string' ? vastMediaTypes(adm) : [];
        if (mimes.length && types.length && !types.some((t) => mimes.includes(t)))
          out.push(`${where}: VAST media files (${types.join(',')}) match none of ${media}.mimes ${mimes.join(',')}`);
      }
      if (media === 'native' && typeof adm === 'string') checkNativeMarkup(adm, imp, out, where);
      if (imp.secure === 1 && typeof adm === 'string' && /(?:src|href)\s*=\s*["']?http:\/\/|<!\[CDATA\[\s*http:\/\/|"url"\s*:\s*"http:\/\//i.test(adm))
        out.push(`${where}: imp ${imp.id} requires secure creatives but the adm loads http:// resources`);

      // Version-specific fields.
      if (opts.version === '2.5') {
        if (bid.mtype !== undefined) out.push(`${where}: mtype is a 2.6 field, sent to a 2.5 exchange`);
        if (bid.dur !== undefined) out.push(`${where}: dur is a 2.6 field, sent to a 2.5 exchange`);
      }
    });
  });
  if (seatbids.length && bidCount === 0) out.push('a 200 response without any bid');
  return out;
}
