/**
 * The streamed upload parser (AudienceUpload): CSV and NDJSON rows, validation with line numbers,
 * and independence from how the bytes are cut into chunks.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AudienceUpload, type UploadFormat, type UploadProgress } from '../../src/audiences/upload.js';
import { MemorySegmentStore } from '../../src/audiences/memory-segment-store.js';
import type { MembershipRow } from '../../src/audiences/segment-store.js';

const NOW = 1_700_000_000;
const DEFAULT_TTL = 86_400;
const KNOWN = new Set(['crm', 'vip', 'loyal', 'seg.with-odd:chars_1']);

/** A memory store that also records every batch written. */
class RecordingStore extends MemorySegmentStore {
  readonly rows: MembershipRow[] = [];
  batches = 0;
  failWith: Error | undefined;
  override async addMemberships(rows: readonly MembershipRow[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.batches++;
    this.rows.push(...rows);
    await super.addMemberships(rows);
  }
}

interface Result {
  progress: UploadProgress;
  rows: MembershipRow[];
  written: string[][];
  store: RecordingStore;
}

/** Feeds the chunks as a paused-and-resumed socket would: waits whenever push() asks to. */
async function run(format: UploadFormat, chunks: Uint8Array[], store = new RecordingStore(() => NOW)): Promise<Result> {
  const written: string[][] = [];
  const u = new AudienceUpload(
    store,
    { uploadId: 'up-1', segmentId: 'crm', format, defaultTtlSeconds: DEFAULT_TTL, knownSegments: KNOWN, nowSeconds: NOW },
    (keys) => written.push(keys),
  );
  for (const c of chunks) {
    const wait = u.push(c);
    if (wait) await wait;
  }
  const progress = await u.end();
  return { progress, rows: store.rows, written, store };
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const whole = (format: UploadFormat, text: string) => run(format, [bytes(text)]);

/** Cuts `buf` at the given offsets (sorted, deduplicated, within the buffer). */
function cut(buf: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((p) => Math.max(0, Math.min(buf.length, p))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p)); // empty chunks included on purpose
    prev = p;
  }
  return out;
}

const row = (key: string, segments: string[], ttl = DEFAULT_TTL): MembershipRow => ({ key, segments, expiresAt: NOW + ttl });
/** What the comparison looks at: everything but the timestamps. */
const summary = (r: Result) => {
  const { startedAt: _s, finishedAt: _f, ...p } = r.progress;
  return { progress: p, rows: r.rows };
};

