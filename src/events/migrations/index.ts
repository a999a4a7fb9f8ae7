/**
 * Every migration the code knows, in order. Add a new file `NNNN-name.ts` and list it here;
 * never edit one that has shipped (migrate() compares checksums and refuses on a change).
 * Migrations are TS modules rather than .sql files so that `tsc` ships them in dist/.
 */
import type { Migration } from '../migrate.js';
import { migration0001 } from './0001-event-tables.js';
import { migration0002 } from './0002-pixels.js';
import { migration0003 } from './0003-placement.js';
import { migration0004 } from './0004-user-keys.js';

export const MIGRATIONS: readonly Migration[] = [migration0001, migration0002, migration0003, migration0004];
