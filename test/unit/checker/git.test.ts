/**
 * The `git` check on real repositories: the starter is built by the real
 * buildStarterRepo, then the "candidate" works in it with the real git.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitCheck } from '../../../server/checker/checks/git.js';
import { runGit } from '../../../server/checker/git-safe.js';
import type { CheckContext, CheckResult } from '../../../server/checker/types.js';
import { buildStarterRepo, type StarterRepo } from '../../../server/sessions/starter.js';

describe('git check: schema', () => {
  const parse = (expectation: unknown) => gitCheck.schema.safeParse({ type: 'git', expect: expectation });

  it('accepts the documented fields', () => {
    expect(
      parse({
        commitsSinceStart: { gte: 1, lte: 5 },
        clean: true,
        branch: 'main',
        messages: { matches: '(?i)^feat', minLength: 5 },
        filesChanged: { mustInclude: ['k8s/*.yaml'], mustNotInclude: ['tests/'] },
      }).success,
    ).toBe(true);
  });

  it.each([
    [{}],
    [{ commits: 1 }],
    [{ clean: false }],
    [{ commitsSinceStart: {} }],
    [{ commitsSinceStart: { eq: 1, gte: 1 } }],
    [{ commitsSinceStart: { gte: 3, lte: 1 } }],
    [{ commitsSinceStart: { gte: -1 } }],
    [{ branch: 'refs/heads/main' }],
    [{ branch: 'has space' }],
    [{ messages: {} }],
    [{ messages: { matches: '(' } }],
    [{ filesChanged: {} }],
    [{ filesChanged: { mustInclude: ['../x'] } }],
  ])('rejects %j', (expectation) => {
    expect(parse(expectation).success).toBe(false);
  });

  it('rejects fields outside expect', () => {
    expect(gitCheck.schema.safeParse({ type: 'git', expect: { clean: true }, extra: 1 }).success).toBe(false);
  });
});

let root: string;
let starter: StarterRepo;
let ws: string;

describe('on real repositories', () => {
  beforeEach(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'opslab-git-check-'));
    const src = path.join(root, 'starter');
    mkdirSync(path.join(src, 'k8s'), { recursive: true });
    writeFileSync(path.join(src, 'README.md'), '# Lab\n');
    writeFileSync(path.join(src, 'k8s', 'deployment.yaml'), 'kind: Deployment\n');
    writeFileSync(path.join(src, '.gitignore'), '*.log\n');
    starter = await buildStarterRepo({ starterDir: src, candidateName: 'Ada', tmpRoot: root });
    ws = starter.dir;
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** The candidate's git: their own shell, nothing of the host's config. */
  function git(...args: string[]): string {
    return execFileSync('git', args, {
      cwd: ws,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: root,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  function write(rel: string, content: string): void {
    const p = path.join(ws, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }

  function commit(message: string, files: Record<string, string> = {}): void {
    for (const [rel, content] of Object.entries(files)) write(rel, content);
    git('add', '--all');
    git('commit', '-q', '--allow-empty', '-m', message);
  }

  function ctx(startRef = starter.commit): CheckContext {
    return {
      snapshot: () => Promise.resolve({ dir: ws, skipped: [] }),
      execGrader: () => Promise.reject(new Error('no grader in unit tests')),
      labDir: root,
      startRef,
      signal: new AbortController().signal,
      logger: pino({ level: 'silent' }),
    };
  }

  async function check(expectation: Record<string, unknown>, startRef?: string): Promise<CheckResult> {
    const spec = gitCheck.schema.parse({ type: 'git', expect: expectation });
    return gitCheck.run(spec, ctx(startRef));
  }

  function message(r: CheckResult): string {
    return r.status === 'failed' ? r.message : r.status === 'error' ? `error ${r.code}: ${r.message}` : '';
  }

  describe('git check: commits since the start', () => {
    it('counts nothing in the untouched starter', async () => {
      expect(message(await check({ commitsSinceStart: { gte: 1 } }))).toBe('there are 0 commits since the start; expected at least 1');
      expect((await check({ commitsSinceStart: { eq: 0 } })).status).toBe('passed');
    });

    it('counts the candidate commits with gte / lte / eq', async () => {
      commit('feat: first', { 'a.txt': '1' });
      commit('feat: second', { 'b.txt': '2' });
      expect((await check({ commitsSinceStart: { gte: 1 } })).status).toBe('passed');
      expect((await check({ commitsSinceStart: { eq: 2 } })).status).toBe('passed');
      expect((await check({ commitsSinceStart: { gte: 1, lte: 2 } })).status).toBe('passed');
      expect(message(await check({ commitsSinceStart: { lte: 1 } }))).toBe('there are 2 commits since the start; expected at most 1');
    });

    it('uses the recorded start commit, not the tag the candidate can move', async () => {
      commit('one', { 'a.txt': '1' });
      commit('two', { 'b.txt': '2' });
      git('tag', '-f', 'opslab-start', 'HEAD');
      const r = await check({ commitsSinceStart: { eq: 2 } });
      expect(r.status).toBe('passed');
      git('tag', '-d', 'opslab-start');
      expect((await check({ commitsSinceStart: { eq: 2 } })).status).toBe('passed');
    });
  });

  describe('git check: the history must build on the start', () => {
    it('fails when the history was rewritten (start no longer an ancestor)', async () => {
      commit('feat: a', { 'a.txt': '1' });
      // Rewrite the start commit itself: everything now hangs off a different root.
      git('rebase', '-q', '--root', '--exec', 'git commit -q --amend --allow-empty -m rewritten');
      const r = await check({ commitsSinceStart: { gte: 1 } });
      expect(r.status).toBe('failed');
      expect(message(r)).toContain('does not descend from the commit the exercise started from');
    });

    it('fails when the start commit is gone (repository re-created), even with a fake tag', async () => {
      rmSync(path.join(ws, '.git'), { recursive: true, force: true });
      git('init', '-q', '-b', 'main');
      git('config', 'user.name', 'Ada');
      git('config', 'user.email', 'ada@example.com');
      commit('Start of the exercise');
      git('tag', 'opslab-start');
      commit('feat: work', { 'a.txt': '1' });
      const r = await check({ commitsSinceStart: { gte: 1 } });
      expect(message(r)).toContain(`(${starter.commit.slice(0, 7)}) is no longer in the repository`);
    });

    it('ignores replace refs and grafts that fake ancestry', async () => {
      // An orphan branch: history unrelated to the start...
      git('checkout', '-q', '--orphan', 'fake');
      commit('unrelated', { 'a.txt': 'x' });
      git('branch', '-q', '-M', 'main');
      // ...dressed up to look like it descends from the start.
      const head = git('rev-parse', 'HEAD').trim();
      git('replace', '--graft', head, starter.commit);
      expect(git('merge-base', '--is-ancestor', starter.commit, 'HEAD')).toBe(''); // plain git is fooled
      writeFileSync(path.join(ws, '.git', 'info', 'grafts'), `${head} ${starter.commit}\n`);
      const r = await check({ commitsSinceStart: { gte: 1 } });
      expect(message(r)).toContain('does not descend from the commit the exercise started from');
    });

    it('an unrecorded start (the tag name instead of a hash) is an error for staff, not a verdict', async () => {
      const r = await check({ commitsSinceStart: { gte: 0 } }, 'opslab-start');
      expect(r.status).toBe('error');
      expect(r.status === 'error' && r.code).toBe('START_UNKNOWN');
    });
  });

  describe('git check: clean', () => {
    it('passes on a committed tree, fails on modified, staged, untracked and deleted files', async () => {
      expect((await check({ clean: true })).status).toBe('passed');

      write('README.md', '# changed\n');
      expect(message(await check({ clean: true }))).toContain('changed but not committed: README.md');
      git('add', 'README.md');
      const staged = message(await check({ clean: true }));
      expect(staged).toContain('staged but not committed: README.md');
      git('commit', '-q', '-m', 'docs');
      expect((await check({ clean: true })).status).toBe('passed');

      write('new.txt', 'x');
      expect(message(await check({ clean: true }))).toContain('untracked: new.txt');
      rmSync(path.join(ws, 'new.txt'));

      rmSync(path.join(ws, 'k8s', 'deployment.yaml'));
      expect(message(await check({ clean: true }))).toContain('k8s/deployment.yaml (deleted)');
    });

    it('ignored files do not count', async () => {
      write('debug.log', 'noise');
      expect((await check({ clean: true })).status).toBe('passed');
    });

    it('assume-unchanged and skip-worktree bits cannot hide a change', async () => {
      write('README.md', '# sneaky\n');
      git('update-index', '--assume-unchanged', 'README.md');
      write('k8s/deployment.yaml', 'kind: Sneaky\n');
      git('update-index', '--skip-worktree', 'k8s/deployment.yaml');
      expect(git('status', '--porcelain')).toBe(''); // plain git is fooled
      const r = message(await check({ clean: true }));
      expect(r).toContain('README.md');
      expect(r).toContain('k8s/deployment.yaml');
    });
  });

  describe('git check: branch', () => {
    it('checks the current branch and refuses a detached HEAD', async () => {
      expect((await check({ branch: 'main' })).status).toBe('passed');
      git('switch', '-q', '-c', 'feature');
      expect(message(await check({ branch: 'main' }))).toBe('HEAD is on the branch feature; the work is expected on main');
      expect((await check({ branch: 'feature' })).status).toBe('passed');
      git('switch', '-q', '--detach', 'HEAD');
      expect(message(await check({ branch: 'feature' }))).toContain('HEAD is detached');
      expect(message(await check({ clean: true }))).toContain('HEAD is detached');
    });

    it('an orphan branch with no commits fails clearly', async () => {
      git('checkout', '-q', '--orphan', 'empty');
      expect(message(await check({ clean: true }))).toBe('the branch empty has no commits');
    });
  });

  describe('git check: messages', () => {
    const conventional = '^(feat|fix|docs|chore)(\\(.+\\))?: .+';

    it('every non-merge commit must match', async () => {
      commit('feat: add canary', { 'a.txt': '1' });
      commit('fix(k8s): weight', { 'b.txt': '2' });
      expect((await check({ messages: { matches: conventional } })).status).toBe('passed');
      commit('stuff', { 'c.txt': '3' });
      const r = message(await check({ messages: { matches: conventional } }));
      expect(r).toMatch(/^commit messages that do not match \/.+\/: [0-9a-f]{7} "stuff"$/);
    });

    it('merge commits are not judged', async () => {
      git('switch', '-q', '-c', 'topic');
      commit('feat: on topic', { 't.txt': '1' });
      git('switch', '-q', 'main');
      commit('feat: on main', { 'm.txt': '1' });
      git('merge', '-q', '--no-edit', 'topic');
      expect((await check({ messages: { matches: conventional } })).status).toBe('passed');
    });

    it('notMatches with (?i), minLength, and empty messages', async () => {
      commit('WIP trying things', { 'a.txt': '1' });
      expect(message(await check({ messages: { notMatches: '(?i)^wip' } }))).toContain('commit messages that match /^wip/i');
      expect(message(await check({ messages: { minLength: 30 } }))).toContain('a subject line shorter than 30 characters');
      git('commit', '-q', '--allow-empty', '--allow-empty-message', '-m', '');
      expect(message(await check({ messages: { minLength: 1 } }))).toMatch(/commits with an empty message: [0-9a-f]{7} ""/);
    });

    it('needs at least one commit to judge', async () => {
      expect(message(await check({ messages: { minLength: 1 } }))).toBe('there are no commits since the start whose messages could be checked');
    });
  });

  describe('git check: files changed', () => {
    it('mustInclude / mustNotInclude with globs, over the net change since the start', async () => {
      commit('feat: rollout', { 'k8s/rollout.yaml': 'kind: Rollout\n', 'notes/tmp.txt': 'x' });
      commit('chore: oops', { 'tests/test_model.py': 'assert True\n' });
      commit('chore: revert', {});
      rmSync(path.join(ws, 'notes'), { recursive: true });
      commit('chore: drop notes');

      expect((await check({ filesChanged: { mustInclude: ['k8s/*.yaml'] } })).status).toBe('passed');
      expect(message(await check({ filesChanged: { mustInclude: ['k8s/*.yaml', 'serve/app.py'] } }))).toBe(
        'your commits do not change serve/app.py',
      );
      expect(message(await check({ filesChanged: { mustNotInclude: ['tests/'] } }))).toBe(
        'your commits change files that must stay as they were: tests/test_model.py',
      );
      // Added and then removed: no net change.
      expect((await check({ filesChanged: { mustNotInclude: ['notes/'] } })).status).toBe('passed');
    });

    it('uncommitted changes do not count', async () => {
      write('serve/app.py', 'x');
      expect(message(await check({ filesChanged: { mustInclude: ['serve/app.py'] } }))).toBe('your commits do not change serve/app.py');
    });
  });

  describe('git check: not a repository', () => {
    it('fails when .git is gone', async () => {
      rmSync(path.join(ws, '.git'), { recursive: true, force: true });
      expect(message(await check({ clean: true }))).toBe('this is not a git repository any more (there is no .git folder)');
    });

    it('refuses a .git file pointing elsewhere, and borrowed objects', async () => {
      const elsewhere = path.join(root, 'elsewhere.git');
      execFileSync('git', ['clone', '-q', '--bare', ws, elsewhere]);
      const alternates = path.join(ws, '.git', 'objects', 'info', 'alternates');
      mkdirSync(path.dirname(alternates), { recursive: true });
      writeFileSync(alternates, `${path.join(elsewhere, 'objects')}\n`);
      expect(message(await check({ clean: true }))).toContain('borrows objects from elsewhere');

      rmSync(path.join(ws, '.git'), { recursive: true, force: true });
      writeFileSync(path.join(ws, '.git'), `gitdir: ${elsewhere}\n`);
      expect(message(await check({ clean: true }))).toContain('.git is a file, not a folder');
    });
  });

  describe('runGit', () => {
    it('runs a read-only command and caps the output', async () => {
      commit('feat: big', { 'big.txt': 'x'.repeat(100_000) });
      const log = await runGit(ws, ['log', '--format=%s']);
      expect(log.code).toBe(0);
      expect(log.stdout).toContain('feat: big');
      const capped = await runGit(ws, ['show', '--no-ext-diff', '--no-textconv', 'HEAD'], { maxOutputBytes: 1000 });
      expect(capped.truncated).toBe(true);
      expect(capped.stdout.length).toBeLessThanOrEqual(1000);
    });

    it('kills git at the timeout', async () => {
      // A git command that never ends on its own: the credential cache daemon listening
      // on a socket in a private temp folder.
      const sockets = path.join(root, 'sockets');
      mkdirSync(sockets, { mode: 0o700 });
      const started = Date.now();
      const r = await runGit(ws, ['credential-cache--daemon', path.join(sockets, 's')], { timeoutMs: 300 });
      expect(r.timedOut).toBe(true);
      expect(r.code).toBe(124);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('rejects when aborted', async () => {
      const abort = new AbortController();
      abort.abort(new Error('stop'));
      await expect(runGit(ws, ['status'], { signal: abort.signal })).rejects.toThrow('stop');
      const late = new AbortController();
      const running = runGit(ws, ['log'], { signal: late.signal });
      late.abort(new Error('late stop'));
      await expect(running).rejects.toThrow('late stop');
    });
  });
});
