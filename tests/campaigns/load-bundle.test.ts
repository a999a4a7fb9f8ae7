/**
 * Configuration files: merged across YAML and JSON, refused with every field-level error at once,
 * each addressed by file name + JSON pointer with a stable code. Also the environment settings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromTexts, loadBundleFromDir } from '../../src/campaigns/load-bundle.js';
import { loadSettings } from '../../src/settings/settings.js';
import { buildSnapshot } from '../../src/campaigns/snapshot.js';
import { ConfigError, type FieldError } from '../../src/errors.js';

/** The ConfigError a call throws (fails the test when it throws something else or nothing). */
function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const pairs = (errors: readonly FieldError[]) => errors.map((e) => `${e.path} ${e.code}`).sort();

const EXCHANGES_YAML = `
currencies:
  base: USD
  rates: { EUR: 0.92, GBP: 0.79 }
defaultExchange: main
exchanges:
  - { id: main, seat: seat-1, currency: USD }
  - { id: euro, seat: seat-2, currency: EUR, versions: ["2.5"] }
`;

const CAMPAIGNS_JSON = JSON.stringify({
  advertisers: [{ id: 'adv-1', name: 'Advertiser One', domains: ['one.example'] }],
  campaigns: [
    {
      id: 'cmp-1',
      advertiserId: 'adv-1',
      bid: { base: 1, max: 2 },
      targeting: { countries: ['US', 'DEU'], ipRanges: { block: ['10.0.0.0/8', '2001:db8::/32'] } },
      creatives: [{ id: 'cr-1', type: 'banner', w: 300, h: 250, html: '<b>hi</b>' }],
    },
  ],
});

describe('loading and merging', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bidder-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('merges a YAML and a JSON file', () => {
    const bundle = bundleFromTexts([
      { name: 'exchanges.yaml', text: EXCHANGES_YAML },
      { name: 'campaigns/one.json', text: CAMPAIGNS_JSON },
    ]);
    expect(bundle.exchanges!.map((e) => e.id)).toEqual(['main', 'euro']);
    expect(bundle.advertisers!.map((a) => a.id)).toEqual(['adv-1']);
    expect(bundle.campaigns!.map((c) => c.id)).toEqual(['cmp-1']);
    expect(bundle.defaultExchange).toBe('main');
    expect(bundle.currencies!.rates.EUR).toBe(0.92);
    const snap = buildSnapshot(bundle, 1);
    expect(snap.defaultExchange.id).toBe('main');
    expect(snap.index.campaigns.length).toBe(1);
  });

  it('loads a directory recursively (.json, .yaml, .yml), ignoring other files and empty ones', async () => {
    await mkdir(join(dir, 'ok', 'campaigns', 'deeper'), { recursive: true });
    await writeFile(join(dir, 'ok', 'exchanges.yaml'), EXCHANGES_YAML);
    await writeFile(join(dir, 'ok', 'campaigns', 'one.json'), CAMPAIGNS_JSON);
    await writeFile(
      join(dir, 'ok', 'campaigns', 'deeper', 'two.yml'),
      'campaigns:\n  - { id: cmp-2, advertiserId: adv-1, bid: { base: 1, max: 1 }, creatives: [{ id: cr-2, type: banner, w: 728, h: 90, html: x }] }\n',
    );
    await writeFile(join(dir, 'ok', 'empty.yaml'), '# nothing here yet\n');
    await writeFile(join(dir, 'ok', 'README.md'), '# not config: {{{');
    await writeFile(join(dir, 'ok', 'notes.txt'), 'campaigns: nope');
    const bundle = await loadBundleFromDir(join(dir, 'ok'));
    expect(bundle.campaigns!.map((c) => c.id).sort()).toEqual(['cmp-1', 'cmp-2']);
    expect(bundle.exchanges!.length).toBe(2);
  });

  it('reports errors with paths relative to the directory', async () => {
    await mkdir(join(dir, 'bad', 'campaigns'), { recursive: true });
    await writeFile(join(dir, 'bad', 'exchanges.yaml'), EXCHANGES_YAML);
    await writeFile(join(dir, 'bad', 'campaigns', 'x.json'), JSON.stringify({ campaigns: [{ id: 'c', advertiserId: 'adv-1', bid: { base: 1, max: 2 }, creatives: [], extra: 1 }] }));
    const e = await loadBundleFromDir(join(dir, 'bad')).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect(pairs((e as ConfigError).errors)).toEqual([
      'campaigns/x.json#/campaigns/0/creatives minItems',
      'campaigns/x.json#/campaigns/0/extra unknown_field',
    ]);
  });

  it('a missing directory is an error that names it', async () => {
    await expect(loadBundleFromDir(join(dir, 'does-not-exist'))).rejects.toThrow(/does-not-exist/);
  });

  it('the real config/ directory loads and builds a snapshot', async () => {
    const bundle = await loadBundleFromDir('config');
    const snap = buildSnapshot(bundle, 1);
    expect([...snap.exchanges.keys()].sort()).toEqual(['custom-macros', 'default', 'openx-like']);
    expect(snap.defaultExchange.id).toBe('default');
    expect(snap.index.campaigns.length).toBeGreaterThanOrEqual(5);
    expect(snap.currencies.has('EUR')).toBe(true);
  });
});

