/**
 * Builds the candidate's starting repository on the host: the lab's starter files,
 * committed once and tagged `opslab-start`, so the checker can later count and diff the
 * candidate's own commits. Git runs with system and global config ignored, in a fresh
 * repository with no hooks: nothing from this host or the lab can run here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import type { SandboxDriver, SandboxRef } from '../sandbox/driver.js';

export const START_TAG = 'opslab-start';

export interface StarterRepo {
  dir: string;
  commit: string;
  dispose(): Promise<void>;
}

export async function buildStarterRepo(options: {
  starterDir: string | null;
  candidateName: string;
  tmpRoot?: string;
}): Promise<StarterRepo> {
  const dir = await fs.promises.mkdtemp(path.join(options.tmpRoot ?? os.tmpdir(), 'opslab-starter-'));
  const dispose = () => fs.promises.rm(dir, { recursive: true, force: true });
  try {
    if (options.starterDir) {
      // verbatimSymlinks: a link in the starter stays a link; it is never followed on the host.
      // A `.git` folder in the starter is left out: the history (and any hooks) are ours to make.
      const src = options.starterDir;
      await fs.promises.cp(src, dir, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (from) => path.relative(src, from).split(path.sep)[0] !== '.git',
      });
    }
    // HOME points at an empty directory so no global git config applies.
    const git = simpleGit({ baseDir: dir }).env({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: path.join(dir, '.git'),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'opslab',
      GIT_AUTHOR_EMAIL: 'opslab@localhost',
      GIT_COMMITTER_NAME: 'opslab',
      GIT_COMMITTER_EMAIL: 'opslab@localhost',
    });
    await git.init(['--initial-branch=main']);
    // The candidate commits under their own name without having to configure git first.
    await git.addConfig('user.name', options.candidateName || 'Candidate');
    await git.addConfig('user.email', 'candidate@opslab.local');
    await git.raw(['add', '--all']);
    // A fresh repository has no hooks (only *.sample files), so none can run here.
    await git.raw(['commit', '--allow-empty', '--no-gpg-sign', '-q', '-m', 'Start of the exercise']);
    await git.raw(['tag', START_TAG]);
    const commit = (await git.revparse(['HEAD'])).trim();
    return { dir, commit, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * Where the candidate's own work begins: the repository as they first see it, after the
 * setup steps, which may commit (a lab that stages a release history for an incident).
 * When setup moved HEAD, the `opslab-start` tag follows it, and the report counts and
 * diffs the candidate's commits from there. Returns the start commit (`built` when setup
 * left the history alone or HEAD cannot be read).
 */
export async function startAfterSetup(driver: SandboxDriver, ref: SandboxRef, built: string): Promise<string> {
  const head = await driver.exec(ref, ['git', 'rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { timeoutMs: 10_000 });
  const commit = head.stdout.trim();
  if (head.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(commit) || commit === built) return built;
  await driver.exec(ref, ['git', 'tag', '--force', START_TAG, commit], { timeoutMs: 10_000 });
  return commit;
}
