/**
 * The config API's resource shapes, as TypeBox schemas: ajv validates request bodies against
 * them, the TypeScript types are derived from them, and the OpenAPI document (openapi.ts) serves
 * them as its components. They are built from the file schemas in campaigns/schema.ts, so a
 * resource the API accepts is one the file loader would accept.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  AdvertiserSchema,
  AudioCreativeSchema,
  BannerCreativeSchema,
  CampaignSchema,
  ConfigBundleSchema,
  CurrencyTableSchema,
  ExchangeSchema,
  NativeCreativeSchema,
  StringEnum,
  VideoCreativeSchema,
} from '../campaigns/schema.js';

const Closed = { additionalProperties: false } as const;
const ID = { minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' } as const;
export const IdSchema = Type.String(ID);
const idWith = (description: string) => Type.String({ ...ID, description });
const Timestamp = Type.String({ format: 'date-time' });
const ActivePaused = StringEnum(['active', 'paused'], { description: 'paused resources do not bid' });
export const ApprovalStatus = StringEnum(['pending', 'approved', 'rejected'], {
  description: 'only approved creatives bid; set by operators (admin keys) only',
});
export const Role = StringEnum(['admin', 'advertiser', 'read-only']);

/** Kept by the server on every resource. Read-only: a request may repeat them unchanged, never change them. */
export const SystemProps = {
  version: Type.Integer({ minimum: 1, description: 'revision, +1 per change; the ETag is its quoted value' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  createdBy: Type.String({ description: 'the API key id that created it' }),
  updatedBy: Type.String({ description: 'the API key id that changed it last' }),
  deletedAt: Type.Optional(Type.String({ format: 'date-time', description: 'set: soft-deleted (kept with its history)' })),
};
export const SYSTEM_FIELDS: readonly string[] = Object.keys(SystemProps);

function without<T extends Record<string, TSchema>, K extends string>(props: T, ...drop: K[]): Omit<T, K> {
  const out = { ...props } as Record<string, TSchema>;
  for (const k of drop) delete out[k];
  return out as Omit<T, K>;
}

// ----- advertisers

const advertiserProps = without(AdvertiserSchema.properties, 'id');
export const AdvertiserInputSchema = Type.Object(
  { id: Type.Optional(IdSchema), ...advertiserProps, status: Type.Optional(ActivePaused) },
  { ...Closed, title: 'AdvertiserInput' },
);
export const AdvertiserOutSchema = Type.Object(
  { id: IdSchema, ...advertiserProps, status: ActivePaused, ...SystemProps },
  { ...Closed, title: 'Advertiser' },
);

// ----- campaigns (no nested creatives: creatives are their own resource)

const campaignProps = without(CampaignSchema.properties, 'id', 'advertiserId', 'status', 'creatives');
export const SpendSchema = Type.Object(
  {
    amount: Type.Number({ minimum: 0 }),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    updatedAt: Type.Optional(Timestamp),
  },
  { ...Closed, description: 'spend counters, kept by operators (admin keys) only' },
);
export const CampaignInputSchema = Type.Object(
  {
    id: Type.Optional(IdSchema),
    advertiserId: Type.Optional(idWith("the owner; defaults to the key's advertiser; cannot change")),
    status: Type.Optional(ActivePaused),
    ...campaignProps,
    spend: Type.Optional(SpendSchema),
  },
  { ...Closed, title: 'CampaignInput' },
);
export const CampaignOutSchema = Type.Object(
  { id: IdSchema, advertiserId: IdSchema, status: ActivePaused, ...campaignProps, spend: Type.Optional(SpendSchema), ...SystemProps },
  { ...Closed, title: 'Campaign' },
);

// ----- creatives: the file schema's variants, plus their campaign and approval

const creativeApiInput = {
  campaignId: idWith('the campaign it belongs to; cannot change'),
  status: Type.Optional(ApprovalStatus),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'why it was rejected' })),
  paused: Type.Optional(Type.Boolean()),
};
const creativeApiOut = {
  campaignId: IdSchema,
  advertiserId: IdSchema,
  status: ApprovalStatus,
  reason: Type.Optional(Type.String()),
  paused: Type.Boolean(),
  reviewedBy: Type.Optional(Type.String()),
  reviewedAt: Type.Optional(Timestamp),
  ...SystemProps,
};
const variants = [BannerCreativeSchema, VideoCreativeSchema, AudioCreativeSchema, NativeCreativeSchema] as const;
const inputVariant = <T extends (typeof variants)[number]>(v: T) =>
  Type.Object({ ...without(v.properties, 'id'), id: Type.Optional(IdSchema), ...creativeApiInput }, Closed);
