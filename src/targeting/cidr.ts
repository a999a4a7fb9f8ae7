/**
 * IP range rules. CIDRs are parsed once at compile time (ipaddr.js); a request's address is
 * parsed once per request and only when some live campaign has an IP rule.
 */
import ipaddr from 'ipaddr.js';

/** A device's addresses: it may send both `ip` and `ipv6`, and a range rule applies when either is in it. */
export interface IpAddress {
  /** IPv4 as an unsigned 32-bit number, or -1 when there is none. */
  readonly v4: number;
  /** IPv6 as 16 bytes, or undefined when there is none (IPv4-mapped addresses are folded into v4). */
  readonly v6: Uint8Array | undefined;
}

interface V6Range {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

export class CidrSet {
  private readonly v4: number[] = []; // [start, end, start, end, ...] inclusive
  private readonly v6: V6Range[] = [];

  constructor(cidrs: readonly string[]) {
    for (const text of cidrs) {
      let [addr, prefix] = text.includes('/') ? ipaddr.parseCIDR(text) : single(ipaddr.parse(text));
      // ::ffff:a.b.c.d/96+ is an IPv4 range written in IPv6: requests fold such addresses into v4, so rules do too.
      if (addr.kind() === 'ipv6' && prefix >= 96 && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
        addr = (addr as ipaddr.IPv6).toIPv4Address();
        prefix -= 96;
      }
      if (addr.kind() === 'ipv4') {
        const start = v4Number((addr as ipaddr.IPv4).octets) & mask(prefix);
        this.v4.push(start >>> 0, (start | ~mask(prefix)) >>> 0);
      } else {
        this.v6.push({ bytes: Uint8Array.from((addr as ipaddr.IPv6).toByteArray()), prefix });
      }
    }
  }

  contains(ip: IpAddress): boolean {
    if (ip.v4 >= 0)
      for (let i = 0; i < this.v4.length; i += 2) if (ip.v4 >= this.v4[i] && ip.v4 <= this.v4[i + 1]) return true;
    if (ip.v6) for (const r of this.v6) if (prefixMatches(ip.v6, r.bytes, r.prefix)) return true;
    return false;
  }
}

/** `device.ip` and `device.ipv6`, both kept when both are valid; undefined when neither is. */
export function parseIp(ip: string | undefined, ipv6: string | undefined): IpAddress | undefined {
  const a = parseOne(ip);
  const b = parseOne(ipv6);
  if (!a || !b) return a ?? b;
  return { v4: a.v4 >= 0 ? a.v4 : b.v4, v6: a.v6 ?? b.v6 };
}

function parseOne(text: string | undefined): IpAddress | undefined {
  if (!text) return undefined;
  const fast = parseDottedQuad(text);
  if (fast >= 0) return { v4: fast, v6: undefined };
  // Not a dotted quad: IPv6 or nothing. ipaddr's IPv4 parser takes inet_aton forms ("1.2.3" is 1.2.0.3),
  // which would put a truncated address in the wrong range.
  if (!ipaddr.IPv6.isValid(text)) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return { v4: v4Number(v6.toIPv4Address().octets), v6: undefined };
  return { v4: -1, v6: Uint8Array.from(v6.toByteArray()) };
}

function single(addr: ipaddr.IPv4 | ipaddr.IPv6): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  return [addr, addr.kind() === 'ipv4' ? 32 : 128];
}

const mask = (prefix: number): number => (prefix === 0 ? 0 : (~0 << (32 - prefix)) | 0);
const v4Number = (o: number[]): number => ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;

function prefixMatches(ip: Uint8Array, net: Uint8Array, prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i] & m) !== (net[i] & m)) return false;
  }
  return true;
}

/** `a.b.c.d` → number, or -1 when the text is anything else. */
function parseDottedQuad(s: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}
