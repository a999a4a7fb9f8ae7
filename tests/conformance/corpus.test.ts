/**
 * Conformance over the shared OpenRTB corpus: every body the loader finds is posted to a real
 * bidder running the conformance bundle, and every answer is held to the contract:
 * valid-looking requests get 200 or 204 (never 4xx/5xx) and every 200 passes the checker;
 * bodies that are not JSON get 400; other bodies get 400 or 204; nothing gets a 5xx.
 * Valid requests are posted a second time to an exchange that speaks 2.5 only.
 *
 * The bundle's ordinary campaigns bid in the main run. Its `trap-*` campaigns are paused there;
 * each is then activated alone, and every request-shaped body posted again: a trap carries one
 * property that some corpus requests block (badv, bcat and its tier-1 parents, bapp, battr, secure,
 * deal wseat/wadomain, deal floors, required native assets, a floor in another currency), bids
 * wherever it is allowed, and must not bid where it is not.
 * To show the filter is what stops it, the requests it applies to are also posted with the
 * blocking field removed, and the trap must then bid on some of them.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBidder, validBundle, type HttpResult, type TestBidder } from '../helpers/bidder.js';
import type { ConfigBundle } from '../../src/campaigns/schema.js';
import { buildSnapshot } from '../../src/campaigns/snapshot.js';
import { loadCorpus, type CorpusBody } from './corpus.js';
import { checkBid, type CurrencyRates } from './check-bid.js';

const bundle = JSON.parse(readFileSync(new URL('../fixtures/conformance-campaigns.json', import.meta.url), 'utf8')) as ConfigBundle;
const currencies = bundle.currencies as CurrencyRates;
const EXCHANGE_25 = 'corpus-25';

/**
 * Valid-looking requests we refuse on purpose, with the reason the 400 must give.
 * prebid-server-java's bidder fixtures carry JSON-Unit placeholders, so `tmax` is the string
 * "${json-unit.any-number}". tmax sets the deadline we answer by; a wrongly typed one is refused
 * like any other ill-typed field we cannot act on. The loader adds each with the placeholders
 * replaced, and those must bid or no-bid like any request.
 */
const EXPECTED_REFUSALS: Record<string, RegExp> = {
  'prebid-server-java__it__generic__test-generic-bid-request.json': /^tmax must be a non-negative integer$/,
  'prebid-server-java__it__rtbhouse__test-rtbhouse-bid-request.json': /^tmax must be a non-negative integer$/,
  'prebid-server-java__it__thetradedesk__test-thetradedesk-bid-request.json': /^tmax must be a non-negative integer$/,
};

/**
 * Lower bounds on the bids the valid requests get in the main run, measured on this corpus and
 * bundle (see the summary line): 195 bids on each exchange when written. Kept a little below,
 * so only a real regression in bidding trips them.
 */
const MIN_BIDS_26 = 180;
const MIN_BIDS_25 = 180;

type Json = Record<string, any>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const impsOf = (r: Json): Json[] => (Array.isArray(r.imp) ? r.imp.filter(isObj) : []);
const mediaOf = (imp: Json): Json[] => ['banner', 'video', 'audio', 'native'].map((m) => imp[m]).filter(isObj);
const dealsOf = (imp: Json): Json[] => (isObj(imp.pmp) && Array.isArray(imp.pmp.deals) ? imp.pmp.deals.filter(isObj) : []);
const campaign = (id: string) => bundle.campaigns!.find((c) => c.id === id)!;

/** The imp's Native request (string or object, wrapped or not), edited in place by `edit` when given. */
function nativeAssets(imp: Json, edit?: (asset: Json) => void): Json[] {
  const raw = isObj(imp.native) ? imp.native.request : undefined;
  let doc: unknown = raw;
  if (typeof raw === 'string') {
    try {
      doc = JSON.parse(raw);
    } catch {
      return [];
    }
  }
  if (!isObj(doc)) return [];
  const body = isObj(doc.native) ? doc.native : doc;
  const assets = Array.isArray(body.assets) ? body.assets.filter(isObj) : [];
  if (edit) {
    assets.forEach(edit);
    imp.native.request = typeof raw === 'string' ? JSON.stringify(doc) : doc;
  }
  return assets;
}

interface Trap {
  /** The request carries what must keep this trap from bidding (on some imp, at least). */
  applies(r: Json): boolean;
  /** Removes exactly that, in place. */
  unblock(r: Json): void;
}

