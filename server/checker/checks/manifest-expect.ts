/**
 * Field expectations of the manifest check: a path into one Kubernetes object and a few
 * operators on what is there.
 *
 *   path: spec.strategy.canary.steps[0].setWeight    keys, [index], [*] (every item), ["odd.key"]
 *   eq / ne: any YAML value (deep equality)           lt / lte / gt / gte: a number
 *   matches: a regular expression (JavaScript; a leading (?i) is allowed)
 *   exists: true | false                              increasing / nonDecreasing: true (a list of numbers)
 *
 * A path with `[*]` yields every value that is there (`steps[*].setWeight` skips the pause
 * steps); eq..matches must then hold for each of them, and there must be at least one.
 * `increasing` and `nonDecreasing` look at that list in order (or at the list a path without
 * `[*]` points to).
 *
 * The objects are the candidate's: nothing here recurses deeper than the author's path or
 * expected value, shown values are bounded previews, and patterns are refused when they
 * can take exponential time (nested quantifiers) and never run on more than
 * MAX_MATCH_INPUT characters.
 */
import { z } from 'zod';
import { compilePattern } from './file.js';

export type Segment = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'all' };
/** A concrete path, as the YAML document addresses it. */
export type Concrete = (string | number)[];

/** Values longer than this are not tested against a pattern (see the module comment). */
export const MAX_MATCH_INPUT = 2000;
/** At most this many values are yielded by one path with `[*]`. */
const MAX_MATCHES = 10_000;

/** Parses `a.b[0].c`, `steps[*].setWeight`, `annotations["prometheus.io/scrape"]`. Throws on nonsense. */
export function parsePath(path: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`path ${JSON.stringify(path)}: ${why} at character ${i + 1}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '[') {
      const q = path[i + 1];
      if (q === '"' || q === "'") {
        const end = path.indexOf(q, i + 2);
        if (end < 0 || path[end + 1] !== ']') fail('unterminated quoted key');
        segments.push({ kind: 'key', key: path.slice(i + 2, end) });
        i = end + 2;
      } else {
        const close = path.indexOf(']', i);
        if (close < 0) fail('missing ]');
        const inner = path.slice(i + 1, close).trim();
        if (inner === '*') segments.push({ kind: 'all' });
        else if (/^\d{1,9}$/.test(inner)) segments.push({ kind: 'index', index: Number(inner) });
        else fail('expected [number], [*] or ["key"]');
        i = close + 1;
      }
    } else if (c === '.') {
      fail('empty key');
    } else {
      let end = i;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end += 1;
      const key = path.slice(i, end);
      segments.push(key === '*' ? { kind: 'all' } : { kind: 'key', key });
      i = end;
    }
    if (path[i] === '.') {
      i += 1;
      if (i >= path.length) fail('trailing .');
    } else if (i < path.length && path[i] !== '[') {
      fail('expected . or [');
    }
  }
  if (segments.length === 0) throw new Error('path is empty');
  return segments;
}

/** `spec.steps[0]["odd.key"]` */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/**
 * Why a pattern could take exponential time, or null. V8 backtracks, so a quantified group
 * that itself contains a quantifier (`(a+)+`, `(\w*\s?)*`, `(x{1,5})+`) can run for
 * minutes on a short hostile string; backreferences are refused for the same reason.
 * Polynomial worst cases remain and are bounded by MAX_MATCH_INPUT.
 */
export function catastrophicPattern(source: string): string | null {
  /** Per open group: whether it contains a repetition (directly or in a nested group). */
  const groups: boolean[] = [false];
  const quantifierAt = (j: number): { repeats: boolean; length: number } | null => {
    const c = source[j];
    if (c === '*' || c === '+') return { repeats: true, length: 1 };
    if (c === '?') return { repeats: false, length: 1 };
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(j));
      if (!m) return null;
      const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
      return { repeats: max > 1, length: m[0].length };
    }
    return null;
  };
  let i = 0;
  /** After an atom: its quantifier, if any; `inner`: the atom is a group containing a repetition. */
  const afterAtom = (inner: boolean): string | null => {
    const q = quantifierAt(i);
    if (q) {
      if (q.repeats && inner) return 'a repeated group contains a repetition, like (a+)+, which can take exponential time';
      i += q.length;
      if (source[i] === '?') i += 1; // lazy
    }
    if (inner || q?.repeats) groups[groups.length - 1] = true;
    return null;
  };
  while (i < source.length) {
    const c = source[i]!;
    let why: string | null = null;
    if (c === '(') {
      groups.push(false);
      i += 1;
      // (?:  (?=  (?!  (?<=  (?<!  (?<name>
      const prefix = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(source.slice(i));
      if (prefix) i += prefix[0].length;
      continue;
    } else if (c === ')') {
      const inner = groups.length > 1 ? groups.pop()! : false;
      i += 1;
      why = afterAtom(inner);
    } else if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'backreferences are not allowed';
      i += 2;
      why = afterAtom(false);
    } else if (c === '[') {
      i += 1;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      i += 1;
      why = afterAtom(false);
    } else if (c === '|' || c === '^' || c === '$') {
      i += 1;
    } else {
      i += 1;
      why = afterAtom(false);
    }
    if (why) return why;
  }
  return null;
}

/** A pattern an author may use in `matches`: compiles, and is not catastrophic. */
export const safePatternSchema = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((s, ctx) => {
    try {
      compilePattern(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${e instanceof Error ? e.message : String(e)}` });
      return;
    }
    const why = catastrophicPattern(s);
    if (why) ctx.addIssue({ code: 'custom', message: `pattern refused: ${why}` });
  });