describe('a bad file reports every schema error at once', () => {
  const BAD_YAML = `
colour: blue
advertisers:
  - id: adv-1
    name: Adv
    domains: [adv.example]
    website: https://adv.example
campaigns:
  - id: cmp-1
    advertiserId: adv-1
    status: sleeping
    currency: usd
    bid: { base: 1, max: 2, floor: 0.5 }
    targeting:
      channels: [tv]
      deviceTypes: [9]
      postalCodes: ["94105", "9", "SW1A 1AA", "941#05", "12345678901234567"]
      languages: [en, pt-BR, english!]
      locations: { circles: [{ lat: 37.78, lon: -122.42, km: 2 }, { lat: 91, lon: 0, km: 0 }], sources: [gps, wifi] }
      dayparting: { timezone: UTC, windows: [{ days: [funday], from: 25, to: 24 }] }
    creatives:
      - { id: cr-banner, type: banner, w: "wide", h: 250, html: x, vast: "<VAST/>" }
      - { id: cr-video, type: video, vast: "<VAST/>", duration: 15, mimes: [video/mp4] }
      - { id: cr-weird, type: hologram }
      - { id: "bad id!", type: audio, vast: "<VAST/>", duration: 30, mimes: [audio/mp4] }
  - id: cmp-2
    advertiserId: adv-1
    creatives: [{ id: cr-ok, type: banner, w: 300, h: 250, html: x }]
`;

  let errors: readonly FieldError[];
  beforeAll(() => {
    errors = refusal(() => bundleFromTexts([{ name: 'campaigns/bad.yaml', text: BAD_YAML }])).errors;
  });

  it('lists each problem once, by file-prefixed JSON pointer and stable code', () => {
    expect(pairs(errors)).toEqual(
      [
        'campaigns/bad.yaml#/colour unknown_field',
        'campaigns/bad.yaml#/advertisers/0/website unknown_field',
        'campaigns/bad.yaml#/campaigns/0/status enum',
        'campaigns/bad.yaml#/campaigns/0/currency pattern',
        'campaigns/bad.yaml#/campaigns/0/bid/floor unknown_field',
        'campaigns/bad.yaml#/campaigns/0/targeting/channels/0 enum',
        'campaigns/bad.yaml#/campaigns/0/targeting/deviceTypes/0 maximum',
        'campaigns/bad.yaml#/campaigns/0/targeting/postalCodes/1 minLength',
        'campaigns/bad.yaml#/campaigns/0/targeting/postalCodes/3 pattern',
        'campaigns/bad.yaml#/campaigns/0/targeting/postalCodes/4 maxLength',
        'campaigns/bad.yaml#/campaigns/0/targeting/languages/2 pattern',
        'campaigns/bad.yaml#/campaigns/0/targeting/locations/circles/1/lat maximum',
        'campaigns/bad.yaml#/campaigns/0/targeting/locations/circles/1/km exclusiveMinimum',
        'campaigns/bad.yaml#/campaigns/0/targeting/locations/sources/1 enum',
        'campaigns/bad.yaml#/campaigns/0/targeting/dayparting/windows/0/days/0 enum',
        'campaigns/bad.yaml#/campaigns/0/targeting/dayparting/windows/0/from maximum',
        'campaigns/bad.yaml#/campaigns/0/creatives/0/w type',
        'campaigns/bad.yaml#/campaigns/0/creatives/0/vast unknown_field',
        'campaigns/bad.yaml#/campaigns/0/creatives/1/protocols required',
        'campaigns/bad.yaml#/campaigns/0/creatives/2 discriminator',
        'campaigns/bad.yaml#/campaigns/0/creatives/3/id pattern',
        'campaigns/bad.yaml#/campaigns/1/bid required',
      ].sort(),
    );
  });

  it('reports a banner creative against the banner schema only (the discriminator)', () => {
    const banner = errors.filter((e) => e.path.startsWith('campaigns/bad.yaml#/campaigns/0/creatives/0'));
    // Not "must match exactly one schema in oneOf", and nothing a video or native creative would need.
    expect(banner.map((e) => e.code).sort()).toEqual(['type', 'unknown_field']);
    for (const e of banner) expect(e.message).not.toMatch(/oneOf|duration|mimes|clickUrl/);
    expect(errors.some((e) => e.code === 'oneOf' || e.code === 'anyOf')).toBe(false);
  });

  it('uses readable messages', () => {
    const byPath = new Map(errors.map((e) => [e.path, e]));
    expect(byPath.get('campaigns/bad.yaml#/colour')!.message).toBe('is not a known field');
    expect(byPath.get('campaigns/bad.yaml#/campaigns/1/bid')!.message).toBe('is required');
    expect(byPath.get('campaigns/bad.yaml#/campaigns/0/status')!.message).toBe('must be one of: active, paused');
    expect(byPath.get('campaigns/bad.yaml#/campaigns/0/creatives/0/w')!.message).toBe('must be integer');
    for (const e of errors) {
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.message).not.toMatch(/\n/);
    }
  });

  it('the error message lists every error, one per line', () => {
    const e = refusal(() => bundleFromTexts([{ name: 'campaigns/bad.yaml', text: BAD_YAML }]));
    const lines = e.message.split('\n');
    expect(lines[0]).toBe(`configuration refused: ${errors.length} error(s)`);
    expect(lines.length).toBe(errors.length + 1);
    expect(lines[1]).toMatch(/^ {2}campaigns\/bad\.yaml#\/\S+: .+ \[\w+\]$/);
  });

  it('reports parse errors and schema errors from several files together', () => {
    const e = refusal(() =>
      bundleFromTexts([
        { name: 'a.json', text: '{"campaigns": [' },
        { name: 'b.yaml', text: 'campaigns:\n  - id: [unclosed\n' },
        { name: 'c.yaml', text: 'advertisers:\n  - { id: adv-1 }\n' },
        { name: 'd.json', text: '[1, 2]' },
        { name: 'e.yaml', text: EXCHANGES_YAML },
      ]),
    );
    expect(pairs(e.errors)).toEqual(['a.json parse_error', 'b.yaml parse_error', 'c.yaml#/advertisers/0/name required', 'd.json#/ type']);
  });

  it('refuses a second file setting defaultExchange or currencies', () => {
    const e = refusal(() =>
      bundleFromTexts([
        { name: 'a.yaml', text: EXCHANGES_YAML },
        { name: 'b.yaml', text: 'defaultExchange: main\ncurrencies: { rates: { JPY: 150 } }\n' },
      ]),
    );
    expect(pairs(e.errors)).toEqual(['b.yaml#/currencies duplicate', 'b.yaml#/defaultExchange duplicate']);
  });
});

