/**
 * `git`: the candidate's repository — commits since the start, their messages, the files
 * they change, the branch, a clean tree.
 *
 *   - type: git
 *     expect:
 *       commitsSinceStart: { gte: 1 }        # any of gte / lte, or eq alone
 *       clean: true                          # nothing modified, staged or untracked (ignored files are fine)
 *       branch: main                         # the branch HEAD is on
 *       messages:                            # every non-merge commit since the start
 *         matches: "^(feat|fix|chore)(\\(.+\\))?: "   # tested against the whole message; (?i) accepted
 *         notMatches: "(?i)^wip"
 *         flags: m
 *         minLength: 10                      # of the subject line, trimmed (1 = none is empty)
 *       filesChanged:                        # paths changed between the start and HEAD (globs; "dir/" = under dir)
 *         mustInclude: ["k8s/rollout.yaml"]  # each pattern must match a changed path
 *         mustNotInclude: ["tests/"]         # no changed path may match
 *
 * "Since the start" is `<start>..HEAD` where <start> is `ctx.startRef`, the commit hash the
 * platform recorded when it built the starter — never the `opslab-start` tag, which the
 * candidate can move or delete. The start commit must still exist and be an ancestor of
 * HEAD; otherwise the history was rewritten and the check fails saying so. HEAD must be
 * on a branch (a detached HEAD fails every git check) and have at least one commit.
 * `messages` needs at least one commit to judge. `filesChanged` looks at committed
 * changes only (the tree of the start against the tree of HEAD, renames as delete + add).
 *
 * Git runs through ./git-safe.ts: the candidate's .git/config, hooks and attributes
 * drivers are never used. `clean` compares the work tree with HEAD through a scratch
 * index of ours (so assume-unchanged / skip-worktree bits cannot hide changes) and the
 * candidate's index with HEAD (staged but uncommitted changes).
 */
import { z } from 'zod';
import { GitRepoError, type GitResult, openGitRepo, type SafeGitRepo, type SafeGitRunOptions } from '../git-safe.js';
import { type CheckType, checkError, clip, fail, pass } from '../types.js';
import { checkPattern, compilePattern, globToRegExp, listSome, showPattern, workspacePath } from './file.js';

const count = z.number().int().nonnegative().max(100_000);

const commitsSchema = z
  .strictObject({ gte: count.optional(), lte: count.optional(), eq: count.optional() })
  .superRefine((c, ctx) => {
    if (c.gte === undefined && c.lte === undefined && c.eq === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give gte, lte or eq' });
    }
    if (c.eq !== undefined && (c.gte !== undefined || c.lte !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['eq'], message: 'eq cannot be combined with gte/lte' });
    }
    if (c.gte !== undefined && c.lte !== undefined && c.gte > c.lte) {
      ctx.addIssue({ code: 'custom', path: ['lte'], message: 'lte must be at least gte' });
    }
  });

const messagesSchema = z
  .strictObject({
    matches: z.string().min(1).max(4096).optional(),
    notMatches: z.string().min(1).max(4096).optional(),
    flags: z.string().regex(/^[imsu]*$/, 'flags must be some of i, m, s, u').optional(),
    minLength: z.number().int().positive().max(1000).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.matches === undefined && m.notMatches === undefined && m.minLength === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give matches, notMatches or minLength' });
    }
    checkPattern(ctx, 'matches', m.matches, m.flags);
    checkPattern(ctx, 'notMatches', m.notMatches, m.flags);
  });

const changedPattern = workspacePath({ trailingSlash: true });
const filesChangedSchema = z
  .strictObject({
    mustInclude: z.array(changedPattern).min(1).max(100).optional(),
    mustNotInclude: z.array(changedPattern).min(1).max(100).optional(),
  })
  .refine((f) => f.mustInclude !== undefined || f.mustNotInclude !== undefined, 'give mustInclude or mustNotInclude');