const TRAPS: Record<string, Trap> = {
  'trap-badv': {
    applies: (r) => strs(r.badv).some((d) => /(^|\.)ford\.com$/i.test(d)),
    unblock: (r) => void delete r.badv,
  },
  // Its categories are IAB11-2 and IAB25-3; corpus requests block only their parents (IAB11, IAB25).
  'trap-bcat-parent': {
    applies: (r) => strs(r.bcat).some((c) => c === 'IAB11' || c === 'IAB25'),
    unblock: (r) => void (r.bcat = strs(r.bcat).filter((c) => c !== 'IAB11' && c !== 'IAB25')),
  },
  'trap-bcat-exact': {
    applies: (r) => strs(r.bcat).some((c) => c === 'IAB8-5' || c === 'IAB-1'),
    unblock: (r) => void (r.bcat = strs(r.bcat).filter((c) => c !== 'IAB8-5' && c !== 'IAB-1')),
  },
  'trap-bapp': {
    applies: (r) => strs(r.bapp).includes('com.foo.mygame'),
    unblock: (r) => void delete r.bapp,
  },
  'trap-battr': {
    applies: (r) => impsOf(r).some((i) => mediaOf(i).some((m) => Array.isArray(m.battr) && m.battr.length > 0)),
    unblock: (r) => impsOf(r).forEach((i) => mediaOf(i).forEach((m) => delete m.battr)),
  },
  'trap-insecure': {
    applies: (r) => impsOf(r).some((i) => i.secure === 1),
    unblock: (r) => impsOf(r).forEach((i) => delete i.secure),
  },
  'trap-deals': {
    applies: (r) => impsOf(r).some((i) => dealsOf(i).some((d) => campaign('trap-deals').deals!.some((td) => td.id === d.id))),
    unblock: (r) => impsOf(r).forEach((i) => dealsOf(i).forEach((d) => (delete d.wseat, delete d.wadomain))),
  },
  'trap-deal-floor': {
    applies: (r) => impsOf(r).some((i) => dealsOf(i).some((d) => d.bidfloor > 0 && campaign('trap-deal-floor').deals!.some((td) => td.id === d.id))),
    unblock: (r) => impsOf(r).forEach((i) => dealsOf(i).forEach((d) => delete d.bidfloor)),
  },
  'trap-native-noimg': {
    applies: (r) => impsOf(r).some((i) => nativeAssets(i).some((a) => a.required === 1 && isObj(a.img))),
    unblock: (r) => impsOf(r).forEach((i) => nativeAssets(i, (a) => isObj(a.img) && (a.required = 0))),
  },
  'trap-floor-fx': {
    applies: (r) => impsOf(r).some((i) => i.bidfloor > 0 && typeof i.bidfloorcur === 'string' && i.bidfloorcur !== 'USD'),
    unblock: (r) => impsOf(r).forEach((i) => typeof i.bidfloorcur === 'string' && (i.bidfloorcur = 'USD')),
  },
};

interface Outcome {
  readonly body: CorpusBody;
  readonly res: HttpResult;
  readonly res25?: HttpResult;
}

const corpus = loadCorpus();
let bidder: TestBidder;
const outcomes: Outcome[] = [];

const describeRes = (r: HttpResult) => `${r.status}${r.headers['x-nobid-reason'] ? ` (${r.headers['x-nobid-reason']})` : ''}${r.status >= 400 ? `: ${r.text.slice(0, 120)}` : ''}`;
const bidsIn = (r: HttpResult): any[] => (r.status === 200 ? (r.json().seatbid ?? []).flatMap((s: any) => s.bid ?? []) : []);

