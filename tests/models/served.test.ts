/**
 * The trainer on a served bidder: each bid's features reach it with the bid id, and the impression
 * pixel, the click redirect and the conversion postback of that bid become its examples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, httpRequest, type TestBidder } from '../helpers/bidder.js';
import { RecordingSink, bannerRequest, clickUrl, impressionPixel, pathOf } from '../helpers/notice-kit.js';
import { DEFAULT_TRAINER, OutcomeTrainer } from '../../src/models/trainer.js';
import { NO_MODELS, OutcomeModelsRef } from '../../src/models/outcome-models.js';

let bidder: TestBidder;
const trainer = new OutcomeTrainer({ ...DEFAULT_TRAINER, priorBits: 12, campaignBits: 8 });
const fed: string[] = [];

beforeAll(async () => {
  const outcomes = {
    bid: (bidId: string, campaignId: string, f: Uint32Array, at: number) => {
      fed.push(bidId);
      trainer.bid(bidId, campaignId, f, at);
    },
    impression: (bidId: string, at: number) => trainer.impression(bidId, at),
    click: (bidId: string, at: number) => trainer.click(bidId, at),
    conversion: (bidId: string, campaignId: string, value: number) => trainer.conversion(bidId, campaignId, value),
  };
  bidder = await startBidder({ configDir: 'config', events: new RecordingSink(), models: new OutcomeModelsRef({ ...NO_MODELS, record: true }), outcomes });
});
afterAll(() => bidder?.close());

const get = (url: string) => httpRequest(bidder.port, 'GET', url.startsWith('http') ? pathOf(url) : url);

describe('outcome trainer on the bid and notice routes', () => {
  it('takes the features of each bid, then its impression, click and conversion', async () => {
    const r = await bidder.post('/bid', bannerRequest('req-outcomes'));
    expect(r.status, r.text).toBe(200);
    const bid = r.json().seatbid[0].bid[0];
    expect(fed).toEqual([bid.id]);
    expect(trainer.report().pending.bids).toBe(1);
    expect((await get(impressionPixel(bid.adm)!)).status).toBe(200);
    expect(trainer.report().pending).toMatchObject({ bids: 0, impressions: 1 });
    const click = await get(clickUrl(bid.adm)!);
    expect(click.status).toBe(302);
    expect(trainer.report().click).toMatchObject({ trained: 1, positives: 1 });
    const token = new URL(String(click.headers.location)).searchParams.get('dsp_click')!;
    expect((await get(`/notice/conversion?click=${token}&order=o1&value=12.5&currency=USD`)).status).toBe(204);
    expect(trainer.report().conversion).toMatchObject({ trained: 1, positives: 1 });
  });
});
