/**
 * Loads every lab folder under the labs directory. A broken lab never stops the others:
 * it is reported with errors that name the file, the line and the field, like
 *   labs/x/lab.yaml:14 checks[2].points: expected a positive integer, got "two"
 */
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { LAB_ID, labSchema, type LabFile } from './schema.js';

export interface Lab extends LabFile {
  dir: string;
  brief: string;
  starterDir: string | null;
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
  const parsed = labSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        // One problem per unknown key, at the key's own line and path.
        for (const key of issue.keys) {
          const segs = [...(issue.path as PropertyKey[]), key];
          problems.push({ file: display, line: lineOf(doc, counter, segs), field: fieldPath(segs), message: 'unknown field' });
        }
        continue;
      }
      const segs = issue.path as PropertyKey[];
      let value: unknown = raw;
      for (const s of segs) value = (value as Record<PropertyKey, unknown> | undefined)?.[s];
      problems.push({ file: display, line: lineOf(doc, counter, segs), field: fieldPath(segs) || undefined, message: issueMessage(issue, value) });
    }
    return { problems };
  }
  const lab = parsed.data;
  const folder = path.basename(dir);
  if (lab.id !== folder) {
    problems.push({ file: display, line: lineOf(doc, counter, ['id']), field: 'id', message: `must equal the folder name "${folder}", got ${describeValue(lab.id)}` });
  }
  const seen = new Set<string>();
  lab.checks.forEach((c, i) => {
    if (seen.has(c.id)) problems.push({ file: display, line: lineOf(doc, counter, ['checks', i, 'id']), field: `checks[${i}].id`, message: `duplicate check id "${c.id}"` });
    seen.add(c.id);
  });
  const briefFile = path.join(dir, 'brief.md');
  let brief = '';
  try {
    brief = fs.readFileSync(briefFile, 'utf8');
  } catch {
    problems.push({ file: path.relative(displayRoot, briefFile), message: 'brief.md is missing' });
  }
  const starter = path.join(dir, 'starter');
  const starterDir = fs.existsSync(starter) && fs.lstatSync(starter).isDirectory() ? starter : null;
  if (problems.length) return { problems };
  return { lab: { ...lab, dir, brief, starterDir }, problems };
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
