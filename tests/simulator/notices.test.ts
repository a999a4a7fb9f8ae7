/**
 * Exchange-side handling of a bid's URLs: macro substitution in nurl/burl/lurl, and finding the
 * impression pixel and click URL in banner HTML, VAST and Native markup.
 */
import { describe, expect, it } from 'vitest';
import { findTrackers, formatPrice, isLocalUrl, substituteMacros } from '../../src/simulator/notices.js';

describe('macros', () => {
  const m = { auctionId: 'req 1', bidId: 'b-1', impId: '2', seatId: 'seat', adId: 'cr-9', currency: 'EUR', price: 1.234567891, minToWin: 1.3, loss: 102 };

  it('replaces every OpenRTB auction macro, URL-encoded', () => {
    const url =
      'http://localhost/n?a=${AUCTION_ID}&b=${AUCTION_BID_ID}&i=${AUCTION_IMP_ID}&s=${AUCTION_SEAT_ID}&ad=${AUCTION_AD_ID}&p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&m=${AUCTION_MIN_TO_WIN}&l=${AUCTION_LOSS}&w=%%WINNING_PRICE%%&mbr=${AUCTION_MBR}';
    expect(substituteMacros(url, m)).toBe('http://localhost/n?a=req%201&b=b-1&i=2&s=seat&ad=cr-9&p=1.234568&c=EUR&m=1.3&l=102&w=1.234568&mbr=');
  });

  it('leaves unknown macros and plain text alone, and empties absent values', () => {
    expect(substituteMacros('x ${OTHER} y', m)).toBe('x ${OTHER} y');
    expect(substituteMacros('p=${AUCTION_PRICE}&l=${AUCTION_LOSS}', { auctionId: 'a', bidId: 'b', impId: 'c', currency: 'USD' })).toBe('p=&l=');
  });

  it('formats prices without exponents or trailing zeros', () => {
    expect(formatPrice(2)).toBe('2');
    expect(formatPrice(0.0000001)).toBe('0');
    expect(formatPrice(1.5)).toBe('1.5');
  });
});

describe('trackers in markup', () => {
  it('banner: the 1x1 pixel and the click link, HTML-unescaped', () => {
    const adm =
      '<a href="http://localhost:8080/notice/click/default?b=1&amp;s=x"><img src="https://cdn.example/300x250.png" width="300" height="250"></a>' +
      '<img src="http://localhost:8080/notice/impression/default?b=1&amp;s=x" width="1" height="1" alt="">';
    expect(findTrackers(adm)).toEqual({
      impressions: ['http://localhost:8080/notice/impression/default?b=1&s=x'],
      clicks: ['http://localhost:8080/notice/click/default?b=1&s=x'],
    });
  });

  it('VAST: every <Impression>, CDATA or not', () => {
    const vast =
      '<VAST version="3.0"><Ad><InLine><Impression><![CDATA[https://px.example/imp]]></Impression><Impression><![CDATA[http://127.0.0.1:1/notice/impression/default?b=2]]></Impression>' +
      '<Creatives><Creative><Linear><VideoClicks><ClickThrough>https://adv.example/</ClickThrough></VideoClicks></Linear></Creative></Creatives></InLine></Ad></VAST>';
    expect(findTrackers(vast)).toEqual({ impressions: ['https://px.example/imp', 'http://127.0.0.1:1/notice/impression/default?b=2'], clicks: ['https://adv.example/'] });
  });

  it('native 1.2: imptrackers, image eventtrackers and link.url; native 1.0 wrapped alike', () => {
    const n = { ver: '1.2', assets: [], link: { url: 'http://localhost/notice/click/x' }, imptrackers: ['http://localhost/notice/impression/x'], eventtrackers: [{ event: 1, method: 1, url: 'https://t.example/e' }, { event: 1, method: 2, url: 'https://t.example/js' }] };
    expect(findTrackers(JSON.stringify(n))).toEqual({ impressions: ['http://localhost/notice/impression/x', 'https://t.example/e'], clicks: ['http://localhost/notice/click/x'] });
    expect(findTrackers(JSON.stringify({ native: n })).clicks).toEqual(['http://localhost/notice/click/x']);
    expect(findTrackers('{not json')).toEqual({ impressions: [], clicks: [] });
    expect(findTrackers(undefined)).toEqual({ impressions: [], clicks: [] });
  });
});

describe('local targets only', () => {
  it('accepts 127.0.0.1, localhost and ::1 and nothing else', () => {
    expect(isLocalUrl('http://127.0.0.1:8080/bid')).toBe(true);
    expect(isLocalUrl('http://localhost/notice/win/x')).toBe(true);
    expect(isLocalUrl('http://[::1]:80/')).toBe(true);
    expect(isLocalUrl('https://px.streamly.example/imp')).toBe(false);
    expect(isLocalUrl('http://10.0.0.1/')).toBe(false);
    expect(isLocalUrl('http://localhost.evil.example/')).toBe(false);
    expect(isLocalUrl('not a url')).toBe(false);
  });
});
