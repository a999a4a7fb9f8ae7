/**
 * The config API's routes, as data: the router registers them on the admin server and openapi.ts
 * describes them, from the same specs and schemas. Each family of routes is a class in routes/
 * with one method per route; this file lists them in the order the OpenAPI document shows.
 */
import type { TSchema } from '@sinclair/typebox';
import type { EventDatabase } from '../events/event-database.js';
import type { ConfigStore } from '../campaigns/config-store.js';
import { LIST_QUERY, type ConfigResources, type ResourceKind } from './resources.js';
import { AUDIENCE_LIST_QUERY, type AudienceResources } from './audiences.js';
import type { KeyService } from './keys.js';
import type { RouteSpec } from './router.js';
import type { KillSwitchAccess } from './kill-switch.js';
import {
  AdvertiserInputSchema,
  AdvertiserOutSchema,
  AudienceInputSchema,
  AudienceOutSchema,
  CampaignInputSchema,
  CampaignOutSchema,
  CreativeInputSchema,
  CreativeOutSchema,
  ExchangeInputSchema,
  ExchangeOutSchema,
} from './schemas.js';
import { ConfigKindService, ResourceRoutes, type Resource } from './routes/resource-routes.js';
import { MetaRoutes, type ModelsView } from './routes/meta-routes.js';
import { ActionRoutes } from './routes/action-routes.js';
import { KillSwitchRoutes } from './routes/kill-switch-routes.js';
import { KeyRoutes } from './routes/key-routes.js';
import { ConfigRoutes } from './routes/config-routes.js';

export { API_PREFIX } from './routes/common.js';
export type { ModelsView } from './routes/meta-routes.js';

export interface RouteDeps {
  readonly store: ConfigStore;
  readonly resources: ConfigResources;
  readonly audiences?: AudienceResources;
  readonly keys: KeyService;
  readonly importLimit: number;
  readonly openapi: () => unknown;
  /** The exchange-facing base URL the pixel snippets call. */
  readonly pixelBaseUrl: string;
  readonly models: ModelsView;
  /** The event store reports read (undefined until it is open, or in a process without one). */
  readonly events: () => EventDatabase | undefined;
  /** The budget store's kill switch (undefined in a process without one). */
  readonly killSwitch: () => KillSwitchAccess | undefined;
}

/** One kind of the configuration's documents, as its CRUD routes describe it. */
function configResource(d: RouteDeps, kind: ResourceKind, name: string, input: TSchema, output: TSchema): ResourceRoutes {
  return new ResourceRoutes({ kind, name, input, output, listQuery: LIST_QUERY[kind], service: new ConfigKindService(d.resources, kind) });
}

/** Audiences (segments with metadata), when the process has a segment store. */
function audienceRoutes(audiences: AudienceResources, actions: ActionRoutes): RouteSpec[] {
  const resource: Resource = { kind: 'audiences', name: 'Audience', input: AudienceInputSchema, output: AudienceOutSchema, listQuery: AUDIENCE_LIST_QUERY, service: audiences };
  return [...new ResourceRoutes(resource).all(), actions.rebuild(audiences)];
}

export function buildRoutes(d: RouteDeps): RouteSpec[] {
  const meta = new MetaRoutes(d.openapi, d.models);
  const actions = new ActionRoutes(d);
  const killSwitch = new KillSwitchRoutes(d.store, d.killSwitch);
  const config = new ConfigRoutes(d.store, d.importLimit);
  return [
    meta.openapi(),
    meta.me(),
    ...configResource(d, 'advertisers', 'Advertiser', AdvertiserInputSchema, AdvertiserOutSchema).all(),
    actions.pixel(),
    ...configResource(d, 'campaigns', 'Campaign', CampaignInputSchema, CampaignOutSchema).all(),
    actions.blockPlacements(),
    ...configResource(d, 'creatives', 'Creative', CreativeInputSchema, CreativeOutSchema).all(),
    actions.approve(),
    actions.reject(),
    ...configResource(d, 'exchanges', 'Exchange', ExchangeInputSchema, ExchangeOutSchema).all(),
    ...(d.audiences ? audienceRoutes(d.audiences, actions) : []),
    killSwitch.read(),
    killSwitch.set(),
    ...new KeyRoutes(d.keys).all(),
    config.audit(),
    meta.models(),
    config.export(),
    config.import(),
  ];
}
