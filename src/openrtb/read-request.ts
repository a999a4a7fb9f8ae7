/**
 * The bid path's request reader: one pass over the body's bytes that keeps only the members the
 * request view reads (request-view.ts) and validates, without building, everything else.
 *
 * Each object the view reads from has a reader below with its own key table; what it keeps goes
 * into a small record of one fixed shape (every field present, undefined when the body has no such
 * member), and the view is built from those records by the same `viewFromDocument` that builds it
 * from a `JSON.parse` document. A member holds exactly what JSON.parse would have put there: an
 * object where the view expects one is read field by field, anything else (a string where an
 * object belongs, `eids`, a Native request object) is the JSON.parse value of its bytes.
 * Since the view reads nothing else, it comes out the same, refusals and their messages included.
 *
 * Bodies the cursor stops on go the general way, `JSON.parse` and the view (parseBidRequest), which
 * says what is wrong with them (bad_json, too_deep) or reads what this reader leaves to it: a known
 * member that appears twice (JSON.parse keeps the last). That is rare; `readerFallbacks` counts
 * the bodies by reason.
 */
import { CursorStop, END_OF_OBJECT, JsonCursor, KeyTable, type StopReason } from './json-cursor.js';
import { parseBidRequest, viewFromDocument, type InvalidRequest } from './parse-request.js';
import type { BidRequestView } from './request-view.js';

type Record = { [field: string]: unknown };

export type FallbackReason = StopReason | 'empty' | 'not_object' | 'unexpected';

/** Bodies read the general way since start, by why the reader handed them over. */
export const readerFallbacks: { [reason in FallbackReason]: number } = {
  empty: 0,
  not_object: 0,
  syntax: 0,
  too_deep: 0,
  duplicate_key: 0,
  unexpected: 0,
};

const cursor = new JsonCursor();

/** Reads a JSON bid request body into the view (or the refusal JSON.parse + view would give). */
export function readBidRequest(body: Buffer, maxDepth = 64): BidRequestView | InvalidRequest {
  let doc: Record;
  try {
    cursor.reset(body, maxDepth);
    if (!cursor.isObject()) return generalPath(body, maxDepth, body.length === 0 ? 'empty' : 'not_object');
    doc = readRequest(cursor);
    cursor.finish();
  } catch (e) {
    return generalPath(body, maxDepth, e instanceof CursorStop ? e.reason : 'unexpected');
  } finally {
    cursor.reset(EMPTY, maxDepth); // do not hold on to the body
  }
  return viewFromDocument(doc);
}

const EMPTY = Buffer.alloc(0);

/** JSON.parse and the view: they say what is wrong with the body (empty, bad_json, too_deep, not_object...), or read what this reader leaves to them. */
function generalPath(body: Buffer, maxDepth: number, why: FallbackReason): BidRequestView | InvalidRequest {
  readerFallbacks[why]++;
  return parseBidRequest(body, maxDepth);
}

const once = JsonCursor.once;

/** A member that is an object read by `read`, else its JSON.parse value. */
function objectOr(c: JsonCursor, read: (c: JsonCursor) => Record): unknown {
  return c.isObject() ? read(c) : c.value();
}

/** An array whose object elements are read by `read` (others as JSON.parse has them), else the member's JSON.parse value. */
function arrayOf(c: JsonCursor, read: (c: JsonCursor) => Record): unknown {
  if (!c.isArray()) return c.value();
  const out: unknown[] = [];
  for (let more = c.firstElement(); more; more = c.nextElement()) out.push(objectOr(c, read));
  return out;
}

// --- BidRequest -------------------------------------------------------------------------------

const REQUEST = new KeyTable(['id', 'imp', 'tmax', 'site', 'app', 'dooh', 'cattax', 'device', 'user', 'regs', 'test', 'at', 'cur', 'bcat', 'badv', 'bapp', 'wseat', 'bseat']);

function readRequest(c: JsonCursor): Record {
  const r = {
    id: undefined as unknown,
    imp: undefined as unknown,
    tmax: undefined as unknown,
    site: undefined as unknown,
    app: undefined as unknown,
    dooh: undefined as unknown,
    cattax: undefined as unknown,
    device: undefined as unknown,
    user: undefined as unknown,
    regs: undefined as unknown,
    test: undefined as unknown,
    at: undefined as unknown,
    cur: undefined as unknown,
    bcat: undefined as unknown,
    badv: undefined as unknown,
    bapp: undefined as unknown,
    wseat: undefined as unknown,
    bseat: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(REQUEST); k !== END_OF_OBJECT; k = c.nextKey(REQUEST)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.id = c.value(); break;
      case 1: r.imp = arrayOf(c, readImp); break;
      case 2: r.tmax = c.value(); break;
      case 3: r.site = objectOr(c, readInventory); break;
      case 4: r.app = objectOr(c, readInventory); break;
      case 5: r.dooh = objectOr(c, readInventory); break;
      case 6: r.cattax = c.value(); break;
      case 7: r.device = objectOr(c, readDevice); break;
      case 8: r.user = objectOr(c, readUser); break;
      case 9: r.regs = objectOr(c, readRegs); break;
      case 10: r.test = c.value(); break;
      case 11: r.at = c.value(); break;
      case 12: r.cur = c.list(); break;
      case 13: r.bcat = c.list(); break;
      case 14: r.badv = c.list(); break;
      case 15: r.bapp = c.list(); break;
      case 16: r.wseat = c.list(); break;
      case 17: r.bseat = c.list(); break;
      default: c.skip();
    }
  }
  return r;
}

