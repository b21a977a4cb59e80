/**
 * `file`: a file in the workspace exists (or does not), and its content matches (or does
 * not match) a regular expression.
 *
 *   - type: file
 *     path: serve/app.py          # relative to the workspace, or a glob such as "k8s/*.yaml"
 *     exists: true                # default; `false`: the path must not exist (no file may match the glob)
 *     matches: "(?i)mlflow\\.log_metric"   # a leading (?i) / (?m) / (?s) is accepted and translated
 *     notMatches: "password\\s*="
 *     flags: m                    # optional JS flags, any of i m s u
 *     maxBytes: 1048576           # read at most this much of a file (default 1 MiB); larger files fail
 *
 * With a glob, `exists` means at least one file matches, `matches` means at least one of
 * the matching files contains a match ("somewhere in these files"), and `notMatches`
 * means none of them does ("nowhere in these files"). Globs match files, not folders:
 * `*` and `?` stay within one folder, a whole-segment `**` matches any number of folders,
 * `[abc]` and `{yml,yaml}` work; a path with none of the characters `*?[]{}` is literal;
 * `.git` folders are never searched. A pattern is tested against the whole file, so `^`
 * is the start of the file unless the `m` flag is given.
 *
 * Trust: reads only from the snapshot, never through a symbolic link (every component is
 * lstat'ed, files are opened with O_NOFOLLOW); a link is reported as a link.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type CheckResult, type CheckType, clip, fail, pass } from '../types.js';

// ---------------------------------------------------------------------------------------
// Shared helpers (also used by the git check): workspace paths, globs, patterns.
// ---------------------------------------------------------------------------------------

const GLOB_CHARS = /[*?[\]{}]/;

export function isGlob(p: string): boolean {
  return GLOB_CHARS.test(p);
}

/**
 * Why `p` is not an acceptable workspace path, or null. Paths are POSIX, relative to the
 * workspace, with no `..`, `.` or empty segments; `trailingSlash` allows `dir/` (= all
 * files under it, for patterns of changed paths).
 */
export function workspacePathIssue(p: string, options: { trailingSlash?: boolean } = {}): string | null {
  if (p.length === 0) return 'must not be empty';
  if (p.includes('\0')) return 'must not contain NUL';
  if (p.includes('\\')) return 'use / to separate folders (backslashes are not allowed)';
  if (p.startsWith('/')) return 'must be relative to the workspace (no leading /)';
  const body = options.trailingSlash && p.endsWith('/') ? p.slice(0, -1) : p;
  const segments = body.split('/');
  if (segments.some((s) => s === '..')) return 'must stay inside the workspace (no ..)';
  if (segments.some((s) => s === '' || s === '.')) return 'must not contain empty or "." segments';
  if (isGlob(p)) {
    try {
      globToRegExp(p);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }
  return null;
}

/** A zod string that is a workspace path (glob characters allowed). */
export function workspacePath(options: { trailingSlash?: boolean } = {}) {
  return z
    .string()
    .max(1024)
    .superRefine((p, ctx) => {
      const issue = workspacePathIssue(p, options);
      if (issue) ctx.addIssue({ code: 'custom', message: `path ${issue}` });
    });
}

/**
 * A glob as a RegExp over a POSIX relative path. `*` and `?` do not cross `/`; `**` as a
 * whole segment matches any number of folders; `[...]`/`[!...]` are character classes;
 * `{a,b}` is alternation (not nested). A trailing `/` matches everything under a folder.
 */
export function globToRegExp(glob: string): RegExp {
  const pattern = glob.endsWith('/') ? `${glob}**` : glob;
  return new RegExp(`^${globBody(pattern, false)}$`);
}

function globBody(glob: string, inBraces: boolean): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const segStart = i === 0 || glob[i - 1] === '/';
        const next = glob[i + 2];
        if (segStart && next === '/') {
          re += '(?:[^/]+/)*';
          i += 2;
          continue;
        }
        if (segStart && next === undefined) {
          re += '.*';
          i += 1;
          continue;
        }
        // `a**b`: other runs of asterisks are plain asterisks.
        while (glob[i + 1] === '*') i++;
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) throw new Error(`unclosed [ in "${glob}"`);
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body.length === 0) throw new Error(`empty [] in "${glob}"`);
      const escaped = body.replace(/[\\\]^[]/g, '\\$&');
      re += negate ? `[^/${escaped}]` : `(?!/)[${escaped}]`;
      i = close;
    } else if (c === '{') {
      if (inBraces) throw new Error(`nested { } in "${glob}"`);
      const close = glob.indexOf('}', i + 1);
      if (close < 0) throw new Error(`unclosed { in "${glob}"`);
      const alternatives = glob.slice(i + 1, close).split(',');
      re += `(?:${alternatives.map((a) => globBody(a, true)).join('|')})`;
      i = close;
    } else if (c === '}' || c === ']') {
      throw new Error(`unmatched ${c} in "${glob}"`);
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return re;
}