const outVariant = <T extends (typeof variants)[number]>(v: T) => Type.Object({ ...v.properties, ...creativeApiOut }, Closed);
const BannerIn = inputVariant(BannerCreativeSchema);
const VideoIn = inputVariant(VideoCreativeSchema);
const AudioIn = inputVariant(AudioCreativeSchema);
const NativeIn = inputVariant(NativeCreativeSchema);
const BannerOut = outVariant(BannerCreativeSchema);
const VideoOut = outVariant(VideoCreativeSchema);
const AudioOut = outVariant(AudioCreativeSchema);
const NativeOut = outVariant(NativeCreativeSchema);

/** Discriminated on `type`, so a bad creative is reported against its own kind only. */
export const CreativeInputSchema = Type.Unsafe<Static<typeof BannerIn> | Static<typeof VideoIn> | Static<typeof AudioIn> | Static<typeof NativeIn>>({
  title: 'CreativeInput',
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [BannerIn, VideoIn, AudioIn, NativeIn],
});
export const CreativeOutSchema = Type.Unsafe<Static<typeof BannerOut> | Static<typeof VideoOut> | Static<typeof AudioOut> | Static<typeof NativeOut>>({
  title: 'Creative',
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [BannerOut, VideoOut, AudioOut, NativeOut],
});

// ----- exchanges

const exchangeProps = ExchangeSchema.properties;
export const ExchangeInputSchema = Type.Object({ ...exchangeProps, status: Type.Optional(ActivePaused) }, { ...Closed, title: 'ExchangeInput' });
export const ExchangeOutSchema = Type.Object({ ...exchangeProps, status: ActivePaused, ...SystemProps }, { ...Closed, title: 'Exchange' });

// ----- audiences (segment metadata; members are uploaded to /api/v1/audiences/{id}/members)

