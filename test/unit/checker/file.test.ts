/**
 * The `file` check over a real temp directory standing in for the workspace snapshot.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compilePattern, fileCheck, globToRegExp } from '../../../server/checker/checks/file.js';
import type { CheckContext, CheckResult } from '../../../server/checker/types.js';

let root: string;
let ws: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'opslab-file-check-'));
  ws = path.join(root, 'ws');
  mkdirSync(ws);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function ctx(dir = ws): CheckContext {
  return {
    snapshot: () => Promise.resolve({ dir, skipped: [] }),
    execGrader: () => Promise.reject(new Error('no grader in unit tests')),
    labDir: root,
    startRef: '0'.repeat(40),
    signal: new AbortController().signal,
    logger: pino({ level: 'silent' }),
  };
}

function put(rel: string, content: string | Buffer): void {
  const p = path.join(ws, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, content);
}

async function check(raw: Record<string, unknown>): Promise<CheckResult> {
  const spec = fileCheck.schema.parse({ type: 'file', ...raw });
  return fileCheck.run(spec, ctx());
}

function message(r: CheckResult): string {
  return r.status === 'failed' ? r.message : '';
}

describe('file check: exists', () => {
  it('passes when the file exists and fails with an actionable message when it does not', async () => {
    put('greeting.txt', 'Hello, world\n');
    expect((await check({ path: 'greeting.txt' })).status).toBe('passed');
    const r = await check({ path: 'missing.txt' });
    expect(r.status).toBe('failed');
    expect(message(r)).toBe('missing.txt does not exist');
  });

  it('exists: false passes when absent and fails when present', async () => {
    put('secrets.env', 'x');
    expect((await check({ path: 'nothing.env', exists: false })).status).toBe('passed');
    const r = await check({ path: 'secrets.env', exists: false });
    expect(r.status).toBe('failed');
    expect(message(r)).toContain('secrets.env exists');
  });

  it('a folder satisfies exists but not a content check', async () => {
    mkdirSync(path.join(ws, 'k8s'));
    expect((await check({ path: 'k8s' })).status).toBe('passed');
    const r = await check({ path: 'k8s', matches: 'x' });
    expect(message(r)).toBe('k8s is a folder, not a file');
  });

  it('a path through a file is missing, not an error', async () => {
    put('a', 'x');
    expect(message(await check({ path: 'a/b.txt' }))).toBe('a/b.txt does not exist');
  });
});

describe('file check: content', () => {
  beforeEach(() => put('greeting.txt', 'first line\nHello, World\nlast\n'));

  it('matches / notMatches', async () => {
    const ok = await check({ path: 'greeting.txt', matches: 'Hello', notMatches: 'password' });
    expect(ok.status).toBe('passed');
    expect(ok.status === 'passed' && ok.evidence).toContain('line 2');

    const miss = await check({ path: 'greeting.txt', matches: 'hello' });
    expect(message(miss)).toBe('greeting.txt does not contain a match for /hello/');

    const bad = await check({ path: 'greeting.txt', notMatches: 'World' });
    expect(message(bad)).toBe('greeting.txt contains a match for /World/ (line 2)');
  });

  it('translates a leading (?i) into the i flag, and accepts flags', async () => {
    expect((await check({ path: 'greeting.txt', matches: '(?i)hello' })).status).toBe('passed');
    expect((await check({ path: 'greeting.txt', matches: 'hello', flags: 'i' })).status).toBe('passed');
    const r = await check({ path: 'greeting.txt', matches: '(?i)goodbye' });
    expect(message(r)).toBe('greeting.txt does not contain a match for /goodbye/i');
    // ^ is the start of the file unless m is given.
    expect((await check({ path: 'greeting.txt', matches: '^Hello' })).status).toBe('failed');
    expect((await check({ path: 'greeting.txt', matches: '(?m)^Hello' })).status).toBe('passed');
    expect((await check({ path: 'greeting.txt', matches: '(?im)^hello' })).status).toBe('passed');
  });

  it('reports both problems at once', async () => {
    const r = await check({ path: 'greeting.txt', matches: 'nope', notMatches: 'first' });
    expect(message(r)).toContain('does not contain a match for /nope/');
    expect(message(r)).toContain('contains a match for /first/ (line 1)');
  });

  it('fails a file larger than maxBytes instead of judging part of it', async () => {
    put('big.log', 'a'.repeat(2000));
    const r = await check({ path: 'big.log', notMatches: 'secret', maxBytes: 1000 });
    expect(message(r)).toContain('big.log is too large to check (2000 bytes');
  });
});

describe('file check: symbolic links are never followed', () => {
  it('reports a link as a link, even when its target would match', async () => {
    put('real.txt', 'hello');
    symlinkSync('real.txt', path.join(ws, 'greeting.txt'));
    const r = await check({ path: 'greeting.txt', matches: 'hello' });
    expect(r.status).toBe('failed');
    expect(message(r)).toContain('greeting.txt is a symbolic link');
    // Existence alone is not enough either: a link is not the file.
    expect(message(await check({ path: 'greeting.txt' }))).toContain('symbolic link');
    expect(message(await check({ path: 'greeting.txt', exists: false }))).toContain('a symbolic link');
  });

  it('does not read outside the snapshot through a link', async () => {
    const outside = path.join(root, 'outside.txt');
    writeFileSync(outside, 'TOP SECRET');
    symlinkSync(outside, path.join(ws, 'leak.txt'));
    const r = await check({ path: 'leak.txt', matches: 'SECRET' });
    expect(r.status).toBe('failed');
    expect(JSON.stringify(r)).not.toContain('TOP SECRET');
  });

  it('does not pass through a symlinked folder', async () => {
    mkdirSync(path.join(root, 'elsewhere'));
    writeFileSync(path.join(root, 'elsewhere', 'app.py'), 'import mlflow');
    symlinkSync(path.join(root, 'elsewhere'), path.join(ws, 'src'));
    const r = await check({ path: 'src/app.py', matches: 'mlflow' });
    expect(message(r)).toContain('inside src, which is a symbolic link');
    const g = await check({ path: 'src/*.py' });
    expect(g.status).toBe('failed');
  });
});

describe('file check: globs', () => {
  beforeEach(() => {
    put('k8s/deployment.yaml', 'kind: Deployment\n');
    put('k8s/rollout.yaml', 'kind: Rollout\nsetWeight: 20\n');
    put('k8s/notes.md', 'password: hunter2\n');
    put('src/pkg/train.py', 'import mlflow\nmlflow.log_metric("auc", 0.9)\n');
    put('src/serve.py', 'print("hi")\n');
    put('.git/objects/secret.py', 'mlflow.log_metric');
  });

  it('exists means at least one file matches', async () => {
    const r = await check({ path: 'k8s/*.yaml' });
    expect(r.status).toBe('passed');
    expect(r.status === 'passed' && r.evidence).toContain('2 files match');
    expect(message(await check({ path: 'helm/*.yaml' }))).toBe('no file matches helm/*.yaml');
    expect((await check({ path: 'k8s/*.json', exists: false })).status).toBe('passed');
    expect(message(await check({ path: 'k8s/*.{yml,yaml}', exists: false }))).toContain('k8s/deployment.yaml');
  });

  it('matches is "somewhere", notMatches is "nowhere"', async () => {
    expect((await check({ path: 'k8s/*.yaml', matches: 'kind: Rollout' })).status).toBe('passed');
    expect(message(await check({ path: 'k8s/*.yaml', matches: 'kind: Service' }))).toBe(
      'no file matching k8s/*.yaml contains a match for /kind: Service/',
    );
    expect((await check({ path: 'k8s/*.yaml', notMatches: 'password' })).status).toBe('passed');
    expect(message(await check({ path: 'k8s/*', notMatches: 'password' }))).toBe('k8s/notes.md (line 1) contains a match for /password/');
  });

  it('** crosses folders; .git is never searched', async () => {
    expect((await check({ path: 'src/**/*.py', matches: 'log_metric' })).status).toBe('passed');
    const r = await check({ path: '**/secret.py' });
    expect(message(r)).toBe('no file matches **/secret.py');
  });

  it('a symlink matching a glob is named, not followed', async () => {
    const outside = path.join(root, 'x.yaml');
    writeFileSync(outside, 'kind: Secret');
    symlinkSync(outside, path.join(ws, 'k8s', 'secret.yaml'));
    const r = await check({ path: 'k8s/secret*.yaml' });
    expect(message(r)).toContain('k8s/secret.yaml: symbolic link');
    expect((await check({ path: 'k8s/*.yaml', matches: 'kind: Secret' })).status).toBe('failed');
  });
});