// --- Site, App, Dooh and what they hold -----------------------------------------------------

const INVENTORY = new KeyTable(['domain', 'page', 'bundle', 'publisher', 'content', 'cattax', 'cat', 'pagecat', 'sectioncat']);

function readInventory(c: JsonCursor): Record {
  const r = {
    domain: undefined as unknown,
    page: undefined as unknown,
    bundle: undefined as unknown,
    publisher: undefined as unknown,
    content: undefined as unknown,
    cattax: undefined as unknown,
    cat: undefined as unknown,
    pagecat: undefined as unknown,
    sectioncat: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(INVENTORY); k !== END_OF_OBJECT; k = c.nextKey(INVENTORY)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.domain = c.value(); break;
      case 1: r.page = c.value(); break;
      case 2: r.bundle = c.value(); break;
      case 3: r.publisher = objectOr(c, readPublisher); break;
      case 4: r.content = objectOr(c, readContent); break;
      case 5: r.cattax = c.value(); break;
      case 6: r.cat = c.list(); break;
      case 7: r.pagecat = c.list(); break;
      case 8: r.sectioncat = c.list(); break;
      default: c.skip();
    }
  }
  return r;
}

const PUBLISHER = new KeyTable(['id']);

function readPublisher(c: JsonCursor): Record {
  const r = { id: undefined as unknown };
  let seen = 0;
  for (let k = c.firstKey(PUBLISHER); k !== END_OF_OBJECT; k = c.nextKey(PUBLISHER)) {
    seen = once(seen, k);
    if (k === 0) r.id = c.value();
    else c.skip();
  }
  return r;
}

const CONTENT = new KeyTable(['cat', 'cattax']);

function readContent(c: JsonCursor): Record {
  const r = { cat: undefined as unknown, cattax: undefined as unknown };
  let seen = 0;
  for (let k = c.firstKey(CONTENT); k !== END_OF_OBJECT; k = c.nextKey(CONTENT)) {
    seen = once(seen, k);
    if (k === 0) r.cat = c.list();
    else if (k === 1) r.cattax = c.value();
    else c.skip();
  }
  return r;
}

// --- Device, User, Geo ---------------------------------------------------------------------

const DEVICE = new KeyTable(['geo', 'langb', 'language', 'devicetype', 'os', 'make', 'model', 'carrier', 'connectiontype', 'ua', 'ip', 'ipv6', 'lmt', 'ifa']);

function readDevice(c: JsonCursor): Record {
  const r = {
    geo: undefined as unknown,
    langb: undefined as unknown,
    language: undefined as unknown,
    devicetype: undefined as unknown,
    os: undefined as unknown,
    make: undefined as unknown,
    model: undefined as unknown,
    carrier: undefined as unknown,
    connectiontype: undefined as unknown,
    ua: undefined as unknown,
    ip: undefined as unknown,
    ipv6: undefined as unknown,
    lmt: undefined as unknown,
    ifa: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(DEVICE); k !== END_OF_OBJECT; k = c.nextKey(DEVICE)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.geo = objectOr(c, readGeo); break;
      case 1: r.langb = c.value(); break;
      case 2: r.language = c.value(); break;
      case 3: r.devicetype = c.value(); break;
      case 4: r.os = c.value(); break;
      case 5: r.make = c.value(); break;
      case 6: r.model = c.value(); break;
      case 7: r.carrier = c.value(); break;
      case 8: r.connectiontype = c.value(); break;
      case 9: r.ua = c.value(); break;
      case 10: r.ip = c.value(); break;
      case 11: r.ipv6 = c.value(); break;
      case 12: r.lmt = c.value(); break;
      case 13: r.ifa = c.value(); break;
      default: c.skip();
    }
  }
  return r;
}

const GEO = new KeyTable(['country', 'region', 'city', 'zip', 'lat', 'lon', 'type']);

