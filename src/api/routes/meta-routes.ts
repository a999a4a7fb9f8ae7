/** The routes about the API and the bidder rather than the configuration: the OpenAPI document, the calling key, the outcome models. */
import { Type, type Static } from '@sinclair/typebox';
import { StringEnum } from '../../campaigns/schema.js';
import { forbidden, aKey } from '../errors.js';
import { permits } from '../policy.js';
import type { ApiContext, ApiReply, RouteSpec } from '../router.js';
import { Role } from '../schemas.js';
import { API_PREFIX, COMMON_ERRORS, E } from './common.js';

export const PrincipalSchema = Type.Object(
  { keyId: Type.String(), name: Type.Optional(Type.String()), role: Role, advertiserIds: Type.Optional(Type.Array(Type.String())) },
  { title: 'Principal' },
);
const DecileSchema = Type.Object({ count: Type.Integer(), predicted: Type.Number(), observed: Type.Number() });
const Figure = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
export const ModelsSchema = Type.Object(
  {
    enabled: Type.Boolean({ description: 'OUTCOME_MODELS is on' }),
    models: Type.Array(
      Type.Object({
        model: StringEnum(['click', 'conversion']),
        ready: Type.Boolean({ description: 'prices goals (else they bid their CPM fallback)' }),
        fallback: Type.Union([StringEnum(['cold_start', 'calibration', 'auc']), Type.Null()], {
          description: 'why goals bid their CPM fallback: not trained enough yet (cold_start), calibration outside OUTCOME_CALIBRATION_MIN..MAX (calibration), or AUC under OUTCOME_MIN_AUC (auc); null when the model prices goals',
        }),
        version: Type.Integer({ description: 'publication number' }),
        publishedAt: Type.String({ format: 'date-time' }),
        trained: Type.Integer({ description: 'examples trained on since the process started' }),
        positives: Type.Integer(),
        campaigns: Type.Integer({ description: 'campaigns with a table of their own' }),
        holdoutExamples: Type.Integer({ description: 'the recent examples the figures are over, each scored before the model trained on it' }),
        holdoutPositives: Type.Integer({ description: 'positives among them (calibration is judged from OUTCOME_CALIBRATION_MIN_POSITIVES)' }),
        auc: Figure('null without both a positive and a negative'),
        logLoss: Figure('null without examples'),
        calibration: Figure('mean prediction over observed rate (1: calibrated); null without a positive'),
        deciles: Type.Array(DecileSchema, { description: 'calibration per decile of prediction' }),
      }),
      { description: 'as of the last publication (empty before the first)' },
    ),
  },
  { title: 'Models' },
);
/** What `GET /api/v1/models` shows: the main thread's trainer (models/publisher.ts). */
export type ModelsView = () => Static<typeof ModelsSchema>;

export class MetaRoutes {
  constructor(
    private readonly openapiDocument: () => unknown,
    private readonly modelsView: ModelsView,
  ) {}

  openapi(): RouteSpec {
    return {
      method: 'get',
      path: `${API_PREFIX}/openapi.json`,
      tag: 'meta',
      summary: 'This document (no key needed)',
      auth: false,
      responses: { 200: { description: 'OpenAPI 3.1' } },
      handler: () => ({ status: 200, body: this.openapiDocument() }),
    };
  }

  me(): RouteSpec {
    return {
      method: 'get',
      path: `${API_PREFIX}/me`,
      tag: 'meta',
      summary: 'The calling key: id, role, advertisers',
      responses: { 200: { description: 'the key', schema: PrincipalSchema }, ...COMMON_ERRORS },
      handler: (c) => ({
        status: 200,
        body: { keyId: c.principal.keyId, name: c.principal.name, role: c.principal.role, advertiserIds: c.principal.advertiserIds && [...c.principal.advertiserIds] },
      }),
    };
  }

  models(): RouteSpec {
    return {
      method: 'get',
      path: `${API_PREFIX}/models`,
      tag: 'models',
      summary: 'The outcome models (click, conversion): readiness, examples, AUC, log loss and calibration on recent examples, as of their last publication. Operators and unscoped read-only keys only: the models learn from every advertiser\'s traffic',
      responses: { 200: { description: 'each model', schema: ModelsSchema }, ...COMMON_ERRORS, 403: E('advertiser keys and scoped read-only keys') },
      handler: (c) => this.showModels(c),
    };
  }

  private showModels(c: ApiContext): ApiReply {
    if (!permits(c.principal, 'models', 'read')) throw forbidden(`${aKey(c.principal.role)} may not read the outcome models`);
    return { status: 200, body: this.modelsView() };
  }
}