describe('file check: schema', () => {
  const parse = (raw: Record<string, unknown>) => fileCheck.schema.safeParse({ type: 'file', ...raw });

  it('accepts a minimal spec with defaults', () => {
    const r = parse({ path: 'a.txt' });
    expect(r.success && r.data).toEqual({ type: 'file', path: 'a.txt', exists: true, maxBytes: 1024 * 1024 });
  });

  it.each([
    ['../etc/passwd'],
    ['/etc/passwd'],
    ['a/../../b'],
    ['a//b'],
    ['./a'],
    ['a\\b'],
    [''],
    ['k8s/[.yaml'],
  ])('rejects the path %j', (p) => {
    expect(parse({ path: p }).success).toBe(false);
  });

  it('rejects unknown fields, bad patterns and contradictions', () => {
    expect(parse({ path: 'a', contains: 'x' }).success).toBe(false);
    expect(parse({ path: 'a', matches: '(' }).success).toBe(false);
    expect(parse({ path: 'a', matches: '(?x)a' }).success).toBe(false);
    expect(parse({ path: 'a', matches: 'a', flags: 'g' }).success).toBe(false);
    expect(parse({ path: 'a', exists: false, matches: 'a' }).success).toBe(false);
    expect(parse({ path: 'a', flags: 'i' }).success).toBe(false);
    expect(parse({ path: 'a', maxBytes: 0 }).success).toBe(false);
  });
});

