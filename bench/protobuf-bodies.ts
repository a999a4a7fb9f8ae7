/**
 * `--protobuf`: the same request mix as protobuf bytes (proto/openrtb.proto, the codec the bidder
 * uses), sent as `application/x-protobuf` to the bidder and to the ceiling server alike.
 */
import { openRtbProtobuf } from '../src/openrtb/protobuf-codec.js';

export const PROTOBUF_TYPE = 'application/x-protobuf';

/** Each JSON body encoded as a protobuf BidRequest. */
export function protobufBodies(bodies: readonly Buffer[]): Buffer[] {
  const codec = openRtbProtobuf();
  return bodies.map((b) => {
    const { bytes } = codec.encodeBidRequest(JSON.parse(b.toString('utf8')) as Record<string, unknown>);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  });
}
