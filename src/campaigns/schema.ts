/**
 * The shapes of advertisers, campaigns and creatives, as TypeBox schemas.
 * One source of truth: ajv validates files (and later API bodies) against these,
 * and the TypeScript types below are derived from them.
 */
import { Type, type Static, type TString } from '@sinclair/typebox';
import { POSTAL_RULE_MAX } from '../openrtb/geo.js';

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' });
const NonEmpty = Type.String({ minLength: 1, maxLength: 512 });
const Cpm = Type.Number({ exclusiveMinimum: 0, maximum: 10_000 });
const Factor = Type.Number({ exclusiveMinimum: 0, maximum: 100 });
const Currency = Type.String({ pattern: '^[A-Z]{3}$' });
const Url = Type.String({ minLength: 8, maxLength: 4096, pattern: '^https?://' });
const IsoDate = Type.String({ format: 'date-time' });
const IabCategory = Type.String({ pattern: '^[A-Za-z0-9-]{1,32}$' });
const Mime = Type.String({ pattern: '^[a-z]+/[A-Za-z0-9.+-]+$' });
const Strings = (item: TString = NonEmpty) => Type.Array(item, { maxItems: 100_000 });
const AllowBlock = (item: TString = NonEmpty) =>
  Type.Object(
    { allow: Type.Optional(Strings(item)), block: Type.Optional(Strings(item)) },
    { additionalProperties: false },
  );
const Closed = { additionalProperties: false } as const;
const ExchangeId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_-]+$' });