describe('a schema-valid bundle reports every rule error at once', () => {
  const A_YAML = `
currencies: { base: USD, rates: { EUR: 0.9 } }
defaultExchange: nowhere
exchanges:
  - { id: main, seat: s1 }
  - { id: main, seat: s2, currency: CHF }
advertisers:
  - { id: adv-1, name: Adv, domains: [adv.example] }
  - { id: adv-2, name: Adv Two, domains: [two.example], currency: SEK }
campaigns:
  - id: cmp-good
    advertiserId: adv-1
    bid: { base: 1, max: 2 }
    creatives: [{ id: cr-good, type: banner, w: 300, h: 250, html: x }]
`;
  const B_JSON = JSON.stringify({
    // adv-1 again, without domains: must not make a.yaml's campaign look wrong.
    advertisers: [{ id: 'adv-1', name: 'Duplicate' }],
    campaigns: [
      { id: 'cmp-good', advertiserId: 'adv-1', bid: { base: 1, max: 2 }, creatives: [{ id: 'cr-b1', type: 'banner', w: 300, h: 250, html: 'x' }] },
      {
        id: 'cmp-bad',
        advertiserId: 'adv-nope',
        adomain: ['bad.example'],
        currency: 'XYZ',
        start: '2027-01-01T00:00:00Z',
        end: '2026-01-01T00:00:00Z',
        bid: { base: 5, max: 2 },
        targeting: {
          countries: ['US', 'QQ'],
          regions: ['US-CA', 'ZZ-01'],
          dayparting: { timezone: 'Mars/Olympus', windows: [{ days: ['mon'], from: 12, to: 10 }] },
          ipRanges: { allow: ['10.0.0.0/8', '192.168.1.1', 'not-a-cidr'], block: ['10.0.0.0/33'] },
        },
        creatives: [
          { id: 'cr-good', type: 'banner', w: 300, h: 250, html: 'x' },
          { id: 'cr-b2', type: 'banner', w: 300, h: 250 },
          { id: 'cr-b3', type: 'banner', w: 300, h: 250, imageUrl: 'https://cdn.example/a.png' },
        ],
      },
    ],
  });

  let errors: readonly FieldError[];
  beforeAll(() => {
    errors = refusal(() => bundleFromTexts([{ name: 'a.yaml', text: A_YAML }, { name: 'campaigns/b.json', text: B_JSON }])).errors;
  });

  it('lists each problem once, against the file and item it came from', () => {
    expect(pairs(errors)).toEqual(
      [
        'a.yaml#/defaultExchange unknown_reference',
        'a.yaml#/exchanges/1/id duplicate_id',
        'a.yaml#/exchanges/1/currency unknown_currency',
        'a.yaml#/advertisers/1/currency unknown_currency',
        'campaigns/b.json#/advertisers/0/id duplicate_id',
        'campaigns/b.json#/campaigns/0/id duplicate_id',
        'campaigns/b.json#/campaigns/1/advertiserId unknown_reference',
        'campaigns/b.json#/campaigns/1/currency unknown_currency',
        'campaigns/b.json#/campaigns/1/bid/base out_of_range',
        'campaigns/b.json#/campaigns/1/end out_of_range',
        'campaigns/b.json#/campaigns/1/creatives/0/id duplicate_id',
        'campaigns/b.json#/campaigns/1/creatives/1 required',
        'campaigns/b.json#/campaigns/1/creatives/2/landingUrl required',
        'campaigns/b.json#/campaigns/1/targeting/countries/1 unknown_country',
        'campaigns/b.json#/campaigns/1/targeting/regions/1 unknown_country',
        'campaigns/b.json#/campaigns/1/targeting/dayparting/timezone unknown_timezone',
        'campaigns/b.json#/campaigns/1/targeting/dayparting/windows/0/to out_of_range',
        'campaigns/b.json#/campaigns/1/targeting/ipRanges/allow/2 invalid_cidr',
        'campaigns/b.json#/campaigns/1/targeting/ipRanges/block/0 invalid_cidr',
      ].sort(),
    );
  });

  it('names the offending values in the messages', () => {
    const msg = (path: string) => errors.find((e) => e.path === path)?.message;
    expect(msg('campaigns/b.json#/campaigns/1/advertiserId')).toBe('no advertiser "adv-nope"');
    expect(msg('campaigns/b.json#/campaigns/1/currency')).toBe('no rate for XYZ in the currency table');
    expect(msg('campaigns/b.json#/campaigns/1/bid/base')).toBe('must not exceed bid.max');
    expect(msg('campaigns/b.json#/campaigns/1/end')).toBe('must be after start');
    expect(msg('campaigns/b.json#/campaigns/1/targeting/countries/1')).toContain('"QQ"');
    expect(msg('campaigns/b.json#/campaigns/1/targeting/dayparting/timezone')).toContain('"Mars/Olympus"');
    expect(msg('campaigns/b.json#/campaigns/1/targeting/ipRanges/allow/2')).toContain('"not-a-cidr"');
    expect(msg('campaigns/b.json#/advertisers/0/id')).toBe('advertiser id "adv-1" is used twice');
    expect(msg('a.yaml#/defaultExchange')).toBe('no exchange "nowhere"');
  });

  it('start equal to end is refused too; a valid window and range are not', () => {
    const campaign = (over: object) =>
      JSON.stringify({
        advertisers: [{ id: 'a', name: 'A', domains: ['a.example'] }],
        campaigns: [{ id: 'c', advertiserId: 'a', bid: { base: 1, max: 1 }, creatives: [{ id: 'k', type: 'banner', w: 1, h: 1, html: 'x' }], ...over }],
      });
    const t = '2026-06-01T00:00:00Z';
    expect(pairs(refusal(() => bundleFromTexts([{ name: 'c.json', text: campaign({ start: t, end: t }) }])).errors)).toEqual([
      'c.json#/campaigns/0/end out_of_range',
    ]);
    expect(() =>
      bundleFromTexts([
        {
          name: 'c.json',
          text: campaign({
            start: t,
            end: '2026-07-01T00:00:00Z',
            targeting: { dayparting: { timezone: 'America/New_York', windows: [{ days: ['sat'], from: 0, to: 24 }] }, ipRanges: { allow: ['::1', '203.0.113.0/24'] } },
          }),
        },
      ]),
    ).not.toThrow();
  });

  it('a campaign budget that cannot pay for one impression at bid.max is refused, naming both', () => {
    const campaign = (budget: object) =>
      JSON.stringify({
        advertisers: [{ id: 'a', name: 'A', domains: ['a.example'] }],
        campaigns: [{ id: 'c', advertiserId: 'a', bid: { base: 5, max: 6 }, budget, creatives: [{ id: 'k', type: 'banner', w: 1, h: 1, html: 'x' }] }],
      });
    const e = refusal(() => bundleFromTexts([{ name: 'c.json', text: campaign({ daily: 0.005, total: 0.0059, pacing: 'asap' }) }])).errors;
    expect(pairs(e)).toEqual(['c.json#/campaigns/0/budget/daily never_bids', 'c.json#/campaigns/0/budget/total never_bids']);
    expect(e[0].message).toBe('0.005 cannot pay for one impression at bid.max (6 CPM is 0.006 an impression)');
    // One impression exactly is enough; so is any budget above it.
    expect(() => bundleFromTexts([{ name: 'c.json', text: campaign({ daily: 0.006, total: 2 }) }])).not.toThrow();
  });

  it('budgets in impressions, clicks and conversions, and even flight pacing: checked, every error listed', () => {
    const bundle = (budget: object, extra: object = {}, advBudget?: object) =>
      JSON.stringify({
        advertisers: [{ id: 'a', name: 'A', domains: ['a.example'], ...(advBudget ? { budget: advBudget } : {}) }],
        campaigns: [{ id: 'c', advertiserId: 'a', bid: { base: 1, max: 2 }, budget, ...extra, creatives: [{ id: 'k', type: 'banner', w: 1, h: 1, html: 'x' }] }],
      });
    const errors = (budget: object, extra?: object, advBudget?: object) => {
      try {
        bundleFromTexts([{ name: 'c.json', text: bundle(budget, extra, advBudget) }]);
        return [];
      } catch (e) {
        return pairs((e as ConfigError).errors);
      }
    };
    const flight = { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' };
    // Counts alone are a budget; with or without money, daily and total, and paced evenly on impressions.
    expect(errors({ impressions: { daily: 1000, total: 20_000 }, clicks: { total: 50 }, conversions: { daily: 2 } })).toEqual([]);
    expect(errors({ impressions: { daily: 1000 }, pacing: 'even' })).toEqual([]);
    expect(errors({ total: 500, flightPacing: 'even' }, flight)).toEqual([]);
    expect(errors({ impressions: { total: 100_000 }, flightPacing: 'even' }, flight)).toEqual([]);
    expect(errors({ impressions: {}, clicks: { daily: 10, total: 5 } })).toEqual(['c.json#/campaigns/0/budget/clicks/daily out_of_range', 'c.json#/campaigns/0/budget/impressions required']);
    expect(errors({ impressions: { daily: 1.5 }, conversions: { total: 0 } })).toEqual(['c.json#/campaigns/0/budget/conversions/total minimum', 'c.json#/campaigns/0/budget/impressions/daily type']);
    expect(errors({ clicks: { total: 5 }, pacing: 'even' })).toEqual(['c.json#/campaigns/0/budget/pacing required']);
    // Even flight pacing needs the flight's two ends and a total to spread over it.
    expect(errors({ daily: 10, flightPacing: 'even' }, { start: flight.start })).toEqual(['c.json#/campaigns/0/budget/flightPacing required', 'c.json#/campaigns/0/end required']);
    expect(errors({ total: 10, flightPacing: 'even' })).toEqual(['c.json#/campaigns/0/start required']);
    expect(errors({ total: 10, flightPacing: 'asap' })).toEqual([]);
    // Advertiser budgets are money only, and their pacing is the campaigns'.
    expect(errors({ daily: 10 }, {}, { daily: 100, impressions: { daily: 5 }, flightPacing: 'even' })).toEqual([
      'c.json#/advertisers/0/budget/flightPacing not_allowed',
      'c.json#/advertisers/0/budget/impressions not_allowed',
    ]);
  });
});

describe('exchange, device, connection, carrier and placement rules in config files', () => {
  const campaigns = (targeting: object) =>
    JSON.stringify({
      advertisers: [{ id: 'adv-1', name: 'Adv', domains: ['adv.example'] }],
      campaigns: [{ id: 'cmp-1', advertiserId: 'adv-1', bid: { base: 1, max: 2 }, targeting, creatives: [{ id: 'cr-1', type: 'banner', w: 300, h: 250, html: 'x' }] }],
    });
  const load = (targeting: object) => bundleFromTexts([{ name: 'exchanges.yaml', text: EXCHANGES_YAML }, { name: 'campaigns/c.json', text: campaigns(targeting) }]);

  it('load with exchanges named in another file', () => {
    const targeting = {
      exchanges: { allow: ['main'], block: ['euro'] },
      deviceMakes: ['Apple'],
      deviceModels: ['iPhone'],
      connectionTypes: [0, 2, 3, 7],
      carriers: ['Verizon'],
      videoPlacements: [1, 4],
    };
    const bundle = load(targeting);
    expect(bundle.campaigns![0].targeting).toEqual(targeting);
    expect(buildSnapshot(bundle, 1).index.campaigns.length).toBe(1);
  });

  it('refuse values out of their enums and malformed exchange ids, each at its JSON pointer', () => {
    const e = refusal(() =>
      load({ exchanges: { allow: ['Main'] }, deviceMakes: [''], connectionTypes: [-1, 8], carriers: 'Verizon', videoPlacements: [0, 3, 5] }),
    );
    expect(pairs(e.errors)).toEqual(
      [
        'campaigns/c.json#/campaigns/0/targeting/exchanges/allow/0 pattern',
        'campaigns/c.json#/campaigns/0/targeting/deviceMakes/0 minLength',
        'campaigns/c.json#/campaigns/0/targeting/connectionTypes/0 minimum',
        'campaigns/c.json#/campaigns/0/targeting/connectionTypes/1 maximum',
        'campaigns/c.json#/campaigns/0/targeting/carriers type',
        'campaigns/c.json#/campaigns/0/targeting/videoPlacements/0 minimum',
        'campaigns/c.json#/campaigns/0/targeting/videoPlacements/2 maximum',
      ].sort(),
    );
  });

  it('refuse an exchange id that is not configured, in either list', () => {
    const e = refusal(() => load({ exchanges: { allow: ['main', 'nowhere'], block: ['elsewhere'] } }));
    expect(e.errors).toEqual([
      { path: 'campaigns/c.json#/campaigns/0/targeting/exchanges/allow/1', code: 'unknown_reference', message: 'no exchange "nowhere"' },
      { path: 'campaigns/c.json#/campaigns/0/targeting/exchanges/block/0', code: 'unknown_reference', message: 'no exchange "elsewhere"' },
    ]);
  });
});

describe('loadSettings', () => {
  it('defaults without any variables', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({ port: 8080, adminPort: 8081, bodyLimitBytes: 256 * 1024, maxJsonDepth: 64, networkAllowanceMs: 10, debugNoBid: false });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('reads good values', () => {
    const s = loadSettings({ PORT: '9000', BODY_LIMIT_BYTES: '2048', DEBUG_NOBID: 'true', NOTICE_BASE_URL: 'https://bid.example/', INSTANCE_ID: 'abc123' });
    expect(s).toMatchObject({ port: 9000, bodyLimitBytes: 2048, debugNoBid: true, noticeBaseUrl: 'https://bid.example', instanceId: 'abc123' });
  });

  it('refuses bad values, naming every variable at once', () => {
    const e = refusal(() =>
      loadSettings({
        PORT: 'eighty',
        ADMIN_PORT: '70000',
        BODY_LIMIT_BYTES: '10',
        MAX_JSON_DEPTH: '2.5',
        DEFAULT_TMAX_MS: '-1',
        NETWORK_ALLOWANCE_MS: '1e9',
        NOTICE_BASE_URL: 'ftp://bid.example',
        INSTANCE_ID: 'not valid!',
        REDIS_URL: 'http://redis:6379',
      }),
    );
    expect(pairs(e.errors)).toEqual(
      [
        'PORT out_of_range',
        'ADMIN_PORT out_of_range',
        'BODY_LIMIT_BYTES out_of_range',
        'MAX_JSON_DEPTH out_of_range',
        'DEFAULT_TMAX_MS out_of_range',
        'NETWORK_ALLOWANCE_MS out_of_range',
        'NOTICE_BASE_URL invalid_url',
        'INSTANCE_ID invalid',
        'REDIS_URL invalid_url',
      ].sort(),
    );
    expect(e.errors.find((x) => x.path === 'BODY_LIMIT_BYTES')!.message).toBe('must be an integer from 1024 to 67108864');
    expect(e.message).toMatch(/^configuration refused: 9 error\(s\)\n/);
  });
});

describe('a config directory mounted from a Kubernetes ConfigMap', () => {
  it('reads the visible symlinked files once and skips the hidden ..data directories', async () => {
    const { mkdtemp, mkdir, writeFile, symlink } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'cm-'));
    const stamped = join(dir, '..2026_11_23_17_00_00.123');
    await mkdir(stamped);
    await writeFile(
      join(stamped, 'bundle.yaml'),
      'advertisers: [{ id: a, name: A, domains: [a.example] }]\ncampaigns: [{ id: c, advertiserId: a, bid: { base: 1, max: 2 }, creatives: [{ id: cr, type: banner, w: 300, h: 250, html: x }] }]\n',
    );
    await symlink('..2026_11_23_17_00_00.123', join(dir, '..data'));
    await symlink(join('..data', 'bundle.yaml'), join(dir, 'bundle.yaml'));
    const { loadBundleFromDir: load } = await import('../../src/campaigns/load-bundle.js');
    const bundle = await load(dir);
    expect(bundle.campaigns?.map((c) => c.id)).toEqual(['c']);
  });
});
