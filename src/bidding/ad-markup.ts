/**
 * The `adm` of a bid, with the bidder's trackers in it: banners get the click redirect in place of
 * `${DSP_CLICK_URL}` and a 1x1 impression pixel; VAST gets an <Impression> element; native gets an
 * impression tracker and the click redirect as its link.
 */
import type { CompiledCreative } from '../targeting/compiled-campaign.js';
import { nativeMarkup, type NativeRequest } from '../openrtb/native.js';
import { jsonQuery, type NoticeTemplate, type NoticeUrls } from '../events/notice-urls.js';

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** Our impression pixel, around its (attribute-escaped) URL. */
const PIXEL_HEAD = '<img src="';
const PIXEL_TAIL = '" width="1" height="1" alt="" style="position:absolute;border:0;width:1px;height:1px">';
const IMPRESSION_HEAD = '<Impression><![CDATA[';
const IMPRESSION_TAIL = ']]></Impression>';

/**
 * `trackers` false leaves the bidder's pixel and click redirect out (the creative's own markup as
 * configured): used on `secure` imps when the notice base URL is plain http, which would make a
 * secure creative insecure. Win, billing and loss notices are server-to-server and unaffected.
 */
export function adMarkup(cr: CompiledCreative, urls: NoticeUrls, native: NativeRequest | undefined, trackers = true): string {
  switch (cr.type) {
    case 'banner': {
      const click = trackers ? urls.click : (cr.landingUrl ?? '#');
      const html = cr.markupParts!.length === 1 ? cr.markup! : cr.markupParts!.join(escapeAttr(click));
      if (!trackers) return html;
      return `${html}${PIXEL_HEAD}${escapeAttr(urls.impression)}${PIXEL_TAIL}`;
    }
    case 'video':
    case 'audio': {
      const vast = cr.markup!;
      if (cr.vastInsertAt < 0 || !trackers) return vast;
      return `${vast.slice(0, cr.vastInsertAt)}${IMPRESSION_HEAD}${urls.impression}${IMPRESSION_TAIL}${vast.slice(cr.vastInsertAt)}`;
    }
    case 'native':
      return trackers ? nativeMarkup(native!, cr.native!, urls.impression, urls.click) : nativeMarkup(native!, cr.native!);
  }
}

/**
 * `adMarkup` as a JSON string literal (quotes included), ready to go into the response text:
 * JSON.stringify(adMarkup(...)), without escaping the creative's markup again for every bid. The
 * markup's escaped pieces are made once per compiled creative (a new snapshot compiles new
 * creatives, and the old ones' pieces go with them); only the URLs are escaped per bid.
 */
export function adMarkupJson(cr: CompiledCreative, urls: NoticeUrls, native: NativeRequest | undefined, trackers = true): string {
  if (cr.type === 'native') return JSON.stringify(adMarkup(cr, urls, native, trackers));
  const e = escapedPieces(cr);
  if (cr.type === 'banner') {
    const parts = e.parts;
    let out = '"' + parts[0];
    if (!trackers) {
      if (parts.length > 1) {
        const landing = jsonInner(escapeAttr(cr.landingUrl ?? '#'));
        for (let i = 1; i < parts.length; i++) out += landing + parts[i];
      }
      return out + '"';
    }
    // Both of our URLs in a banner are the bid's query behind a fixed head: the query is escaped once.
    // Without a `"` in it (ids are URL-encoded; the rest is ours), escaping it as an attribute and then
    // as JSON is its JSON escape (made for the notice fields anyway) with `&` as `&amp;`: JSON escapes
    // leave `&` alone and never make one.
    const query = urls.query.indexOf('"') < 0 ? jsonQuery(urls).replaceAll('&', '&amp;') : jsonInner(escapeAttr(urls.query));
    const heads = escapedHeads(urls.template);
    if (parts.length > 1) {
      const click = heads.click + query;
      for (let i = 1; i < parts.length; i++) out += click + parts[i];
    }
    return `${out}${JSON_PIXEL_HEAD}${heads.impression}${query}${JSON_PIXEL_TAIL}"`;
  }
  if (cr.vastInsertAt < 0 || !trackers) return `"${e.parts[0]}${e.parts[1]}"`;
  return `"${e.parts[0]}${IMPRESSION_HEAD}${urls.template.json.impression}${jsonQuery(urls)}${IMPRESSION_TAIL}${e.parts[1]}"`;
}

/** A notice template's click and impression heads, attribute- then JSON-escaped (both escapes work character by character, so head and query can be escaped apart). */
interface EscapedHeads {
  readonly click: string;
  readonly impression: string;
}
const escapedHeadsOf = new WeakMap<NoticeTemplate, EscapedHeads>();

function escapedHeads(t: NoticeTemplate): EscapedHeads {
  let h = escapedHeadsOf.get(t);
  if (h === undefined) {
    h = { click: jsonInner(escapeAttr(t.click)), impression: jsonInner(escapeAttr(t.impression)) };
    escapedHeadsOf.set(t, h);
  }
  return h;
}

const jsonInner = (s: string) => JSON.stringify(s).slice(1, -1);
const JSON_PIXEL_HEAD = jsonInner(PIXEL_HEAD);
const JSON_PIXEL_TAIL = jsonInner(PIXEL_TAIL);

/** A creative's markup, JSON-escaped: banner pieces around each click URL; VAST before and after our <Impression>. */
interface EscapedPieces {
  readonly parts: readonly string[];
}
const escaped = new WeakMap<CompiledCreative, EscapedPieces>();

function escapedPieces(cr: CompiledCreative): EscapedPieces {
  let e = escaped.get(cr);
  if (e === undefined) {
    const at = cr.vastInsertAt < 0 ? cr.markup!.length : cr.vastInsertAt;
    const raw = cr.type === 'banner' ? cr.markupParts! : [cr.markup!.slice(0, at), cr.markup!.slice(at)];
    e = { parts: raw.map(jsonInner) };
    escaped.set(cr, e);
  }
  return e;
}
