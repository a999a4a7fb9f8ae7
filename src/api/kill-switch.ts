/**
 * The kill switch in the config API (`GET`/`PUT /api/v1/kill-switch`, admin keys only): the same
 * switch as the admin port's `/admin/kill-switch` (the budget store's, shared by every bidder; each
 * bid thread reads it on its next budget renewal), so the console and curl reach it through the
 * public API like everything else.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BudgetStore, KillState } from '../money/budget-store.js';

/** What the API needs of the budget store. */
export interface KillSwitchAccess {
  read(): Promise<KillState>;
  set(on: boolean, campaign?: string): Promise<KillState>;
}

/** The switch of a budget store; a renewal of no accounts reads it and changes nothing (as `/admin/kill-switch` does). */
export function killSwitchOf(store: BudgetStore): KillSwitchAccess {
  return {
    read: async () => (await store.renew('_admin', [], 1)).kill,
    set: (on, campaign) => store.setKill(on, campaign),
  };
}

export const KillStateSchema = Type.Object(
  {
    all: Type.Boolean({ description: 'all bidding is stopped' }),
    campaigns: Type.Array(Type.String(), { description: 'campaigns stopped one by one' }),
  },
  { additionalProperties: false, title: 'KillSwitch' },
);

export const KillSwitchInputSchema = Type.Object(
  {
    on: Type.Boolean({ description: 'true stops, false releases' }),
    campaign: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$', description: 'one campaign (left out: everything)' })),
  },
  { additionalProperties: false, title: 'KillSwitchInput' },
);
export type KillSwitchInput = Static<typeof KillSwitchInputSchema>;
