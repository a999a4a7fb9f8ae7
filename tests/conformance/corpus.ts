/**
 * Loader for the shared OpenRTB corpus (/work/shared/openrtb-corpus, described by its SOURCES.md).
 * Every file becomes one or more bodies to POST, each classified by what it is:
 *
 * - `request`: a JSON object with a string `id` and a non-empty `imp` array, taken from a bare
 *   corpus file or from inside a prebid-server fixture (`mockBidRequest`, the adapter fixtures'
 *   `httpCalls[].expectedRequest.body`, `expectedMockBidderRequests.*`, `expectedValidatedBidRequest`).
 *   PBS fixtures under `invalid-whole/` and `invalid-native/` are deliberately invalid and are never
 *   `request`, whatever their shape.
 * - `not-json`: the file does not parse (SOURCES.md lists 22); its bytes are posted as they are.
 * - `other`: valid JSON that is not a valid-looking request: responses, fragments, native markup,
 *   OpenRTB 3.0 envelopes, the PBS wrappers themselves and their embedded responses, and the
 *   deliberately invalid PBS requests. `requestShaped` says whether it still has `id` + `imp`.
 *
 * Bodies are posted byte-for-byte as stored, except embedded ones (serialised with JSON.stringify)
 * and the `json-unit` variants: prebid-server-java bidder fixtures carry JSON-Unit placeholders
 * (`"tmax": "${json-unit.any-number}"`); the file is posted as is, and a second body with the
 * placeholders replaced by ordinary values is added (SOURCES.md: "Replace these before schema
 * validation").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CORPUS_DIR = process.env.OPENRTB_CORPUS_DIR ?? '/work/shared/openrtb-corpus';

export type BodyKind = 'request' | 'not-json' | 'other';

export interface CorpusBody {
  /** `file` or `file#json.path` for an embedded body or a derived variant. Unique. */
  readonly name: string;
  readonly file: string;
  readonly kind: BodyKind;
  /** What the body is, in a few words (for failure messages and the summary). */
  readonly what: string;
  /** Exactly what is posted. */
  readonly text: string;
  /** The parsed body (undefined for `not-json`). */
  readonly doc: unknown;
  /** Has a string `id` and a non-empty `imp` array (true for every `request`). */
  readonly requestShaped: boolean;
}