export const SegmentIdSchema = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' });
const EventName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_-]+$' });
/** A rule audience (audiences/rule-audiences.ts): who did what, from the owner's own events. */
export const AudienceRuleSchema = Type.Object(
  {
    source: StringEnum(['pixel', 'notices'], { description: "pixel: the advertiser's pixel events; notices: impressions, clicks and conversions of its campaigns" }),
    events: Type.Array(EventName, { minItems: 1, maxItems: 20, uniqueItems: true, description: 'pixel: event names; notices: impression, click, conversion' }),
    lookbackDays: Type.Integer({ minimum: 1, maximum: 400, description: 'a user stays a member this long after the last matching event' }),
    excludeEvents: Type.Optional(
      Type.Array(EventName, { maxItems: 20, uniqueItems: true, description: 'an event of these (same source) takes the user out ("and did not purchase")' }),
    ),
    campaignIds: Type.Optional(Type.Array(IdSchema, { minItems: 1, maxItems: 100, uniqueItems: true, description: 'notices: only these campaigns (of the owner)' })),
  },
  { ...Closed, title: 'AudienceRule' },
);
/** A lookalike audience (audiences/lookalikes.ts): users like the seed's, rebuilt on a schedule. */
export const AudienceLookalikeSchema = Type.Object(
  {
    seed: Type.String({ ...SegmentIdSchema, description: "a segment of the same advertiser (uploaded or rule-built): its members are the examples" }),
    size: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'how many users to keep: the best scored outside the seed' }),
    refreshHours: Type.Integer({ minimum: 1, maximum: 24 * 30, description: 'how often it is rebuilt from the users seen since' }),
  },
  { ...Closed, title: 'AudienceLookalike' },
);
const audienceProps = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  advertiserId: Type.Optional(idWith('the owner (unset: a shared segment, operators only); cannot change')),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 400 * 24 * 3600, description: 'membership lifetime of uploaded rows without their own' })),
  rule: Type.Optional(AudienceRuleSchema),
  lookalike: Type.Optional(AudienceLookalikeSchema),
};
export const AudienceInputSchema = Type.Object(
  { id: Type.Optional(SegmentIdSchema), ...audienceProps, status: Type.Optional(ActivePaused) },
  { ...Closed, title: 'AudienceInput' },
);
export const AudienceOutSchema = Type.Object(
  {
    id: SegmentIdSchema,
    name: Type.String(),
    advertiserId: Type.Optional(IdSchema),
    ttlSeconds: Type.Integer(),
    rule: Type.Optional(AudienceRuleSchema),
    lookalike: Type.Optional(AudienceLookalikeSchema),
    status: ActivePaused,
    approximateSize: Type.Integer({ minimum: 0, description: 'distinct users uploaded (HyperLogLog estimate)' }),
    ...SystemProps,
  },
  { ...Closed, title: 'Audience' },
);

// ----- API keys

export const RateLimitSchema = Type.Object(
  { perSecond: Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }), burst: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
  { ...Closed, description: 'token bucket: burst tokens, refilled at perSecond' },
);
export const ApiKeyInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    role: Role,
    advertiserId: Type.Optional(idWith('shorthand for advertiserIds: [advertiserId]')),
    advertiserIds: Type.Optional(
      Type.Array(IdSchema, { minItems: 1, maxItems: 1000, uniqueItems: true, description: 'the advertisers it acts for (an agency: several)' }),
    ),
    rateLimit: Type.Optional(RateLimitSchema),
    status: Type.Optional(ActivePaused),
  },
  { ...Closed, title: 'ApiKeyInput' },
);
export const ApiKeyPatchSchema = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })), rateLimit: Type.Optional(Type.Union([RateLimitSchema, Type.Null()])) },
  { ...Closed, title: 'ApiKeyPatch' },
);
export const ApiKeyOutSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    role: Role,
    advertiserIds: Type.Optional(Type.Array(IdSchema)),
    rateLimit: Type.Optional(RateLimitSchema),
    status: ActivePaused,
    prefix: Type.String({ description: 'the start of the key, to recognise it' }),
    revokedAt: Type.Optional(Timestamp),
    ...without(SystemProps, 'deletedAt'),
  },
  { ...Closed, title: 'ApiKey' },
);
export const ApiKeyCreatedSchema = Type.Object(
  { ...ApiKeyOutSchema.properties, key: Type.String({ description: 'the secret: shown once, stored only hashed' }) },
  { ...Closed, title: 'ApiKeyCreated' },
);

// ----- audit log

export const AuditEntrySchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 1 }),
    configVersion: Type.Integer({ minimum: 0 }),
    at: Timestamp,
    actor: Type.Object({ keyId: Type.String(), role: Type.String(), name: Type.Optional(Type.String()) }),
    action: Type.String({ description: 'create, replace, update, pause, resume, delete, approve, reject, import, seed, revoke' }),
    kind: Type.String(),
    id: Type.String(),
    advertiserId: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
    before: Type.Unknown({ description: 'the resource before (null: it did not exist)' }),
    after: Type.Unknown({ description: 'the resource after' }),
  },
  { title: 'AuditEntry' },
);

// ----- errors, lists, import/export