/** A string enum as a plain JSON-schema `enum`, so validation errors name the allowed values once. */
export function StringEnum<const T extends readonly string[]>(values: T, options: object = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

const Weekday = StringEnum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

export const DaypartingSchema = Type.Object(
  {
    timezone: Type.String({ minLength: 1, default: 'UTC' }),
    windows: Type.Array(
      Type.Object(
        {
          days: Type.Array(Weekday, { minItems: 1, maxItems: 7 }),
          from: Type.Integer({ minimum: 0, maximum: 23 }),
          to: Type.Integer({ minimum: 1, maximum: 24 }),
        },
        Closed,
      ),
      { minItems: 1 },
    ),
  },
  Closed,
);

const SegmentId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' });

/** Audience rules: the user must be in any of / all of some segments, and in none of others. */
export const SegmentRulesSchema = Type.Object(
  {
    anyOf: Type.Optional(Type.Array(SegmentId, { minItems: 1, maxItems: 1000 })),
    allOf: Type.Optional(Type.Array(SegmentId, { minItems: 1, maxItems: 100 })),
    exclude: Type.Optional(Type.Array(SegmentId, { minItems: 1, maxItems: 1000 })),
    /**
     * When the user's segments cannot be known in time (store slow or down): `skip` the campaign
     * (default), or `bid` as if the audience rules were met (multipliers apply only to segments known for the user).
     */
    whenUnavailable: Type.Optional(StringEnum(['skip', 'bid'])),
  },
  Closed,
);

export const TargetingSchema = Type.Object(
  {
    channels: Type.Optional(Type.Array(StringEnum(['site', 'app']), { minItems: 1 })),
    countries: Type.Optional(Strings(Type.String({ pattern: '^[A-Za-z]{2,3}$' }))),
    regions: Type.Optional(Strings(Type.String({ pattern: '^[A-Za-z]{2,3}-[A-Za-z0-9]{1,3}$' }))),
    cities: Type.Optional(Strings()),
    /** Postal codes or their leading parts (`94105`, `941`, `SW1A`); spaces and hyphens are ignored. */
    postalCodes: Type.Optional(Strings(Type.String({ pattern: '^[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?$', minLength: 2, maxLength: POSTAL_RULE_MAX }))),
    /** Device languages: ISO 639 (`en`, covering `en-US` and every other `en-*`) or BCP 47 (`pt-BR`, only that). */
    languages: Type.Optional(Strings(Type.String({ pattern: '^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$' }))),
    deviceTypes: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 8 }))),
    os: Type.Optional(Strings()),
    browsers: Type.Optional(Strings()),
    /** `device.make` and `device.model`, each value matched whole, in any case (`Apple`, `iPhone`). */
    deviceMakes: Type.Optional(Strings()),
    deviceModels: Type.Optional(Strings()),
    /** `device.connectiontype` (0 unknown, 1 ethernet, 2 wifi, 3 cellular of unknown generation, 4-7 2G-5G). */
    connectionTypes: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 7 }))),
    /** `device.carrier`, matched whole, in any case. */
    carriers: Type.Optional(Strings()),
    /** Ids of configured exchanges the campaign bids on (`allow`) or never bids on (`block`). */
    exchanges: Type.Optional(AllowBlock(ExchangeId)),
    /**
     * OpenRTB 2.6 `imp.video.plcmt` (1 instream, 2 accompanying content, 3 interstitial, 4 no content /
     * standalone): the campaign bids only on video imps that carry one of these.
     */
    videoPlacements: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 4 }))),
    domains: Type.Optional(AllowBlock()),
    bundles: Type.Optional(AllowBlock()),
    publishers: Type.Optional(AllowBlock()),
    categories: Type.Optional(
      Type.Object(
        { include: Type.Optional(Strings(IabCategory)), exclude: Type.Optional(Strings(IabCategory)) },
        Closed,
      ),
    ),
    dayparting: Type.Optional(DaypartingSchema),
    ipRanges: Type.Optional(AllowBlock(Type.String({ minLength: 3, maxLength: 64 }))),
    /**
     * Circles around places (a store, a venue): the request's `geo.lat`/`geo.lon` must lie in one.
     * `sources` limits the `geo.type`s accepted (a request that does not say is then refused).
     */
    locations: Type.Optional(
      Type.Object(
        {
          circles: Type.Array(
            Type.Object(
              {
                lat: Type.Number({ minimum: -90, maximum: 90 }),
                lon: Type.Number({ minimum: -180, maximum: 180 }),
                km: Type.Number({ exclusiveMinimum: 0, maximum: 500 }),
              },
              Closed,
            ),
            { minItems: 1, maxItems: 100_000 },
          ),
          sources: Type.Optional(Type.Array(StringEnum(['gps', 'ip', 'user']), { minItems: 1, uniqueItems: true })),
        },
        Closed,
      ),
    ),
    segments: Type.Optional(SegmentRulesSchema),
  },
  Closed,
);

export const DealSchema = Type.Object(
  { id: Id, multiplier: Type.Optional(Factor) },
  Closed,
);

const CreativeBase = {
  id: Id,
  name: Type.Optional(NonEmpty),
  attrs: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 100 }))),
  secure: Type.Optional(Type.Boolean()),
  landingUrl: Type.Optional(Url),
};

export const BannerCreativeSchema = Type.Object(
  {
    ...CreativeBase,
    type: Type.Literal('banner'),
    w: Type.Integer({ minimum: 1, maximum: 10_000 }),
    h: Type.Integer({ minimum: 1, maximum: 10_000 }),
    html: Type.Optional(Type.String({ minLength: 1, maxLength: 65_536 })),
    imageUrl: Type.Optional(Url),
  },
  Closed,
);

const Protocols = Type.Array(Type.Integer({ minimum: 1, maximum: 20 }), { minItems: 1 });

