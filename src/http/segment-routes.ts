/**
 * Segment metadata on the admin port without the config API (with it, the config API serves these
 * paths itself, with paging, ETags and the audit log): list, read, create or update, drop.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AudienceService } from '../audiences/audience-service.js';
import { DEFAULT_SEGMENT_TTL_SECONDS, type SegmentMeta } from '../audiences/segment-store.js';
import { validateSegmentInput } from '../audiences/segment-input.js';
import type { AdminServer } from '../api/admin-server.js';
import { readJsonBody } from './json-body.js';
import { fail, send, SEGMENT_ID, SEGMENT_ID_RULE, store503, type Params } from './audience-replies.js';

type SegmentInput = { name?: string; advertiserId?: string; ttlSeconds?: number };

export function registerSegmentRoutes(app: AdminServer, audiences: AudienceService): void {
  const h = new SegmentHandler(audiences);
  app.get('/api/v1/audiences', (request, reply) => h.list(request, reply));
  app.get('/api/v1/audiences/:segmentId', (request, reply) => h.read(request, reply));
  app.put('/api/v1/audiences/:segmentId', (request, reply) => h.put(request, reply));
  app.delete('/api/v1/audiences/:segmentId', (request, reply) => h.drop(request, reply));
}

/** The segment metadata routes' handlers, one method each. */
class SegmentHandler {
  constructor(private readonly audiences: AudienceService) {}

  private get store() {
    return this.audiences.store;
  }

  async list(_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    try {
      return send(reply, 200, { segments: await this.store.listSegments() });
    } catch (e) {
      return store503(reply, e);
    }
  }

  async read(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const id = (request.params as Params).segmentId;
    try {
      const m = await this.store.getSegment(id);
      return m ? send(reply, 200, m) : fail(reply, 404, 'not_found', `no segment "${id}"`);
    } catch (e) {
      return store503(reply, e);
    }
  }

  async put(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const id = (request.params as Params).segmentId;
    const read = await readJsonBody(request, reply, 64 * 1024);
    if (!read) return reply;
    const body = read.value;
    if (!SEGMENT_ID.test(id)) return fail(reply, 400, 'invalid_id', SEGMENT_ID_RULE);
    const errors = validateSegmentInput(body);
    if (errors.length) return fail(reply, 400, 'validation_failed', 'the segment is invalid', errors);
    try {
      return await this.save(reply, id, (body ?? {}) as SegmentInput); // no body: defaults
    } catch (e) {
      return store503(reply, e);
    }
  }

  /** Creates the segment (201) or updates it (200), fields left out keeping their values or defaults. */
  private async save(reply: FastifyReply, id: string, input: SegmentInput): Promise<FastifyReply> {
    const existing = await this.store.getSegment(id);
    const meta: SegmentMeta = {
      id,
      name: input.name ?? existing?.name ?? id,
      advertiserId: input.advertiserId ?? existing?.advertiserId,
      ttlSeconds: input.ttlSeconds ?? existing?.ttlSeconds ?? DEFAULT_SEGMENT_TTL_SECONDS,
      createdAt: existing?.createdAt ?? new Date().toISOString(),
    };
    await this.store.putSegment(meta);
    await this.audiences.refreshRegistry(true);
    return send(reply, existing ? 200 : 201, await this.store.getSegment(id));
  }

  async drop(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const id = (request.params as Params).segmentId;
    try {
      const dropped = await this.store.dropSegment(id);
      await this.audiences.refreshRegistry(true);
      return dropped ? send(reply, 200, { id, dropped: true }) : fail(reply, 404, 'not_found', `no segment "${id}"`);
    } catch (e) {
      return store503(reply, e);
    }
  }
}