/** The folder a glob's matches must be under: its leading segments without glob characters. */
export function globBase(glob: string): string {
  const segments = glob.split('/');
  const base: string[] = [];
  for (const s of segments.slice(0, -1)) {
    if (isGlob(s)) break;
    base.push(s);
  }
  return base.join('/');
}

const ALLOWED_FLAGS = /^[imsu]*$/;
const INLINE_FLAGS = /^\(\?([a-z]+)\)/;

/**
 * Compiles an author's pattern. JS has no inline flags, so a leading `(?i)`, `(?m)`,
 * `(?s)` (or a combination like `(?is)`) is taken off and turned into flags, merged with
 * `flags`. `g` and `y` are refused: they make `test` stateful.
 */
export function compilePattern(source: string, flags = ''): RegExp {
  let body = source;
  let all = flags;
  const inline = INLINE_FLAGS.exec(source);
  if (inline) {
    const letters = inline[1]!;
    if (!/^[ims]+$/.test(letters)) throw new Error(`inline flags (?${letters}) are not supported; use (?i), (?m), (?s)`);
    all += letters;
    body = source.slice(inline[0].length);
  }
  if (!ALLOWED_FLAGS.test(all)) throw new Error(`flags must be some of i, m, s, u; got "${all}"`);
  return new RegExp(body, [...new Set(all)].join(''));
}

/** A regex as the candidate reads it: /source/flags. */
export function showPattern(re: RegExp): string {
  return `/${re.source}/${re.flags}`;
}

/** Adds an issue at `key` when the pattern there does not compile. */
export function checkPattern(ctx: z.RefinementCtx, key: string, source: string | undefined, flags: string | undefined): void {
  if (source === undefined) return;
  try {
    compilePattern(source, flags);
  } catch (e) {
    ctx.addIssue({ code: 'custom', path: [key], message: `not a valid regular expression: ${e instanceof Error ? e.message : String(e)}` });
  }
}

export function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

export function listSome(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

// ---------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------

const DEFAULT_MAX_BYTES = 1024 * 1024;
/** How many entries a glob may walk, and how many files it may match. */
const WALK_LIMIT = 20_000;
const MATCH_LIMIT = 1_000;

const fileSchema = z
  .strictObject({
    type: z.literal('file'),
    path: workspacePath(),
    exists: z.boolean().default(true),
    matches: z.string().min(1).max(4096).optional(),
    notMatches: z.string().min(1).max(4096).optional(),
    flags: z.string().regex(ALLOWED_FLAGS, 'flags must be some of i, m, s, u').optional(),
    maxBytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024)
      .default(DEFAULT_MAX_BYTES),
  })
  .superRefine((spec, ctx) => {
    checkPattern(ctx, 'matches', spec.matches, spec.flags);
    checkPattern(ctx, 'notMatches', spec.notMatches, spec.flags);
    if (!spec.exists && (spec.matches !== undefined || spec.notMatches !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['exists'], message: 'a file that must not exist cannot have matches/notMatches' });
    }
    if (spec.flags !== undefined && spec.matches === undefined && spec.notMatches === undefined) {
      ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags apply to matches/notMatches; give one of them' });
    }
  });

export type FileCheckSpec = z.output<typeof fileSchema>;

type EntryKind = 'file' | 'dir' | 'symlink' | 'other' | 'missing';

interface Entry {
  rel: string;
  kind: EntryKind;
  /** For a path under a symlinked folder: that folder. */
  linkedParent?: string;
}

const KIND_TEXT: Record<Exclude<EntryKind, 'missing'>, string> = {
  file: 'a file',
  dir: 'a folder',
  symlink: 'a symbolic link',
  other: 'a special file',
};

