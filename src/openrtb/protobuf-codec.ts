/**
 * OpenRTB over Protocol Buffers: proto/openrtb.proto (and any exchange extension files beside it),
 * compiled once with protobufjs by `openRtbProtobuf()`, which the bid route calls at start. Requests are decoded into the document OpenRTB JSON would have given (same field names,
 * flags and enums as numbers, `ext` objects rebuilt) and go through the same `viewFromDocument` as
 * JSON, so both paths bid alike. Responses are the same BidResponse object JSON.stringify would
 * write, encoded as a protobuf BidResponse.
 *
 * `ext` (see the header of proto/openrtb.proto): an object's `ext` is the JSON object text of its
 * `Ext.json`, with the typed Ext fields laid over it, then any proto2 extension fields declared in
 * other .proto files of the same directory (keyed by the extension's field name).
 *
 * Decoding never throws: malformed, truncated or hostile bytes give a refusal with a reason.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { viewFromDocument, type InvalidReason } from './parse-request.js';
import { exceedsJsonDepth } from './json-depth.js';
import type { BidRequestView } from './request-view.js';

export const PROTOBUF_PACKAGE = 'com.iabtechlab.openrtb.v2';

/** Why a protobuf request was refused: undecodable bytes, or the same reasons as a JSON request. */
export interface ProtobufRefusal {
  readonly invalid: InvalidReason | 'bad_protobuf';
  readonly message: string;
}

export function isRefusal<T extends object>(v: T | ProtobufRefusal): v is ProtobufRefusal {
  return (v as ProtobufRefusal).invalid !== undefined;
}

/** A decoded message as the OpenRTB JSON document it stands for. */
export interface Decoded {
  readonly doc: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A refusal raised while turning a decoded message into a document. */
class Malformed extends Error {}

const enum Kind {
  Int32, // every 32-bit integer type
  Uint32,
  Double, // double, float
  Bool,
  Long, // 64-bit integers: numbers when safe, decimal strings when not
  String,
  Bytes, // base64, as proto3 JSON writes them
  Enum, // numbers
  Message,
}

const enum Place {
  /** An ordinary field: `out[name]`. */
  Field,
  /** The object's `ext` message: rebuilt into `out.ext`. */
  Ext,
  /** A proto2 extension field: `ext[name]`. */
  Extension,
  /** `Ext.json`: the JSON object text the ext starts from. */
  Json,
  /** `Native.request_native`: becomes `request` (an object) unless `request` (text) is present. */
  NativeRequest,
}

interface FieldPlan {
  readonly name: string;
  readonly kind: Kind;
  readonly repeated: boolean;
  readonly map: boolean;
  readonly place: Place;
  /** For messages (and map values that are messages). */
  plan?: TypePlan;
}

interface TypePlan {
  readonly type: protobuf.Type;
  /** By the decoded property name (extension fields are `.package.name`). */
  readonly fields: Record<string, FieldPlan>;
  /** An `Ext` message: its fields are the members of the JSON `ext` object. */
  readonly isExt: boolean;
}

const INT32_TYPES = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32_TYPES = new Set(['uint32', 'fixed32']);
const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function kindOf(f: protobuf.Field): Kind {
  if (f.resolvedType instanceof protobuf.Type) return Kind.Message;
  if (f.resolvedType instanceof protobuf.Enum) return Kind.Enum;
  const t = f.type;
  if (INT32_TYPES.has(t)) return Kind.Int32;
  if (UINT32_TYPES.has(t)) return Kind.Uint32;
  if (t === 'double' || t === 'float') return Kind.Double;
  if (t === 'bool') return Kind.Bool;
  if (LONG_TYPES.has(t)) return Kind.Long;
  if (t === 'string') return Kind.String;
  return Kind.Bytes;
}

/** Where the bundled proto/ directory is: beside src/ in the repository, beside dist/src/ when built. */
export function defaultProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'openrtb.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/openrtb.proto not found above ' + dirname(fileURLToPath(import.meta.url)));
}

/** Decode and encode OpenRTB messages with one compiled schema (openrtb.proto plus any extension files). */
export class OpenRtbProtobuf {
  readonly root: protobuf.Root;
  readonly bidRequest: protobuf.Type;
  readonly bidResponse: protobuf.Type;
  private readonly plans = new Map<protobuf.Type, TypePlan>();
  private readonly requestPlan: TypePlan;
  private readonly responsePlan: TypePlan;