describe('CSV', () => {
  it('rows with a header: id types, extra segments with |, ttl column', async () => {
    const r = await whole(
      'csv',
      [
        'user_id,id_type,segments,ttl',
        'alice,uid,vip|loyal,3600',
        '6D92078A-8246-4BA4-AE5B-76104861E7DC,ifa,,604800',
        'UIDAPI.com:A4AAAABlh75X,eid,,',
        'openx:u-9,xid',
        'bob,UID, vip | crm ,',
        '',
      ].join('\n'),
    );
    expect(r.progress).toMatchObject({ state: 'done', lines: 6, accepted: 5, rejected: 0, errors: [], segmentId: 'crm', format: 'csv' });
    expect(r.rows).toEqual([
      row('uid:alice', ['crm', 'vip', 'loyal'], 3600),
      row('ifa:6d92078a-8246-4ba4-ae5b-76104861e7dc', ['crm'], 604800),
      row('eid:uidapi.com:A4AAAABlh75X', ['crm']),
      row('xid:openx:u-9', ['crm']),
      row('uid:bob', ['crm', 'vip']),
    ]);
    expect(r.written).toEqual([r.rows.map((x) => x.key)]);
    expect(await r.store.getSegment('crm')).toBeUndefined(); // the parser writes memberships only
    expect(r.store.lookupNow(['uid:alice'])[0]?.map((m) => m.segment).sort()).toEqual(['crm', 'loyal', 'vip']);
  });

  it('without a header the first line is a row; a header is only a header on line 1', async () => {
    const r = await whole('csv', 'alice,uid\nuser_id,id_type\n');
    expect(r.rows).toEqual([row('uid:alice', ['crm'])]);
    expect(r.progress.accepted).toBe(1);
    expect(r.progress.rejected).toBe(1);
    expect(r.progress.errors).toEqual([{ line: 2, message: expect.stringMatching(/unknown id type/) }]);
    const quotedHeader = await whole('csv', '"user_id","id_type"\nbob,uid');
    expect(quotedHeader.rows).toEqual([row('uid:bob', ['crm'])]);
    expect(quotedHeader.progress).toMatchObject({ lines: 2, accepted: 1, rejected: 0 });
  });

  it('quoted fields: commas, doubled quotes, quoted segments and ttl', async () => {
    const r = await whole('csv', ['"a,b",uid', '"say ""hi""",uid,"vip|loyal","60"', '"c",uid,,'].join('\n'));
    expect(r.progress.rejected).toBe(0);
    expect(r.rows).toEqual([row('uid:a,b', ['crm']), row('uid:say "hi"', ['crm', 'vip', 'loyal'], 60), row('uid:c', ['crm'])]);
  });

  it('CRLF line endings, and a last line without a newline', async () => {
    const r = await whole('csv', 'user_id,id_type,segments,ttl\r\nalice,uid,vip,120\r\nbob,uid\r\n\r\ncarol,uid');
    expect(r.rows).toEqual([row('uid:alice', ['crm', 'vip'], 120), row('uid:bob', ['crm']), row('uid:carol', ['crm'])]);
    expect(r.progress).toMatchObject({ lines: 5, accepted: 3, rejected: 0 });
  });

  it('rejects bad rows with their line numbers and keeps the good ones', async () => {
    const lines = [
      'user_id,id_type,segments,ttl', // 1 header
      'ok1,uid', // 2
      'u2,bogus', // 3 unknown id type
      '', // 4 blank: not a row, still a line
      'u4,uid,nope', // 5 unknown extra segment
      'u5,uid,,abc', // 6 ttl not a number
      'u6,uid,,0', // 7 ttl out of range
      'u7"x,uid', // 8 a quote inside an unquoted field
      'u8', // 9 too few fields
      'u9,uid,vip,60,extra', // 10 too many fields
      ',uid', // 11 empty id
      '0000-0000,ifa', // 12 all-zero ifa
      'nocolon,xid', // 13 xid without exchange
      'u13,uid,bad segment!', // 14 invalid segment id
      '"u14"x,uid', // 15 text after a quoted field
      `${'x'.repeat(201)},uid`, // 16 id too long
      'ok2,ifa,vip', // 17
    ];
    const r = await whole('csv', lines.join('\n') + '\n');
    expect(r.progress.accepted).toBe(2);
    expect(r.progress.rejected).toBe(13);
    expect(r.progress.lines).toBe(17);
    expect(r.rows.map((x) => x.key)).toEqual(['uid:ok1', 'ifa:ok2']);
    expect(r.progress.errors.map((e) => e.line)).toEqual([3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const byLine = new Map(r.progress.errors.map((e) => [e.line, e.message]));
    expect(byLine.get(3)).toMatch(/unknown id type "bogus"/);
    expect(byLine.get(5)).toMatch(/unknown segment "nope"/);
    expect(byLine.get(6)).toMatch(/ttl/);
    expect(byLine.get(7)).toMatch(/ttl/);
    expect(byLine.get(8)).toMatch(/double quote inside an unquoted field/);
    expect(byLine.get(9)).toMatch(/expected user_id,id_type/);
    expect(byLine.get(10)).toMatch(/expected user_id,id_type/);
    expect(byLine.get(11)).toMatch(/empty/);
    expect(byLine.get(12)).toMatch(/zero/);
    expect(byLine.get(13)).toMatch(/xid ids are written/);
    expect(byLine.get(14)).toMatch(/not a valid segment id/);
    expect(byLine.get(15)).toMatch(/after a quoted field/);
    expect(byLine.get(16)).toMatch(/longer than 200/);
  });

  it('RFC 4180: quoted fields hold line breaks (LF and CRLF) and quotes; a record is numbered by its first line', async () => {
    const text = '\ufeffuser_id,id_type,segments\r\n"multi\nline",uid\r\n"crlf\r\ninside ""q""",uid,"vip|\nloyal"\r\nnext,bogus\r\nlast,uid\r\n';
    const r = await whole('csv', text);
    expect(r.rows).toEqual([row('uid:multi\nline', ['crm']), row('uid:crlf\r\ninside "q"', ['crm', 'vip', 'loyal']), row('uid:last', ['crm'])]);
    expect(r.progress).toMatchObject({ lines: 8, accepted: 3, rejected: 1 });
    expect(r.progress.errors).toEqual([{ line: 7, message: expect.stringMatching(/unknown id type "bogus"/) }]);
  });

  it('an unterminated quote at the end is one error on the line its record starts, after the rows before it', async () => {
    const r = await whole('csv', 'a,uid\n"open,uid\nb,uid\nc,uid\n');
    expect(r.progress).toMatchObject({ state: 'done', lines: 4, accepted: 1, rejected: 1 });
    expect(r.rows.map((x) => x.key)).toEqual(['uid:a']);
    expect(r.progress.errors).toEqual([{ line: 2, message: expect.stringMatching(/unterminated quoted field/) }]);
  });

  it('a malformed record is one error and parsing goes on with the next line', async () => {
    const r = await whole('csv', 'a,uid\n"x"y,uid\nb,uid\nc"d,uid\ne,uid\n');
    expect(r.rows.map((x) => x.key)).toEqual(['uid:a', 'uid:b', 'uid:e']);
    expect(r.progress.errors).toEqual([
      { line: 2, message: expect.stringMatching(/after a quoted field/) },
      { line: 4, message: expect.stringMatching(/double quote inside an unquoted field/) },
    ]);
  });

  it('an overlong record inside quotes is rejected and the rest of the file is not parsed (never held in memory)', async () => {
    const text = `a,uid\n"${'x\n'.repeat(10_000)}",uid\nb,uid\n`;
    const r = await run('csv', cut(bytes(text), Array.from({ length: 40 }, (_, i) => i * 1000)));
    expect(r.rows.map((x) => x.key)).toEqual(['uid:a']);
    expect(r.progress.errors).toEqual([{ line: 2, message: expect.stringMatching(/longer than 16384 bytes/) }]);
    expect(r.progress.lines).toBe(10_003);
  });

  it('keeps only the first 20 errors but counts every rejected row', async () => {
    const text = Array.from({ length: 30 }, (_, i) => `u${i},nope`).join('\n') + '\nfine,uid\n';
    const r = await whole('csv', text);
    expect(r.progress.rejected).toBe(30);
    expect(r.progress.accepted).toBe(1);
    expect(r.progress.errors).toHaveLength(20);
    expect(r.progress.errors.map((e) => e.line)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('rejects an overlong line once, with its line number, and goes on with the next line', async () => {
    const long = `${'y'.repeat(20_000)},uid`;
    const text = `a,uid\n${long}\nb,uid\nc,nope\n`;
    for (const chunks of [[bytes(text)], cut(bytes(text), [10, 4000, 8000, 12_000, 16_000, 17_000, 20_003, 20_010]), cut(bytes(text), Array.from({ length: 60 }, (_, i) => i * 512))]) {
      const r = await run('csv', chunks);
      expect(r.rows.map((x) => x.key)).toEqual(['uid:a', 'uid:b']);
      expect(r.progress).toMatchObject({ lines: 4, accepted: 2, rejected: 2 });
      expect(r.progress.errors).toEqual([
        { line: 2, message: expect.stringMatching(/longer than 16384 bytes/) },
        { line: 4, message: expect.stringMatching(/unknown id type "nope"/) },
      ]);
    }
  });

  it('a line over twice the limit, in small chunks, is still one rejected line', async () => {
    const text = `a,uid\n${'w'.repeat(50_000)},uid\nb,uid\n`;
    const r = await run('csv', cut(bytes(text), Array.from({ length: 60 }, (_, i) => i * 1024)));
    expect(r.progress).toMatchObject({ lines: 3, accepted: 2, rejected: 1 });
    expect(r.progress.errors).toEqual([{ line: 2, message: expect.stringMatching(/longer than/) }]);
  });

  it('an overlong last line without a newline is rejected too', async () => {
    const text = `a,uid\n${'z'.repeat(17_000)}`;
    for (const chunks of [[bytes(text)], cut(bytes(text), [100, 9000, 16_500])]) {
      const r = await run('csv', chunks);
      expect(r.progress).toMatchObject({ lines: 2, accepted: 1, rejected: 1 });
      expect(r.progress.errors[0]).toEqual({ line: 2, message: expect.stringMatching(/longer than/) });
    }
  });

  it('counts the length of a line in bytes, not characters', async () => {
    const id = '€'.repeat(6_000); // 6,000 characters, 18,000 bytes
    const r = await whole('csv', `${id},uid\nok,uid\n`);
    expect(r.progress.errors).toEqual([{ line: 1, message: expect.stringMatching(/longer than 16384 bytes/) }]);
    expect(r.rows.map((x) => x.key)).toEqual(['uid:ok']);
  });

  it('keeps multi-byte user ids intact', async () => {
    const r = await whole('csv', 'jürgen-€-😀,uid\n"ñ,ü",uid\n');
    expect(r.rows.map((x) => x.key)).toEqual(['uid:jürgen-€-😀', 'uid:ñ,ü']);
  });

  it('writes in batches of 1,000 and asks the caller to wait while a batch is written', async () => {
    const text = Array.from({ length: 2_500 }, (_, i) => `user${i},uid`).join('\n');
    const store = new RecordingStore(() => NOW);
    const u = new AudienceUpload(store, { uploadId: 'b', segmentId: 'crm', format: 'csv', defaultTtlSeconds: 60, knownSegments: KNOWN, nowSeconds: NOW });
    const buf = bytes(text);
    let waits = 0;
    for (const c of cut(buf, Array.from({ length: 200 }, (_, i) => i * 170))) {
      const w = u.push(c);
      if (w) {
        waits++;
        await w;
      }
    }
    expect(waits).toBe(2);
    // Rows count as accepted once written; a batch closes at the first chunk end past 1,000 rows.
    expect(u.progress.accepted).toBe(store.rows.length);
    expect(u.progress.accepted).toBeGreaterThanOrEqual(2_000);
    expect(u.progress.accepted).toBeLessThan(2_500);
    const p = await u.end();
    expect(p).toMatchObject({ state: 'done', lines: 2_500, accepted: 2_500, rejected: 0, bytes: buf.length });
    expect(store.batches).toBe(3);
    expect(new Set(store.rows.map((r) => r.key)).size).toBe(2_500);
  });

  it('a store failure fails the upload and counts its rows as rejected', async () => {
    const store = new RecordingStore(() => NOW);
    store.failWith = new Error('disk on fire');
    const r = await run('csv', [bytes('a,uid\nb,uid\nc,bogus\n')], store);
    expect(r.progress.state).toBe('failed');
    expect(r.progress.failure).toBe('disk on fire');
    expect(r.progress.accepted).toBe(0);
    expect(r.progress.rejected).toBe(3);
    expect(r.progress.errors).toEqual([
      { line: 3, message: expect.stringMatching(/unknown id type/) },
      { line: 0, message: expect.stringMatching(/store write failed for 2 rows: disk on fire/) },
    ]);
  });
});

describe('NDJSON', () => {
  it('one object per line, with segments and ttl', async () => {
    const r = await whole(
      'ndjson',
      [
        '{"user_id":"alice","id_type":"uid","segments":["vip"],"ttl":86400}',
        '{"user_id":"AB-cd","id_type":"ifa"}',
        '  ',
        '{"id_type":"eid","user_id":"ID5-SYNC.com:xyz","segments":[]}\r',
      ].join('\n'),
    );
    expect(r.progress).toMatchObject({ state: 'done', lines: 4, accepted: 3, rejected: 0, format: 'ndjson' });
    expect(r.rows).toEqual([row('uid:alice', ['crm', 'vip'], 86400), row('ifa:ab-cd', ['crm']), row('eid:id5-sync.com:xyz', ['crm'])]);
  });

  it('rejects malformed lines with their line numbers', async () => {
    const lines = [
      '{"user_id":"ok","id_type":"uid"}', // 1
      '{"user_id":"u","id_type":"uid"', // 2 not JSON
      '["u","uid"]', // 3 not an object
      '{"user_id":5,"id_type":"uid"}', // 4
      '{"user_id":"u","id_type":"uid","colour":"red"}', // 5 unknown field
      '{"user_id":"u","id_type":"cookie"}', // 6 unknown id type
      '{"user_id":"u","id_type":"uid","segments":["ghost"]}', // 7 unknown segment
      '{"user_id":"u","id_type":"uid","segments":"vip"}', // 8
      '{"user_id":"u","id_type":"uid","ttl":"1d"}', // 9
      '{"user_id":"u","id_type":"uid","ttl":1.5}', // 10
      '{"user_id":"u","id_type":"uid","ttl":999999999}', // 11
      '{"user_id":"ok2","id_type":"uid","segments":["vip","vip","crm"]}', // 12
    ];
    const r = await whole('ndjson', lines.join('\n'));
    expect(r.progress).toMatchObject({ lines: 12, accepted: 2, rejected: 10 });
    expect(r.rows).toEqual([row('uid:ok', ['crm']), row('uid:ok2', ['crm', 'vip'])]);
    expect(r.progress.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const byLine = new Map(r.progress.errors.map((e) => [e.line, e.message]));
    expect(byLine.get(2)).toMatch(/not valid JSON/);
    expect(byLine.get(3)).toMatch(/JSON object/);
    expect(byLine.get(5)).toMatch(/unknown field "colour"/);
    expect(byLine.get(6)).toMatch(/unknown id type "cookie"/);
    expect(byLine.get(7)).toMatch(/unknown segment "ghost"/);
  });
});

describe('chunk boundaries', () => {
  // Rows of every kind, including multi-byte characters (2, 3 and 4 bytes in UTF-8) and overlong lines.
  const idChars = fc.constantFrom('a', 'Z', '7', '-', 'é', 'ß', '€', '中', '😀', '𝄞', ' ', ':');
  const userId = fc.array(idChars, { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
  const idType = fc.constantFrom('uid', 'UID', 'ifa', 'xid', 'eid', 'nope');
  const segments = fc.subarray(['vip', 'loyal', 'ghost', 'seg.with-odd:chars_1']);
  const ttl = fc.option(fc.constantFrom(60, 3600, 0, 99_999_999), { nil: undefined });

  const csvLine = fc.oneof(
    { weight: 10, arbitrary: fc.tuple(userId, idType, segments, ttl).map(([u, t, s, l]) => `${/[,"]/.test(u) ? `"${u.replace(/"/g, '""')}"` : u},${t},${s.join('|')},${l ?? ''}`) },
    { weight: 2, arbitrary: fc.tuple(userId, idType).map(([u, t]) => `"${u}",${t}`) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'garbage', '"unterminated,uid', 'a,b,c,d,e') },
    // Around the 16 KiB line limit, counted in bytes: 3-byte characters, and plain ASCII.
    { weight: 1, arbitrary: fc.integer({ min: 5_300, max: 8_000 }).map((n) => `${'€'.repeat(n)},uid`) },
    { weight: 1, arbitrary: fc.integer({ min: 16_300, max: 40_000 }).map((n) => `${'q'.repeat(n)},uid`) },
  );
  const ndjsonLine = fc.oneof(
    { weight: 10, arbitrary: fc.tuple(userId, idType, segments, ttl).map(([u, t, s, l]) => JSON.stringify({ user_id: u, id_type: t, segments: s, ...(l === undefined ? {} : { ttl: l }) })) },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '[]', '{"user_id":"x"}', '{"user_id":"x","id_type":"uid","extra":1}') },
    { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 15_000 }).map((n) => JSON.stringify({ user_id: 'ü'.repeat(n), id_type: 'uid' })) },
    { weight: 1, arbitrary: fc.integer({ min: 16_300, max: 30_000 }).map((n) => JSON.stringify({ user_id: 'u', id_type: 'uid', segments: ['vip'], ttl: 60 }).replace('"u"', `"u${' '.repeat(0)}"`) + ' '.repeat(n)) },
  );

  const doc = (line: fc.Arbitrary<string>) =>
    fc.tuple(fc.array(line, { minLength: 0, maxLength: 25 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.boolean()).map(
      ([lines, eol, header, trailingEol]) => (header ? ['user_id,id_type,segments,ttl', ...lines] : lines).join(eol) + (trailingEol ? eol : ''),
    );

  for (const format of ['csv', 'ndjson'] as const) {
    it(`${format}: any cut of the bytes gives the same rows, counts and errors as one chunk`, async () => {
      await fc.assert(
        fc.asyncProperty(
          doc(format === 'csv' ? csvLine : ndjsonLine).map((t) => bytes(t)),
          fc.array(fc.nat(), { maxLength: 40 }),
          fc.boolean(),
          async (buf, cutsRaw, byteByByteHead) => {
            const cuts = cutsRaw.map((c) => (buf.length ? c % (buf.length + 1) : 0));
            if (byteByByteHead) for (let i = 0; i < Math.min(buf.length, 64); i++) cuts.push(i); // single bytes: splits every multi-byte char
            const one = await run(format, [buf]);
            const many = await run(format, cut(buf, cuts));
            expect(summary(many)).toEqual(summary(one));
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('a cut inside every multi-byte character', async () => {
    const text = '😀a,uid,vip\n中文,uid\nß€𝄞,ifa,,60\n';
    const buf = bytes(text);
    const one = await run('csv', [buf]);
    expect(one.rows.map((r) => r.key)).toEqual(['uid:😀a', 'uid:中文', 'ifa:ß€𝄞']);
    for (let i = 1; i < buf.length; i++) {
      const two = await run('csv', cut(buf, [i]));
      expect(summary(two)).toEqual(summary(one));
    }
    const single = await run('csv', cut(buf, Array.from({ length: buf.length }, (_, i) => i)));
    expect(summary(single)).toEqual(summary(one));
  });
});

describe('RFC 4180 properties', () => {
  // User ids with the characters that need quoting: commas, quotes, LF and CRLF inside the field.
  const inner = fc.constantFrom('a', 'Z', '7', ',', '"', '""', '\n', '\r\n', 'é', '😀', ' ', '|');
  const userId = fc
    .tuple(fc.constantFrom('a', 'b', 'ü'), fc.array(inner, { maxLength: 8 }), fc.constantFrom('x', 'y', '中'))
    .map(([first, mid, last]) => first + mid.join('') + last);
  interface Rec {
    id: string;
    type: 'uid' | 'nope';
    quoteAll: boolean;
  }
  const rec = fc.record({ id: userId, type: fc.constantFrom<'uid' | 'nope'>('uid', 'uid', 'uid', 'nope'), quoteAll: fc.boolean() });
  const field = (v: string, quoteAll: boolean) => (quoteAll || /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

  /** The document, and for each record the line it starts on. */
  const doc = fc
    .tuple(fc.array(fc.tuple(rec, fc.boolean()), { maxLength: 30 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.boolean())
    .map(([recs, eol, header, bom]) => {
      let text = bom ? '\ufeff' : '';
      let line = 1;
      const starts: number[] = [];
      const emit = (s: string) => {
        text += s + eol;
        line += (s.match(/\n/g)?.length ?? 0) + 1;
      };
      if (header) emit('user_id,id_type');
      for (const [r, blankBefore] of recs) {
        if (blankBefore) emit('');
        starts.push(line);
        emit(`${field(r.id, r.quoteAll)},${field(r.type, r.quoteAll)}`);
      }
      return { text, recs: recs.map(([r]) => r), starts, lines: line - 1 };
    });

  it('parses what was written: ids with commas, quotes and line breaks; errors on the line a record starts', async () => {
    await fc.assert(
      fc.asyncProperty(doc, fc.array(fc.nat(), { maxLength: 20 }), async (d, cutsRaw) => {
        const buf = bytes(d.text);
        const r = await run('csv', cut(buf, cutsRaw.map((c) => c % (buf.length + 1))));
        const good = d.recs.filter((x) => x.type === 'uid');
        expect(r.rows.map((x) => x.key)).toEqual(good.map((x) => `uid:${x.id}`));
        const bad = d.recs.flatMap((x, i) => (x.type === 'nope' ? [d.starts[i]] : []));
        expect(r.progress.errors.map((e) => e.line)).toEqual(bad.slice(0, 20));
        expect(r.progress).toMatchObject({ state: 'done', accepted: good.length, rejected: bad.length, lines: d.lines });
      }),
      { numRuns: 200 },
    );
  });

  it('an unterminated quote anywhere after the good rows is one error on its start line', async () => {
    await fc.assert(
      fc.asyncProperty(doc, userId, async (d, tail) => {
        const r = await whole('csv', `${d.text}"${tail.replace(/"/g, '')},uid`);
        expect(r.progress.rejected).toBe(d.recs.filter((x) => x.type === 'nope').length + 1);
        const last = r.progress.errors.at(-1);
        if (r.progress.errors.length < 20) expect(last).toEqual({ line: d.lines + 1, message: expect.stringMatching(/unterminated quoted field/) });
        expect(r.progress.accepted).toBe(d.recs.filter((x) => x.type === 'uid').length);
      }),
      { numRuns: 100 },
    );
  });
});
