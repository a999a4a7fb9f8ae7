import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { CidrSet, parseIp } from '../../src/targeting/cidr.js';

/** Does the set contain the device with these addresses? */
const has = (cidrs: string[], ip?: string, ipv6?: string) => {
  const parsed = parseIp(ip, ipv6);
  if (!parsed) throw new Error(`unparsable ${ip} ${ipv6}`);
  return new CidrSet(cidrs).contains(parsed);
};

describe('CidrSet, IPv4', () => {
  it('/0 contains every IPv4 address, and no IPv6-only device', () => {
    for (const ip of ['0.0.0.0', '127.0.0.1', '128.0.0.0', '255.255.255.255']) expect(has(['0.0.0.0/0'], ip), ip).toBe(true);
    expect(has(['0.0.0.0/0'], undefined, '2001:db8::1')).toBe(false);
  });

  it('/32 and a bare address contain exactly that address', () => {
    for (const rule of ['203.0.113.7/32', '203.0.113.7']) {
      expect(has([rule], '203.0.113.7'), rule).toBe(true);
      expect(has([rule], '203.0.113.6'), rule).toBe(false);
      expect(has([rule], '203.0.113.8'), rule).toBe(false);
    }
  });

  it('range ends are inclusive, neighbours excluded', () => {
    expect(has(['198.51.100.0/24'], '198.51.100.0')).toBe(true);
    expect(has(['198.51.100.0/24'], '198.51.100.255')).toBe(true);
    expect(has(['198.51.100.0/24'], '198.51.99.255')).toBe(false);
    expect(has(['198.51.100.0/24'], '198.51.101.0')).toBe(false);
    expect(has(['10.0.0.0/31'], '10.0.0.1')).toBe(true);
    expect(has(['10.0.0.0/31'], '10.0.0.2')).toBe(false);
  });

  it('addresses with the top bit set (unsigned arithmetic)', () => {
    expect(has(['200.0.0.0/8'], '200.255.255.255')).toBe(true);
    expect(has(['200.0.0.0/8'], '201.0.0.0')).toBe(false);
    expect(has(['128.0.0.0/1'], '255.1.2.3')).toBe(true);
    expect(has(['128.0.0.0/1'], '127.255.255.255')).toBe(false);
    expect(has(['255.255.255.255/32'], '255.255.255.255')).toBe(true);
  });

  it('a CIDR whose address has host bits set is read as its network', () => {
    expect(has(['198.51.100.77/24'], '198.51.100.1')).toBe(true);
  });

  it('agrees with ipaddr.js for any address and prefix (property)', () => {
    const octets = fc.tuple(...Array.from({ length: 4 }, () => fc.integer({ min: 0, max: 255 })));
    fc.assert(
      fc.property(octets, octets, fc.integer({ min: 0, max: 32 }), (net, addr, prefix) => {
        const cidr = `${net.join('.')}/${prefix}`;
        const ip = addr.join('.');
        expect(has([cidr], ip)).toBe(ipaddr.parse(ip).match(ipaddr.parseCIDR(cidr)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('CidrSet, IPv6', () => {
  it('::/0 contains every IPv6 address, and no IPv4-only device', () => {
    expect(has(['::/0'], undefined, '2001:db8::1')).toBe(true);
    expect(has(['::/0'], undefined, 'fe80::1')).toBe(true);
    expect(has(['::/0'], '198.51.100.7')).toBe(false);
  });

  it('/128 contains exactly one address', () => {
    expect(has(['2001:db8::1/128'], undefined, '2001:db8::1')).toBe(true);
    expect(has(['2001:db8::1/128'], undefined, '2001:db8::2')).toBe(false);
    expect(has(['2001:db8::1'], undefined, '2001:db8:0:0:0:0:0:1')).toBe(true);
  });

  it('prefixes that do not end on a byte', () => {
    expect(has(['2001:db8:abcd:1000::/52'], undefined, '2001:db8:abcd:1fff::1')).toBe(true);
    expect(has(['2001:db8:abcd:1000::/52'], undefined, '2001:db8:abcd:2000::1')).toBe(false);
    expect(has(['2001:db8::/127'], undefined, '2001:db8::1')).toBe(true);
    expect(has(['2001:db8::/127'], undefined, '2001:db8::2')).toBe(false);
  });

  it('agrees with ipaddr.js for any address and prefix (property)', () => {
    const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
    const v6 = (g: number[]) => g.map((x) => x.toString(16)).join(':');
    fc.assert(
      fc.property(groups, groups, fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 7 }), (net, addr, prefix, shared) => {
        const near = [...net.slice(0, shared), ...addr.slice(shared)]; // often inside the range
        const ip = ipaddr.parse(v6(near)) as ipaddr.IPv6;
        if (ip.isIPv4MappedAddress()) return; // folded into IPv4, covered below
        const cidr = `${v6(net)}/${prefix}`;
        expect(has([cidr], undefined, v6(near))).toBe(ip.match(ipaddr.parseCIDR(cidr)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('IPv4-mapped IPv6', () => {
  it('a mapped request address matches IPv4 rules', () => {
    expect(has(['198.51.100.0/24'], undefined, '::ffff:198.51.100.7')).toBe(true);
    expect(has(['198.51.100.0/24'], undefined, '::ffff:c633:6407')).toBe(true); // the same, in hex
    expect(has(['198.51.100.0/24'], undefined, '::ffff:198.51.101.7')).toBe(false);
  });

  it('a mapped address in device.ip is folded as well', () => {
    expect(has(['10.0.0.0/8'], '::ffff:10.1.2.3')).toBe(true);
  });

  it('a rule written as a mapped IPv6 range matches IPv4 request addresses', () => {
    expect(has(['::ffff:198.51.100.0/120'], '198.51.100.7')).toBe(true);
    expect(has(['::ffff:198.51.100.0/120'], '198.51.101.7')).toBe(false);
    expect(has(['::ffff:198.51.100.7'], '198.51.100.7')).toBe(true);
    expect(has(['::ffff:0:0/96'], '1.2.3.4')).toBe(true); // all of IPv4
  });

  it('a mapped rule matches a mapped request address', () => {
    expect(has(['::ffff:198.51.100.0/120'], undefined, '::ffff:198.51.100.9')).toBe(true);
  });

  it('a short IPv6 prefix is not widened to IPv4 (::/64 does not contain 1.2.3.4)', () => {
    expect(has(['::/64'], '1.2.3.4')).toBe(false);
  });
});

describe('parseIp', () => {
  it('keeps both device.ip and device.ipv6: either may match', () => {
    expect(has(['2001:db8:dead::/48'], '198.51.100.7', '2001:db8:dead::1')).toBe(true);
    expect(has(['198.51.100.0/24'], '198.51.100.7', '2001:db8:dead::1')).toBe(true);
    expect(has(['203.0.113.0/24', '2001:db8:beef::/48'], '198.51.100.7', '2001:db8:dead::1')).toBe(false);
  });

  it('falls back to the other field when one is malformed', () => {
    expect(has(['2001:db8:dead::/48'], '198.51.100', '2001:db8:dead::1')).toBe(true);
    expect(has(['198.51.100.0/24'], '198.51.100.7', 'not-an-address')).toBe(true);
    expect(parseIp('198.51.100', '2001:db8:dead::1')?.v4).toBe(-1); // not read as 198.51.0.100
  });

  it('gives undefined when no address can be read', () => {
    expect(parseIp(undefined, undefined)).toBeUndefined();
    expect(parseIp('', '')).toBeUndefined();
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', ' 1.2.3.4', 'example.com', '2001:db8::g'])
      expect(parseIp(bad, undefined), bad).toBeUndefined();
  });

  it('the dotted-quad fast path agrees with ipaddr.js (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(parseIp(ip, undefined)).toEqual({ v4: ipaddr.parse(ip).toByteArray().reduce((n, o) => n * 256 + o, 0), v6: undefined });
      }),
    );
  });
});
