/**
 * Validation of a configuration bundle: schema first (ajv, every error at once),
 * then the rules a schema cannot express (references, ranges between fields, time zones, CIDRs).
 */
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import ipaddr from 'ipaddr.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { FieldError } from '../errors.js';
import { ConfigBundleSchema, type Campaign, type ConfigBundle } from './schema.js';
import { normalizeCountry } from '../openrtb/geo.js';
import { resolvePriceKeys } from '../events/encrypted-price.js';
import { processEnvironment, type Environment } from '../settings/environment.js';

const Ajv = AjvModule.default ?? AjvModule;
const addFormats = addFormatsModule.default ?? addFormatsModule;

const ajv = new Ajv({ allErrors: true, discriminator: true, strict: false, useDefaults: false });
addFormats(ajv);
const validateBundleSchema: ValidateFunction = ajv.compile(ConfigBundleSchema);

/** Turns ajv's errors into field errors with stable codes and JSON-pointer paths. */
export function fromAjvErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  if (!errors) return [];
  const out: FieldError[] = [];
  for (const e of errors) {
    let path = e.instancePath;
    let message = e.message ?? 'is invalid';
    let code = e.keyword;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      path = `${path}/${extra}`;
      code = 'unknown_field';
      message = 'is not a known field';
    } else if (e.keyword === 'required') {
      path = `${path}/${(e.params as { missingProperty: string }).missingProperty}`;
      code = 'required';
      message = 'is required';
    } else if (e.keyword === 'enum') {
      message = `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    }
    out.push({ path: prefix + (path || '/'), code, message });
  }
  return out;
}

/** Schema validation of one file's bundle. */
export function validateBundleShape(value: unknown, prefix = ''): FieldError[] {
  if (validateBundleSchema(value)) return [];
  return fromAjvErrors(validateBundleSchema.errors, prefix);
}

/** Where each item of a merged bundle came from, so semantic errors point into the right file. */
export type OriginOf = (item: object) => string;

/**
 * Cross-field and cross-reference rules over a merged, schema-valid bundle.
 * `env`: where `${NAME}` references in exchange `priceEncryption` keys are looked up.
 * `pausedExchanges`: exchanges that exist but are left out of the bundle (paused in the config
 * store): campaigns may still name them in their exchange rules, so pausing one breaks no campaign.
 */
export function validateBundleRules(
  bundle: ConfigBundle,
  originOf: OriginOf,
  env: Environment = processEnvironment(),
  pausedExchanges: ReadonlySet<string> = NO_IDS,
): FieldError[] {
  const r = new BundleRules(bundle, originOf);
  const exchangeIds = r.checkExchanges(env);
  // The bundle's own origin is the file that set defaultExchange.
  if (bundle.defaultExchange && !exchangeIds.has(bundle.defaultExchange))
    r.err(bundle, '/defaultExchange', 'unknown_reference', `no exchange "${bundle.defaultExchange}"`);
  const advertisers = r.checkAdvertisers();
  r.checkCampaigns(advertisers, (id) => exchangeIds.has(id) || pausedExchanges.has(id));
  return r.errors;
}

type Advertiser = NonNullable<ConfigBundle['advertisers']>[number];

/** The rules of validateBundleRules over one bundle, by kind of item, and the errors found so far. */
class BundleRules {
  readonly errors: FieldError[] = [];
  private readonly rates: Record<string, number>;
  private readonly baseCurrency: string;

  constructor(
    private readonly bundle: ConfigBundle,
    private readonly originOf: OriginOf,
  ) {
    this.rates = bundle.currencies?.rates ?? {};
    this.baseCurrency = bundle.currencies?.base ?? 'USD';
  }

  err(item: object, sub: string, code: string, message: string): void {
    this.errors.push({ path: this.originOf(item) + sub, code, message });
  }

  /** Reports each error of `item` through `err`, its path under the item's origin. */
  private reporterOf(item: object): Report {
    return (sub, code, message) => this.err(item, sub, code, message);
  }

  private knownCurrency(c: string): boolean {
    return c === this.baseCurrency || c in this.rates;
  }

  /** Checks the exchanges; returns their ids. */
  checkExchanges(env: Record<string, string | undefined>): Set<string> {
    const exchangeIds = new Set<string>();
    for (const ex of this.bundle.exchanges ?? []) {
      if (exchangeIds.has(ex.id)) this.err(ex, '/id', 'duplicate_id', `exchange id "${ex.id}" is used twice`);
      exchangeIds.add(ex.id);
      if (ex.currency && !this.knownCurrency(ex.currency))
        this.err(ex, '/currency', 'unknown_currency', `no rate for ${ex.currency} in the currency table`);
      if (ex.priceEncryption) {
        const keys = resolvePriceKeys(ex.priceEncryption, env);
        if ('errors' in keys)
          for (const [field, message] of Object.entries(keys.errors)) this.err(ex, `/priceEncryption/${field}`, 'invalid_key', message!);
      }
      if (ex.userSync) {
        const url = ex.userSync.setUidUrl;
        if (!url.includes('{UID}')) this.err(ex, '/userSync/setUidUrl', 'invalid_url', 'must contain {UID} (where our user id goes)');
        else if (!URL.canParse(url.replaceAll('{UID}', 'x'))) this.err(ex, '/userSync/setUidUrl', 'invalid_url', 'is not a valid URL');
      }
    }
    return exchangeIds;
  }

  /** Checks the advertisers; returns them by id (the first of a duplicated id). */
  checkAdvertisers(): Map<string, Advertiser> {
    const advertisers = new Map<string, Advertiser>();
    for (const adv of this.bundle.advertisers ?? []) {
      // The first one stays: a duplicate must not change what earlier campaigns are checked against.
      if (advertisers.has(adv.id)) this.err(adv, '/id', 'duplicate_id', `advertiser id "${adv.id}" is used twice`);
      else advertisers.set(adv.id, adv);
      if (adv.currency && !this.knownCurrency(adv.currency))
        this.err(adv, '/currency', 'unknown_currency', `no rate for ${adv.currency} in the currency table`);
      if (adv.budget?.pacing) this.err(adv, '/budget/pacing', 'not_allowed', 'pacing is set per campaign');
      if (adv.budget?.flightPacing) this.err(adv, '/budget/flightPacing', 'not_allowed', 'pacing is set per campaign');
      for (const unit of COUNT_UNITS)
        if (adv.budget?.[unit]) this.err(adv, `/budget/${unit}`, 'not_allowed', `${unit} budgets are set per campaign`);
      validateBudget(adv.budget, this.reporterOf(adv));
    }
    return advertisers;
  }

  checkCampaigns(advertisers: ReadonlyMap<string, Advertiser>, knownExchange: (id: string) => boolean): void {
    const campaignIds = new Set<string>();
    const creativeIds = new Set<string>();
    for (const c of this.bundle.campaigns ?? []) {
      if (campaignIds.has(c.id)) this.err(c, '/id', 'duplicate_id', `campaign id "${c.id}" is used twice`);
      campaignIds.add(c.id);
      this.checkCampaign(c, advertisers.get(c.advertiserId));
      this.checkCreatives(c, creativeIds);
      const report = this.reporterOf(c);
      validateCampaignTargeting(c, report, knownExchange);
      validateBudget(c.budget, report, c.bid.max);
      this.checkFlightAndMultipliers(c);
    }
  }

  /** A campaign's own fields: its advertiser, currency, bid, goal, dates, domains, market. */
  private checkCampaign(c: Campaign, adv: Advertiser | undefined): void {
    if (!adv) this.err(c, '/advertiserId', 'unknown_reference', `no advertiser "${c.advertiserId}"`);
    const currency = c.currency ?? adv?.currency ?? this.baseCurrency;
    if (!this.knownCurrency(currency)) this.err(c, '/currency', 'unknown_currency', `no rate for ${currency} in the currency table`);
    if (c.bid.base > c.bid.max) this.err(c, '/bid/base', 'out_of_range', 'must not exceed bid.max');
    if (c.goal && c.goal.type !== 'cpm' && c.goal.target === undefined) this.err(c, '/goal/target', 'required', `is required for a ${c.goal.type} goal`);
    if (c.goal?.type === 'cpm' && (c.goal.target !== undefined || c.goal.explore !== undefined))
      this.err(c, c.goal.target !== undefined ? '/goal/target' : '/goal/explore', 'not_applicable', 'applies to cpc, cpa and roas goals only (a cpm goal bids bid.base)');
    if (c.start && c.end && Date.parse(c.start) >= Date.parse(c.end))
      this.err(c, '/end', 'out_of_range', 'must be after start');
    if (!c.adomain && !adv?.domains?.length)
      this.err(c, '/adomain', 'required', 'is required when the advertiser has no domains');
    if (c.openMarket === false && !c.deals?.length)
      this.err(c, '/openMarket', 'never_bids', 'a campaign closed to the open market needs deals');
  }

  /** A campaign's creatives; `creativeIds`: the ids seen so far in the bundle. */
  private checkCreatives(c: Campaign, creativeIds: Set<string>): void {
    for (const [i, cr] of c.creatives.entries()) {
      if (creativeIds.has(cr.id)) this.err(c, `/creatives/${i}/id`, 'duplicate_id', `creative id "${cr.id}" is used twice`);
      creativeIds.add(cr.id);
      if (cr.type === 'banner' && !cr.html && !cr.imageUrl)
        this.err(c, `/creatives/${i}`, 'required', 'a banner needs html or imageUrl');
      if (cr.type === 'banner' && cr.imageUrl && !cr.landingUrl)
        this.err(c, `/creatives/${i}/landingUrl`, 'required', 'an image banner needs a landingUrl');
      if (cr.type === 'banner' && cr.html?.includes('${DSP_CLICK_URL}') && !cr.landingUrl)
        this.err(c, `/creatives/${i}/landingUrl`, 'required', 'html with ${DSP_CLICK_URL} needs a landingUrl for the click redirect');
      if (cr.type === 'native' && !cr.title && !cr.image)
        this.err(c, `/creatives/${i}`, 'required', 'a native creative needs a title or an image');
    }
  }

  /** Even flight pacing needs dates and a total; device type multipliers name device types. */
  private checkFlightAndMultipliers(c: Campaign): void {
    if (c.budget?.flightPacing === 'even') {
      if (!c.start || !c.end) this.err(c, c.start ? '/end' : '/start', 'required', 'even flight pacing needs the campaign\'s start and end');
      if (c.budget.total === undefined && c.budget.impressions?.total === undefined)
        this.err(c, '/budget/flightPacing', 'required', 'even flight pacing needs a total (money or impressions)');
    }
    const dt = c.multipliers?.deviceType ?? {};
    for (const key of Object.keys(dt))
      if (!/^[1-8]$/.test(key)) this.err(c, `/multipliers/deviceType/${key}`, 'invalid_key', 'must be a device type 1..8');
  }
}

type Report = (sub: string, code: string, message: string) => void;

const COUNT_UNITS = ['impressions', 'clicks', 'conversions'] as const;

/** `maxBid`: a campaign's bid.max (CPM, in the budget's currency); a budget under one impression at it could never bid. */
function validateBudget(b: Campaign['budget'], report: Report, maxBid?: number): void {
  if (!b) return;
  const counted = COUNT_UNITS.filter((u) => b[u] !== undefined);
  if (b.daily === undefined && b.total === undefined && counted.length === 0) report('/budget', 'required', 'needs daily, total or both (or a budget in impressions, clicks or conversions)');
  if (b.daily !== undefined && b.total !== undefined && b.daily > b.total) report('/budget/daily', 'out_of_range', 'must not exceed total');
  for (const u of counted) {
    const x = b[u]!;
    if (x.daily === undefined && x.total === undefined) report(`/budget/${u}`, 'required', 'needs daily, total or both');
    if (x.daily !== undefined && x.total !== undefined && x.daily > x.total) report(`/budget/${u}/daily`, 'out_of_range', 'must not exceed total');
  }
  if (b.pacing !== undefined && b.daily === undefined && b.impressions?.daily === undefined)
    report('/budget/pacing', 'required', 'pacing needs a daily budget (money or impressions)');
  if (maxBid === undefined) return;
  for (const key of ['daily', 'total'] as const) {
    const v = b[key];
    if (v !== undefined && v < maxBid / 1000)
      report(`/budget/${key}`, 'never_bids', `${v} cannot pay for one impression at bid.max (${maxBid} CPM is ${maxBid / 1000} an impression)`);
  }
}

const NO_IDS: ReadonlySet<string> = new Set();

function validateCampaignTargeting(c: Campaign, report: Report, knownExchange: (id: string) => boolean): void {
  const t = c.targeting;
  if (!t) return;
  for (const side of ['allow', 'block'] as const)
    for (const [i, id] of (t.exchanges?.[side] ?? []).entries())
      if (!knownExchange(id)) report(`/targeting/exchanges/${side}/${i}`, 'unknown_reference', `no exchange "${id}"`);
  for (const [i, cc] of (t.countries ?? []).entries())
    if (!normalizeCountry(cc)) report(`/targeting/countries/${i}`, 'unknown_country', `"${cc}" is not an ISO 3166 country code`);
  for (const [i, r] of (t.regions ?? []).entries())
    if (!normalizeCountry(r.split('-')[0]))
      report(`/targeting/regions/${i}`, 'unknown_country', `"${r}" does not start with an ISO 3166 country code`);
  const d = t.dayparting;
  if (d) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: d.timezone });
    } catch {
      report('/targeting/dayparting/timezone', 'unknown_timezone', `"${d.timezone}" is not an IANA time zone`);
    }
    for (const [i, w] of d.windows.entries())
      if (w.from >= w.to) report(`/targeting/dayparting/windows/${i}/to`, 'out_of_range', 'must be after from');
  }
  for (const side of ['allow', 'block'] as const)
    for (const [i, cidr] of (t.ipRanges?.[side] ?? []).entries())
      if (!isCidr(cidr)) report(`/targeting/ipRanges/${side}/${i}`, 'invalid_cidr', `"${cidr}" is not a CIDR range`);
}

function isCidr(value: string): boolean {
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return ipaddr.isValid(value);
  }
}