  /** `files`: openrtb.proto first, then exchange extension files (which may `import "openrtb.proto"`). */
  constructor(files: readonly string[]) {
    this.root = new protobuf.Root();
    this.root.loadSync(files as string[], { keepCase: true });
    this.root.resolveAll();
    this.bidRequest = this.root.lookupType(`${PROTOBUF_PACKAGE}.BidRequest`);
    this.bidResponse = this.root.lookupType(`${PROTOBUF_PACKAGE}.BidResponse`);
    this.requestPlan = this.planOf(this.bidRequest);
    this.responsePlan = this.planOf(this.bidResponse);
  }

  /** Every .proto file in `dir`, openrtb.proto first. */
  static fromDir(dir: string): OpenRtbProtobuf {
    const rest = readdirSync(dir)
      .filter((f) => f.endsWith('.proto') && f !== 'openrtb.proto')
      .sort();
    return new OpenRtbProtobuf([join(dir, 'openrtb.proto'), ...rest.map((f) => join(dir, f))]);
  }

  private planOf(type: protobuf.Type): TypePlan {
    let plan = this.plans.get(type);
    if (plan) return plan;
    const fields: Record<string, FieldPlan> = {};
    plan = { type, fields, isExt: type.name === 'Ext' };
    this.plans.set(type, plan);
    for (const key of Object.keys(type.fields)) {
      const f = type.fields[key].resolve();
      const extension = f.declaringField !== null;
      const kind = kindOf(f);
      const place = extension
        ? Place.Extension
        : plan.isExt && f.name === 'json' && kind === Kind.String
          ? Place.Json
          : f.name === 'ext' && kind === Kind.Message && f.resolvedType!.name === 'Ext'
            ? Place.Ext
            : f.name === 'request_native' && type.name === 'Native'
              ? Place.NativeRequest
              : Place.Field;
      const fp: FieldPlan = {
        name: extension ? f.declaringField!.name : f.name,
        kind,
        repeated: f.repeated,
        map: f.map,
        place,
      };
      fields[key] = fp;
      if (kind === Kind.Message) fp.plan = this.planOf(f.resolvedType as protobuf.Type);
    }
    return plan;
  }

  // ---- requests -------------------------------------------------------------------------------

  /** Bytes → the OpenRTB JSON document they stand for, or a refusal. Never throws. */
  decodeRequestDocument(bytes: Uint8Array, maxJsonDepth = 64): Decoded | ProtobufRefusal {
    return this.decodeDocument(this.bidRequest, this.requestPlan, bytes, maxJsonDepth);
  }

  /** Bytes → the bidder's view, refused exactly as the equivalent JSON would be (or as bad_protobuf). */
  parseBidRequest(bytes: Uint8Array, maxJsonDepth = 64): BidRequestView | ProtobufRefusal {
    if (bytes.length === 0) return { invalid: 'empty_body', message: 'empty body' };
    const decoded = this.decodeRequestDocument(bytes, maxJsonDepth);
    if (isRefusal(decoded)) return decoded;
    return viewFromDocument(decoded.doc);
  }

  /** A JSON BidResponse object → protobuf bytes (fields the schema lacks are left out). */
  encodeBidResponse(response: object): Uint8Array {
    return this.bidResponse.encode(response as protobuf.Message).finish();
  }

  /** Protobuf BidResponse bytes → its JSON document (for tests and tools). Never throws. */
  decodeBidResponse(bytes: Uint8Array): Decoded | ProtobufRefusal {
    return this.decodeDocument(this.bidResponse, this.responsePlan, bytes, 64);
  }

  private decodeDocument(type: protobuf.Type, plan: TypePlan, bytes: Uint8Array, maxJsonDepth: number): Decoded | ProtobufRefusal {
    let msg: protobuf.Message;
    try {
      msg = type.decode(bytes);
    } catch (e) {
      return { invalid: 'bad_protobuf', message: `body is not a valid protobuf ${type.name}: ${short(e)}` };
    }
    try {
      return { doc: toDocument(msg as unknown as Obj, plan, maxJsonDepth) };
    } catch (e) {
      if (e instanceof Malformed) return { invalid: 'bad_protobuf', message: e.message };
      return { invalid: 'bad_protobuf', message: `protobuf ${type.name} could not be read` };
    }
  }

  // ---- JSON → protobuf (tests, bench, tools) ----------------------------------------------------

  /**
   * An OpenRTB JSON request → protobuf bytes, as an exchange speaking this schema would send it.
   * `dropped` lists the JSON paths that have no place in the schema or a value of the wrong type;
   * `ext` members always survive (typed Ext fields when they fit exactly, `Ext.json` otherwise).
   */
  encodeBidRequest(doc: Obj): { bytes: Uint8Array; dropped: string[] } {
    const dropped: string[] = [];
    const msg = fromDocument(doc, this.requestPlan, '', dropped);
    return { bytes: this.bidRequest.encode(msg as unknown as protobuf.Message).finish(), dropped };
  }
}