describe('helpers', () => {
  it('globToRegExp', () => {
    const m = (g: string, p: string) => globToRegExp(g).test(p);
    expect(m('k8s/*.yaml', 'k8s/a.yaml')).toBe(true);
    expect(m('k8s/*.yaml', 'k8s/sub/a.yaml')).toBe(false);
    expect(m('**/*.py', 'a.py')).toBe(true);
    expect(m('**/*.py', 'a/b/c.py')).toBe(true);
    expect(m('src/**', 'src/a/b')).toBe(true);
    expect(m('tests/', 'tests/unit/x.py')).toBe(true);
    expect(m('tests/', 'tests')).toBe(false);
    expect(m('a?.txt', 'ab.txt')).toBe(true);
    expect(m('a?.txt', 'a/.txt')).toBe(false);
    expect(m('[!a]*.md', 'b.md')).toBe(true);
    expect(m('[!a]*.md', 'a.md')).toBe(false);
    expect(m('*.{yml,yaml}', 'x.yml')).toBe(true);
    expect(m('a.b', 'axb')).toBe(false);
    expect(m('(x)+', '(x)+')).toBe(true);
  });

  it('compilePattern', () => {
    expect(compilePattern('(?i)abc').flags).toBe('i');
    expect(compilePattern('(?is)abc', 'm').flags).toBe('ims');
    expect(compilePattern('abc', 'ii').flags).toBe('i');
    expect(() => compilePattern('abc', 'g')).toThrow();
  });
});