async function lstatKind(abs: string): Promise<EntryKind> {
  try {
    const st = await fsp.lstat(abs);
    return st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw e;
  }
}

/** What is at `rel`, looking at every component so no symlinked folder is passed through. */
async function inspect(root: string, rel: string): Promise<Entry> {
  const segments = rel.split('/');
  for (let i = 1; i < segments.length; i++) {
    const parent = segments.slice(0, i).join('/');
    const kind = await lstatKind(path.join(root, parent));
    if (kind === 'symlink') return { rel, kind: 'symlink', linkedParent: parent };
    if (kind !== 'dir') return { rel, kind: 'missing' };
  }
  return { rel, kind: await lstatKind(path.join(root, rel)) };
}

/** Files and links under the glob's base folder whose path matches it. Never enters links or `.git`. */
async function walkGlob(root: string, glob: string, signal: AbortSignal): Promise<{ entries: Entry[]; overflow: boolean }> {
  const re = globToRegExp(glob);
  const base = globBase(glob);
  const entries: Entry[] = [];
  if (base) {
    const b = await inspect(root, base);
    if (b.kind !== 'dir') return { entries, overflow: false };
  }
  let walked = 0;
  const walk = async (relDir: string): Promise<boolean> => {
    signal.throwIfAborted();
    const dirents = await fsp.readdir(path.join(root, relDir), { withFileTypes: true });
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of dirents) {
      if (++walked > WALK_LIMIT) return false;
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      if (d.isDirectory()) {
        if (d.name === '.git') continue;
        if (!(await walk(rel))) return false;
      } else if (re.test(rel)) {
        entries.push({ rel, kind: d.isSymbolicLink() ? 'symlink' : d.isFile() ? 'file' : 'other' });
        if (entries.length > MATCH_LIMIT) return false;
      }
    }
    return true;
  };
  const complete = await walk(base);
  return { entries, overflow: !complete };
}

type Content = { ok: true; text: string; size: number } | { ok: false; reason: string };

/** Reads a regular file without following a link, up to `maxBytes`. */
async function readContent(root: string, rel: string, maxBytes: number): Promise<Content> {
  const fh = await fsp.open(path.join(root, rel), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: `${rel} is not a regular file` };
    if (st.size > maxBytes) {
      return { ok: false, reason: `${rel} is too large to check (${st.size} bytes; the check reads at most ${maxBytes})` };
    }
    const buf = Buffer.alloc(maxBytes + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > maxBytes) return { ok: false, reason: `${rel} is too large to check (more than ${maxBytes} bytes)` };
    return { ok: true, text: buf.subarray(0, got).toString('utf8'), size: got };
  } finally {
    await fh.close();
  }
}

function describeLink(e: Entry): string {
  return e.linkedParent
    ? `${e.rel} is inside ${e.linkedParent}, which is a symbolic link (the checker does not follow links)`
    : `${e.rel} is a symbolic link (the checker does not follow links; put the file itself there)`;
}

async function runLiteral(spec: FileCheckSpec, root: string, patterns: Patterns): Promise<CheckResult> {
  const e = await inspect(root, spec.path);
  if (!spec.exists) {
    if (e.kind === 'missing') return pass(`${spec.path} does not exist`);
    const what = e.linkedParent ? `under the symbolic link ${e.linkedParent}` : `as ${KIND_TEXT[e.kind]}`;
    return fail(`${spec.path} exists (${what}) but should not`);
  }
  switch (e.kind) {
    case 'missing':
      return fail(`${spec.path} does not exist`);
    case 'symlink':
      return fail(describeLink(e));
    case 'other':
      return fail(`${spec.path} is not a regular file`);
    case 'dir':
      if (!patterns.any) return pass(`${spec.path} exists (a folder)`);
      return fail(`${spec.path} is a folder, not a file`);
    case 'file':
      break;
  }
  if (!patterns.any) return pass(`${spec.path} exists`);
  const content = await readContent(root, spec.path, spec.maxBytes);
  if (!content.ok) return fail(content.reason);
  const problems: string[] = [];
  const evidence: string[] = [`${spec.path}: ${content.size} bytes`];
  if (patterns.matches) {
    const m = patterns.matches.exec(content.text);
    if (!m) problems.push(`${spec.path} does not contain a match for ${showPattern(patterns.matches)}`);
    else evidence.push(`${showPattern(patterns.matches)} matches at line ${lineAt(content.text, m.index)}`);
  }
  if (patterns.notMatches) {
    const m = patterns.notMatches.exec(content.text);
    if (m) {
      problems.push(`${spec.path} contains a match for ${showPattern(patterns.notMatches)} (line ${lineAt(content.text, m.index)})`);
    } else evidence.push(`no match for ${showPattern(patterns.notMatches)}`);
  }
  return problems.length > 0 ? fail(problems.join('; '), clip(evidence.join('; '))) : pass(clip(evidence.join('; ')));
}

