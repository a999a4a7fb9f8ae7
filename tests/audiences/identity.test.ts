/**
 * Identity keys: what a bid request's ids become (through the real request parser), and what an
 * uploaded row's id becomes. The two must meet: an id accepted on upload is found in a bid request.
 */
import { describe, expect, it } from 'vitest';
import { MAX_IDS_PER_REQUEST, uploadKey, userKeys } from '../../src/audiences/identity.js';
import { isInvalid, parseBidRequest } from '../../src/openrtb/parse-request.js';
import type { BidRequestView } from '../../src/openrtb/request-view.js';

const IFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
const UID2 = 'A4AAAABlh75XmviGJi-hkLGM96duGY7T';

function request(over: { user?: object; device?: object } = {}): BidRequestView {
  const body = JSON.stringify({
    id: 'req-1',
    imp: [{ id: '1', banner: { w: 300, h: 250 } }],
    site: { domain: 'news.example' },
    ...over,
  });
  const v = parseBidRequest(Buffer.from(body));
  if (isInvalid(v)) throw new Error(`test request refused: ${v.message}`);
  return v;
}

const keysOf = (over: { user?: object; device?: object }, exchange = 'ex1') => userKeys(request(over), exchange);

describe('userKeys', () => {
  it('gives no keys for a request without user or device ids', () => {
    expect(keysOf({})).toEqual([]);
    expect(keysOf({ user: {}, device: { ua: 'Mozilla/5.0' } })).toEqual([]);
    expect(keysOf({ user: { buyeruid: '', id: '' }, device: { ifa: '' } })).toEqual([]);
  });

  it('keys user.buyeruid as uid:, kept as sent', () => {
    expect(keysOf({ user: { buyeruid: 'CAESEKx9Qm2y-FhZ3' } })).toEqual(['uid:CAESEKx9Qm2y-FhZ3']);
  });

  it('keys user.id per exchange as xid:<exchange>:', () => {
    expect(keysOf({ user: { id: 'Exch-User-7' } }, 'ex1')).toEqual(['xid:ex1:Exch-User-7']);
    expect(keysOf({ user: { id: 'Exch-User-7' } }, 'other')).toEqual(['xid:other:Exch-User-7']);
  });

  it('keys device.ifa lower-cased, unless lmt=1 or all zeros', () => {
    expect(keysOf({ device: { ifa: IFA } })).toEqual([`ifa:${IFA.toLowerCase()}`]);
    expect(keysOf({ device: { ifa: IFA, lmt: 0 } })).toEqual([`ifa:${IFA.toLowerCase()}`]);
    expect(keysOf({ device: { ifa: IFA, lmt: 1 } })).toEqual([]);
    expect(keysOf({ device: { ifa: '00000000-0000-0000-0000-000000000000' } })).toEqual([]);
    expect(keysOf({ device: { ifa: '00000000000000000000000000000000' } })).toEqual([]);
    // lmt only silences the ad id, not the ids the user has with us or the exchange
    expect(keysOf({ user: { buyeruid: 'b1', id: 'x1' }, device: { ifa: IFA, lmt: 1 } })).toEqual(['uid:b1', 'xid:ex1:x1']);
  });

  const eids = [
    { source: 'UIDapi.com', uids: [{ id: UID2, atype: 3 }, { id: 'second-token' }] },
    { source: 'liveramp.com', uids: [{ id: 'XY-1000' }] },
  ];
  const eidKeys = [`eid:uidapi.com:${UID2}`, 'eid:uidapi.com:second-token', 'eid:liveramp.com:XY-1000'];

  it('keys 2.6 user.eids as eid:<source lower-cased>:<id as sent>', () => {
    expect(keysOf({ user: { eids } })).toEqual(eidKeys);
  });

  it('keys 2.5 user.ext.eids the same way', () => {
    expect(keysOf({ user: { ext: { eids } } })).toEqual(eidKeys);
  });

  it('uses 2.6 user.eids when a request carries both places', () => {
    const keys = keysOf({ user: { eids, ext: { eids: [{ source: 'liveramp.com', uids: [{ id: 'XY-1000' }] }] } } });
    expect(keys).toEqual(eidKeys);
  });

  it('skips malformed eids without refusing the request', () => {
    const messy = [
      null,
      'x',
      { source: 1, uids: [{ id: 'a' }] },
      { source: 'a.com' },
      { source: 'a.com', uids: 'x' },
      { source: 'b.com', uids: [null, { id: 5 }, { id: '' }, {}, { id: 'ok' }] },
    ];
    expect(keysOf({ user: { eids: messy } })).toEqual(['eid:b.com:ok']);
    expect(keysOf({ user: { eids: { source: 'a.com', uids: [{ id: 'x' }] } } })).toEqual([]);
    expect(keysOf({ user: { ext: { eids: 'nope' } } })).toEqual([]);
  });

  it('orders keys uid, xid, ifa, eids', () => {
    expect(keysOf({ user: { buyeruid: 'b1', id: 'x1', eids }, device: { ifa: IFA } })).toEqual([
      'uid:b1',
      'xid:ex1:x1',
      `ifa:${IFA.toLowerCase()}`,
      ...eidKeys,
    ]);
  });

  it('deduplicates keys', () => {
    const dup = [
      { source: 'UIDapi.com', uids: [{ id: UID2 }, { id: UID2 }] },
      { source: 'uidapi.com', uids: [{ id: UID2 }] },
      { source: 'uidapi.COM', uids: [{ id: 'other' }] },
    ];
    expect(keysOf({ user: { eids: dup } })).toEqual([`eid:uidapi.com:${UID2}`, 'eid:uidapi.com:other']);
    // ids are case-sensitive except the ifa
    expect(keysOf({ user: { eids: [{ source: 'a.com', uids: [{ id: 'X' }, { id: 'x' }] }] } })).toEqual(['eid:a.com:X', 'eid:a.com:x']);
  });

  it(`looks up at most MAX_IDS_PER_REQUEST (${MAX_IDS_PER_REQUEST}) keys, the first ones`, () => {
    const many = Array.from({ length: 6 }, (_, i) => ({ source: `s${i}.com`, uids: [{ id: `a${i}` }, { id: `b${i}` }] }));
    const keys = keysOf({ user: { buyeruid: 'b1', id: 'x1', eids: many }, device: { ifa: IFA } });
    expect(keys).toHaveLength(MAX_IDS_PER_REQUEST);
    expect(keys).toEqual([
      'uid:b1',
      'xid:ex1:x1',
      `ifa:${IFA.toLowerCase()}`,
      'eid:s0.com:a0',
      'eid:s0.com:b0',
      'eid:s1.com:a1',
      'eid:s1.com:b1',
      'eid:s2.com:a2',
    ]);
    // duplicates do not use up the cap
    const repeated = [{ source: 'a.com', uids: Array.from({ length: 20 }, () => ({ id: 'same' })) }, ...many];
    const k2 = keysOf({ user: { eids: repeated } });
    expect(k2).toHaveLength(MAX_IDS_PER_REQUEST);
    expect(new Set(k2).size).toBe(MAX_IDS_PER_REQUEST);
    expect(k2[0]).toBe('eid:a.com:same');
  });

  it('ignores absurdly long ids', () => {
    const long = 'x'.repeat(1_000);
    expect(keysOf({ user: { buyeruid: long, id: 'x1', eids: [{ source: 'a.com', uids: [{ id: long }, { id: 'ok' }] }] } })).toEqual([
      'xid:ex1:x1',
      'eid:a.com:ok',
    ]);
  });
});