function readGeo(c: JsonCursor): Record {
  const r = {
    country: undefined as unknown,
    region: undefined as unknown,
    city: undefined as unknown,
    zip: undefined as unknown,
    lat: undefined as unknown,
    lon: undefined as unknown,
    type: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(GEO); k !== END_OF_OBJECT; k = c.nextKey(GEO)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.country = c.value(); break;
      case 1: r.region = c.value(); break;
      case 2: r.city = c.value(); break;
      case 3: r.zip = c.value(); break;
      case 4: r.lat = c.value(); break;
      case 5: r.lon = c.value(); break;
      case 6: r.type = c.value(); break;
      default: c.skip();
    }
  }
  return r;
}

const USER = new KeyTable(['id', 'buyeruid', 'consent', 'eids', 'geo', 'ext']);

function readUser(c: JsonCursor): Record {
  const r = {
    id: undefined as unknown,
    buyeruid: undefined as unknown,
    consent: undefined as unknown,
    eids: undefined as unknown,
    geo: undefined as unknown,
    ext: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(USER); k !== END_OF_OBJECT; k = c.nextKey(USER)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.id = c.value(); break;
      case 1: r.buyeruid = c.value(); break;
      case 2: r.consent = c.value(); break;
      case 3: r.eids = c.value(); break;
      case 4: r.geo = objectOr(c, readGeo); break;
      case 5: r.ext = objectOr(c, readUserExt); break;
      default: c.skip();
    }
  }
  return r;
}

/** 2.5 places of 2.6 user fields. */
const USER_EXT = new KeyTable(['consent', 'eids']);

function readUserExt(c: JsonCursor): Record {
  const r = { consent: undefined as unknown, eids: undefined as unknown };
  let seen = 0;
  for (let k = c.firstKey(USER_EXT); k !== END_OF_OBJECT; k = c.nextKey(USER_EXT)) {
    seen = once(seen, k);
    if (k === 0) r.consent = c.value();
    else if (k === 1) r.eids = c.value();
    else c.skip();
  }
  return r;
}

// --- Regs, Source ---------------------------------------------------------------------------

/** Regs, and regs.ext (the 2.5 places of the same signals: `ext` is simply not read there). */
const REGS = new KeyTable(['gdpr', 'us_privacy', 'gpp', 'gpp_sid', 'coppa', 'ext']);

function readRegs(c: JsonCursor): Record {
  const r = {
    gdpr: undefined as unknown,
    us_privacy: undefined as unknown,
    gpp: undefined as unknown,
    gpp_sid: undefined as unknown,
    coppa: undefined as unknown,
    ext: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(REGS); k !== END_OF_OBJECT; k = c.nextKey(REGS)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.gdpr = c.value(); break;
      case 1: r.us_privacy = c.value(); break;
      case 2: r.gpp = c.value(); break;
      case 3: r.gpp_sid = c.list(); break;
      case 4: r.coppa = c.value(); break;
      case 5: r.ext = objectOr(c, readRegs); break;
      default: c.skip();
    }
  }
  return r;
}

// --- Imp and what it holds ------------------------------------------------------------------

const IMP = new KeyTable(['id', 'banner', 'video', 'audio', 'native', 'bidfloor', 'bidfloorcur', 'secure', 'pmp']);

function readImp(c: JsonCursor): Record {
  const r = {
    id: undefined as unknown,
    banner: undefined as unknown,
    video: undefined as unknown,
    audio: undefined as unknown,
    native: undefined as unknown,
    bidfloor: undefined as unknown,
    bidfloorcur: undefined as unknown,
    secure: undefined as unknown,
    pmp: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(IMP); k !== END_OF_OBJECT; k = c.nextKey(IMP)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.id = c.value(); break;
      case 1: r.banner = objectOr(c, readBanner); break;
      case 2: r.video = objectOr(c, readMedia); break;
      case 3: r.audio = objectOr(c, readMedia); break;
      case 4: r.native = objectOr(c, readNative); break;
      case 5: r.bidfloor = c.value(); break;
      case 6: r.bidfloorcur = c.value(); break;
      case 7: r.secure = c.value(); break;
      case 8: r.pmp = objectOr(c, readPmp); break;
      default: c.skip();
    }
  }
  return r;
}

/** Banner, and its `format` entries (which use only `w` and `h`). */
const BANNER = new KeyTable(['w', 'h', 'format', 'wmin', 'wmax', 'hmin', 'hmax', 'battr']);

function readBanner(c: JsonCursor): Record {
  const r = {
    w: undefined as unknown,
    h: undefined as unknown,
    format: undefined as unknown,
    wmin: undefined as unknown,
    wmax: undefined as unknown,
    hmin: undefined as unknown,
    hmax: undefined as unknown,
    battr: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(BANNER); k !== END_OF_OBJECT; k = c.nextKey(BANNER)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.w = c.value(); break;
      case 1: r.h = c.value(); break;
      case 2: r.format = arrayOf(c, readBanner); break;
      case 3: r.wmin = c.value(); break;
      case 4: r.wmax = c.value(); break;
      case 5: r.hmin = c.value(); break;
      case 6: r.hmax = c.value(); break;
      case 7: r.battr = c.list(); break;
      default: c.skip();
    }
  }
  return r;
}

