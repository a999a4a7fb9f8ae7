/**
 * The notice signer from settings: keys from NOTICE_SIGNING_KEYS, or (embedded default) one key
 * generated on first start and kept under DATA_DIR, so notices issued before a restart still verify.
 * A fleet must share NOTICE_SIGNING_KEYS: any instance may receive any bid's notices.
 */
import { localSecret } from './local-secret.js';
import type { Settings } from '../settings/settings.js';
import { NoticeSigner, parseSigningKeys } from './notice-signer.js';

export async function loadSigner(settings: Pick<Settings, 'dataDir' | 'noticeSigningKeys'>): Promise<NoticeSigner> {
  if (settings.noticeSigningKeys) return new NoticeSigner(parseSigningKeys(settings.noticeSigningKeys));
  const secret = await localSecret(settings.dataDir, 'notice-signing.key');
  return new NoticeSigner(parseSigningKeys(`local:${secret}`));
}
