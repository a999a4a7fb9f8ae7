/**
 * Where each event's ad was to run (event-types.ts EventBase): the site's domain or the app's
 * bundle (`placement`), which of the two (`placement_type`: site, app, or '' for neither), the
 * publisher id, the country (alpha-3) and the OpenRTB device type, on every event table. Rows
 * stored before this migration read '' and 0 (a String's and a UInt8's default, on 18.16 and chDB).
 *
 * One ALTER per column: 18.16 has no `ADD COLUMN IF NOT EXISTS`, so migrate() skips an
 * `ALTER TABLE t ADD COLUMN c` whose column is already there (a migration interrupted half way
 * re-runs from its first statement). The sorting keys stay as they are: a placement report reads
 * the advertiser's (or everyone's) rows of a range, which the key and the partitions already prune.
 */
import type { Migration } from '../migrate.js';
import { EVENT_TABLES } from '../event-types.js';

export const PLACEMENT_COLUMNS = [
  ['placement', 'String'],
  ['placement_type', 'String'],
  ['publisher_id', 'String'],
  ['country', 'String'],
  ['device_type', 'UInt8'],
] as const;

export const migration0003: Migration = {
  version: 3,
  name: 'placement columns',
  statements: Object.values(EVENT_TABLES).flatMap((table) =>
    PLACEMENT_COLUMNS.map(([column, type]) => `ALTER TABLE ${table} ADD COLUMN ${column} ${type}`),
  ),
};
