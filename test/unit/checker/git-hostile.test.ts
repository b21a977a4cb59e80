/**
 * A candidate who arms their repository: every config key that makes git run a program
 * points at a script that writes a marker file, config is included from outside the
 * workspace, the work tree is moved, ignore rules and stat tricks try to hide changes,
 * and the server's own environment carries GIT_* variables and a PATH into the workspace.
 *
 * A control run of plain git proves the traps are live; then every git check runs and
 * the marker must never appear, the results must still be right, and nothing in the
 * snapshot may change.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gitCheck } from '../../../server/checker/checks/git.js';
import { runGit } from '../../../server/checker/git-safe.js';
import type { CheckContext, CheckResult } from '../../../server/checker/types.js';
import { buildStarterRepo, type StarterRepo } from '../../../server/sessions/starter.js';

let root: string;
let starter: StarterRepo;
let ws: string;
let marker: string;

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: ws,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  });
}

/** A script that records it ran (and passes stdin through, so filters "work"). */
function trap(name: string): string {
  const p = path.join(root, 'traps', name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, `#!/bin/sh\necho "${name} $*" >> '${marker}'\nexec cat\n`);
  chmodSync(p, 0o755);
  return p;
}

/** Every file under `dir` (links as links) with its content: to prove nothing changed. */
function digest(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      h.update(`${path.relative(dir, p)}\0`);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

function ctx(): CheckContext {
  return {
    snapshot: () => Promise.resolve({ dir: ws, skipped: [] }),
    execGrader: () => Promise.reject(new Error('no grader in unit tests')),
    labDir: root,
    startRef: starter.commit,
    signal: new AbortController().signal,
    logger: pino({ level: 'silent' }),
  };
}

async function check(expectation: Record<string, unknown>): Promise<CheckResult> {
  return gitCheck.run(gitCheck.schema.parse({ type: 'git', expect: expectation }), ctx());
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'opslab-git-hostile-'));
  marker = path.join(root, 'PWNED');
  const src = path.join(root, 'starter');
  mkdirSync(src);
  writeFileSync(path.join(src, 'README.md'), '# Lab\n');
  starter = await buildStarterRepo({ starterDir: src, candidateName: 'Mallory', tmpRoot: root });
  ws = starter.dir;

  // The candidate's honest-looking work: two commits, attributes naming a filter and a diff driver.
  writeFileSync(path.join(ws, '.gitattributes'), '* filter=x diff=x\n');
  writeFileSync(path.join(ws, 'model.py'), 'print("v1")\n');
  git('add', '--all');
  git('commit', '-q', '-m', 'feat: model');
  writeFileSync(path.join(ws, 'model.py'), 'print("v2")\n');
  git('commit', '-q', '-am', 'feat: model v2');

  // Then the traps.
  const hooks = path.join(root, 'hooks');
  mkdirSync(hooks);
  for (const hook of ['pre-commit', 'post-checkout', 'post-index-change', 'reference-transaction', 'pre-auto-gc']) {
    const p = path.join(hooks, hook);
    writeFileSync(p, `#!/bin/sh\necho "hook ${hook}" >> '${marker}'\n`);
    chmodSync(p, 0o755);
  }
  const decoy = path.join(root, 'decoy-worktree');
  mkdirSync(decoy);
  writeFileSync(path.join(decoy, 'host-secret.txt'), 'secret');
  const outsideConfig = path.join(root, 'outside.config');
  writeFileSync(outsideConfig, `[core]\n\tfsmonitor = ${trap('include-fsmonitor')}\n[diff]\n\texternal = ${trap('include-diff-external')}\n`);
  const excludeAll = path.join(root, 'exclude-all');
  writeFileSync(excludeAll, '*\n');
  const attributes = path.join(root, 'attributes');
  writeFileSync(attributes, '* filter=y diff=y\n');

  const config: [string, string][] = [
    ['core.fsmonitor', trap('fsmonitor')],
    ['core.hooksPath', hooks],
    ['filter.x.clean', trap('filter-clean')],
    ['filter.x.smudge', trap('filter-smudge')],
    ['filter.x.process', trap('filter-process')],
    ['filter.x.required', 'true'],
    ['filter.y.clean', trap('filter-y-clean')],
    ['diff.x.textconv', trap('textconv')],
    ['diff.x.command', trap('diff-command')],
    ['diff.external', trap('diff-external')],
    ['core.pager', trap('pager')],
    ['pager.log', trap('pager-log')],
    ['pager.status', trap('pager-status')],
    ['core.editor', trap('editor')],
    ['core.sshCommand', trap('ssh')],
    ['core.gitProxy', trap('proxy')],
    ['core.askPass', trap('askpass')],
    ['credential.helper', `!${trap('credential')}`],
    ['gpg.program', trap('gpg')],
    ['log.showSignature', 'true'],
    ['uploadpack.packObjectsHook', trap('pack-objects-hook')],
    ['core.alternateRefsCommand', trap('alternate-refs')],
    ['include.path', outsideConfig],
    [`includeIf.gitdir:/.path`, outsideConfig],
    // Correctness traps: move the work tree, hide changes and untracked files.
    ['core.worktree', decoy],
    ['core.ignoreStat', 'true'],
    ['core.untrackedCache', 'true'],
    ['status.showUntrackedFiles', 'no'],
    ['core.excludesFile', excludeAll],
    ['core.attributesFile', attributes],
    ['alias.status', `!${trap('alias')}`],
  ];
  for (const [k, v] of config) git('config', k, v);
  for (const hook of ['pre-commit', 'post-checkout', 'post-index-change']) {
    const p = path.join(ws, '.git', 'hooks', hook);
    writeFileSync(p, `#!/bin/sh\necho "repo-hook ${hook}" >> '${marker}'\n`);
    chmodSync(p, 0o755);
  }
  writeFileSync(path.join(ws, '.git', 'info', 'attributes'), '* filter=x diff=x\n');

  // Uncommitted work the checks must still see: a change (hidden by ignoreStat) and an
  // untracked file (hidden by showUntrackedFiles=no and the outside exclude file).
  writeFileSync(path.join(ws, 'model.py'), 'print("v3, not committed")\n');
  writeFileSync(path.join(ws, 'scratch.ipynb'), '{}');
  // A fake git in the workspace, which a PATH entry into the workspace would pick.
  writeFileSync(path.join(ws, 'git'), `#!/bin/sh\necho "fake-git $*" >> '${marker}'\n`);
  chmodSync(path.join(ws, 'git'), 0o755);
});

afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(root, { recursive: true, force: true });
});

describe('a hostile repository', () => {
  it('control: plain git on it runs the traps', () => {
    // Without our precautions, `status` and `diff` execute the candidate's programs.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, GIT_CONFIG_NOSYSTEM: '1' };
    for (const args of [['status'], ['diff', 'HEAD~1']]) {
      try {
        execFileSync('git', args, { cwd: ws, env, stdio: 'ignore', timeout: 20_000 });
      } catch {
        // A trap may also make git fail; what matters is that it ran.
      }
    }
    expect(existsSync(marker)).toBe(true);
    const ran = readFileSync(marker, 'utf8');
    expect(ran).toMatch(/fsmonitor|filter|diff-external|textconv/);
    rmSync(marker);
  });

  it('runs every git check safely and still judges correctly', async () => {
    // The server's environment is not the candidate's, but must not leak into git either.
    vi.stubEnv('PATH', `.:${ws}:${process.env.PATH ?? '/usr/bin:/bin'}`);
    vi.stubEnv('GIT_CONFIG_PARAMETERS', `'core.fsmonitor'='${trap('env-config-parameters')}'`);
    vi.stubEnv('GIT_CONFIG_COUNT', '1');
    vi.stubEnv('GIT_CONFIG_KEY_0', 'core.pager');
    vi.stubEnv('GIT_CONFIG_VALUE_0', trap('env-config-count'));
    vi.stubEnv('GIT_EXTERNAL_DIFF', trap('env-external-diff'));
    vi.stubEnv('GIT_PAGER', trap('env-pager'));
    vi.stubEnv('GIT_DIR', path.join(root, 'nowhere'));
    vi.stubEnv('GIT_WORK_TREE', path.join(root, 'decoy-worktree'));
    const before = digest(ws);

    const counts = await check({ commitsSinceStart: { eq: 2 } });
    expect(counts.status).toBe('passed');
    expect((await check({ branch: 'main' })).status).toBe('passed');
    expect((await check({ messages: { matches: '^feat: ', minLength: 5 } })).status).toBe('passed');
    expect((await check({ filesChanged: { mustInclude: ['model.py', '.gitattributes'], mustNotInclude: ['README.md'] } })).status).toBe(
      'passed',
    );

    const clean = await check({ clean: true });
    expect(clean.status).toBe('failed');
    const msg = clean.status === 'failed' ? clean.message : '';
    expect(msg).toContain('changed but not committed: model.py');
    expect(msg).toContain('scratch.ipynb');
    expect(msg).not.toContain('host-secret');

    for (const args of [
      ['status', '--porcelain'],
      ['diff', 'HEAD~1', 'HEAD'],
      ['diff', 'HEAD'],
      ['log', '-p', '--stat'],
      ['show', 'HEAD'],
      ['log', '--show-signature', '-1'],
    ]) {
      const r = await runGit(ws, args);
      expect(r.code, `git ${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout).not.toContain('host-secret');
    }
    const diff = await runGit(ws, ['diff', 'HEAD~1', 'HEAD']);
    expect(diff.stdout).toContain('+print("v2")');

    expect(existsSync(marker) ? readFileSync(marker, 'utf8') : '').toBe('');
    expect(digest(ws)).toBe(before);
  });
});
