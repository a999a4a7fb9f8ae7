/**
 * Browser, OS and device type from a user agent, with ua-parser-js (a maintained parser)
 * behind a bounded LRU cache: user agents repeat heavily, parsing costs ~20 µs.
 */
import { LRUCache } from 'lru-cache';
import { UAParser } from 'ua-parser-js';

export interface UserAgentFacts {
  /** Lower-case browser family, with ua-parser's "mobile " prefix and " webview" suffix folded. */
  readonly browser: string | undefined;
  readonly os: string | undefined;
  /** OpenRTB device type guessed from the UA: 4 phone, 5 tablet, 3 connected TV, 2 personal computer. */
  readonly deviceType: number | undefined;
}

const cache = new LRUCache<string, UserAgentFacts>({ max: 10_000 });
const parser = new UAParser();

/** Longer user agents are junk or attacks: not parsed, not cached (the cache must stay small). */
const MAX_UA_LENGTH = 512;
const UNKNOWN: UserAgentFacts = Object.freeze({ browser: undefined, os: undefined, deviceType: undefined });

export function parseUserAgent(ua: string): UserAgentFacts {
  if (ua.length > MAX_UA_LENGTH) return UNKNOWN;
  let facts = cache.get(ua);
  if (facts === undefined) {
    parser.setUA(ua);
    const device = parser.getDevice().type;
    facts = {
      browser: browserFamily(parser.getBrowser().name),
      os: osFamily(parser.getOS().name),
      deviceType:
        device === 'mobile' ? 4 : device === 'tablet' ? 5 : device === 'smarttv' ? 3 : device === undefined ? 2 : undefined,
    };
    cache.set(ua, facts);
  }
  return facts;
}

export function browserFamily(name: string | undefined): string | undefined {
  if (!name) return undefined;
  let n = name.toLowerCase();
  if (n.startsWith('mobile ')) n = n.slice(7);
  if (n.endsWith(' webview')) n = n.slice(0, -8);
  return n;
}

/** OS names as campaigns write them: `ios`, `android`, `windows`, `mac os`, `linux`, ... */
export function osFamily(name: string | undefined): string | undefined {
  return name ? name.toLowerCase() : undefined;
}