async function runGlob(spec: FileCheckSpec, root: string, patterns: Patterns, signal: AbortSignal): Promise<CheckResult> {
  const { entries, overflow } = await walkGlob(root, spec.path, signal);
  if (overflow) {
    return fail(`too many files to search for ${spec.path} (the check looks at most at ${WALK_LIMIT} entries and ${MATCH_LIMIT} matches)`);
  }
  const files = entries.filter((e) => e.kind === 'file').map((e) => e.rel);
  const links = entries.filter((e) => e.kind === 'symlink').map((e) => e.rel);
  if (!spec.exists) {
    if (entries.length === 0) return pass(`no file matches ${spec.path}`);
    return fail(`${listSome(entries.map((e) => e.rel))} should not exist (matching ${spec.path})`);
  }
  if (files.length === 0) {
    const note = links.length > 0 ? ` (${listSome(links)}: symbolic link${links.length > 1 ? 's' : ''}, which the checker does not follow)` : '';
    return fail(`no file matches ${spec.path}${note}`);
  }
  const found = `${files.length} file${files.length > 1 ? 's' : ''} match ${spec.path}: ${listSome(files, 20)}`;
  if (!patterns.any) return pass(clip(found));

  const problems: string[] = [];
  const evidence: string[] = [found];
  const tooLarge: string[] = [];
  let matchedIn: string | undefined;
  const offending: string[] = [];
  for (const rel of files) {
    signal.throwIfAborted();
    const content = await readContent(root, rel, spec.maxBytes);
    if (!content.ok) {
      tooLarge.push(content.reason);
      continue;
    }
    if (patterns.matches && matchedIn === undefined) {
      const m = patterns.matches.exec(content.text);
      if (m) matchedIn = `${rel} line ${lineAt(content.text, m.index)}`;
    }
    if (patterns.notMatches) {
      const m = patterns.notMatches.exec(content.text);
      if (m) offending.push(`${rel} (line ${lineAt(content.text, m.index)})`);
    }
  }
  if (patterns.matches) {
    if (matchedIn) evidence.push(`${showPattern(patterns.matches)} matches in ${matchedIn}`);
    else {
      const skipped = tooLarge.length > 0 ? ` (not read: ${listSome(tooLarge, 3)})` : '';
      problems.push(`no file matching ${spec.path} contains a match for ${showPattern(patterns.matches)}${skipped}`);
    }
  }
  if (patterns.notMatches) {
    if (offending.length > 0) problems.push(`${listSome(offending)} contain${offending.length > 1 ? '' : 's'} a match for ${showPattern(patterns.notMatches)}`);
    // A file too large to read cannot be shown to be free of the pattern.
    else if (tooLarge.length > 0) problems.push(listSome(tooLarge, 3));
    else evidence.push(`no match for ${showPattern(patterns.notMatches)}`);
  }
  return problems.length > 0 ? fail(problems.join('; '), clip(evidence.join('; '))) : pass(clip(evidence.join('; ')));
}

interface Patterns {
  matches?: RegExp;
  notMatches?: RegExp;
  any: boolean;
}

export const fileCheck: CheckType<FileCheckSpec> = {
  type: 'file',
  schema: fileSchema,
  async run(spec, ctx) {
    const patterns: Patterns = {
      ...(spec.matches !== undefined ? { matches: compilePattern(spec.matches, spec.flags) } : {}),
      ...(spec.notMatches !== undefined ? { notMatches: compilePattern(spec.notMatches, spec.flags) } : {}),
      any: spec.matches !== undefined || spec.notMatches !== undefined,
    };
    const { dir } = await ctx.snapshot();
    ctx.signal.throwIfAborted();
    return isGlob(spec.path) ? runGlob(spec, dir, patterns, ctx.signal) : runLiteral(spec, dir, patterns);
  },
};