export const VideoCreativeSchema = Type.Object(
  {
    ...CreativeBase,
    type: Type.Literal('video'),
    vast: Type.String({ minLength: 1, maxLength: 262_144 }),
    duration: Type.Integer({ minimum: 1, maximum: 3600 }),
    mimes: Type.Array(Mime, { minItems: 1 }),
    protocols: Protocols,
    w: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    h: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  Closed,
);

export const AudioCreativeSchema = Type.Object(
  {
    ...CreativeBase,
    type: Type.Literal('audio'),
    vast: Type.String({ minLength: 1, maxLength: 262_144 }),
    duration: Type.Integer({ minimum: 1, maximum: 3600 }),
    mimes: Type.Array(Mime, { minItems: 1 }),
    protocols: Type.Optional(Protocols),
  },
  Closed,
);

const NativeImage = Type.Object(
  { url: Url, w: Type.Integer({ minimum: 1 }), h: Type.Integer({ minimum: 1 }) },
  Closed,
);

export const NativeCreativeSchema = Type.Object(
  {
    ...CreativeBase,
    type: Type.Literal('native'),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    image: Type.Optional(NativeImage),
    icon: Type.Optional(NativeImage),
    sponsored: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    description: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    cta: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    rating: Type.Optional(Type.Number({ minimum: 0, maximum: 5 })),
    clickUrl: Url,
    impressionTrackers: Type.Optional(Type.Array(Url)),
  },
  Closed,
);

/** Discriminated on `type`, so a bad creative is reported against its own kind only. */
export const CreativeSchema = Type.Unsafe<
  | Static<typeof BannerCreativeSchema>
  | Static<typeof VideoCreativeSchema>
  | Static<typeof AudioCreativeSchema>
  | Static<typeof NativeCreativeSchema>
>({
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [BannerCreativeSchema, VideoCreativeSchema, AudioCreativeSchema, NativeCreativeSchema],
});

const MultiplierMap = Type.Record(Type.String({ minLength: 1 }), Factor);

/** Up to a billion: in micros that stays an exact integer in a double (and in Redis's Lua). */
const Money = Type.Number({ exclusiveMinimum: 0, maximum: 1e9 });

/**
 * Budgets in the owner's currency (the campaign's, or the advertiser's). `daily` resets at 00:00 UTC;
 * `total` covers the whole flight. Spend is counted from billing notices (or win notices, per
 * exchange `spendOn`) at the clearing price. See src/money/ and the README's budgets section.
 */
/** A budget counted in impressions, clicks or conversions: per UTC day, over the flight, or both. */
const CountBudget = Type.Object(
  {
    daily: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
    total: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
  },
  Closed,
);

export const BudgetSchema = Type.Object(
  {
    daily: Type.Optional(Money),
    total: Type.Optional(Money),
    /** How a daily budget is spent over the day: `even` (default) or `asap`. */
    pacing: Type.Optional(StringEnum(['even', 'asap'])),
    /**
     * How the total is spent over the campaign's flight (`start` to `end`): `asap` (default: as fast
     * as the daily budget and pacing allow) or `even` (on a straight line from start to end).
     */
    flightPacing: Type.Optional(StringEnum(['even', 'asap'])),
    /**
     * Campaign budgets in units rather than money (any of them, with or without a money budget):
     * impressions are counted from the spend notices (billing, or win with `spendOn: win`), clicks
     * from click redirects, conversions from conversion postbacks. Daily ones reset at 00:00 UTC.
     */
    impressions: Type.Optional(CountBudget),
    clicks: Type.Optional(CountBudget),
    conversions: Type.Optional(CountBudget),
  },
  Closed,
);

export const CampaignSchema = Type.Object(
  {
    id: Id,
    advertiserId: Id,
    name: Type.Optional(NonEmpty),
    status: Type.Optional(StringEnum(['active', 'paused'])),
    start: Type.Optional(IsoDate),
    end: Type.Optional(IsoDate),
    currency: Type.Optional(Currency),
    bid: Type.Object({ base: Cpm, max: Cpm }, Closed),
    adomain: Type.Optional(Type.Array(NonEmpty, { minItems: 1, maxItems: 10 })),
    categories: Type.Optional(Type.Array(IabCategory, { maxItems: 10 })),
    bundle: Type.Optional(NonEmpty),
    deals: Type.Optional(Type.Array(DealSchema, { maxItems: 1000 })),
    openMarket: Type.Optional(Type.Boolean()),
    multipliers: Type.Optional(
      Type.Object(
        {
          deviceType: Type.Optional(MultiplierMap),
          os: Type.Optional(MultiplierMap),
          country: Type.Optional(MultiplierMap),
          domain: Type.Optional(MultiplierMap),
          bundle: Type.Optional(MultiplierMap),
          segment: Type.Optional(MultiplierMap),
        },
        Closed,
      ),
    ),
    targeting: Type.Optional(TargetingSchema),
    budget: Type.Optional(BudgetSchema),
    /**
     * At most `max` impressions per user per window, counted per campaign, creative or advertiser
     * (from impression notices, or win notices with `countOn: win`). Checked only with leave to use
     * user-level data; `whenUnavailable`: `skip` the campaign (default) or `bid` when the counters
     * cannot be read in time or the request carries no user id.
     */
    frequencyCaps: Type.Optional(
      Type.Object(
        {
          caps: Type.Array(
            Type.Object(
              {
                scope: StringEnum(['campaign', 'creative', 'advertiser']),
                window: StringEnum(['hour', 'day', 'week', 'lifetime']),
                max: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
              },
              Closed,
            ),
            { minItems: 1, maxItems: 12 },
          ),
          countOn: Type.Optional(StringEnum(['impression', 'win'])),
          whenUnavailable: Type.Optional(StringEnum(['skip', 'bid'])),
        },
        Closed,
      ),
    ),
    /**
     * Bid shading (off unless set): the price is multiplied by a factor in [minFactor, 1] set to
     * win `targetWinRate` of the auctions (from the exchange's min-to-win where it sends it, else
     * from the win rate), so it pays less per win; never above max bid.
     */
    shading: Type.Optional(
      Type.Object(
        {
          targetWinRate: Type.Number({ minimum: 0.01, maximum: 0.99 }),
          minFactor: Type.Optional(Type.Number({ minimum: 0.1, maximum: 1 })),
        },
        Closed,
      ),
    ),
    /**
     * What the campaign buys. `cpm` (the default): `bid.base` and the multipliers, as always. `cpc`,
     * `cpa`, `roas`: the base is the target times the predicted chance of the outcome (a click, a
     * conversion, or conversion value per unit spent), from the click and conversion models; until
     * a model has enough data the campaign bids `bid.base` (the CPM fallback); on an `explore` share
     * of requests it prices optimistically (the outcome's probability at least twice its observed
     * rate). Multipliers, max bid, floors, budgets, caps and shading apply as before.
     * `target` is in the campaign's currency per click or conversion; for `roas`, the value wanted
     * per unit spent (4: four times the spend).
     */
    goal: Type.Optional(
      Type.Object(
        {
          type: StringEnum(['cpm', 'cpc', 'cpa', 'roas']),
          target: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })),
          explore: Type.Optional(Type.Number({ minimum: 0, maximum: 0.5 })),
        },
        Closed,
      ),
    ),
    /** Stops this campaign's bids at once (every bidder), whatever its budget. */
    killSwitch: Type.Optional(Type.Boolean()),
    creatives: Type.Array(CreativeSchema, { minItems: 1, maxItems: 1000 }),
  },
  Closed,
);

