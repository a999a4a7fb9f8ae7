/**
 * The user key of an event row: HMAC-SHA256 of our user id under a secret (USER_KEY_SECRET, or one
 * generated once under DATA_DIR), base64url, 128 bits. Raw user ids never reach the event store:
 * rows of one user can be grouped and counted, but not be joined back to a cookie or a bid
 * request without the secret. A fleet must share the secret, or one user gets one key per instance.
 */
import { createHmac } from 'node:crypto';
import { localSecret } from './local-secret.js';
import type { Settings } from '../settings/settings.js';

export class UserKeyer {
  constructor(private readonly secret: string) {}

  /** The key of our user id (the id as in the cookie, without `uid:`). */
  key(userId: string): string {
    return createHmac('sha256', this.secret).update(userId).digest('base64url').slice(0, 22);
  }
}

export async function loadUserKeyer(settings: Pick<Settings, 'dataDir' | 'userKeySecret'>): Promise<UserKeyer> {
  if (settings.userKeySecret) return new UserKeyer(settings.userKeySecret);
  const secret = await localSecret(settings.dataDir, 'user-key.secret');
  return new UserKeyer(secret);
}
