/**
 * Builds the candidate's starting repository on the host: the lab's starter files,
 * committed once and tagged `opslab-start`, so the checker can later count and diff the
 * candidate's own commits. Git runs with hooks and system/global config ignored: the
 * starter is lab content and git must not pick up anything from this host.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleGit } from 'simple-git';

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
      await fs.promises.cp(options.starterDir, dir, { recursive: true, verbatimSymlinks: true });
    }
    const git = simpleGit({ baseDir: dir }).env({
      ...process.env,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
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
    await git.raw(['-c', 'core.hooksPath=/dev/null', 'commit', '--allow-empty', '--no-gpg-sign', '-q', '-m', 'Start of the exercise']);
    await git.raw(['tag', START_TAG]);
    const commit = (await git.revparse(['HEAD'])).trim();
    return { dir, commit, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