export const AdvertiserSchema = Type.Object(
  {
    id: Id,
    name: NonEmpty,
    domains: Type.Optional(Type.Array(NonEmpty, { maxItems: 10 })),
    currency: Type.Optional(Currency),
    /** Budgets over all of the advertiser's campaigns, in the advertiser's currency (`pacing` is per campaign). */
    budget: Type.Optional(BudgetSchema),
  },
  Closed,
);

export const ExchangeSchema = Type.Object(
  {
    id: ExchangeId,
    name: Type.Optional(NonEmpty),
    seat: Type.String({ minLength: 1, maxLength: 128 }),
    currency: Type.Optional(Currency),
    versions: Type.Optional(
      Type.Array(StringEnum(['2.5', '2.6']), { minItems: 1 }),
    ),
    macros: Type.Optional(
      Type.Object(
        {
          price: Type.Optional(NonEmpty),
          minToWin: Type.Optional(NonEmpty),
          loss: Type.Optional(NonEmpty),
          currency: Type.Optional(NonEmpty),
        },
        Closed,
      ),
    ),
    sendNurl: Type.Optional(Type.Boolean()),
    /** Which notice counts as spend: `billing` (default) or `win` (exchanges that send no billing notice). */
    spendOn: Type.Optional(StringEnum(['billing', 'win'])),
    /**
     * Google Authorized Buyers style encrypted win prices: each key is `${ENV_NAME}` (read from that
     * environment variable) or the key itself, base64 or web-safe base64 of 32 bytes. With it, the
     * price of a win or billing notice must be encrypted with these keys (see events/encrypted-price.ts).
     */
    priceEncryption: Type.Optional(
      Type.Object(
        { encryptionKey: Type.String({ minLength: 1, maxLength: 256 }), integrityKey: Type.String({ minLength: 1, maxLength: 256 }) },
        Closed,
      ),
    ),
    /**
     * Protobuf bid requests (proto/openrtb.proto). `application/x-protobuf` is always accepted;
     * `octetStream: true` also reads `application/octet-stream` bodies as protobuf (else 415).
     */
    protobuf: Type.Optional(Type.Object({ octetStream: Type.Optional(Type.Boolean()) }, Closed)),
    /**
     * User matching (`GET /match/{exchange}` on the bid port, see http/user-match-routes.ts):
     * `setUidUrl` is the exchange's set-uid URL the browser is sent on to, with `{UID}` replaced by
     * our user id (empty when the call carries no right to one); an https URL with `{UID}` in it.
     */
    userSync: Type.Optional(Type.Object({ setUidUrl: Type.String({ minLength: 12, maxLength: 2048, pattern: '^https://' }) }, Closed)),
  },
  Closed,
);