beforeAll(async () => {
  // An https notice base: the bidder puts its tracker URLs into adm, and secure imps need https there.
  bidder = await startBidder({ bundle, env: { DEBUG_NOBID: '1', NOTICE_BASE_URL: 'https://notice.conformance.example' } });
  // A few bodies at a time: keeps the run short without piling requests onto one event loop.
  const queue = [...corpus.bodies];
  const worker = async () => {
    for (let b = queue.shift(); b; b = queue.shift()) {
      const res = await bidder.post('/bid', b.text);
      const res25 = b.kind === 'request' ? await bidder.post(`/bid/${EXCHANGE_25}`, b.text) : undefined;
      outcomes.push({ body: b, res, res25 });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  outcomes.sort((a, b) => (a.body.name < b.body.name ? -1 : 1));

  const of = (k: CorpusBody['kind']) => outcomes.filter((o) => o.body.kind === k);
  const requests = of('request');
  const count = (list: readonly (HttpResult | undefined)[], s: number) => list.filter((r) => r?.status === s).length;
  const all = outcomes.map((o) => o.res);
  const r26 = requests.map((o) => o.res);
  const r25 = requests.map((o) => o.res25!);
  const bids = (list: readonly HttpResult[]) => list.reduce((n, r) => n + bidsIn(r).length, 0);
  console.log(
    `corpus conformance: files=${corpus.files.length} bodies=${outcomes.length} ` +
      `(requests=${requests.length} notJson=${of('not-json').length} other=${of('other').length}) | ` +
      `all bodies: 200s=${count(all, 200)} 204s=${count(all, 204)} 400s=${count(all, 400)} | ` +
      `requests: 200s=${count(r26, 200)} 204s=${count(r26, 204)} 400s=${count(r26, 400)} bids=${bids(r26)} | ` +
      `requests on the 2.5-only exchange: 200s=${count(r25, 200)} 204s=${count(r25, 204)} 400s=${count(r25, 400)} bids=${bids(r25)}`,
  );
});
afterAll(() => bidder?.close());

describe('corpus loader', () => {
  it('finds every file and classifies it as SOURCES.md does', () => {
    expect(corpus.files.length).toBe(480);
    const byFile = new Set(corpus.bodies.map((b) => b.file));
    expect(byFile.size).toBe(corpus.files.length);
    // SOURCES.md "Parse check": 22 files do not parse.
    expect(corpus.bodies.filter((b) => b.kind === 'not-json')).toHaveLength(22);
    // 206 prebid-server wrappers: 172 endpoint fixtures + 34 adapter fixtures with one DSP-bound request each.
    const pbs = corpus.bodies.filter((b) => b.file.startsWith('prebid-server__'));
    expect(pbs.filter((b) => b.name === b.file)).toHaveLength(206);
    expect(pbs.filter((b) => b.kind === 'request' && b.name.includes('#httpCalls['))).toHaveLength(34);
    expect(pbs.filter((b) => b.name.includes('#httpCalls[') && b.name.endsWith('.mockResponse.body'))).toHaveLength(34);
    // The 107 deliberately invalid PBS requests are never treated as valid ones.
    const invalidPbs = corpus.bodies.filter((b) => /__invalid-(whole|native)__/.test(b.file) && b.name.endsWith('#mockBidRequest'));
    expect(invalidPbs).toHaveLength(107);
    expect(invalidPbs.every((b) => b.kind === 'other')).toBe(true);
    // Responses, fragments and native markup are never requests.
    for (const b of corpus.bodies.filter((b) => /__(bres\.|RESPONSE_|response|native__)/i.test(b.name) && !b.name.includes('#')))
      expect(b.kind, b.name).not.toBe('request');
    expect(corpus.bodies.filter((b) => b.kind === 'request').length).toBeGreaterThan(200);
  });
});

describe('posting the corpus', () => {
  it('never answers with a 5xx', () => {
    const bad = outcomes.flatMap((o) => [o.res, o.res25].filter((r) => r && r.status >= 500).map((r) => `${o.body.name}: ${describeRes(r!)}`));
    expect(bad).toEqual([]);
  });

  it('answers every valid-looking request with 200 or 204, except the listed deliberate refusals', () => {
    const bad: string[] = [];
    for (const o of outcomes.filter((o) => o.body.kind === 'request')) {
      for (const r of [o.res, o.res25!]) {
        const refusal = EXPECTED_REFUSALS[o.body.name];
        if (refusal) {
          if (r.status !== 400 || !refusal.test(r.text)) bad.push(`${o.body.name}: expected a 400 matching ${refusal}, got ${describeRes(r)}`);
        } else if (r.status !== 200 && r.status !== 204) bad.push(`${o.body.name}: ${describeRes(r)}`);
      }
    }
    expect(bad).toEqual([]);
    // The list names real corpus requests (no stale entries).
    for (const name of Object.keys(EXPECTED_REFUSALS))
      expect(corpus.bodies.find((b) => b.name === name)?.kind, name).toBe('request');
  });

  it('answers every body that is not valid JSON with 400', () => {
    const bad = outcomes.filter((o) => o.body.kind === 'not-json' && o.res.status !== 400).map((o) => `${o.body.name}: ${describeRes(o.res)}`);
    expect(bad).toEqual([]);
  });

  it('answers other JSON bodies with 400 or 204; only a request-shaped one may get a 200, and it must conform', () => {
    const bad: string[] = [];
    for (const o of outcomes.filter((o) => o.body.kind === 'other')) {
      const s = o.res.status;
      if (s === 400 || s === 204) continue;
      if (s === 200 && o.body.requestShaped) {
        const v = checkBid(o.body.doc, o.res.json(), { currencies, version: '2.6' });
        if (v.length) bad.push(`${o.body.name}: ${v.join('; ')}`);
      } else bad.push(`${o.body.name} (${o.body.what}): ${describeRes(o.res)}`);
    }
    expect(bad).toEqual([]);
  });

  it('sends bids that pass the checker (2.5/2.6 exchange)', () => {
    const bad: string[] = [];
    for (const o of outcomes.filter((o) => o.body.kind === 'request' && o.res.status === 200)) {
      expect(o.res.headers['x-openrtb-version']).toBe('2.6');
      expect(o.res.headers['content-type']).toBe('application/json');
      const v = checkBid(o.body.doc, o.res.json(), { currencies, version: '2.6' });
      if (v.length) bad.push(`${o.body.name}: ${v.join('; ')}`);
    }
    expect(bad).toEqual([]);
  });

  it('sends bids that pass the checker and carry no 2.6-only fields to a 2.5-only exchange', () => {
    const bad: string[] = [];
    for (const o of outcomes.filter((o) => o.body.kind === 'request' && o.res25!.status === 200)) {
      expect(o.res25!.headers['x-openrtb-version']).toBe('2.5');
      const v = checkBid(o.body.doc, o.res25!.json(), { currencies, version: '2.5' });
      if (v.length) bad.push(`${o.body.name}: ${v.join('; ')}`);
      for (const bid of bidsIn(o.res25!)) if ('mtype' in bid) bad.push(`${o.body.name}: mtype present`);
    }
    expect(bad).toEqual([]);
  });

  it('bids on a meaningful share of the corpus, across media types, deals and currencies', () => {
    const requests = outcomes.filter((o) => o.body.kind === 'request');
    const bids26 = requests.flatMap((o) => bidsIn(o.res));
    const bids25 = requests.flatMap((o) => bidsIn(o.res25!));
    expect(bids26.length).toBeGreaterThanOrEqual(MIN_BIDS_26);
    expect(bids25.length).toBeGreaterThanOrEqual(MIN_BIDS_25);
    // Every media type and the deal path are exercised, so none of them can break silently.
    const mtypes = new Set(bids26.map((b) => b.mtype));
    expect([...mtypes].sort()).toEqual([1, 2, 3, 4]);
    expect(bids26.filter((b) => b.dealid !== undefined).length).toBeGreaterThanOrEqual(10);
    const curs = new Set(requests.filter((o) => o.res.status === 200).map((o) => o.res.json().cur));
    expect(curs.size).toBeGreaterThanOrEqual(2);
    expect(new Set(requests.filter((o) => o.res25!.status === 200).map((o) => o.res25!.json().cur))).toContain('EUR');
  });
});

describe('trap campaigns, one at a time', () => {
  const requestShaped = corpus.bodies.filter((b) => b.requestShaped);
  let version = 2;
  afterAll(() => bidder.snapshots.swap(buildSnapshot(validBundle(bundle), version++)));

  it('the bundle has a trap definition for every trap campaign, and they are paused', () => {
    const traps = bundle.campaigns!.filter((c) => c.id.startsWith('trap-'));
    expect(traps.map((c) => c.id).sort()).toEqual(Object.keys(TRAPS).sort());
    expect(traps.every((c) => c.status === 'paused')).toBe(true);
  });

  it.each(Object.keys(TRAPS))('%s bids where it is allowed and never where it is blocked', async (id) => {
    const trap = TRAPS[id];
    const alone = { ...bundle, campaigns: [{ ...campaign(id), status: 'active' as const }] };
    bidder.snapshots.swap(buildSnapshot(validBundle(alone), version++));
    const bad: string[] = [];
    let wins = 0;
    let applies = 0;
    let winsUnblocked = 0;
    for (const b of requestShaped) {
      const res = await bidder.post('/bid', b.text);
      if (res.status >= 500) bad.push(`${b.name}: ${describeRes(res)}`);
      if (res.status === 200) {
        wins++;
        const v = checkBid(b.doc, res.json(), { currencies, version: '2.6' });
        if (v.length) bad.push(`${b.name}: ${v.join('; ')}`);
      }
      if (!trap.applies(b.doc as Json)) continue;
      applies++;
      const unblocked = structuredClone(b.doc) as Json;
      trap.unblock(unblocked);
      const res2 = await bidder.post('/bid', JSON.stringify(unblocked));
      if (res2.status === 200) {
        winsUnblocked++;
        const v = checkBid(unblocked, res2.json(), { currencies, version: '2.6' });
        if (v.length) bad.push(`${b.name} (unblocked): ${v.join('; ')}`);
      }
    }
    expect(bad).toEqual([]);
    expect(wins, 'the trap bids somewhere').toBeGreaterThan(0);
    expect(applies, 'some corpus request blocks the trap').toBeGreaterThan(0);
    expect(winsUnblocked, 'with the blocking field removed, the trap bids on some of those requests').toBeGreaterThan(0);
  });
});
