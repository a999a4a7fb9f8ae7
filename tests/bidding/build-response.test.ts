/**
 * The BidResponse is written as JSON text directly (build-response.ts), with the creative's markup
 * escaped once per compiled creative. It must be exactly the text JSON.stringify makes of the
 * response object (which the protobuf encoder uses): same fields, same order, same escaping, for
 * every media type, with and without trackers, deals, 2.6 fields and awkward strings.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildBidResponse, buildBidResponseObject, type ResponseContext } from '../../src/bidding/build-response.js';
import { BidIds, threadName } from '../../src/events/notice-urls.js';
import { NoticeSigner, parseSigningKeys } from '../../src/events/notice-signer.js';
import { decideFor, type BidDecision } from '../../src/bidding/bidder.js';
import type { Campaign, ConfigBundle } from '../../src/campaigns/schema.js';
import type { Snapshot } from '../../src/campaigns/snapshot.js';
import { snapshotOf, view } from '../bidding/support.js';

const signer = new NoticeSigner(parseSigningKeys('k1:0123456789abcdef0123456789abcdef'));
const NOW = Date.UTC(2026, 5, 1, 12);

/** Two contexts that hand out the same bid ids, one per builder. */
function contexts(base: string): [ResponseContext, ResponseContext] {
  return [
    { noticeBaseUrl: base, bidIds: new BidIds(threadName('t', 0, 1_700_000_000_000)), signer },
    { noticeBaseUrl: base, bidIds: new BidIds(threadName('t', 0, 1_700_000_000_000)), signer },
  ];
}

function bothTexts(snap: Snapshot, request: object, base = 'https://bid.example', exchange = snap.defaultExchange): { text: string; expected: string; bids: readonly BidDecision[] } {
  const req = view(request);
  const d = decideFor(req, snap, exchange, NOW);
  if (d.noBid !== undefined) throw new Error(`no bid: ${d.noBid}`);
  const [a, b] = contexts(base);
  const text = buildBidResponse(req.id, d.bids, d.currency, exchange, a, 1_780_000_000);
  const object = buildBidResponseObject(req.id, d.bids, d.currency, exchange, b, 1_780_000_000);
  expect(text.identities).toEqual(object.identities);
  return { text: text.json, expected: JSON.stringify(object.response), bids: d.bids };
}

const VAST = (title: string, wrapper = 'InLine') =>
  `<VAST version="3.0"><Ad id="a"><${wrapper}><AdSystem>dsp</AdSystem><AdTitle>${title}</AdTitle><Creatives><Creative><Linear><Duration>00:00:15</Duration>` +
  `<MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="640" height="360">https://cdn.example/v.mp4</MediaFile></MediaFiles></Linear></Creative></Creatives></${wrapper}></Ad></VAST>`;

function campaigns(text: string): Campaign[] {
  return [
    {
      id: 'banner',
      advertiserId: 'adv',
      bid: { base: 1, max: 2 },
      categories: ['IAB1-1'],
      creatives: [
        {
          id: 'cr-banner',
          type: 'banner',
          w: 300,
          h: 250,
          attrs: [1, 3],
          landingUrl: 'https://shop.example/p?a=1&b=2',
          html: `<a href="\${DSP_CLICK_URL}" title="${text}">${text}</a><span>\\"${text}"</span><a href='\${DSP_CLICK_URL}'>more</a>`,
        },
      ],
    },
    {
      id: 'plain',
      advertiserId: 'adv',
      bid: { base: 1, max: 2 },
      creatives: [{ id: 'cr-plain', type: 'banner', w: 728, h: 90, html: `<div data-x="${text}">no click macro</div>` }],
    },
    {
      id: 'video',
      advertiserId: 'adv',
      bid: { base: 1, max: 2 },
      creatives: [{ id: 'cr-video', type: 'video', vast: VAST(text), duration: 15, mimes: ['video/mp4'], protocols: [2, 3] }],
    },
    {
      id: 'audio',
      advertiserId: 'adv',
      bid: { base: 1, max: 2 },
      creatives: [{ id: 'cr-audio', type: 'audio', vast: `<DAAST>${text}</DAAST>`, duration: 30, mimes: ['audio/mpeg'] }],
    },
    {
      id: 'native',
      advertiserId: 'adv',
      bid: { base: 1, max: 2 },
      creatives: [{ id: 'cr-native', type: 'native', title: text, clickUrl: 'https://shop.example/n?x=1&y=2', sponsored: 'Brand "B"' }],
    },
  ];
}

const EXCHANGES: ConfigBundle['exchanges'] = [
  { id: 'main', seat: 'seat-"main"', currency: 'USD', versions: ['2.5'] },
  { id: 'new', seat: 'seat-new', currency: 'USD', versions: ['2.5', '2.6'], sendNurl: false },
];