export const CurrencyTableSchema = Type.Object(
  {
    base: Type.Optional(Currency),
    rates: Type.Record(Type.String({ pattern: '^[A-Z]{3}$' }), Type.Number({ exclusiveMinimum: 0 })),
  },
  Closed,
);

/** Everything a config directory (or, later, the config API) provides, merged. */
export const ConfigBundleSchema = Type.Object(
  {
    defaultExchange: Type.Optional(Type.String({ minLength: 1 })),
    exchanges: Type.Optional(Type.Array(ExchangeSchema)),
    currencies: Type.Optional(CurrencyTableSchema),
    advertisers: Type.Optional(Type.Array(AdvertiserSchema)),
    campaigns: Type.Optional(Type.Array(CampaignSchema)),
  },
  Closed,
);

export type Budget = Static<typeof BudgetSchema>;
export type Dayparting = Static<typeof DaypartingSchema>;
export type Targeting = Static<typeof TargetingSchema>;
export type SegmentRules = Static<typeof SegmentRulesSchema>;
export type Deal = Static<typeof DealSchema>;
export type BannerCreative = Static<typeof BannerCreativeSchema>;
export type VideoCreative = Static<typeof VideoCreativeSchema>;
export type AudioCreative = Static<typeof AudioCreativeSchema>;
export type NativeCreative = Static<typeof NativeCreativeSchema>;
export type Creative = Static<typeof CreativeSchema>;
export type Campaign = Static<typeof CampaignSchema>;
export type Goal = NonNullable<Campaign['goal']>;
export type Advertiser = Static<typeof AdvertiserSchema>;
export type Exchange = Static<typeof ExchangeSchema>;
export type CurrencyTable = Static<typeof CurrencyTableSchema>;
export type ConfigBundle = Static<typeof ConfigBundleSchema>;
