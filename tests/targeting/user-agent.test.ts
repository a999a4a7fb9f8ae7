import { describe, expect, it } from 'vitest';
import { browserFamily, osFamily, parseUserAgent } from '../../src/targeting/user-agent.js';

const UA = {
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  webview: 'Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36',
  windowsChrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67',
  firefox: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  macSafari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  tizen: 'Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) 85.0.4183.93/7.0 TV Safari/537.36',
};

describe('user agents', () => {
  it.each([
    ['iphone', 'safari', 'ios', 4],
    ['ipad', 'safari', 'ios', 5],
    ['android', 'chrome', 'android', 4],
    ['webview', 'chrome', 'android', 4],
    ['windowsChrome', 'chrome', 'windows', 2],
    ['edge', 'edge', 'windows', 2],
    ['firefox', 'firefox', 'windows', 2],
    ['macSafari', 'safari', 'mac os', 2],
    ['tizen', 'safari', 'tizen', 3],
  ] as const)('%s → browser %s, os %s, device type %i', (name, browser, os, deviceType) => {
    expect(parseUserAgent(UA[name])).toEqual({ browser, os, deviceType });
  });

  it('folds ua-parser-js prefixes and suffixes, lower-cases', () => {
    expect(browserFamily('Mobile Safari')).toBe('safari');
    expect(browserFamily('Chrome WebView')).toBe('chrome');
    expect(browserFamily(undefined)).toBeUndefined();
    expect(osFamily('Mac OS')).toBe('mac os');
  });

  it('an empty or unknown user agent yields nothing to target on', () => {
    expect(parseUserAgent('curl/8.0').browser).toBeUndefined();
    expect(parseUserAgent('curl/8.0').os).toBeUndefined();
  });
});
