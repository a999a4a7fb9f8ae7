/** bench --protobuf: the mix as protobuf bodies decodes back to the same requests, and the ceiling server decodes them. */
import { afterAll, describe, expect, it } from 'vitest';
import { buildRequestMix } from '../../bench/scenario/requests.js';
import { protobufBodies, PROTOBUF_TYPE } from '../../bench/protobuf-bodies.js';
import { buildCeilingApp } from '../../bench/ceiling-server.js';
import { isRefusal, openRtbProtobuf } from '../../src/openrtb/protobuf-codec.js';
import { listenExclusive, type Listening } from '../../src/http/listen.js';
import { httpRequest } from '../helpers/bidder.js';

const mix = buildRequestMix('pb', 200, 1_000);
const bodies = protobufBodies(mix.bodies);
let server: Listening | undefined;
afterAll(() => server?.close());

describe('protobuf bodies of the bench mix', () => {
  it('decode to the same ids, imps and floors as the JSON bodies', () => {
    const codec = openRtbProtobuf();
    expect(bodies).toHaveLength(mix.bodies.length);
    for (let i = 0; i < bodies.length; i++) {
      const json = JSON.parse(mix.bodies[i].toString('utf8'));
      const view = codec.parseBidRequest(bodies[i]);
      if (isRefusal(view)) throw new Error(`body ${i}: ${view.message}`);
      expect(view.id).toBe(json.id);
      expect(view.imps.map((m) => [m.id, m.bidFloor])).toEqual(json.imp.map((m: { id: string; bidfloor?: number }) => [m.id, m.bidfloor ?? 0]));
      expect(bodies[i].length).toBeLessThan(mix.bodies[i].length); // the point of protobuf
    }
  });

  it('the protobuf ceiling server answers 204 to them and 400 to bytes that are not a BidRequest', async () => {
    server = await listenExclusive(buildCeilingApp(true), '127.0.0.1', 0);
    const ok = await httpRequest(server.port, 'POST', '/bid', bodies[0], { 'content-type': PROTOBUF_TYPE });
    expect(ok.status).toBe(204);
    const bad = await httpRequest(server.port, 'POST', '/bid', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), { 'content-type': PROTOBUF_TYPE });
    expect(bad.status).toBe(400);
  });
});
