/**
 * The checker must be able to fail: a conforming response passes, and each hand-made breach of
 * one rule is reported (and only that one).
 */
import { describe, expect, it } from 'vitest';
import { checkBid, vastDuration, type CurrencyRates } from './check-bid.js';

const currencies: CurrencyRates = { base: 'USD', rates: { EUR: 0.92, GBP: 0.79 } };
const vast = (secs: number, type = 'video/mp4') =>
  `<VAST version="3.0"><Ad><InLine><Creatives><Creative><Linear><Duration>00:00:${String(secs).padStart(2, '0')}</Duration><MediaFiles>` +
  `<MediaFile type="${type}"><![CDATA[https://cdn.example/v.mp4]]></MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>`;
const nativeRequest = JSON.stringify({ ver: '1.2', assets: [{ id: 1, required: 1, title: { len: 25 } }, { id: 2, img: { type: 3, wmin: 100, hmin: 100 } }] });
const nativeAdm = JSON.stringify({ ver: '1.2', assets: [{ id: 1, title: { text: 'Trail shoes' } }], link: { url: 'https://x.example/' } });

function request(): any {
  return {
    id: 'req-1',
    cur: ['USD', 'EUR'],
    badv: ['ford.com'],
    bcat: ['IAB25', 'IAB7'],
    bapp: ['com.blocked.app'],
    wseat: ['seat-a', 'seat-b'],
    bseat: ['seat-x'],
    imp: [
      { id: 'b1', banner: { format: [{ w: 300, h: 250 }, { w: 728, h: 90 }], battr: [1, 3] }, bidfloor: 1, bidfloorcur: 'EUR' },
      { id: 'v1', video: { mimes: ['video/mp4'], minduration: 5, maxduration: 30, battr: [14] }, bidfloor: 2 },
      { id: 'n1', native: { request: nativeRequest } },
      {
        id: 'd1',
        banner: { w: 300, h: 600 },
        pmp: { private_auction: 1, deals: [{ id: 'deal-a', bidfloor: 5, bidfloorcur: 'GBP', wseat: ['seat-a'], wadomain: ['good.example'] }] },
      },
      { id: 'r1', banner: { wmin: 200, wmax: 300, hmin: 50, hmax: 100 } },
    ],
  };
}

function response(): any {
  return {
    id: 'req-1',
    cur: 'USD',
    seatbid: [
      {
        seat: 'seat-a',
        bid: [
          // 1 EUR floor = 1.087 USD.
          { id: 'x1', impid: 'b1', price: 1.09, adomain: ['good.example'], cat: ['IAB1-2'], attr: [2], w: 300, h: 250, mtype: 1, adm: '<img src="https://cdn.example/a.png">' },
          { id: 'x2', impid: 'v1', price: 2, adomain: ['good.example'], mtype: 2, dur: 15, adm: vast(15) },
          { id: 'x3', impid: 'n1', price: 1, adomain: ['good.example'], mtype: 4, adm: nativeAdm },
          // 5 GBP deal floor = 6.33 USD.
          { id: 'x4', impid: 'd1', price: 6.33, dealid: 'deal-a', adomain: ['good.example'], w: 300, h: 600, mtype: 1, adm: '<div></div>' },
          { id: 'x5', impid: 'r1', price: 0.5, adomain: ['good.example'], w: 234, h: 60, mtype: 1, adm: '<div></div>' },
        ],
      },
    ],
  };
}

type Mutate = (req: any, res: any) => void;
const bid = (res: any, impid: string) => res.seatbid[0].bid.find((b: any) => b.impid === impid);