const NATIVE_REQUEST = JSON.stringify({ ver: '1.2', assets: [{ id: 1, required: 1, title: { len: 200 } }, { id: 2, data: { type: 1 } }] });

/** Requests for each creative (the media type picks the campaign), with awkward ids. */
function requests(id: string, impId: string): object[] {
  const imp = (x: object) => ({ imp: [{ id: impId, ...x }], id });
  return [
    imp({ banner: { w: 300, h: 250 } }),
    imp({ banner: { w: 300, h: 250 }, secure: 1 }),
    imp({ banner: { w: 728, h: 90 } }),
    imp({ video: { mimes: ['video/mp4'], protocols: [2], w: 640, h: 360, maxduration: 30 } }),
    imp({ video: { mimes: ['video/mp4'], protocols: [2], maxduration: 30 } }),
    imp({ video: { mimes: ['video/mp4'], protocols: [2], maxduration: 30 }, secure: 1 }),
    imp({ native: { request: NATIVE_REQUEST, ver: '1.2' }, secure: 1 }),
    imp({ audio: { mimes: ['audio/mpeg'], maxduration: 60 } }),
    imp({ audio: { mimes: ['audio/mpeg'], maxduration: 60 }, video: { mimes: ['video/webm'], protocols: [2], w: 320, h: 480 } }),
    imp({ native: { request: NATIVE_REQUEST, ver: '1.2' } }),
    { id, imp: [{ id: impId, banner: { w: 300, h: 250 } }, { id: `${impId}-2`, banner: { w: 728, h: 90 } }] },
  ];
}

describe('buildBidResponse writes the text JSON.stringify makes of the response object', () => {
  it('for every media type, both protocol versions, with and without trackers', () => {
    const snap = snapshotOf(campaigns('Sale "50%" & more <b>'), { exchanges: EXCHANGES });
    let checked = 0;
    for (const ex of snap.exchanges.values())
      for (const base of ['https://bid.example', 'http://bid.example'])
        for (const r of requests('req-1', '1')) {
          const { text, expected, bids } = bothTexts(snap, r, base, ex);
          expect(text).toBe(expected);
          expect(JSON.parse(text).seatbid[0].bid).toHaveLength(bids.length);
          checked++;
        }
    expect(checked).toBe(44);
  });

  it('uses the imp size for a video creative without its own, and sends 2.6 fields only to 2.6 exchanges', () => {
    const snap = snapshotOf(campaigns('t'), { exchanges: EXCHANGES });
    const [, video] = [0, 3].map((k) => requests('r', '1')[k]);
    const old = JSON.parse(bothTexts(snap, video, undefined, snap.exchanges.get('main')!).text).seatbid[0].bid[0];
    const now = JSON.parse(bothTexts(snap, video, undefined, snap.exchanges.get('new')!).text).seatbid[0].bid[0];
    expect([old.w, old.h, old.mtype, old.dur]).toEqual([640, 360, undefined, undefined]);
    expect([now.w, now.h, now.mtype, now.dur]).toEqual([640, 360, 2, 15]);
    expect([typeof old.nurl, now.nurl]).toEqual(['string', undefined]); // `new` has sendNurl: false
    expect(now.adm).toContain('<Impression><![CDATA[https://bid.example/notice/impression/new?');
  });

  it('for any text in markup, request ids and imp ids (property)', () => {
    const text = fc.string({ unit: fc.constantFrom('a', '"', '\\', "'", '&', '<', '>', 'é', '😀', '\n', '\t', '\u2028', '\u0001', ' '), minLength: 1, maxLength: 24 });
    const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 });
    fc.assert(
      fc.property(text, id, id, fc.integer({ min: 0, max: 10 }), (t, reqId, impId, k) => {
        const snap = snapshotOf(campaigns(t), { exchanges: EXCHANGES });
        for (const ex of snap.exchanges.values()) {
          const { text: got, expected } = bothTexts(snap, requests(reqId, impId)[k], 'https://bid.example', ex);
          expect(got).toBe(expected);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('carries a deal id', () => {
    const deal: Campaign = { ...campaigns('d')[0], id: 'deal', deals: [{ id: 'deal.1:x' }], bid: { base: 1.5, max: 3 } };
    const snap = snapshotOf([deal], { exchanges: EXCHANGES });
    const { text, expected } = bothTexts(snap, { imp: [{ id: '1', banner: { w: 300, h: 250 }, pmp: { private_auction: 1, deals: [{ id: 'deal.1:x', bidfloor: 0.5 }] } }] });
    expect(text).toBe(expected);
    expect(JSON.parse(text).seatbid[0].bid[0].dealid).toBe('deal.1:x');
  });
});
