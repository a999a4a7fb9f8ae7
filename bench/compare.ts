/**
 * `--compare <git-rev>`: the other revision is checked out in a temporary git worktree (detached),
 * given this checkout's node_modules through a symlink, and built with this checkout's TypeScript
 * compiler; the worktree is removed at the end of the run.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Worktree {
  readonly dir: string;
  readonly rev: string;
  /** Short commit id the revision resolved to. */
  readonly commit: string;
  remove(): Promise<void>;
}

export async function gitInfo(repo: string): Promise<{ rev: string; dirty: boolean }> {
  try {
    const rev = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo })).stdout.trim();
    const status = (await run('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo })).stdout.trim();
    return { rev, dirty: status.length > 0 };
  } catch {
    return { rev: 'unknown', dirty: false };
  }
}

export async function checkoutWorktree(repo: string, rev: string, dir: string): Promise<Worktree> {
  const commit = (await run('git', ['rev-parse', '--short', '--verify', `${rev}^{commit}`], { cwd: repo })).stdout.trim();
  await run('git', ['worktree', 'add', '--detach', '--force', dir, commit], { cwd: repo });
  let removed = false;
  return {
    dir,
    rev,
    commit,
    async remove() {
      if (removed) return;
      removed = true;
      await run('git', ['worktree', 'remove', '--force', dir], { cwd: repo }).catch(() => undefined);
      await run('git', ['worktree', 'prune'], { cwd: repo }).catch(() => undefined);
    },
  };
}

/**
 * Links node_modules and compiles the worktree (tsconfig.build.json, or tsconfig.json in older
 * revisions). Type errors do not stop tsc from emitting: when dist/src/main.js comes out anyway, the
 * errors are returned as a warning (a revision may not type-check against today's node_modules).
 */
export async function buildWorktree(repo: string, wt: Worktree): Promise<string | undefined> {
  if (!existsSync(join(wt.dir, 'node_modules'))) await symlink(join(repo, 'node_modules'), join(wt.dir, 'node_modules'), 'dir');
  const project = existsSync(join(wt.dir, 'tsconfig.build.json')) ? 'tsconfig.build.json' : 'tsconfig.json';
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  let warning: string | undefined;
  try {
    await run(process.execPath, [tsc, '-p', project], { cwd: wt.dir, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stdout?: string; message: string };
    warning = `type errors building ${wt.rev} (${wt.commit}): ${(err.stdout || err.message).trim().split('\n').slice(0, 5).join(' | ')}`;
  }
  if (!existsSync(join(wt.dir, 'dist', 'src', 'main.js'))) throw new Error(`building ${wt.rev} (${wt.commit}) failed: ${warning ?? 'no dist/src/main.js'}`);
  return warning;
}
