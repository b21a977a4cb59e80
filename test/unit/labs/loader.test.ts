import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppError } from '../../../server/errors.js';
import { LabCatalog } from '../../../server/labs/catalog.js';
import { formatProblem, loadLabs } from '../../../server/labs/loader.js';
import { labYamlLines, writeLab } from './fixtures.js';

let root: string;
let labsDir: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'opslab-labs-'));
  labsDir = path.join(root, 'labs');
  mkdirSync(labsDir);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** The formatted problems of the one invalid lab in `folder`, as the server logs them. */
function problemsOf(folder: string): string[] {
  const result = loadLabs(labsDir);
  expect(result.labs.has(folder)).toBe(false);
  const broken = result.invalid.find((i) => path.basename(i.dir) === folder);
  expect(broken, `lab ${folder} should be reported invalid`).toBeDefined();
  return broken?.problems.map(formatProblem) ?? [];
}

/** The valid lab.yaml with line `n` (1-based) replaced, or removed when `text` is null. */
function yamlWithLine(id: string, n: number, text: string | null): string {
  const lines = labYamlLines(id);
  if (text === null) lines.splice(n - 1, 1);
  else lines[n - 1] = text;
  return `${lines.join('\n')}\n`;
}

const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
  'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
  'id: [*i,*i,*i,*i,*i,*i,*i,*i,*i]',
].join('\n');