export const pathSchema = z
  .string()
  .min(1)
  .max(500)
  .superRefine((s, ctx) => {
    try {
      parsePath(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
    }
  });

const OPERATORS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'matches', 'exists', 'increasing', 'nonDecreasing'] as const;

export const expectationSchema = z
  .strictObject({
    path: pathSchema,
    /** Equal to this value (deep equality for lists and mappings). */
    eq: z.json().optional(),
    /** Anything but this value. */
    ne: z.json().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    /** A regular expression the value (a string, or a number/boolean as text) must match. */
    matches: safePatternSchema.optional(),
    /** `true`: the field is there (at least one value for a `[*]` path); `false`: it is not. */
    exists: z.boolean().optional(),
    /** The values form a strictly increasing list of numbers. */
    increasing: z.literal(true).optional(),
    /** The values form a list of numbers that never decreases. */
    nonDecreasing: z.literal(true).optional(),
  })
  .superRefine((e, ctx) => {
    const given = OPERATORS.filter((k) => e[k] !== undefined);
    if (given.length === 0) ctx.addIssue({ code: 'custom', message: `give at least one of ${OPERATORS.join(', ')}` });
    if (e.exists === false && given.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['exists'], message: 'exists: false cannot be combined with other operators' });
    }
    if (e.increasing && e.nonDecreasing) {
      ctx.addIssue({ code: 'custom', path: ['nonDecreasing'], message: 'give increasing or nonDecreasing, not both' });
    }
  });

export type Expectation = z.infer<typeof expectationSchema>;

export interface Found {
  path: Concrete;
  value: unknown;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The values `segments` reach in `root` (only those that are there), and, when nothing is,
 * the longest prefix that exists (for "spec.strategy.canary is missing" messages).
 */
export function resolvePath(root: unknown, segments: readonly Segment[]): { found: Found[]; deepest: Concrete } {
  let current: Found[] = [{ path: [], value: root }];
  let deepest: Concrete = [];
  for (const seg of segments) {
    const next: Found[] = [];
    for (const { path, value } of current) {
      if (seg.kind === 'all') {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length && next.length < MAX_MATCHES; i++) next.push({ path: [...path, i], value: value[i] as unknown });
        } else if (isMapping(value)) {
          for (const key of Object.keys(value)) {
            if (next.length >= MAX_MATCHES) break;
            next.push({ path: [...path, key], value: value[key] });
          }
        }
      } else if (seg.kind === 'index') {
        if (Array.isArray(value) && seg.index < value.length) next.push({ path: [...path, seg.index], value: value[seg.index] as unknown });
      } else if (isMapping(value) && Object.hasOwn(value, seg.key)) {
        next.push({ path: [...path, seg.key], value: value[seg.key] });
      }
    }
    if (next.length === 0) return { found: [], deepest };
    current = next;
    deepest = next[0]!.path;
  }
  return { found: current, deepest };
}

/** A short, bounded rendering of any value (never recursing far into candidate data). */
export function preview(v: unknown, max = 100): string {
  const out = render(v, 2);
  return out.length <= max ? out : `${out.slice(0, max - 1)}…`;
}

function render(v: unknown, depth: number): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) {
    if (depth <= 0) return `[… ${v.length} items]`;
    const items = v.slice(0, 6).map((x) => render(x, depth - 1));
    return `[${items.join(', ')}${v.length > 6 ? `, … ${v.length - 6} more` : ''}]`;
  }
  if (isMapping(v)) {
    const keys = Object.keys(v);
    if (depth <= 0) return `{… ${keys.length} keys}`;
    const items = keys.slice(0, 4).map((k) => `${k}: ${render(v[k], depth - 1)}`);
    return `{${items.join(', ')}${keys.length > 4 ? `, … ${keys.length - 4} more` : ''}}`;
  }
  return typeof v;
}

