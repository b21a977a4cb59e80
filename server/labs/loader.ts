/**
 * Loads every lab folder under the labs directory. A broken lab never stops the others:
 * it is reported with errors that name the file, the line and the field, like
 *   labs/x/lab.yaml:14 checks[2].points: expected a positive integer, got "two"
 */
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { parseCheck, type CheckIssue, type CheckSpec } from '../checker/registry.js';
import { LAB_ID, caseSchema, labSchema, type LabFile } from './schema.js';

export interface LabCase {
  name: string;
  dir: string;
  description: string;
  /** The score this attempt must get from the checker. */
  score: number;
  /** Whether the attempt is laid over the starter or over the reference solution. */
  from: 'starter' | 'solution';
}

export interface Lab extends Omit<LabFile, 'checks'> {
  dir: string;
  brief: string;
  checks: CheckSpec[];
  starterDir: string | null;
  /** Files laid over the starter (everything in solution/ except solve.sh). */
  solutionDir: string;
  /** solution/solve.sh, run as the candidate after the files are laid over. */
  solveScript: string | null;
  cases: LabCase[];
}

export interface LabProblem {
  /** Path relative to the labs directory's parent, as an author would type it. */
  file: string;
  line?: number;
  field?: string;
  message: string;
}

export interface LabLoadResult {
  labs: Map<string, Lab>;
  invalid: { dir: string; problems: LabProblem[] }[];
}

export function formatProblem(p: LabProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}${p.field ? ` ${p.field}` : ''}: ${p.message}`;
}

function fieldPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${String(s)}` : String(s);
  return out;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Line of the deepest node that exists along `segments`. */
function lineOf(doc: Document, counter: LineCounter, segments: readonly PropertyKey[]): number | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(segments.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function issueMessage(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'invalid_type' && value === undefined) return `is required (${issue.expected})`;
  // zod's generic wording ("Invalid input: expected number, received string") says the
  // type twice; authors need what was expected and what they wrote.
  const message = issue.code === 'invalid_type' && issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
  return `${message}, got ${describeValue(value)}`;
}

export function loadLab(dir: string, displayRoot: string): { lab?: Lab; problems: LabProblem[] } {
  const file = path.join(dir, 'lab.yaml');
  const display = path.relative(displayRoot, file);
  const problems: LabProblem[] = [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { problems: [{ file: display, message: 'lab.yaml is missing' }] };
  }
  const counter = new LineCounter();
  // maxAliasCount bounds alias expansion ("billion laughs"); lab files are untrusted.
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  for (const err of doc.errors) {
    problems.push({ file: display, line: err.linePos?.[0]?.line ?? counter.linePos(err.pos[0]).line, message: `not valid YAML: ${err.message.split('\n')[0]}` });
  }
  if (problems.length) return { problems };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // yaml throws (ReferenceError) for an alias bomb or an alias to a missing anchor.
    return { problems: [{ file: display, message: `not valid YAML: ${e instanceof Error ? e.message : String(e)}` }] };
  }
  const report = (issues: readonly CheckIssue[], prefix: PropertyKey[]) => {
    for (const issue of issues) {
      if (issue.code === 'unrecognized_keys' && issue.keys) {
        // One problem per unknown key, at the key's own line and path.
        for (const key of issue.keys) {
          const segs = [...prefix, ...issue.path, key];
          problems.push({ file: display, line: lineOf(doc, counter, segs), field: fieldPath(segs), message: 'unknown field' });
        }
        continue;
      }
      const segs = [...prefix, ...issue.path];
      let value: unknown = raw;
      for (const seg of segs) value = (value as Record<PropertyKey, unknown> | undefined)?.[seg];
      problems.push({
        file: display,
        line: lineOf(doc, counter, segs),
        field: fieldPath(segs) || undefined,
        message: issueMessage(issue as z.core.$ZodIssue, value),
      });
    }
  };
  // Checks are parsed even when the rest of the file is wrong, so every problem shows at once.
  const checks: CheckSpec[] = [];
  const rawChecks = (raw as { checks?: unknown } | null)?.checks;
  if (Array.isArray(rawChecks)) {
    rawChecks.forEach((rawCheck, i) => {
      const r = parseCheck(rawCheck);
      if (!r.ok) return report(r.issues, ['checks', i]);
      if (checks.some((c) => c.id === r.check.id)) {
        problems.push({ file: display, line: lineOf(doc, counter, ['checks', i, 'id']), field: `checks[${i}].id`, message: `duplicate check id "${r.check.id}"` });
      }
      checks.push(r.check);
    });
  }
  const parsed = labSchema.safeParse(raw);
  if (!parsed.success) {
    report(parsed.error.issues as CheckIssue[], []);
    return { problems };
  }
  const lab = parsed.data;
  const folder = path.basename(dir);
  if (lab.id !== folder) {
    problems.push({ file: display, line: lineOf(doc, counter, ['id']), field: 'id', message: `must equal the folder name "${folder}", got ${describeValue(lab.id)}` });
  }
  const briefFile = path.join(dir, 'brief.md');
  let brief = '';
  try {
    brief = fs.readFileSync(briefFile, 'utf8');
  } catch {
    problems.push({ file: path.relative(displayRoot, briefFile), message: 'brief.md is missing' });
  }
  const starter = path.join(dir, 'starter');
  const starterDir = isDir(starter) ? starter : null;
  const solutionDir = path.join(dir, 'solution');
  const solve = path.join(solutionDir, 'solve.sh');
  if (!isDir(solutionDir)) {
    problems.push({
      file: path.relative(displayRoot, solutionDir),
      message: 'solution/ is missing: every lab needs a reference solution (files laid over starter/, and/or solution/solve.sh)',
    });
  }
  const maxScore = checks.reduce((n, c) => n + c.points, 0);
  const cases = loadCases(path.join(dir, 'cases'), displayRoot, maxScore, problems);
  if (problems.length) return { problems };
  return {
    lab: { ...lab, checks, dir, brief, starterDir, solutionDir, solveScript: isFile(solve) ? solve : null, cases },
    problems,
  };
}

