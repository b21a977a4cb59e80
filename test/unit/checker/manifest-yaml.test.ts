/**
 * Bounded YAML parsing (server/checker/yaml-safe.ts) and the manifest check's handling of
 * hostile workspaces: YAML bombs, huge files, cycles, links and special files. The time
 * bounds are generous (CI machines are slow); the measured times are printed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseYamlDocuments, parseYamlDocumentsAsync, readYamlFile, type YamlParseResult } from '../../../server/checker/yaml-safe.js';
import { ROLLOUT, SERVICE, makeWorkspace, message, type Workspace } from './manifest-fixtures.js';

let w: Workspace;
beforeEach(() => {
  w = makeWorkspace();
});
afterEach(() => w.dispose());

function problem(r: YamlParseResult): string {
  return r.ok ? '' : `${r.problem.file}${r.problem.line ? `:${r.problem.line}` : ''}: ${r.problem.message}`;
}

async function timed<T>(label: string, fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  const ms = performance.now() - start;
  console.log(`${label}: ${ms.toFixed(1)} ms`);
  return { value, ms };
}

const ALIAS_BOMB = (() => {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) {
    const name = String.fromCharCode(97 + i);
    const prev = String.fromCharCode(96 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`; // 9^9 = 387 million strings once expanded
})();

describe('parseYamlDocuments', () => {
  it('parses multi-document streams, skipping empty and comment-only documents', () => {
    const r = parseYamlDocuments('# header\n---\na: 1\n---\n# nothing here\n---\n---\nb: [1, 2]\n...\n---\nnull\n', { file: 'm.yaml' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.documents.map((d) => [d.index, d.line, d.value])).toEqual([
      [0, 3, { a: 1 }],
      [3, 8, { b: [1, 2] }],
      [4, 11, null],
    ]);
    expect(r.documents[1]!.lineOf(['b', 1])).toBe(8);
  });

  it('an empty file and a comments-only file have no documents', () => {
    expect(parseYamlDocuments('', { file: 'e.yaml' })).toMatchObject({ ok: true, documents: [] });
    expect(parseYamlDocuments('# just a comment\n\n# another\n', { file: 'c.yaml' })).toMatchObject({ ok: true, documents: [] });
  });

  it('gives the line of a mapping key, not of the value below it', () => {
    const r = parseYamlDocuments('spec:\n  selector:\n    app: x\n  list:\n    - a\n    - b\n', { file: 'l.yaml' });
    if (!r.ok) throw new Error(problem(r));
    const doc = r.documents[0]!;
    expect([doc.lineOf(['spec', 'selector']), doc.lineOf(['spec', 'list', 1]), doc.lineOf(['spec', 'missing', 'deeper'])]).toEqual([2, 6, 1]);
  });

  it('merge keys work; duplicate keys, unresolved aliases and syntax errors are problems with a line', () => {
    const merged = parseYamlDocuments('base: &b { x: 1 }\nm:\n  <<: *b\n  y: 2\n', { file: 'k.yaml' });
    expect(merged.ok && merged.documents[0]!.value).toEqual({ base: { x: 1 }, m: { x: 1, y: 2 } });
    expect(problem(parseYamlDocuments('a: 1\nb: 2\na: 3\n', { file: 'k.yaml' }))).toBe('k.yaml:3: not valid YAML: the key "a" appears twice in one mapping');
    expect(problem(parseYamlDocuments('a: *nope\n', { file: 'k.yaml' }))).toMatch(/^k\.yaml:1: not valid YAML: .*nope/);
    expect(problem(parseYamlDocuments('a: [1, 2\nb: 3\n', { file: 'k.yaml' }))).toMatch(/^k\.yaml:\d: not valid YAML: /);
  });

  it('refuses a value that contains itself through an alias', () => {
    expect(problem(parseYamlDocuments('a: &x [1, *x]\n', { file: 'c.yaml' }))).toBe('c.yaml:1: contains itself through an alias (*name inside the node &name marks)');
    expect(problem(parseYamlDocuments('x: &m\n  self: *m\n', { file: 'c.yaml' }))).toMatch(/contains itself/);
  });

  it('refuses nesting that only aliases make deep', () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const text = `a: &a ${deep(60)}\nb: &b [${'['.repeat(40)}*a${']'.repeat(40)}]\n`;
    expect(problem(parseYamlDocuments(text, { file: 'd.yaml' }))).toBe('d.yaml:1: is nested more than 100 levels deep once its aliases are expanded');
  });

  it('fails an alias bomb fast', async () => {
    const { value, ms } = await timed('alias bomb', () => parseYamlDocuments(ALIAS_BOMB, { file: 'bomb.yaml' }));
    expect(problem(value)).toBe('bomb.yaml:1: expands its aliases (*name) too many times (limit 100); write the values out instead');
    expect(ms).toBeLessThan(500);
  });

  it.each([
    ['flow sequences', `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`],
    ['flow mappings', `a: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`],
    ['block sequences', `${'- '.repeat(5000)}x\n`],
    ['explicit keys', `${'? '.repeat(5000)}x\n`],
    ['indented mappings', Array.from({ length: 5000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')],
  ])('fails 5,000 levels of %s fast, with the line', async (label, text) => {
    const { value, ms } = await timed(`5000 levels of ${label}`, () => parseYamlDocuments(text, { file: 'deep.yaml', maxBytes: 64 * 1024 * 1024 }));
    expect(problem(value)).toMatch(/^deep\.yaml:\d+: is nested more than 100 levels deep \(not a plausible YAML file\)$/);
    expect(ms).toBeLessThan(500);
  });

  it('refuses text over maxBytes before parsing it', async () => {
    const text = `a: "${'x'.repeat(3 * 1024 * 1024)}"\n`;
    const { value, ms } = await timed('3 MiB string', () => parseYamlDocuments(text, { file: 'big.yaml' }));
    expect(problem(value)).toBe('big.yaml: is 3.0 MiB, larger than the 2.0 MiB limit for a YAML file');
    expect(ms).toBeLessThan(200);
  });

  it('refuses too many documents', () => {
    expect(problem(parseYamlDocuments('a: 1\n---\n'.repeat(20), { file: 'many.yaml', maxDocuments: 10 }))).toBe('many.yaml:20: has more than 10 YAML documents');
  });

  it('stays linear on a mapping with many distinct keys (yaml’s own duplicate test is quadratic)', async () => {
    const text = `${Array.from({ length: 30_000 }, (_, i) => `key${i}: ${i}`).join('\n')}\n`;
    const { value, ms } = await timed('30,000 distinct keys (450 KiB)', () => parseYamlDocuments(text, { file: 'keys.yaml' }));
    expect(value.ok).toBe(true);
    expect(ms).toBeLessThan(3000);
  });

  it('the async parser lets other work run, and gives up at its time limit', async () => {
    const text = `${Array.from({ length: 20_000 }, (_, i) => `- {name: item${i}, value: ${i}}`).join('\n')}\n`;
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 1);
    const r = await parseYamlDocumentsAsync(text, { file: 'list.yaml' });
    clearInterval(timer);
    expect(r.ok).toBe(true);
    expect(ticks).toBeGreaterThan(0);
    expect(problem(await parseYamlDocumentsAsync(text, { file: 'list.yaml', timeoutMs: 1 }))).toBe('list.yaml: took longer than 0.0 s to parse; make it smaller and simpler');
  });
});

describe('readYamlFile', () => {
  it('checks the size with fstat before reading: a 100 MB file costs nothing', async () => {
    const p = w.put('huge.yaml', '');
    truncateSync(p, 100 * 1024 * 1024); // sparse: no disk used
    const { value, ms } = await timed('100 MB file', () => readYamlFile({ path: p, file: 'huge.yaml', maxBytes: 1024 * 1024 }));
    expect(problem(value)).toBe('huge.yaml: is 100.0 MiB, larger than the 1.0 MiB limit for a YAML file');
    expect(ms).toBeLessThan(100);
  });

  it('does not follow a symbolic link, and reads only regular files', async () => {
    const target = w.put('real.yaml', SERVICE);
    const link = path.join(w.ws, 'link.yaml');
    symlinkSync(target, link);
    expect(problem(await readYamlFile({ path: link, file: 'link.yaml' }))).toBe('link.yaml: is a symbolic link (not followed)');
    const fifo = path.join(w.ws, 'pipe.yaml');
    execFileSync('mkfifo', [fifo]);
    const { value } = await timed('FIFO', () => readYamlFile({ path: fifo, file: 'pipe.yaml' }));
    expect(problem(value)).toBe('pipe.yaml: is not a regular file');
    expect(problem(await readYamlFile({ path: w.ws, file: '.' }))).toBe('.: is not a regular file');
  });

  it('refuses binary content', async () => {
    const p = w.put('bin.yaml', Buffer.from([0x61, 0x3a, 0x20, 0x00, 0x01]));
    expect(problem(await readYamlFile({ path: p, file: 'bin.yaml' }))).toBe('bin.yaml: is a binary file, not YAML');
  });
});

describe('manifest check: hostile workspaces', () => {
  const SCHEMA = { files: ['k8s/*.yaml'], schema: true };

  it('fails an alias bomb in a manifest fast, naming the file', async () => {
    w.put('k8s/service.yaml', SERVICE);
    w.put('k8s/bomb.yaml', ALIAS_BOMB);
    const { value, ms } = await timed('manifest check: alias bomb', () => w.check(SCHEMA));
    expect(message(value)).toBe('k8s/bomb.yaml:1: expands its aliases (*name) too many times (limit 100); write the values out instead');
    expect(ms).toBeLessThan(1000);
  });

  it('fails 5,000-level nesting fast', async () => {
    w.put('k8s/deep.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\ndata: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
    const { value, ms } = await timed('manifest check: 5,000 levels', () => w.check(SCHEMA));
    expect(message(value)).toBe('k8s/deep.yaml:4: is nested more than 100 levels deep (not a plausible YAML file)');
    expect(ms).toBeLessThan(1000);
  });

  it('fails a 100 MB manifest fast, without reading it', async () => {
    truncateSync(w.put('k8s/huge.yaml', ''), 100 * 1024 * 1024);
    const { value, ms } = await timed('manifest check: 100 MB file', () => w.check(SCHEMA));
    expect(message(value)).toBe('k8s/huge.yaml: is 100.0 MiB, larger than the 1.0 MiB limit for a YAML file');
    expect(ms).toBeLessThan(1000);
  });

  it('does not follow symbolic links to files or folders, inside or outside the workspace', async () => {
    const outside = path.join(w.root, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'rollout.yaml'), ROLLOUT);
    w.put('k8s/service.yaml', SERVICE);
    w.put('real/rollout.yaml', ROLLOUT);
    symlinkSync(path.join(outside, 'rollout.yaml'), path.join(w.ws, 'k8s', 'escape.yaml'));
    symlinkSync('../real/rollout.yaml', path.join(w.ws, 'k8s', 'inside.yaml'));
    symlinkSync(outside, path.join(w.ws, 'linked'));
    const refs = await w.check({ files: ['k8s/*.yaml', 'linked/*.yaml'], select: { kind: 'Rollout' }, count: { gte: 1 } });
    expect(message(refs)).toBe('found 0 Rollouts, expected at least 1 in k8s/*.yaml, linked/*.yaml');
    const r = await w.check({ files: ['k8s/*.yaml', 'linked/*.yaml'], schema: true });
    expect(r.status).toBe('passed');
    expect(r.status === 'passed' && r.evidence).toContain('not followed: k8s/escape.yaml, k8s/inside.yaml');
    expect(r.status === 'passed' && r.evidence).toContain('1 object in 1 file: k8s/service.yaml');
    const none = await w.check({ files: ['linked/**/*.yaml'], schema: true });
    expect(message(none)).toBe('no file matches linked/**/*.yaml');
  });

  it('a workspace with too many files fails with a clear message instead of walking forever', async () => {
    for (let i = 0; i < 210; i++) w.put(`k8s/svc-${String(i).padStart(3, '0')}.yaml`, SERVICE.replace('name: churn-api', `name: svc-${i}`));
    const r = await w.check(SCHEMA);
    expect(message(r)).toMatch(/^too many files to search for k8s\/\*\.yaml \(the check looks at most at 20000 entries and 200 matching files\)/);
  });
});