describe('uploadKey', () => {
  it('accepts the four id types, type case-insensitive, fields trimmed', () => {
    expect(uploadKey('uid', 'u-123')).toBe('uid:u-123');
    expect(uploadKey(' UID ', '  u-123 ')).toBe('uid:u-123');
    expect(uploadKey('ifa', IFA)).toBe(`ifa:${IFA.toLowerCase()}`);
    expect(uploadKey('IFA', IFA.toLowerCase())).toBe(`ifa:${IFA.toLowerCase()}`);
    expect(uploadKey('xid', 'ex1:Exch-User-7')).toBe('xid:ex1:Exch-User-7');
    expect(uploadKey('eid', `UIDapi.com:${UID2}`)).toBe(`eid:uidapi.com:${UID2}`);
    expect(uploadKey('eid', 'src.com:a:b')).toBe('eid:src.com:a:b'); // only the first colon separates
  });

  it('refuses rows that cannot be keyed, with a message', () => {
    const refused: [string, string, RegExp][] = [
      ['uid', '', /empty/],
      ['uid', '   ', /empty/],
      ['uid', 'x'.repeat(201), /longer than 200/],
      ['ifa', '00000000-0000-0000-0000-000000000000', /all-zero/],
      ['xid', 'no-colon', /<exchange>:<id>/],
      ['xid', ':id', /<exchange>:<id>/],
      ['xid', 'ex1:', /<exchange>:<id>/],
      ['eid', 'uidapi.com', /<source>:<id>/],
      ['eid', ':x', /<source>:<id>/],
      ['eid', 'uidapi.com:', /<source>:<id>/],
      ['email', 'a@b.example', /unknown id type "email"/],
      ['', 'x', /unknown id type/],
    ];
    for (const [type, id, message] of refused) {
      const r = uploadKey(type, id);
      expect(typeof r, `${type} ${id}`).toBe('object');
      expect((r as { error: string }).error, `${type} ${id}`).toMatch(message);
    }
  });

  it('accepts ids up to 200 characters', () => {
    expect(uploadKey('uid', 'x'.repeat(200))).toBe(`uid:${'x'.repeat(200)}`);
  });
});

