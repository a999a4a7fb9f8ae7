/**
 * The user key (events/user-key.ts) on impression, click and conversion rows, so notice rule
 * audiences (audiences/rule-audiences.ts) can be rebuilt from history as pixel ones are. '' when
 * the bid's request gave no right to user data. The column is added, not in the sorting key:
 * ALTER cannot change a key, and a rebuild reads one advertiser's rows, which the key prunes.
 * 18.16 has no `ADD COLUMN IF NOT EXISTS`: migrate() skips an `ADD COLUMN` the table already has.
 */
import type { Migration } from '../migrate.js';

export const migration0004: Migration = {
  version: 4,
  name: 'user keys on notice rows',
  statements: ['impressions', 'clicks', 'conversions'].map((t) => `ALTER TABLE ${t} ADD COLUMN user_key String`),
};