function short(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.length > 120 ? m.slice(0, 120) : m;
}

// ---- decoded message → JSON document --------------------------------------------------------------

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function longValue(v: unknown): number | string {
  if (typeof v === 'number') return v;
  const l = v as { low: number; high: number; unsigned: boolean; toString(): string };
  const big = l.unsigned
    ? (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0)
    : (BigInt(l.high | 0) << 32n) | BigInt(l.low >>> 0);
  return big <= MAX_SAFE && big >= -MAX_SAFE ? Number(big) : big.toString();
}

function scalar(kind: Kind, v: unknown): unknown {
  switch (kind) {
    case Kind.Long:
      return longValue(v);
    case Kind.Bytes:
      return Buffer.from(v as Uint8Array).toString('base64');
    default:
      return v;
  }
}

function value(fp: FieldPlan, v: unknown, depth: number): unknown {
  if (fp.kind === Kind.Message) return toDocument(v as Obj, fp.plan!, depth);
  return scalar(fp.kind, v);
}

function fieldValue(fp: FieldPlan, v: unknown, depth: number): unknown {
  if (fp.map) {
    const out: Obj = {};
    // defineProperty: a `__proto__` key is data, as JSON.parse makes it, not the object's prototype.
    for (const k of Object.keys(v as Obj)) Object.defineProperty(out, k, { value: value(fp, (v as Obj)[k], depth), enumerable: true, writable: true, configurable: true });
    return out;
  }
  if (fp.repeated) {
    const list = v as unknown[];
    if (fp.kind !== Kind.Message && fp.kind !== Kind.Long && fp.kind !== Kind.Bytes) return list;
    const out = new Array(list.length);
    for (let i = 0; i < list.length; i++) out[i] = value(fp, list[i], depth);
    return out;
  }
  return value(fp, v, depth);
}

/** Decoded message → plain object with the JSON names. Only fields present on the wire appear. */
function toDocument(msg: Obj, plan: TypePlan, maxJsonDepth: number): Obj {
  let out: Obj = {};
  let ext: Obj | undefined;
  let extensions: Obj | undefined;
  let nativeRequest: Obj | undefined;
  const keys = Object.keys(msg);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const fp = plan.fields[key];
    if (fp === undefined) continue;
    const v = msg[key];
    if (fp.repeated && (v as unknown[]).length === 0) continue; // an absent repeated field
    switch (fp.place) {
      case Place.Field:
        out[fp.name] = fieldValue(fp, v, maxJsonDepth);
        break;
      case Place.Ext:
        ext = toDocument(v as Obj, fp.plan!, maxJsonDepth);
        break;
      case Place.Extension:
        (extensions ??= {})[fp.name] = fieldValue(fp, v, maxJsonDepth);
        break;
      case Place.Json: {
        const text = v as string;
        if (exceedsJsonDepth(text, maxJsonDepth)) throw new Malformed(`ext JSON nested deeper than ${maxJsonDepth}`);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new Malformed('ext json is not valid JSON');
        }
        if (!isObj(parsed)) throw new Malformed('ext json is not a JSON object');
        // The typed fields gathered so far go over it (they are what the schema says).
        out = Object.assign(parsed, out);
        break;
      }
      case Place.NativeRequest:
        nativeRequest = toDocument(v as Obj, fp.plan!, maxJsonDepth);
        break;
    }
  }
  if (plan.isExt) {
    // Members of an ext object: extension fields sit beside the typed ones.
    if (extensions) Object.assign(out, extensions);
    return out;
  }
  if (nativeRequest !== undefined && typeof out.request !== 'string') out.request = nativeRequest;
  if (extensions) ext = ext ? Object.assign(ext, extensions) : extensions;
  if (ext !== undefined) out.ext = ext;
  return out;
}

// ---- JSON document → message object ---------------------------------------------------------------

function fitsScalar(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case Kind.Int32:
    case Kind.Enum:
      return Number.isInteger(v) && (v as number) >= -2147483648 && (v as number) <= 2147483647;
    case Kind.Uint32:
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 4294967295;
    case Kind.Double:
      return typeof v === 'number';
    case Kind.Bool:
      return typeof v === 'boolean';
    case Kind.Long:
      return Number.isSafeInteger(v) || (typeof v === 'string' && /^-?\d{1,20}$/.test(v));
    case Kind.String:
      return typeof v === 'string';
    case Kind.Bytes:
      return typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v);
    default:
      return false;
  }
}

