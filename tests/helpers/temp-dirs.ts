/** Temporary directories a test file makes (config, DATA_DIR per process) and removes at the end. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class TempDirs {
  private readonly dirs: string[] = [];

  async make(name: string): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), `${name}-`));
    this.dirs.push(d);
    return d;
  }

  async removeAll(): Promise<void> {
    for (const d of this.dirs.splice(0)) await rm(d, { recursive: true, force: true });
  }
}