export interface Corpus {
  readonly files: readonly string[];
  readonly bodies: readonly CorpusBody[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function looksLikeRequest(doc: unknown): boolean {
  return isObj(doc) && typeof doc.id === 'string' && doc.id !== '' && Array.isArray(doc.imp) && doc.imp.length > 0;
}

/** What a parsed, non-wrapper corpus file is, from its shape (used only when it is not request-shaped). */
function describeOther(doc: unknown): string {
  if (!isObj(doc)) return 'not an object';
  if ('seatbid' in doc || 'nbr' in doc || Object.keys(doc).length === 0) return 'bid response';
  if (isObj(doc.openrtb)) return isObj(doc.openrtb.response) ? 'OpenRTB 3.0 response' : 'OpenRTB 3.0 envelope';
  if (isObj(doc.request) && 'item' in doc.request) return 'OpenRTB 3.0 request without envelope';
  if ('assets' in doc || isObj(doc.native) || 'link' in doc) return 'native markup';
  return 'fragment';
}

const JSON_UNIT = /"\$\{json-unit\.([a-z-]+)\}"/g;

/** JSON-Unit placeholders replaced by ordinary values of the type they stand for. */
function resolveJsonUnit(text: string): string {
  return text.replace(JSON_UNIT, (_, kind: string) => (kind === 'any-number' ? '500' : kind === 'any-boolean' ? 'false' : '"json-unit-any"'));
}

/** The OpenRTB payloads a prebid-server test fixture embeds, with where they sit and what they are. */
function embeddedInPbsFixture(file: string, doc: Obj): { path: string; body: unknown; role: 'request' | 'response' }[] {
  const out: { path: string; body: unknown; role: 'request' | 'response' }[] = [];
  if ('mockBidRequest' in doc) out.push({ path: 'mockBidRequest', body: doc.mockBidRequest, role: 'request' });
  if (isObj(doc.expectedValidatedBidRequest))
    out.push({ path: 'expectedValidatedBidRequest', body: doc.expectedValidatedBidRequest, role: 'request' });
  if (isObj(doc.expectedMockBidderRequests))
    for (const [bidder, body] of Object.entries(doc.expectedMockBidderRequests))
      out.push({ path: `expectedMockBidderRequests.${bidder}`, body, role: 'request' });
  if (Array.isArray(doc.httpCalls))
    doc.httpCalls.forEach((call, i) => {
      if (!isObj(call)) return;
      if (isObj(call.expectedRequest) && 'body' in call.expectedRequest)
        out.push({ path: `httpCalls[${i}].expectedRequest.body`, body: call.expectedRequest.body, role: 'request' });
      if (isObj(call.mockResponse) && 'body' in call.mockResponse)
        out.push({ path: `httpCalls[${i}].mockResponse.body`, body: call.mockResponse.body, role: 'response' });
    });
  if (isObj(doc.expectedBidResponse)) out.push({ path: 'expectedBidResponse', body: doc.expectedBidResponse, role: 'response' });
  if (Array.isArray(doc.expectedBidResponses))
    doc.expectedBidResponses.forEach((body, i) => out.push({ path: `expectedBidResponses[${i}]`, body, role: 'response' }));
  if (out.length === 0) throw new Error(`${file}: a prebid-server fixture with no embedded payload; the loader needs updating`);
  return out;
}

const isPbsFixture = (file: string) => file.startsWith('prebid-server__');
const isDeliberatelyInvalidPbs = (file: string) => /^prebid-server__sample-requests__invalid-(whole|native)__/.test(file);

export function loadCorpus(dir = CORPUS_DIR): Corpus {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const bodies: CorpusBody[] = [];
  const add = (b: Omit<CorpusBody, 'requestShaped'>) => bodies.push({ ...b, requestShaped: looksLikeRequest(b.doc) });

  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      add({ name: file, file, kind: 'not-json', what: 'not valid JSON', text, doc: undefined });
      continue;
    }

    if (isPbsFixture(file) && isObj(doc)) {
      add({ name: file, file, kind: 'other', what: 'prebid-server test fixture (wrapper)', text, doc });
      const invalid = isDeliberatelyInvalidPbs(file);
      for (const e of embeddedInPbsFixture(file, doc)) {
        const bodyText = JSON.stringify(e.body);
        const name = `${file}#${e.path}`;
        if (e.role === 'response') add({ name, file, kind: 'other', what: 'embedded bid response', text: bodyText, doc: e.body });
        else if (invalid) add({ name, file, kind: 'other', what: 'deliberately invalid PBS request', text: bodyText, doc: e.body });
        else if (looksLikeRequest(e.body)) add({ name, file, kind: 'request', what: 'embedded bid request', text: bodyText, doc: e.body });
        else add({ name, file, kind: 'other', what: 'embedded body that is not a request', text: bodyText, doc: e.body });
      }
      continue;
    }

    if (looksLikeRequest(doc)) add({ name: file, file, kind: 'request', what: 'bid request', text, doc });
    else add({ name: file, file, kind: 'other', what: describeOther(doc), text, doc });

    if (text.includes('${json-unit.')) {
      const resolved = resolveJsonUnit(text);
      const rdoc = JSON.parse(resolved) as unknown;
      add({
        name: `${file}#json-unit-resolved`,
        file,
        kind: looksLikeRequest(rdoc) ? 'request' : 'other',
        what: 'bid request with JSON-Unit placeholders replaced',
        text: resolved,
        doc: rdoc,
      });
    }
  }
  return { files, bodies };
}