/** Deep equality that walks only as deep as `expected` (the author's value). */
export function equals(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => equals(actual[i], e));
  }
  if (!isMapping(actual)) return false;
  const keys = Object.keys(expected);
  const exp = expected as Record<string, unknown>;
  return Object.keys(actual).length === keys.length && keys.every((k) => Object.hasOwn(actual, k) && equals(actual[k], exp[k]));
}

const BOUNDS = [
  ['lt', '<', (a: number, b: number) => a < b],
  ['lte', '≤', (a: number, b: number) => a <= b],
  ['gt', '>', (a: number, b: number) => a > b],
  ['gte', '≥', (a: number, b: number) => a >= b],
] as const;

function describeExpected(e: Expectation): string {
  const parts: string[] = [];
  if (e.eq !== undefined) parts.push(preview(e.eq));
  if (e.ne !== undefined) parts.push(`anything but ${preview(e.ne)}`);
  for (const [key, sym] of BOUNDS) if (e[key] !== undefined) parts.push(`${sym} ${e[key]}`);
  if (e.matches !== undefined) parts.push(`matching /${e.matches}/`);
  if (e.increasing) parts.push('increasing numbers');
  if (e.nonDecreasing) parts.push('numbers that never decrease');
  return parts.join(' and ') || 'to be there';
}

/** Why one value fails the value operators (eq..matches), or undefined. */
function checkOne(value: unknown, e: Expectation): string | undefined {
  const shown = preview(value);
  if (e.eq !== undefined && !equals(value, e.eq)) return `is ${shown}, expected ${preview(e.eq)}`;
  if (e.ne !== undefined && equals(value, e.ne)) return `is ${shown}, expected anything but that`;
  for (const [key, sym, ok] of BOUNDS) {
    const bound = e[key];
    if (bound === undefined) continue;
    if (typeof value !== 'number') return `is ${shown}, expected a number ${sym} ${bound}`;
    if (!ok(value, bound)) return `is ${shown}, expected ${sym} ${bound}`;
  }
  if (e.matches !== undefined) {
    const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (text === undefined) return `is ${shown}, expected text matching /${e.matches}/`;
    if (text.length > MAX_MATCH_INPUT) return `is ${text.length} characters long, too long to test against /${e.matches}/ (at most ${MAX_MATCH_INPUT})`;
    if (!compilePattern(e.matches).test(text)) return `is ${shown}, expected to match /${e.matches}/`;
  }
  return undefined;
}

function checkOrder(values: Found[], label: string, strict: boolean): string | undefined {
  const shown = preview(values.map((f) => f.value));
  for (const f of values) {
    if (typeof f.value !== 'number') return `${label} is ${shown}, expected a list of numbers (${formatPath(f.path)} is ${preview(f.value)})`;
  }
  for (let i = 1; i < values.length; i++) {
    const a = values[i - 1]!.value as number;
    const b = values[i]!.value as number;
    if (strict ? b <= a : b < a) {
      const rel = strict ? 'is not greater than' : 'is less than';
      return `${label} is ${shown}, expected ${strict ? 'increasing numbers' : 'numbers that never decrease'} (${formatPath(values[i]!.path)} = ${b} ${rel} ${a})`;
    }
  }
  return undefined;
}

export interface ExpectFailure {
  /** The path the message is about (for the line number). */
  at: Concrete;
  message: string;
}

/** Checks one expectation against one object. */
export function checkExpectation(obj: unknown, e: Expectation): ExpectFailure | undefined {
  const segments = parsePath(e.path);
  const wildcard = segments.some((s) => s.kind === 'all');
  const { found, deepest } = resolvePath(obj, segments);
  if (e.exists === false) {
    if (found.length === 0) return undefined;
    const f = found[0]!;
    return { at: f.path, message: `${formatPath(f.path)} is there (${preview(f.value)}), expected it to be absent` };
  }
  if (found.length === 0) {
    const have = deepest.length ? ` (${formatPath(deepest)} is there, the rest is not)` : '';
    const what = wildcard ? `${e.path} matched nothing` : `${e.path} is missing`;
    return { at: deepest, message: `${what}${have}, expected ${describeExpected(e)}` };
  }
  for (const f of found) {
    const why = checkOne(f.value, e);
    if (why) return { at: f.path, message: `${formatPath(f.path)} ${why}` };
  }
  if (e.increasing || e.nonDecreasing) {
    let list: Found[];
    if (wildcard) list = found;
    else {
      const only = found[0]!;
      if (!Array.isArray(only.value)) return { at: only.path, message: `${formatPath(only.path)} is ${preview(only.value)}, expected a list of numbers` };
      list = only.value.slice(0, MAX_MATCHES).map((value: unknown, i) => ({ path: [...only.path, i], value }));
    }
    const why = checkOrder(list, e.path, Boolean(e.increasing));
    if (why) return { at: list[0]?.path ?? found[0]!.path, message: why };
  }
  return undefined;
}
