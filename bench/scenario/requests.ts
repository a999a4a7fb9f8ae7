/**
 * The benchmark's request mix: `count` distinct bid requests from the shared generator
 * (src/simulator/requests.ts, shaped like ../shared/openrtb-corpus), serialised once per floor
 * scale, followed by the exemplary fixtures' requests when given (bench/scenario/fixtures.ts), as
 * their fixtures wrote them. The driver cycles through them.
 */
import { generateRequests, scaleFloors, type GeneratedRequest } from '../../src/simulator/requests.js';
import type { FixtureRequest } from './fixtures.js';

export interface RequestMix {
  readonly generated: readonly GeneratedRequest[];
  /** The fixtures' requests, after the generated ones in `bodies` and `tmax`. */
  readonly fixtures: readonly FixtureRequest[];
  /** Serialised bodies: the generated ones at the current floor scale, then the fixtures'. */
  bodies: Buffer[];
  /** Each body's tmax in ms (the bidder's default 100 when the request has none). */
  readonly tmax: readonly number[];
  floorScale: number;
}

export function buildRequestMix(seed: number | string, count: number, users: number, fixtures: readonly FixtureRequest[] = []): RequestMix {
  const generated = generateRequests(`requests:${seed}`, count, { users });
  const tmax = [...generated.map((g) => g.tmax), ...fixtures.map((f) => f.tmax)];
  const mix: RequestMix = { generated, fixtures, bodies: [], tmax, floorScale: 1 };
  setFloorScale(mix, 1);
  return mix;
}

/**
 * Re-serialises every generated body with all floors multiplied by `scale` (relative to the
 * generated floors). The fixtures' bodies keep their own floors: their answers are what they expect.
 */
export function setFloorScale(mix: RequestMix, scale: number): void {
  mix.floorScale = scale;
  mix.bodies = mix.generated.map((g) => Buffer.from(JSON.stringify(scale === 1 ? g.request : scaleFloors(g.request, scale))));
  for (const f of mix.fixtures) mix.bodies.push(f.body);
}

/** Counts of the generated requests by channel and media (for the report), and the fixtures' requests. */
export function describeMix(mix: RequestMix): { channels: Record<string, number>; media: Record<string, number>; avg_body_bytes: number; imps: number; fixtures: number } {
  const channels: Record<string, number> = {};
  const media: Record<string, number> = {};
  let bytes = 0;
  let imps = 0;
  mix.generated.forEach((g, i) => {
    channels[g.channel] = (channels[g.channel] ?? 0) + 1;
    media[g.media] = (media[g.media] ?? 0) + 1;
    bytes += mix.bodies[i].length;
    imps += (g.request.imp as unknown[]).length;
  });
  return { channels, media, avg_body_bytes: Math.round(bytes / Math.max(1, mix.generated.length)), imps, fixtures: mix.fixtures.length };
}

/** Median floor (USD CPM, EUR floors converted) of the first imp, by media, at the current scale. */
export function floorMedians(mix: RequestMix): Record<string, number> {
  const by: Record<string, number[]> = {};
  for (const g of mix.generated) {
    const imp = (g.request.imp as { bidfloor?: number; bidfloorcur?: string }[])[0];
    const usd = (imp.bidfloor ?? 0) / (imp.bidfloorcur === 'EUR' ? 0.92 : 1);
    (by[g.media] ??= []).push(usd * mix.floorScale);
  }
  const out: Record<string, number> = {};
  for (const [media, xs] of Object.entries(by)) {
    xs.sort((a, b) => a - b);
    out[media] = Math.round(xs[Math.floor(xs.length / 2)] * 100) / 100;
  }
  return out;
}
