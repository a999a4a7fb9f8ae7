/**
 * The benchmark scenario generators are deterministic and produce input the bidder accepts:
 * the generated config directory loads with the real loader and compiles; generated requests
 * parse as valid OpenRTB and cover site and app, banner, video, native and audio; user rows
 * are keyed the way the upload API keys them and carry existing segments.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCampaigns, writeScenarioConfig } from '../../bench/scenario/campaigns.js';
import { buildRequestMix, describeMix, setFloorScale } from '../../bench/scenario/requests.js';
import { userCsvChunks, userRow, CSV_HEADER } from '../../bench/scenario/users.js';
import { loadBundleFromDir } from '../../src/campaigns/load-bundle.js';
import type { Campaign } from '../../src/campaigns/schema.js';
import { buildSnapshot } from '../../src/campaigns/snapshot.js';
import { parseBidRequest, isInvalid } from '../../src/openrtb/parse-request.js';
import { uploadKey, userKeys } from '../../src/audiences/identity.js';
import { generateRequests, RequestGenerator } from '../../src/simulator/requests.js';
import { ALL_USERS_SEGMENT, BANNER_SIZES, SEGMENT_COUNT, segmentId, userIdentity, userSegments } from '../../src/simulator/vocabulary.js';
import { Rng } from '../../src/simulator/rng.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('campaigns', () => {
  it('are deterministic per seed', () => {
    const a = JSON.stringify(generateCampaigns({ seed: 7, campaigns: 200 }));
    const b = JSON.stringify(generateCampaigns({ seed: 7, campaigns: 200 }));
    const c = JSON.stringify(generateCampaigns({ seed: 8, campaigns: 200 }));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it('start with three broad prospecting campaigns, however many there are, and are otherwise unchanged by them', () => {
    const broad = (n: number) => generateCampaigns({ seed: 1, campaigns: n }).campaigns!.filter((c) => c.targeting === undefined && (c.name ?? '').includes('broad'));
    for (const n of [10, 10_000]) expect(broad(n).map((c) => c.id)).toEqual(['cmp-0', 'cmp-1', 'cmp-2']);
    const [banner, native, video] = broad(10);
    expect(banner.creatives.map((cr) => (cr.type === 'banner' ? `${cr.w}x${cr.h}` : cr.type))).toEqual(BANNER_SIZES.map(([w, h]) => `${w}x${h}`));
    expect(native.creatives.map((cr) => cr.type)).toContain('native');
    expect(video.creatives.map((cr) => cr.type)).toContain('video');
    // The others' targeting and prices do not depend on how many campaigns there are (each comes from its own fork).
    const shape = (n: number, count: number) => generateCampaigns({ seed: 1, campaigns: n }).campaigns!.slice(3, count).map((c) => [c.bid, c.targeting, c.multipliers]);
    expect(shape(10, 10)).toEqual(shape(40, 10));
  });

  it('write a config directory the real loader accepts and compiles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-scenario-'));
    dirs.push(dir);
    const written = await writeScenarioConfig(dir, { seed: 1, campaigns: 1_200 });
    expect(written.campaigns).toBe(1_200);
    expect((await readdir(join(dir, 'campaigns'))).length).toBe(3); // 500 a file
    const bundle = await loadBundleFromDir(dir);
    expect(bundle.campaigns).toHaveLength(1_200);
    const snap = buildSnapshot(bundle, 1);
    const paused = bundle.campaigns!.filter((c) => c.status === 'paused').length;
    expect(snap.index.campaigns.length).toBe(1_200 - paused);
    // Mixed targeting: every dimension is used by some campaigns, and not by all.
    const share = (f: (t: NonNullable<Campaign['targeting']>) => unknown) =>
      bundle.campaigns!.filter((c) => c.targeting && f(c.targeting)).length / 1_200;
    for (const f of [
      (t: any) => t.countries,
      (t: any) => t.deviceTypes,
      (t: any) => t.os,
      (t: any) => t.channels,
      (t: any) => t.domains,
      (t: any) => t.bundles,
      (t: any) => t.categories,
      (t: any) => t.dayparting,
      (t: any) => t.segments,
      (t: any) => t.ipRanges,
    ]) {
      expect(share(f)).toBeGreaterThan(0);
      expect(share(f)).toBeLessThan(0.95);
    }
    const types = new Set(bundle.campaigns!.flatMap((c) => c.creatives.map((cr) => cr.type)));
    expect([...types].sort()).toEqual(['audio', 'banner', 'native', 'video']);
    expect(bundle.campaigns!.some((c) => c.deals?.length)).toBe(true);
  });

  it('refer only to segments that the user upload creates', () => {
    const { campaigns } = generateCampaigns({ seed: 3, campaigns: 500 });
    const known = new Set(Array.from({ length: SEGMENT_COUNT }, (_, i) => segmentId(i)));
    for (const c of campaigns!) {
      const s = c.targeting?.segments;
      for (const id of [...(s?.anyOf ?? []), ...(s?.allOf ?? []), ...(s?.exclude ?? []), ...Object.keys(c.multipliers?.segment ?? {})]) expect(known.has(id)).toBe(true);
    }
  });
});

describe('requests', () => {
  it('are deterministic per seed', () => {
    const a = generateRequests('s', 300, { users: 1_000 }).map((g) => JSON.stringify(g.request));
    const b = generateRequests('s', 300, { users: 1_000 }).map((g) => JSON.stringify(g.request));
    expect(a).toEqual(b);
    expect(generateRequests('t', 1, { users: 1_000 })[0].request).not.toEqual(JSON.parse(a[0]));
  });

  it('parse as valid OpenRTB and cover the channels and media of real traffic', () => {
    const mix = buildRequestMix('1', 2_000, 10_000);
    expect(new Set(mix.bodies.map((b) => b.toString())).size).toBe(2_000); // distinct
    for (const body of mix.bodies) {
      const v = parseBidRequest(body);
      expect(isInvalid(v) ? v : 'ok').toBe('ok');
    }
    const d = describeMix(mix);
    expect(Object.keys(d.channels).sort()).toEqual(['app', 'site']);
    expect(Object.keys(d.media).sort()).toEqual(['audio', 'banner', 'native', 'video']);
    for (const n of Object.values(d.media)) expect(n).toBeGreaterThan(40);
    expect(d.imps).toBeGreaterThan(2_000); // some multi-imp pages
    const docs = mix.generated.map((g) => g.request as any);
    expect(docs.some((r) => r.regs?.ext?.gdpr !== undefined)).toBe(true); // 2.5 places
    expect(docs.some((r) => r.regs?.gdpr !== undefined)).toBe(true); // 2.6 places
    expect(docs.some((r) => r.imp.some((i: any) => i.pmp))).toBe(true);
    expect(docs.some((r) => r.imp.some((i: any) => i.bidfloorcur === 'EUR'))).toBe(true);
    expect(docs.some((r) => r.imp.some((i: any) => i.video?.rqddurs))).toBe(true);
    // 2.6 duration floors on CTV video and audio, both forms
    expect(docs.some((r) => r.imp.some((i: any) => i.video?.mincpmpersec > 0))).toBe(true);
    expect(docs.some((r) => r.imp.some((i: any) => i.video?.durfloors?.length === 3))).toBe(true);
    expect(docs.some((r) => r.imp.some((i: any) => i.audio?.mincpmpersec > 0 || i.audio?.durfloors))).toBe(true);
  });

  it('scale floors without changing anything else', () => {
    const mix = buildRequestMix('2', 400, 100);
    const before = mix.generated.map((g) => g.request as any);
    setFloorScale(mix, 2);
    // Every floor doubled (flat, deal, 2.6 mincpmpersec and durfloors), everything else as it was.
    const floorsOf = (imp: any): number[] => [
      imp.bidfloor,
      ...['video', 'audio'].flatMap((m) => [imp[m]?.mincpmpersec, ...(imp[m]?.durfloors ?? []).map((r: any) => r.bidfloor)]),
      ...(imp.pmp?.deals ?? []).map((d: any) => d.bidfloor),
    ].filter((x) => x !== undefined);
    const withoutFloors = (imp: any) =>
      JSON.parse(JSON.stringify(imp, (k, v) => (k === 'bidfloor' || k === 'mincpmpersec' ? undefined : v)));
    let durationFloors = 0;
    mix.bodies.forEach((b, i) => {
      const after = JSON.parse(b.toString());
      after.imp.forEach((imp: any, k: number) => {
        const orig = before[i].imp[k];
        const [was, now] = [floorsOf(orig), floorsOf(imp)];
        expect(now.length).toBe(was.length);
        now.forEach((f, j) => expect(f).toBeCloseTo(was[j] * 2, 3));
        expect(withoutFloors(imp)).toEqual(withoutFloors(orig));
        if (orig.video?.durfloors || orig.video?.mincpmpersec || orig.audio?.durfloors || orig.audio?.mincpmpersec) durationFloors++;
      });
    });
    expect(durationFloors).toBeGreaterThan(0);
  });

  it('carry the ids of uploaded users most of the time', () => {
    const users = 5_000;
    const gen = new RequestGenerator('ids', { users, unknownUserShare: 0.3 });
    const uploaded = new Set(Array.from({ length: users }, (_, n) => {
      const who = userIdentity(n);
      return uploadKey(who.kind, who.id) as string;
    }));
    let known = 0;
    const total = 2_000;
    for (let i = 0; i < total; i++) {
      const v = parseBidRequest(JSON.stringify(gen.next().request));
      if (isInvalid(v)) throw new Error(JSON.stringify(v));
      if (userKeys(v, 'default').some((k) => uploaded.has(k))) known++;
    }
    expect(known / total).toBeGreaterThan(0.45);
    expect(known / total).toBeLessThan(0.8);
  });
});

describe('users', () => {
  it('are deterministic rows the upload API keys, with 1-5 existing segments', () => {
    expect(userRow(42)).toBe(userRow(42));
    const known = new Set(Array.from({ length: SEGMENT_COUNT }, (_, i) => segmentId(i)));
    for (let n = 0; n < 3_000; n++) {
      const [id, type, segs] = userRow(n).trimEnd().split(',');
      expect(typeof uploadKey(type, id)).toBe('string');
      const list = segs.split('|');
      expect(list.length).toBeGreaterThanOrEqual(1);
      expect(list.length).toBeLessThanOrEqual(5);
      for (const s of list) expect(known.has(s)).toBe(true);
      expect(list).toEqual(userSegments(n));
    }
    expect(known.has(ALL_USERS_SEGMENT)).toBe(false); // the upload's own segment, created separately
  });

  it('stream as CSV chunks that add up to every row once', () => {
    const text = [...userCsvChunks(4_321, 1_000)].join('');
    const lines = text.trimEnd().split('\n');
    expect(lines[0] + '\n').toBe(CSV_HEADER);
    expect(lines).toHaveLength(4_322);
    expect(new Set(lines.slice(1).map((l) => l.split(',')[0])).size).toBe(4_321);
  });
});

describe('rng', () => {
  it('is reproducible and roughly uniform', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const xs = Array.from({ length: 10_000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 10_000 }, () => b.next()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });
});

// The scenario files are plain JSON/YAML a person can read.
it('writes readable config files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-scenario-'));
  dirs.push(dir);
  await writeScenarioConfig(dir, { seed: 1, campaigns: 3 });
  expect(await readFile(join(dir, 'exchanges.yaml'), 'utf8')).toContain('defaultExchange: default');
  expect(JSON.parse(await readFile(join(dir, 'campaigns', 'part-000.json'), 'utf8')).campaigns).toHaveLength(3);
});
