/**
 * A secret kept under DATA_DIR for the embedded default: read if a previous start wrote it, else
 * generated (256 bits, hex) and written once (mode 0600, exclusive create, so two processes starting
 * together end up with the one that won the race). What settings name always wins; this is the fallback.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function localSecret(dataDir: string, fileName: string): Promise<string> {
  const file = join(dataDir, fileName);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const secret = randomBytes(32).toString('hex');
    await mkdir(dataDir, { recursive: true });
    try {
      await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' });
      return secret;
    } catch {
      return (await readFile(file, 'utf8')).trim(); // another process won the race
    }
  }
}
