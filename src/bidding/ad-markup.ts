/**
 * The `adm` of a bid, with the bidder's trackers in it: banners get the click redirect in place of
 * `${DSP_CLICK_URL}` and a 1x1 impression pixel; VAST gets an <Impression> element; native gets an
 * impression tracker and the click redirect as its link.
 */
import type { CompiledCreative } from '../targeting/compiled-campaign.js';
import { nativeMarkup, type NativeRequest } from '../openrtb/native.js';
import type { NoticeUrls } from './notice-urls.js';

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

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
      return `${html}<img src="${escapeAttr(urls.impression)}" width="1" height="1" alt="" style="position:absolute;border:0;width:1px;height:1px">`;
    }
    case 'video':
    case 'audio': {
      const vast = cr.markup!;
      if (cr.vastInsertAt < 0 || !trackers) return vast;
      return `${vast.slice(0, cr.vastInsertAt)}<Impression><![CDATA[${urls.impression}]]></Impression>${vast.slice(cr.vastInsertAt)}`;
    }
    case 'native':
      return trackers ? nativeMarkup(native!, cr.native!, urls.impression, urls.click) : nativeMarkup(native!, cr.native!);
  }
}