const gitSchema = z.strictObject({
  type: z.literal('git'),
  expect: z
    .strictObject({
      commitsSinceStart: commitsSchema.optional(),
      clean: z.literal(true, { error: 'clean: true is the only expectation (leave it out to not check)' }).optional(),
      branch: z
        .string()
        .min(1)
        .max(255)
        .regex(/^[^\s~^:?*[\\]+$/, 'not a valid branch name')
        .refine((b) => !b.startsWith('refs/'), 'give the short branch name (main, not refs/heads/main)')
        .optional(),
      messages: messagesSchema.optional(),
      filesChanged: filesChangedSchema.optional(),
    })
    .refine((e) => Object.values(e).some((v) => v !== undefined), 'give at least one expectation'),
});

export type GitCheckSpec = z.output<typeof gitSchema>;

const SHA1 = /^[0-9a-f]{40}$/i;
const MAX_OUTPUT = 8 * 1024 * 1024;

/** Git did something the checker did not expect: the checker's problem, reported as `error`. */
class GitFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const short = (hash: string) => hash.slice(0, 7);

function firstLines(text: string, max = 300): string {
  const t = text.trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** Splits NUL-separated output, dropping the empty tail. */
function nulFields(out: string): string[] {
  const parts = out.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

interface Commit {
  hash: string;
  message: string;
  subject: string;
}

async function checkRepo(spec: GitCheckSpec, repo: SafeGitRepo, startRef: string, signal: AbortSignal, skipped: readonly string[]) {
  const git = async (args: string[], options: SafeGitRunOptions & { okCodes?: number[] } = {}): Promise<GitResult> => {
    const r = await repo.run(args, { signal, maxOutputBytes: MAX_OUTPUT, ...options });
    if (r.timedOut) throw new GitFailure('TIMEOUT', `git ${args[0]} did not finish in time`);
    if (r.truncated) throw new GitFailure('OUTPUT_TOO_LARGE', `git ${args[0]} printed more than ${MAX_OUTPUT} bytes`);
    if (!(options.okCodes ?? [0]).includes(r.code)) {
      throw new GitFailure('GIT_FAILED', `git ${args.join(' ')} exited with ${r.code}: ${firstLines(r.stderr)}`);
    }
    return r;
  };
  const expect = spec.expect;
  const problems: string[] = [];
  const evidence: string[] = [];

  // HEAD: on a branch, with a commit.
  const sym = await git(['symbolic-ref', '-q', 'HEAD'], { okCodes: [0, 1] });
  if (sym.code === 1) return fail('HEAD is detached (not on any branch): switch back to your branch, e.g. `git switch main`');
  const branch = sym.stdout.trim().replace(/^refs\/heads\//, '');
  const head = await git(['rev-parse', '-q', '--verify', 'HEAD^{commit}'], { okCodes: [0, 1, 128] });
  if (head.code !== 0) return fail(`the branch ${branch} has no commits`);
  const headHash = head.stdout.trim();
  evidence.push(`on ${branch} at ${short(headHash)}`);

  if (expect.branch !== undefined && branch !== expect.branch) {
    problems.push(`HEAD is on the branch ${branch}; the work is expected on ${expect.branch}`);
  }

  if (expect.commitsSinceStart || expect.messages || expect.filesChanged) {
    if (!SHA1.test(startRef)) {
      // The platform could not say which commit the exercise started from; trusting the
      // tag would let the candidate choose it. Staff decide.
      return checkError('START_UNKNOWN', `the start commit of this session is not recorded (got "${startRef}")`);
    }
    const start = startRef.toLowerCase();
    const exists = await git(['cat-file', '-e', `${start}^{commit}`], { okCodes: [0, 1, 128] });
    if (exists.code !== 0) {
      return fail(
        `the commit the exercise started from (${short(start)}) is no longer in the repository: the history was rewritten or the repository re-created. Build your commits on top of the starting commit`,
      );
    }
    const ancestor = await git(['merge-base', '--is-ancestor', start, 'HEAD'], { okCodes: [0, 1] });
    if (ancestor.code === 1) {
      return fail(
        `the branch ${branch} does not descend from the commit the exercise started from (${short(start)}): the history was rewritten. Build your commits on top of the starting commit`,
      );
    }
    const range = `${start}..HEAD`;

    if (expect.commitsSinceStart) {
      const n = Number((await git(['rev-list', '--count', range])).stdout.trim());
      const c = expect.commitsSinceStart;
      const plural = (k: number) => `${k} commit${k === 1 ? '' : 's'}`;
      evidence.push(`${plural(n)} since the start`);
      if (c.eq !== undefined && n !== c.eq) problems.push(`there are ${plural(n)} since the start; expected exactly ${c.eq}`);
      if (c.gte !== undefined && n < c.gte) problems.push(`there are ${plural(n)} since the start; expected at least ${c.gte}`);
      if (c.lte !== undefined && n > c.lte) problems.push(`there are ${plural(n)} since the start; expected at most ${c.lte}`);
    }

    if (expect.messages) {
      const m = expect.messages;
      const log = await git(['log', '-z', '--no-merges', '--no-show-signature', '--no-color', '--format=%H%n%B', range]);
      const commits: Commit[] = nulFields(log.stdout).map((record) => {
        const nl = record.indexOf('\n');
        const hash = nl < 0 ? record : record.slice(0, nl);
        const message = nl < 0 ? '' : record.slice(nl + 1).trimEnd();
        return { hash, message, subject: (message.split('\n')[0] ?? '').trim() };
      });
      const describe = (c: Commit) => `${short(c.hash)} "${c.subject.length > 60 ? `${c.subject.slice(0, 60)}…` : c.subject}"`;
      if (commits.length === 0) {
        problems.push('there are no commits since the start whose messages could be checked');
      } else {
        evidence.push(`messages: ${listSome(commits.map(describe))}`);
        if (m.matches !== undefined) {
          const re = compilePattern(m.matches, m.flags);
          const bad = commits.filter((c) => !re.test(c.message));
          if (bad.length > 0) problems.push(`commit messages that do not match ${showPattern(re)}: ${listSome(bad.map(describe))}`);
        }
        if (m.notMatches !== undefined) {
          const re = compilePattern(m.notMatches, m.flags);
          const bad = commits.filter((c) => re.test(c.message));
          if (bad.length > 0) problems.push(`commit messages that match ${showPattern(re)}: ${listSome(bad.map(describe))}`);
        }
        if (m.minLength !== undefined) {
          const min = m.minLength;
          const bad = commits.filter((c) => c.subject.length < min);
          if (bad.length > 0) {
            const what = min === 1 ? 'an empty message' : `a subject line shorter than ${min} characters`;
            problems.push(`commits with ${what}: ${listSome(bad.map(describe))}`);
          }
        }
      }
    }

    if (expect.filesChanged) {
      const f = expect.filesChanged;
      const diff = await git(['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', '--no-textconv', '--ignore-submodules=all', start, 'HEAD', '--']);
      const changed = nulFields(diff.stdout);
      evidence.push(changed.length > 0 ? `changed since the start: ${listSome(changed, 20)}` : 'no files changed since the start');
      const missing = (f.mustInclude ?? []).filter((p) => {
        const re = globToRegExp(p);
        return !changed.some((c) => re.test(c));
      });
      if (missing.length > 0) problems.push(`your commits do not change ${listSome(missing, 10)}`);
      const forbidden = (f.mustNotInclude ?? []).map(globToRegExp);
      const touched = changed.filter((c) => forbidden.some((re) => re.test(c)));
      if (touched.length > 0) problems.push(`your commits change files that must stay as they were: ${listSome(touched, 10)}`);
    }
  }

  if (expect.clean) {
    // Work tree against HEAD, through a scratch index filled from HEAD.
    await git(['read-tree', 'HEAD'], { index: 'scratch' });
    const status = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignore-submodules=all', '--no-renames'], {
      index: 'scratch',
    });
    const modified: string[] = [];
    const untracked: string[] = [];
    for (const entry of nulFields(status.stdout)) {
      const code = entry.slice(0, 2);
      const file = entry.slice(3);
      if (code === '??') untracked.push(file);
      else modified.push(code.includes('D') ? `${file} (deleted)` : file);
    }
    // The candidate's own index against HEAD: staged but not committed.
    const cached = await git(['diff', '--cached', '--name-only', '-z', '--no-renames', '--no-ext-diff', '--no-textconv', '--ignore-submodules=all', 'HEAD', '--']);
    const staged = nulFields(cached.stdout);
    const dirt: string[] = [];
    if (modified.length > 0) dirt.push(`changed but not committed: ${listSome(modified, 10)}`);
    if (staged.length > 0) dirt.push(`staged but not committed: ${listSome(staged, 10)}`);
    if (untracked.length > 0) dirt.push(`untracked: ${listSome(untracked, 10)}`);
    if (dirt.length > 0) {
      problems.push(`the work tree is not clean (${dirt.join('; ')}): commit your changes, or add files that should not be committed to .gitignore`);
      // For staff: a file the snapshot refused to copy shows up here as deleted.
      if (skipped.length > 0) evidence.push(`left out of the snapshot: ${listSome(skipped, 5)}`);
    } else evidence.push('the work tree is clean');
  }

  return problems.length > 0 ? fail(problems.join('; '), clip(evidence.join('; '))) : pass(clip(evidence.join('; ')));
}

export const gitCheck: CheckType<GitCheckSpec> = {
  type: 'git',
  schema: gitSchema,
  async run(spec, ctx) {
    const { dir, skipped } = await ctx.snapshot();
    ctx.signal.throwIfAborted();
    let repo: SafeGitRepo;
    try {
      repo = await openGitRepo(dir);
    } catch (e) {
      if (e instanceof GitRepoError) return fail(e.message);
      throw e;
    }
    try {
      return await checkRepo(spec, repo, ctx.startRef, ctx.signal, skipped);
    } catch (e) {
      if (e instanceof GitFailure) return checkError(e.code, e.message);
      throw e;
    } finally {
      await repo.dispose();
    }
  },
};
