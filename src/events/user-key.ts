/**
 * The user key of an event row: HMAC-SHA256 of our user id under a secret (USER_KEY_SECRET, or one
 * generated once under DATA_DIR), base64url, 128 bits. Raw user ids never reach the event store:
 * rows of one user can be grouped and counted, but not be joined back to a cookie or a bid
 * request without the secret. A fleet must share the secret, or one user gets one key per instance.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Settings } from '../config/settings.js';

export class UserKeyer {
  constructor(private readonly secret: string) {}

  /** The key of our user id (the id as in the cookie, without `uid:`). */
  key(userId: string): string {
    return createHmac('sha256', this.secret).update(userId).digest('base64url').slice(0, 22);
  }
}

export async function loadUserKeyer(settings: Pick<Settings, 'dataDir' | 'userKeySecret'>): Promise<UserKeyer> {
  if (settings.userKeySecret) return new UserKeyer(settings.userKeySecret);
  const file = join(settings.dataDir, 'user-key.secret');
  let secret: string;
  try {
    secret = (await readFile(file, 'utf8')).trim();
  } catch {
    secret = randomBytes(32).toString('hex');
    await mkdir(settings.dataDir, { recursive: true });
    await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' }).catch(async () => {
      secret = (await readFile(file, 'utf8')).trim(); // another process won the race
    });
  }
  return new UserKeyer(secret);
}