function scalarToMessage(kind: Kind, v: unknown): unknown {
  if (kind === Kind.Bytes) return Buffer.from(v as string, 'base64');
  if (kind === Kind.Long && typeof v === 'string') {
    const Long = protobuf.util.Long as unknown as { fromString(s: string): unknown } | null;
    return Long ? Long.fromString(v) : Number(v);
  }
  return v;
}

/**
 * JSON → message object. With `dropped` undefined the conversion must be exact (every member has a
 * place and a fitting type, nothing is empty or null); it returns undefined when it is not.
 */
function fromDocument(doc: Obj, plan: TypePlan, path: string, dropped: string[] | undefined): Obj | undefined {
  const out: Obj = {};
  const drop = (key: string, why: string): boolean => {
    if (!dropped) return false;
    dropped.push(`${path}${key} (${why})`);
    return true;
  };
  for (const key of Object.keys(doc)) {
    const v = doc[key];
    if (key === 'ext' && !plan.isExt) {
      const extField = plan.fields.ext;
      if (extField?.place !== Place.Ext) {
        if (!drop(key, 'no ext here')) return undefined;
        continue;
      }
      if (!isObj(v)) {
        if (!drop(key, 'ext is not an object')) return undefined;
        continue;
      }
      out.ext = extFromDocument(v, extField.plan!, `${path}ext.`);
      continue;
    }
    const fp = plan.fields[key];
    if (fp === undefined || fp.place === Place.Extension || fp.place === Place.Json || fp.place === Place.NativeRequest) {
      if (!drop(key, 'not in the schema')) return undefined;
      continue;
    }
    if (v === null || v === undefined) {
      if (!drop(key, 'null')) return undefined;
      continue;
    }
    if (plan.type.name === 'Native' && key === 'request' && typeof v !== 'string') {
      // A Native request given as an object: request_native when it fits exactly, else its JSON text.
      const native = isObj(v) ? fromDocument(v, plan.fields.request_native.plan!, '', undefined) : undefined;
      if (native) out.request_native = native;
      else out.request = JSON.stringify(v);
      continue;
    }
    const converted = convertField(fp, v, `${path}${key}`, dropped);
    if (converted === undefined) {
      if (!drop(key, 'wrong type')) return undefined;
      continue;
    }
    if (Array.isArray(converted) && converted.length === 0 && !dropped) return undefined; // would decode as absent
    out[key] = converted;
  }
  return out;
}

function convertField(fp: FieldPlan, v: unknown, path: string, dropped: string[] | undefined): unknown {
  if (fp.map) return undefined; // no maps in the OpenRTB schema
  if (fp.repeated) {
    if (!Array.isArray(v)) return undefined;
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const item = convertOne(fp, v[i], `${path}[${i}].`, dropped);
      if (item === undefined) return undefined;
      out[i] = item;
    }
    return out;
  }
  return convertOne(fp, v, `${path}.`, dropped);
}

function convertOne(fp: FieldPlan, v: unknown, path: string, dropped: string[] | undefined): unknown {
  if (fp.kind === Kind.Message) return isObj(v) ? fromDocument(v, fp.plan!, path, dropped) : undefined;
  return fitsScalar(fp.kind, v) ? scalarToMessage(fp.kind, v) : undefined;
}

/** JSON ext object → Ext message: typed fields where the value fits exactly, the rest as JSON text. */
function extFromDocument(ext: Obj, plan: TypePlan, path: string): Obj {
  const out: Obj = {};
  let rest: Obj | undefined;
  for (const key of Object.keys(ext)) {
    const fp = plan.fields[key];
    const v = ext[key];
    const typed =
      fp !== undefined && fp.place === Place.Field && v !== null && v !== undefined ? convertField(fp, v, `${path}${key}`, undefined) : undefined;
    if (typed !== undefined && !(Array.isArray(typed) && typed.length === 0)) out[key] = typed;
    else (rest ??= {})[key] = v;
  }
  if (rest) out.json = JSON.stringify(rest);
  return out;
}

// ---- the bidder's instance ------------------------------------------------------------------------

let shared: OpenRtbProtobuf | undefined;

/** The schema in proto/ (openrtb.proto and any extension files), compiled on first use and kept. */
export function openRtbProtobuf(): OpenRtbProtobuf {
  return (shared ??= OpenRtbProtobuf.fromDir(defaultProtoDir()));
}