describe('an uploaded id meets the same id in a bid request', () => {
  const cases: { type: string; id: string; req: { user?: object; device?: object } }[] = [
    { type: 'uid', id: 'CAESEKx9Qm2y-FhZ3', req: { user: { buyeruid: 'CAESEKx9Qm2y-FhZ3' } } },
    { type: 'xid', id: 'ex1:Exch-User-7', req: { user: { id: 'Exch-User-7' } } },
    { type: 'ifa', id: IFA.toLowerCase(), req: { device: { ifa: IFA } } },
    { type: 'ifa', id: IFA, req: { device: { ifa: IFA.toLowerCase() } } },
    { type: 'eid', id: `uidapi.com:${UID2}`, req: { user: { eids: [{ source: 'UIDAPI.com', uids: [{ id: UID2 }] }] } } },
    { type: 'eid', id: `UIDapi.com:${UID2}`, req: { user: { ext: { eids: [{ source: 'uidapi.com', uids: [{ id: UID2 }] }] } } } },
  ];
  for (const c of cases)
    it(`${c.type} ${c.id}`, () => {
      const key = uploadKey(c.type, c.id);
      expect(typeof key).toBe('string');
      expect(keysOf(c.req, 'ex1')).toEqual([key]);
    });

  it('at every accepted length, up to the 200-character limit', () => {
    for (const len of [1, 100, 190, 195, 196, 197, 199, 200]) {
      const id = 'k'.repeat(len);
      const uid = uploadKey('uid', id);
      expect(uid, `uid of ${len}`).toBe(`uid:${id}`);
      expect(keysOf({ user: { buyeruid: id } }), `buyeruid of ${len}`).toEqual([uid]);
      const eidId = `a.com:${'e'.repeat(Math.max(1, len - 6))}`;
      const eid = uploadKey('eid', eidId);
      expect(eid, `eid of ${eidId.length}`).toBe(`eid:${eidId}`);
      expect(keysOf({ user: { eids: [{ source: 'a.com', uids: [{ id: eidId.slice(6) }] }] } }), `eid of ${eidId.length}`).toEqual([eid]);
      const xidId = `ex1:${'u'.repeat(Math.max(1, len - 4))}`;
      const xid = uploadKey('xid', xidId);
      expect(xid, `xid of ${xidId.length}`).toBe(`xid:${xidId}`);
      expect(keysOf({ user: { id: xidId.slice(4) } }, 'ex1'), `xid of ${xidId.length}`).toEqual([xid]);
    }
    // and what upload refuses is not looked up either
    expect(uploadKey('uid', 'k'.repeat(201))).toHaveProperty('error');
    expect(keysOf({ user: { buyeruid: 'k'.repeat(201) } })).toEqual([]);
  });
});