export const FieldErrorSchema = Type.Object(
  {
    pointer: Type.Optional(Type.String({ description: 'JSON pointer (RFC 6901) into the request body, when the error names a body field' })),
    path: Type.String({ description: 'JSON pointer into the request body, `?name` for a query parameter, or kind/id for another resource' }),
    code: Type.String({ description: 'stable machine-readable code' }),
    message: Type.String(),
  },
  { title: 'FieldError' },
);
/** RFC 9457 problem details (api/problem.ts), with the stable `code` and the field `errors` as extension members. */
export const ErrorSchema = Type.Object(
  {
    type: Type.String({ description: 'the problem type: urn:rtb-bidder:problem:<code>' }),
    title: Type.String({ description: 'the status reason phrase' }),
    status: Type.Integer({ description: 'the HTTP status' }),
    detail: Type.String({ description: 'what went wrong with this request' }),
    instance: Type.Optional(Type.String({ description: 'the request path' })),
    code: Type.String({ description: 'stable machine-readable code' }),
    errors: Type.Optional(Type.Array(FieldErrorSchema, { description: 'every field error at once' })),
  },
  { title: 'Error' },
);
export const listOf = (item: TSchema, title: string) =>
  Type.Object(
    {
      items: Type.Array(item),
      total: Type.Integer({ description: 'matching resources, all pages' }),
      nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as cursor for the next page' }),
    },
    { title },
  );

/** The whole configuration as one document (export, import). Ids are required; server fields are left out. */
export const EXPORT_FORMAT = 'rtb-bidder-config/1';
const withId = <T extends Record<string, TSchema>>(props: T) => ({ ...props, id: IdSchema });
export const ConfigDocumentSchema = Type.Object(
  {
    format: Type.Literal(EXPORT_FORMAT),
    exportedAt: Type.Optional(Timestamp),
    configVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    defaultExchange: Type.Optional(Type.String({ minLength: 1 })),
    currencies: Type.Optional(CurrencyTableSchema),
    exchanges: Type.Optional(Type.Array(ExchangeInputSchema)),
    advertisers: Type.Optional(Type.Array(Type.Object(withId(AdvertiserInputSchema.properties), Closed))),
    campaigns: Type.Optional(
      Type.Array(Type.Object({ ...withId(CampaignInputSchema.properties), advertiserId: IdSchema }, Closed)),
    ),
    creatives: Type.Optional(
      Type.Array(
        Type.Unsafe({
          type: 'object',
          required: ['type', 'id'],
          discriminator: { propertyName: 'type' },
          oneOf: [BannerIn, VideoIn, AudioIn, NativeIn].map((v) => Type.Object(withId(v.properties), Closed)),
        }),
      ),
    ),
  },
  { ...Closed, title: 'ConfigDocument' },
);
/** config/ files (the file loader's format) are accepted by import too. */
export { ConfigBundleSchema };

export type AdvertiserInput = Static<typeof AdvertiserInputSchema>;
export type CampaignInput = Static<typeof CampaignInputSchema>;
export type CreativeInput = Static<typeof CreativeInputSchema>;
export type ExchangeInput = Static<typeof ExchangeInputSchema>;
export type AudienceInput = Static<typeof AudienceInputSchema>;
export type ApiKeyInput = Static<typeof ApiKeyInputSchema>;
export type Advertiser = Static<typeof AdvertiserOutSchema>;
export type Campaign = Static<typeof CampaignOutSchema>;
export type Creative = Static<typeof CreativeOutSchema>;
export type Exchange = Static<typeof ExchangeOutSchema>;
export type Audience = Static<typeof AudienceOutSchema>;
export type ApiKey = Static<typeof ApiKeyOutSchema>;
export type AuditEntryOut = Static<typeof AuditEntrySchema>;
export type ConfigDocument = Static<typeof ConfigDocumentSchema>;
export type ApiErrorBody = Static<typeof ErrorSchema>;
