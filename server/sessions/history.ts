/**
 * The candidate's commits and their diff, for the report: read from a snapshot of the
 * workspace (a live sandbox's, through the checker's safe snapshot, or the archive kept
 * when the session ended), with git run only through ../checker/git-safe.ts, so the
 * candidate's `.git/config`, hooks and attribute drivers are never used.
 *
 * "Since the start" means `<start>..HEAD` with the commit recorded when the starter was
 * built (never the `opslab-start` tag, which the candidate can move). If that commit is
 * gone or no longer an ancestor of HEAD, what can be shown is shown, with a `warning`.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GitRepoError, openGitRepo, type GitResult, type SafeGitRepo, type SafeGitRunOptions } from '../checker/git-safe.js';
import { takeSnapshot } from '../checker/snapshot.js';

export interface FileChange {
  path: string;
  /** Lines added; null for a binary file. */
  additions: number | null;
  /** Lines removed; null for a binary file. */
  deletions: number | null;
}

export interface CommitInfo {
  hash: string;
  subject: string;
  author: string;
  email: string;
  /** Author date, ISO 8601 (UTC). */
  date: string;
  /** Files the commit changed (renames as delete + add); empty for merges. */
  files: FileChange[];
}

export interface History {
  /** The start commit the range counts from (null when unknown or gone). */
  start: string | null;
  head: string | null;
  /** The branch HEAD is on; null when detached or there is no repository. */
  branch: string | null;
  /** Oldest first. */
  commits: CommitInfo[];
  /** More than `MAX_COMMITS` commits: only the newest are listed. */
  commitsTruncated: boolean;
  /** Files changed between the start and HEAD. */
  files: FileChange[];
  /** Unified diff from the start to HEAD, cut at `DIFF_MAX_BYTES` (at a line end). */
  diff: string;
  truncated: boolean;
  /** Why the answer is partial or empty (no repository, history rewritten, ...), for people. */
  warning: string | null;
}

export const MAX_COMMITS = 500;
export const DIFF_MAX_BYTES = 512 * 1024;
const LOG_MAX_BYTES = 8 * 1024 * 1024;
/** git's well-known empty tree: the base when the start commit is gone. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const SHA1 = /^[0-9a-f]{40}$/;

const empty = (warning: string, start: string | null = null): History => ({
  start,
  head: null,
  branch: null,
  commits: [],
  commitsTruncated: false,
  files: [],
  diff: '',
  truncated: false,
  warning,
});

/** Reads the history of the repository in `snapshotDir` (a snapshot: hostile data). */
export async function readHistory(snapshotDir: string, start: string | null, options: { signal?: AbortSignal } = {}): Promise<History> {
  let repo: SafeGitRepo;
  try {
    repo = await openGitRepo(snapshotDir);
  } catch (e) {
    if (e instanceof GitRepoError) return empty(e.message, start);
    throw e;
  }
  try {
    return await readRepo(repo, start, options.signal);
  } finally {
    await repo.dispose();
  }
}

