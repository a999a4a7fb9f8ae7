/**
 * Rebuilding one audience now (`POST /api/v1/audiences/{id}/rebuild`): a lookalike through the
 * lookalike builder (lookalikes.ts), a rule audience from the event store (rule-rebuild.ts), as
 * their schedules would. One rebuild per audience at a time in this process: `isRunning` says so
 * before the call, and a lookalike's scheduled build counts as running too.
 *
 * A manual rule rebuild may overlap the rule schedule's own pass over the same rule: both write the
 * same memberships from the same rows, so the later one wins with the same answer.
 */
import type { EventDatabase } from '../events/event-database.js';
import type { AudienceService } from './audience-service.js';
import type { LookalikeBuilder } from './lookalikes.js';
import { rebuildRule } from './rule-rebuild.js';
import type { SegmentMeta } from './segment-store.js';

export interface RebuildOutcome {
  readonly id: string;
  readonly kind: 'lookalike' | 'rule';
  /** Members after the rebuild (a lookalike: its size; a rule: the users its lookback keeps). */
  readonly members: number;
  /** Members taken out by the rebuild. */
  readonly removed: number;
  /** A lookalike: seed members among the users seen (its positive examples). */
  readonly positives?: number;
  readonly seconds: number;
  readonly builtAt: string;
}

export interface AudienceRebuilder {
  /** Why this audience cannot be rebuilt by this bidder (its kind is switched off here), or undefined. */
  unavailable(meta: SegmentMeta): string | undefined;
  isRunning(id: string): boolean;
  rebuild(meta: SegmentMeta): Promise<RebuildOutcome>;
}

export class AudienceRebuilds implements AudienceRebuilder {
  private readonly running = new Set<string>();

  constructor(
    private readonly audiences: AudienceService,
    private readonly lookalikes: LookalikeBuilder | undefined,
    private readonly events: () => EventDatabase | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  unavailable(meta: SegmentMeta): string | undefined {
    if (meta.lookalike !== undefined && !this.lookalikes) return 'lookalike audiences are off on this bidder (LOOKALIKES=0)';
    if (meta.rule !== undefined && !this.events()) return 'the event store is not open yet';
    return undefined;
  }

  isRunning(id: string): boolean {
    return this.running.has(id) || (this.lookalikes?.isBuilding(id) ?? false);
  }

  async rebuild(meta: SegmentMeta): Promise<RebuildOutcome> {
    this.running.add(meta.id);
    const started = performance.now();
    try {
      if (meta.lookalike !== undefined) {
        const r = await this.lookalikes!.build(meta);
        return { id: meta.id, kind: 'lookalike', members: r.members.length, removed: r.removed, positives: r.positives, seconds: r.seconds, builtAt: new Date(this.now()).toISOString() };
      }
      const r = await rebuildRule(this.events()!, this.audiences, meta, Math.floor(this.now() / 1000));
      return { id: meta.id, kind: 'rule', members: r.members, removed: r.removed, seconds: (performance.now() - started) / 1000, builtAt: new Date(this.now()).toISOString() };
    } finally {
      this.running.delete(meta.id);
    }
  }
}
