/**
 * The notice signer from settings: keys from NOTICE_SIGNING_KEYS, or (embedded default) one key
 * generated on first start and kept under DATA_DIR, so notices issued before a restart still verify.
 * A fleet must share NOTICE_SIGNING_KEYS: any instance may receive any bid's notices.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Settings } from '../config/settings.js';
import { NoticeSigner, parseSigningKeys } from './notice-signer.js';

export async function loadSigner(settings: Pick<Settings, 'dataDir' | 'noticeSigningKeys'>): Promise<NoticeSigner> {
  if (settings.noticeSigningKeys) return new NoticeSigner(parseSigningKeys(settings.noticeSigningKeys));
  const file = join(settings.dataDir, 'notice-signing.key');
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
  return new NoticeSigner(parseSigningKeys(`local:${secret}`));
}