async function readRepo(repo: SafeGitRepo, start: string | null, signal: AbortSignal | undefined): Promise<History> {
  const git = async (args: string[], o: SafeGitRunOptions & { okCodes?: number[] } = {}): Promise<GitResult> => {
    const r = await repo.run(args, { signal, maxOutputBytes: LOG_MAX_BYTES, ...o });
    if (r.timedOut) throw new Error(`git ${args[0]} did not finish in time`);
    if (!(o.okCodes ?? [0]).includes(r.code)) throw new Error(`git ${args[0]} exited with ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    return r;
  };

  const head = await git(['rev-parse', '-q', '--verify', 'HEAD^{commit}'], { okCodes: [0, 1, 128] });
  if (head.code !== 0) return empty('the repository has no commits', start);
  const headHash = head.stdout.trim();
  const sym = await git(['symbolic-ref', '-q', 'HEAD'], { okCodes: [0, 1] });
  const branch = sym.code === 0 ? sym.stdout.trim().replace(/^refs\/heads\//, '') : null;

  let base: string | null = null;
  let warning: string | null = null;
  if (start && SHA1.test(start)) {
    const exists = await git(['cat-file', '-e', `${start}^{commit}`], { okCodes: [0, 1, 128] });
    if (exists.code === 0) {
      base = start;
      const ancestor = await git(['merge-base', '--is-ancestor', start, 'HEAD'], { okCodes: [0, 1] });
      if (ancestor.code !== 0) warning = 'the history was rewritten: the start of the exercise is no longer an ancestor of HEAD';
    } else {
      warning = 'the start of the exercise is no longer in the repository (history rewritten); showing the whole history';
    }
  } else {
    warning = 'the start of the exercise is not known for this session; showing the whole history';
  }

  const log = await git([
    'log',
    '-z',
    '--no-color',
    '--no-renames',
    '--format=%x1e%H%x1f%aI%x1f%an%x1f%ae%x1f%s',
    '--numstat',
    `--max-count=${MAX_COMMITS + 1}`,
    base ? `${base}..HEAD` : 'HEAD',
    '--',
  ]);
  let commits = parseLog(log.stdout, log.truncated);
  const commitsTruncated = commits.length > MAX_COMMITS || log.truncated;
  commits = commits.slice(0, MAX_COMMITS).reverse();

  const from = base ?? EMPTY_TREE;
  const numstat = await git(['diff', '-z', '--numstat', '--no-renames', from, headHash, '--']);
  const diff = await git(['diff', '--no-color', '--no-ext-diff', '--no-textconv', from, headHash, '--'], {
    maxOutputBytes: DIFF_MAX_BYTES,
  });
  let text = diff.stdout;
  if (diff.truncated) {
    // Cut at the last whole line (also never inside a UTF-8 sequence).
    const end = text.lastIndexOf('\n');
    text = end >= 0 ? text.slice(0, end + 1) : '';
  }
  return {
    start: base,
    head: headHash,
    branch,
    commits,
    commitsTruncated,
    files: parseNumstat(numstat.stdout),
    diff: text,
    truncated: diff.truncated,
    warning,
  };
}

/**
 * `git log -z --numstat --format=%x1e<fields>` output: per commit, RS, the fields
 * separated by US and ended by NUL, then `adds\tdels\tpath` NUL-terminated. Fields the
 * candidate controls (name, email, subject) may hold separators: the name takes one
 * field, the subject the rest, and a record starts only at RS followed by a hash.
 */
export function parseLog(out: string, truncated = false): CommitInfo[] {
  // eslint-disable-next-line no-control-regex -- the separators git was asked to print
  const records = out.split(/\x1e(?=[0-9a-f]{40}\x1f)/).filter((r) => r.length > 0);
  if (truncated) records.pop(); // the last record may be cut short
  const commits: CommitInfo[] = [];
  for (const record of records) {
    const nul = record.indexOf('\0');
    const header = nul >= 0 ? record.slice(0, nul) : record;
    const [hash = '', date = '', author = '', email = '', ...subject] = header.split('\x1f');
    if (!SHA1.test(hash)) continue;
    commits.push({
      hash,
      date: isoUtc(date),
      author,
      email,
      subject: subject.join('\x1f'),
      files: nul >= 0 ? parseNumstat(record.slice(nul + 1)) : [],
    });
  }
  return commits;
}

/** `--numstat -z` (without renames): `adds\tdels\tpath\0` entries; `-` counts for binary files. */
export function parseNumstat(out: string): FileChange[] {
  const files: FileChange[] = [];
  for (const raw of out.split('\0')) {
    const entry = raw.replace(/^\n+/, '');
    if (!entry) continue;
    const m = /^(\d+|-)\t(\d+|-)\t([\s\S]+)$/.exec(entry);
    if (!m) continue;
    files.push({
      path: m[3] ?? '',
      additions: m[1] === '-' ? null : Number(m[1]),
      deletions: m[2] === '-' ? null : Number(m[2]),
    });
  }
  return files;
}

function isoUtc(date: string): string {
  const t = Date.parse(date);
  return Number.isNaN(t) ? date : new Date(t).toISOString();
}

/** The history of a workspace tar stream (a live sandbox's `driver.archive`). */
export async function historyOfTar(stream: NodeJS.ReadableStream, start: string | null, o: { signal?: AbortSignal; topFolder?: string | false } = {}): Promise<History> {
  const snapshot = await takeSnapshot(stream, { signal: o.signal, ...(o.topFolder === undefined ? {} : { topFolder: o.topFolder }) });
  try {
    return await readHistory(snapshot.dir, start, { signal: o.signal });
  } finally {
    await snapshot.dispose();
  }
}

/** The history of an archived workspace (`data/workspaces/<id>.tar.gz`, made by archive.ts). */
export function historyOfArchive(file: string, start: string | null, o: { signal?: AbortSignal } = {}): Promise<History> {
  // pipeline() passes a read or gunzip failure on to the stream the snapshot reads.
  const stream = pipeline(fs.createReadStream(file), createGunzip(), () => undefined);
  return historyOfTar(stream, start, { ...o, topFolder: false });
}