const BREACHES: [string, Mutate, RegExp][] = [
  ['wrong response id', (_, res) => (res.id = 'other'), /response id "other" is not the request id/],
  ['currency the request does not accept', (_, res) => ((res.cur = 'GBP'), (bid(res, 'b1').price = 2), (bid(res, 'd1').price = 5), (bid(res, 'v1').price = 2)), /response cur GBP is not among/],
  ['unknown impid', (_, res) => (bid(res, 'b1').impid = 'nope'), /impid "nope" is not an imp/],
  ['two bids for one imp', (_, res) => res.seatbid[0].bid.push({ ...bid(res, 'b1'), id: 'x9' }), /more than one bid for imp b1/],
  ['price of 0', (_, res) => (bid(res, 'v1').price = 0), /price 0 must be a number above 0/],
  ['below a floor in another currency', (_, res) => (bid(res, 'b1').price = 1.0), /below the imp floor 1 EUR/],
  ['below the deal floor', (_, res) => (bid(res, 'd1').price = 6.0), /below deal deal-a's floor 5 GBP/],
  ['below the imp floor through a deal without a floor of its own', (req) => ((req.imp[3].bidfloor = 7), delete req.imp[3].pmp.deals[0].bidfloor), /below the imp floor 7 USD/],
  ['below the video mincpmpersec for its duration', (req) => (req.imp[1].video.mincpmpersec = 0.2), /below the video duration floor 3 USD/],
  ['below the durfloors range holding its duration', (req) => (req.imp[1].video.durfloors = [{ maxdur: 10, bidfloor: 1 }, { mindur: 11, maxdur: 20, bidfloor: 2.5 }]), /below the video duration floor 2.5 USD/],
  ['below a video floor the 2.5 answer (no dur) is bound by at the shortest duration', (req, res) => ((req.imp[1].video.mincpmpersec = 0.5), delete bid(res, 'v1').dur), /below the video duration floor 2.5 USD/],
  ["below a deal's durfloors", (req, res) => ((bid(res, 'd1').mtype = 2), (bid(res, 'd1').dur = 15), (bid(res, 'd1').adm = vast(15)), (req.imp[3].video = { mimes: ['video/mp4'] }), delete req.imp[3].pmp.deals[0].bidfloor, (req.imp[3].pmp.deals[0].durfloors = [{ bidfloor: 7 }])), /below deal deal-a's floor 7 GBP/],
  ['deal not offered on the imp', (_, res) => (bid(res, 'd1').dealid = 'deal-z'), /dealid "deal-z" is not a deal offered/],
  ['private auction without a deal', (_, res) => delete bid(res, 'd1').dealid, /private auction but the bid has no dealid/],
  ['seat outside the deal wseat', (req) => (req.imp[3].pmp.deals[0].wseat = ['seat-b']), /not in deal deal-a's wseat/],
  ['adomain outside the deal wadomain', (_, res) => (bid(res, 'd1').adomain = ['other.example']), /not in deal deal-a's wadomain/],
  ['banner size not in format', (_, res) => ((bid(res, 'b1').w = 320), (bid(res, 'b1').h = 50)), /banner size 320x50 is not one the imp accepts/],
  ['banner size outside wmax/hmax', (_, res) => ((bid(res, 'r1').w = 300), (bid(res, 'r1').h = 250)), /breaks banner.hmax=100/],
  ['banner height other than a lone h', (req) => (req.imp[4].banner = { h: 90 }), /breaks banner.h=90/],
  ['adomain subdomain of a badv entry', (_, res) => (bid(res, 'b1').adomain = ['shop.ford.com']), /adomain shop.ford.com is blocked by badv/],
  ['cat whose parent is in bcat', (_, res) => (bid(res, 'b1').cat = ['IAB7-39']), /cat IAB7-39 is blocked by bcat/],
  ['creative attribute in battr', (_, res) => (bid(res, 'b1').attr = [3]), /creative attribute 3 is blocked by banner.battr/],
  ['bundle in bapp', (_, res) => (bid(res, 'b1').bundle = 'com.blocked.app'), /bundle com.blocked.app is blocked by bapp/],
  ['seat not in wseat', (_, res) => (res.seatbid[0].seat = 'seat-c'), /seat seat-c is not in wseat/],
  ['seat in bseat', (req, res) => ((req.wseat = []), (res.seatbid[0].seat = 'seat-x')), /seat seat-x is in bseat/],
  ['video longer than maxduration', (_, res) => ((bid(res, 'v1').dur = 45), (bid(res, 'v1').adm = vast(45))), /video duration 45s is above maxduration 30/],
  ['VAST duration out of range when dur is absent (2.5)', (_, res) => (delete bid(res, 'v1').dur, (bid(res, 'v1').adm = vast(3))), /video duration 3s is below minduration 5/],
  ['VAST media type not in mimes', (_, res) => (bid(res, 'v1').adm = vast(15, 'video/webm')), /match none of video.mimes/],
  ['banner bid on a video-only imp', (_, res) => (bid(res, 'v1').mtype = 1), /a banner bid on imp v1, which offers no banner/],
  ['missing adm', (_, res) => delete bid(res, 'b1').adm, /adm must be a non-empty string/],
  ['native adm that is not JSON', (_, res) => (bid(res, 'n1').adm = '<div>native</div>'), /native adm is not a JSON string/],
  ['native adm without the required asset', (_, res) => (bid(res, 'n1').adm = JSON.stringify({ assets: [{ id: 2, img: { url: 'https://i' } }], link: { url: 'https://l' } })), /required native asset 1 is missing/],
  ['native adm with no assets', (_, res) => (bid(res, 'n1').adm = JSON.stringify({ assets: [], link: { url: 'https://l' } })), /native adm has no assets/],
  ['http resources on a secure imp', (req, res) => ((req.imp[0].secure = 1), (bid(res, 'b1').adm = '<img src="http://cdn.example/a.png">')), /requires secure creatives/],
  ['empty seatbid on a 200', (_, res) => (res.seatbid = []), /without seatbid/],
];

describe('checkBid', () => {
  it('passes a conforming response', () => {
    expect(checkBid(request(), response(), { currencies, version: '2.6' })).toEqual([]);
  });

  it("holds a deal bid to its deal's floor, even below the imp's (OpenRTB 2.6 implementation guidance 7.11)", () => {
    const req = request();
    req.imp[3].bidfloor = 9; // above the deal's 5 GBP (6.33 USD), which the bid meets
    expect(checkBid(req, response(), { currencies, version: '2.6' })).toEqual([]);
  });

  it("holds a video bid to the Video object's duration floor, even below the imp's, and a banner bid to the imp's", () => {
    const req = request();
    req.imp[1].bidfloor = 5; // above the bid's 2.00
    req.imp[1].video.durfloors = [{ mindur: 10, maxdur: 20, bidfloor: 1.5 }]; // holds the 15 s bid: it binds instead
    expect(checkBid(req, response(), { currencies, version: '2.6' })).toEqual([]);
    req.imp[1].video.durfloors = [{ mindur: 20, bidfloor: 1.5 }]; // no range holds 15 s: the imp's 5 binds
    expect(checkBid(req, response(), { currencies, version: '2.6' }).join()).toMatch(/below the imp floor 5 USD/);
  });

  it.each(BREACHES)('reports %s', (_, mutate, expected) => {
    const req = request();
    const res = response();
    mutate(req, res);
    const violations = checkBid(req, res, { currencies, version: '2.6' });
    expect(violations.some((v) => expected.test(v)), violations.join('\n') || '(no violations)').toBe(true);
  });

  it('reports 2.6-only fields sent to a 2.5 exchange, and accepts their absence', () => {
    const res = response();
    expect(checkBid(request(), res, { currencies, version: '2.5' })).toEqual(expect.arrayContaining([expect.stringMatching(/mtype is a 2.6 field/), expect.stringMatching(/dur is a 2.6 field/)]));
    for (const b of res.seatbid[0].bid) delete b.mtype, delete b.dur;
    expect(checkBid(request(), res, { currencies, version: '2.5' })).toEqual([]);
  });

  it('reads VAST durations', () => {
    expect(vastDuration('<Duration>00:01:05.250</Duration>')).toBe(65);
    expect(vastDuration('<Linear></Linear>')).toBeUndefined();
  });
});