function isDir(p: string): boolean {
  return fs.existsSync(p) && fs.lstatSync(p).isDirectory();
}

function isFile(p: string): boolean {
  return fs.existsSync(p) && fs.lstatSync(p).isFile();
}

/** `cases/<name>/case.yaml` ({description, score}) beside the files of that attempt. */
function loadCases(casesDir: string, displayRoot: string, maxScore: number, problems: LabProblem[]): LabCase[] {
  if (!isDir(casesDir)) return [];
  const out: LabCase[] = [];
  for (const name of fs.readdirSync(casesDir).sort()) {
    const dir = path.join(casesDir, name);
    if (!isDir(dir)) continue;
    const file = path.join(dir, 'case.yaml');
    const display = path.relative(displayRoot, file);
    if (!isFile(file)) {
      problems.push({ file: display, message: 'case.yaml is missing (it says what the attempt is and the score it must get)' });
      continue;
    }
    const counter = new LineCounter();
    const doc = parseDocument(fs.readFileSync(file, 'utf8'), { lineCounter: counter });
    const raw: unknown = doc.errors.length ? undefined : doc.toJS({ maxAliasCount: 20 });
    const parsed = caseSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push({ file: display, line: lineOf(doc, counter, issue.path as PropertyKey[]), field: fieldPath(issue.path as PropertyKey[]) || undefined, message: issue.message });
      }
      continue;
    }
    if (parsed.data.score > maxScore) {
      problems.push({ file: display, line: lineOf(doc, counter, ['score']), field: 'score', message: `is ${parsed.data.score}, more than the lab's ${maxScore} points` });
      continue;
    }
    out.push({ name, dir, ...parsed.data });
  }
  return out;
}

export function loadLabs(labsDir: string): LabLoadResult {
  const result: LabLoadResult = { labs: new Map(), invalid: [] };
  const displayRoot = path.dirname(labsDir);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(labsDir, { withFileTypes: true });
  } catch {
    return result;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    // `_images` and other `_`/`.` folders hold shared material, not labs.
    if (!entry.isDirectory() || entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
    const dir = path.join(labsDir, entry.name);
    if (!LAB_ID.test(entry.name)) {
      result.invalid.push({ dir, problems: [{ file: path.relative(displayRoot, dir), message: 'a lab folder name must be lowercase letters, digits and dashes' }] });
      continue;
    }
    const { lab, problems } = loadLab(dir, displayRoot);
    if (lab) result.labs.set(lab.id, lab);
    else result.invalid.push({ dir, problems });
  }
  return result;
}