/** Video and Audio (Audio has no `w`, `h`, `plcmt`: they stay undefined and are not read). */
const MEDIA = new KeyTable(['mimes', 'minduration', 'maxduration', 'rqddurs', 'protocols', 'protocol', 'battr', 'w', 'h', 'mincpmpersec', 'durfloors', 'plcmt']);

function readMedia(c: JsonCursor): Record {
  const r = {
    mimes: undefined as unknown,
    minduration: undefined as unknown,
    maxduration: undefined as unknown,
    rqddurs: undefined as unknown,
    protocols: undefined as unknown,
    protocol: undefined as unknown,
    battr: undefined as unknown,
    w: undefined as unknown,
    h: undefined as unknown,
    mincpmpersec: undefined as unknown,
    durfloors: undefined as unknown,
    plcmt: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(MEDIA); k !== END_OF_OBJECT; k = c.nextKey(MEDIA)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.mimes = c.list(); break;
      case 1: r.minduration = c.value(); break;
      case 2: r.maxduration = c.value(); break;
      case 3: r.rqddurs = c.list(); break;
      case 4: r.protocols = c.list(); break;
      case 5: r.protocol = c.value(); break;
      case 6: r.battr = c.list(); break;
      case 7: r.w = c.value(); break;
      case 8: r.h = c.value(); break;
      case 9: r.mincpmpersec = c.value(); break;
      case 10: r.durfloors = arrayOf(c, readDurationFloor); break;
      case 11: r.plcmt = c.value(); break;
      default: c.skip();
    }
  }
  return r;
}

const DURATION_FLOOR = new KeyTable(['mindur', 'maxdur', 'bidfloor']);

function readDurationFloor(c: JsonCursor): Record {
  const r = { mindur: undefined as unknown, maxdur: undefined as unknown, bidfloor: undefined as unknown };
  let seen = 0;
  for (let k = c.firstKey(DURATION_FLOOR); k !== END_OF_OBJECT; k = c.nextKey(DURATION_FLOOR)) {
    seen = once(seen, k);
    if (k === 0) r.mindur = c.value();
    else if (k === 1) r.maxdur = c.value();
    else if (k === 2) r.bidfloor = c.value();
    else c.skip();
  }
  return r;
}

const NATIVE = new KeyTable(['request', 'battr']);

function readNative(c: JsonCursor): Record {
  const r = { request: undefined as unknown, battr: undefined as unknown };
  let seen = 0;
  for (let k = c.firstKey(NATIVE); k !== END_OF_OBJECT; k = c.nextKey(NATIVE)) {
    seen = once(seen, k);
    if (k === 0) r.request = c.value();
    else if (k === 1) r.battr = c.list();
    else c.skip();
  }
  return r;
}

const PMP = new KeyTable(['private_auction', 'deals']);

function readPmp(c: JsonCursor): Record {
  const r = { private_auction: undefined as unknown, deals: undefined as unknown };
  let seen = 0;
  for (let k = c.firstKey(PMP); k !== END_OF_OBJECT; k = c.nextKey(PMP)) {
    seen = once(seen, k);
    if (k === 0) r.private_auction = c.value();
    else if (k === 1) r.deals = arrayOf(c, readDeal);
    else c.skip();
  }
  return r;
}

const DEAL = new KeyTable(['id', 'bidfloor', 'bidfloorcur', 'mincpmpersec', 'durfloors', 'wseat', 'wadomain']);

function readDeal(c: JsonCursor): Record {
  const r = {
    id: undefined as unknown,
    bidfloor: undefined as unknown,
    bidfloorcur: undefined as unknown,
    mincpmpersec: undefined as unknown,
    durfloors: undefined as unknown,
    wseat: undefined as unknown,
    wadomain: undefined as unknown,
  };
  let seen = 0;
  for (let k = c.firstKey(DEAL); k !== END_OF_OBJECT; k = c.nextKey(DEAL)) {
    seen = once(seen, k);
    switch (k) {
      case 0: r.id = c.value(); break;
      case 1: r.bidfloor = c.value(); break;
      case 2: r.bidfloorcur = c.value(); break;
      case 3: r.mincpmpersec = c.value(); break;
      case 4: r.durfloors = arrayOf(c, readDurationFloor); break;
      case 5: r.wseat = c.list(); break;
      case 6: r.wadomain = c.list(); break;
      default: c.skip();
    }
  }
  return r;
}