describe('loadLabs', () => {
  it('loads a valid lab with its brief, starter and defaults', () => {
    const dir = writeLab(labsDir, 'tiny', { 'starter/README.md': 'hello\n' });
    const { labs, invalid } = loadLabs(labsDir);
    expect(invalid).toEqual([]);
    expect(labs.get('tiny')).toMatchObject({
      id: 'tiny',
      title: 'Tiny lab',
      durationMinutes: 15,
      image: 'base',
      network: 'isolated',
      tags: [],
      env: {},
      dir,
      brief: '# tiny\n\nDo the thing.\n',
      starterDir: path.join(dir, 'starter'),
      checks: [{ id: 'readme', title: 'The README is there', points: 1, type: 'file', hidden: false }],
    });
  });

  it('names file, line and field of a wrongly typed value', () => {
    // line 9 is `    points: 1` of checks[0]
    writeLab(labsDir, 'x', { 'lab.yaml': yamlWithLine('x', 9, '    points: two') });
    expect(problemsOf('x')).toEqual(['labs/x/lab.yaml:9 checks[0].points: expected a positive integer, got "two"']);
  });

  it('reports every problem of a lab at once, each at its own line', () => {
    const lines = labYamlLines('x');
    lines[3] = 'difficulty: extreme';
    lines[8] = '    points: -3';
    writeLab(labsDir, 'x', { 'lab.yaml': `${lines.join('\n')}\n` });
    const problems = problemsOf('x');
    expect(problems).toHaveLength(2);
    expect(problems).toContainEqual(expect.stringMatching(/^labs\/x\/lab\.yaml:4 difficulty: .*, got "extreme"$/));
    expect(problems).toContainEqual('labs/x/lab.yaml:9 checks[0].points: expected a positive integer, got -3');
  });

  it('rejects unknown fields, naming them', () => {
    const lines = [...labYamlLines('x'), 'colour: red', 'resources:', '  cpus: 1', '  gpus: 2'];
    writeLab(labsDir, 'x', { 'lab.yaml': `${lines.join('\n')}\n` });
    const problems = problemsOf('x');
    expect(problems).toHaveLength(2);
    // Each at the unknown key's own line and path.
    const at = (text: string) => lines.indexOf(text) + 1;
    expect(problems).toContainEqual(`labs/x/lab.yaml:${at('colour: red')} colour: unknown field`);
    expect(problems).toContainEqual(`labs/x/lab.yaml:${at('  gpus: 2')} resources.gpus: unknown field`);
  });

  it("checks a lab's tmpfs directories: absolute, not inside the sandbox's own mounts, bounded", () => {
    const lines = [...labYamlLines('x'), 'resources:', '  tmpfs:', '    /srv/mlflow: 256', '    /home/x: 8', '    srv/rel: 8', '    /srv/big: 9000'];
    writeLab(labsDir, 'x', { 'lab.yaml': `${lines.join('\n')}\n` });
    const problems = problemsOf('x');
    expect(problems).toHaveLength(3);
    expect(problems).toContainEqual(expect.stringMatching(/resources\.tmpfs\.\/home\/x: must not be or lie inside \/workspace, \/home/));
    expect(problems).toContainEqual(expect.stringMatching(/resources\.tmpfs\.srv\/rel: expected an absolute path like \/srv\/mlflow/));
    expect(problems).toContainEqual(expect.stringMatching(/resources\.tmpfs\.\/srv\/big: .*4096/));
  });

  it('names a missing required field, at the mapping that lacks it', () => {
    writeLab(labsDir, 'x', { 'lab.yaml': yamlWithLine('x', 2, null) });
    expect(problemsOf('x')).toEqual(['labs/x/lab.yaml:1 title: is required (string)']);

    writeLab(labsDir, 'y', { 'lab.yaml': yamlWithLine('y', 9, null) });
    expect(problemsOf('y')).toEqual(['labs/y/lab.yaml:7 checks[0].points: is required (number)']);
  });

  it('reports invalid YAML with its line', () => {
    // A second `title:` on line 4: YAML forbids duplicate keys.
    const lines = labYamlLines('x');
    lines.splice(3, 0, 'title: again');
    writeLab(labsDir, 'x', { 'lab.yaml': `${lines.join('\n')}\n` });
    expect(problemsOf('x')).toEqual(['labs/x/lab.yaml:4: not valid YAML: Map keys must be unique']);
  });

  it('requires the id to equal the folder name', () => {
    writeLab(labsDir, 'x', { 'lab.yaml': yamlWithLine('x', 1, 'id: other') });
    expect(problemsOf('x')).toEqual(['labs/x/lab.yaml:1 id: must equal the folder name "x", got "other"']);
  });

  it('rejects duplicate check ids at the second one', () => {
    const lines = [...labYamlLines('x'), '  - id: readme', '    title: Again', '    points: 2', '    type: file', '    path: README.md'];
    writeLab(labsDir, 'x', { 'lab.yaml': `${lines.join('\n')}\n` });
    expect(problemsOf('x')).toEqual(['labs/x/lab.yaml:12 checks[1].id: duplicate check id "readme"']);
  });

  it('requires brief.md and lab.yaml', () => {
    writeLab(labsDir, 'nobrief', { 'brief.md': null });
    writeLab(labsDir, 'noyaml', { 'lab.yaml': null });
    expect(problemsOf('nobrief')).toEqual(['labs/nobrief/brief.md: brief.md is missing']);
    expect(problemsOf('noyaml')).toEqual(['labs/noyaml/lab.yaml: lab.yaml is missing']);
  });

  it('rejects a folder name that cannot be a lab id, and skips _ and . folders', () => {
    writeLab(labsDir, 'Bad_Name');
    writeLab(labsDir, '_images');
    writeLab(labsDir, '.hidden');
    const { labs, invalid } = loadLabs(labsDir);
    expect(labs.size).toBe(0);
    expect(invalid.map((i) => i.problems.map(formatProblem))).toEqual([
      ['labs/Bad_Name: a lab folder name must be lowercase letters, digits and dashes'],
    ]);
  });

  it('rejects a YAML alias bomb quickly, with a problem instead of a crash', () => {
    writeLab(labsDir, 'bomb', { 'lab.yaml': `${BILLION_LAUGHS}\n` });
    writeLab(labsDir, 'good');
    const started = performance.now();
    const { labs, invalid } = loadLabs(labsDir);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(invalid.map((i) => i.problems.map(formatProblem))).toEqual([
      ['labs/bomb/lab.yaml: not valid YAML: Excessive alias count indicates a resource exhaustion attack'],
    ]);
    expect([...labs.keys()]).toEqual(['good']);
  });

  it('still accepts a few ordinary aliases', () => {
    const lines = [...labYamlLines('x')];
    lines[7] = '    title: &t The README is there';
    lines.push('  - id: readme-again', '    title: *t', '    points: 1', '    type: file', '    path: README.md');
    writeLab(labsDir, 'x', { 'lab.yaml': `${lines.join('\n')}\n` });
    const { labs, invalid } = loadLabs(labsDir);
    expect(invalid).toEqual([]);
    expect(labs.get('x')?.checks.map((c) => c.title)).toEqual(['The README is there', 'The README is there']);
  });

  it('reports an alias to a missing anchor instead of crashing', () => {
    writeLab(labsDir, 'x', { 'lab.yaml': yamlWithLine('x', 2, 'title: *nowhere') });
    expect(problemsOf('x')).toEqual(['labs/x/lab.yaml: not valid YAML: Unresolved alias (the anchor must be set before the alias): nowhere']);
  });

  it('loads the valid labs next to broken ones', () => {
    writeLab(labsDir, 'alpha');
    writeLab(labsDir, 'broken', { 'lab.yaml': 'id: broken\ntitle: [unclosed\n' });
    writeLab(labsDir, 'mismatch', { 'lab.yaml': yamlWithLine('mismatch', 1, 'id: zeta') });
    writeLab(labsDir, 'zeta');
    const { labs, invalid } = loadLabs(labsDir);
    expect([...labs.keys()]).toEqual(['alpha', 'zeta']);
    expect(invalid.map((i) => path.basename(i.dir))).toEqual(['broken', 'mismatch']);
  });

  it('gives an empty result for a labs directory that does not exist', () => {
    expect(loadLabs(path.join(root, 'nope'))).toEqual({ labs: new Map(), invalid: [] });
  });
});

describe('LabCatalog', () => {
  it('lists valid labs and refuses unknown (NOT_FOUND) and broken (LAB_INVALID, with its problems) ones', () => {
    writeLab(labsDir, 'good');
    writeLab(labsDir, 'bad', { 'brief.md': null });
    const catalog = LabCatalog.load(labsDir);
    expect(catalog.list().map((l) => l.id)).toEqual(['good']);
    expect(catalog.require('good').id).toBe('good');
    expect(catalog.invalid).toEqual([{ id: 'bad', problems: ['labs/bad/brief.md: brief.md is missing'] }]);
    expect(() => catalog.require('missing')).toThrowError(expect.objectContaining({ code: 'NOT_FOUND' }) as AppError);
    expect(() => catalog.require('bad')).toThrowError(
      expect.objectContaining({ code: 'LAB_INVALID', details: ['labs/bad/brief.md: brief.md is missing'] }) as AppError,
    );
  });
});
