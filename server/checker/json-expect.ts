/**
 * Field expectations over JSON-like data, shared by check types: a `path` into a parsed
 * document (`a.b[0].c`, `items[*].id`, `["key.with.dots"]`) and operators on the value
 * found there (eq, ne, gt, gte, lt, lte, matches, exists, type).
 *
 * The data is the candidate's (an HTTP body, a command's output) and is never trusted to
 * be small or shallow: nothing here recurses deeper than the author's own path or
 * expected value, and every value shown in a message is a bounded preview.
 */
import { z } from 'zod';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type PathSegment = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'all' };

const VALUE_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

const OPERATORS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'matches', 'exists', 'type'] as const;

/**
 * A pattern as lab authors write it: a JavaScript regular expression, optionally with
 * leading inline flags `(?i)`, `(?m)`, `(?s)` (or combined, `(?is)`), which JavaScript
 * lacks. Throws on an invalid pattern (the schemas call this to validate).
 */
export function compilePattern(source: string, extraFlags = ''): RegExp {
  const m = /^\(\?([ims]+)\)/.exec(source);
  const flags = [...new Set(`${m ? m[1] : ''}${extraFlags}`)].join('');
  return new RegExp(m ? source.slice(m[0].length) : source, flags);
}

/** For command output and response bodies: `^` and `$` anchor lines, as in grep. */
export function compileTextPattern(source: string): RegExp {
  return compilePattern(source, 'm');
}

/** A zod string that must compile with `compilePattern`. */
export const patternSchema = z
  .string()
  .min(1)
  .max(2000)
  .superRefine((s, ctx) => {
    try {
      compilePattern(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(e as Error).message}` });
    }
  });

/** Parses `a.b[0].c`, `[*]`, `items[*].name`, `["odd key"]`; a leading `$` or `$.` is allowed. Throws on nonsense. */
export function parseJsonPath(path: string): PathSegment[] {
  let rest = path.trim();
  if (rest.startsWith('$')) rest = rest.slice(1).replace(/^\./, '');
  const segments: PathSegment[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`path ${JSON.stringify(path)}: ${why} at character ${i + 1}`);
  };
  while (i < rest.length) {
    const c = rest[i];
    if (c === '[') {
      const close = rest.indexOf(']', i);
      const quoted = rest[i + 1] === '"' || rest[i + 1] === "'";
      if (quoted) {
        const q = rest[i + 1]!;
        const end = rest.indexOf(q, i + 2);
        if (end < 0 || rest[end + 1] !== ']') fail('unterminated quoted key');
        segments.push({ kind: 'key', key: rest.slice(i + 2, end) });
        i = end + 2;
      } else {
        if (close < 0) fail('missing ]');
        const inner = rest.slice(i + 1, close).trim();
        if (inner === '*') segments.push({ kind: 'all' });
        else if (/^\d{1,9}$/.test(inner)) segments.push({ kind: 'index', index: Number(inner) });
        else fail('expected [number], [*] or ["key"]');
        i = close + 1;
      }
      if (rest[i] === '.') {
        i += 1;
        if (i >= rest.length) fail('trailing .');
      }
      continue;
    }
    if (c === '.') fail('empty key');
    let end = i;
    while (end < rest.length && rest[end] !== '.' && rest[end] !== '[') end += 1;
    const key = rest.slice(i, end);
    if (key === '*') segments.push({ kind: 'all' });
    else segments.push({ kind: 'key', key });
    i = end;
    if (rest[i] === '.') {
      i += 1;
      if (i >= rest.length) fail('trailing .');
    }
  }
  if (segments.length === 0) throw new Error(`path ${JSON.stringify(path)} is empty (use "$" for the whole document)`);
  return segments;
}

/** `$` alone means the whole document. */
function parsePathOrRoot(path: string): PathSegment[] {
  return path.trim() === '$' ? [] : parseJsonPath(path);
}

export const jsonPathSchema = z
  .string()
  .min(1)
  .max(500)
  .superRefine((s, ctx) => {
    try {
      parsePathOrRoot(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });

/** The operators, without a path: for values found some other way (an MLflow param, a metric). */
export const valueOperatorsShape = {
  /** Equal (deep equality for objects and arrays). */
  eq: z.json().optional(),
  ne: z.json().optional(),
  gt: z.number().optional(),
  gte: z.number().optional(),
  lt: z.number().optional(),
  lte: z.number().optional(),
  /** A regular expression the value (a string, or a number as text) must match. */
  matches: patternSchema.optional(),
  /** `true`: the value is there (may be null); `false`: it is not. */
  exists: z.boolean().optional(),
  type: z.enum(VALUE_TYPES).optional(),
};

const hasOperator = (o: Record<string, unknown>) => OPERATORS.some((k) => o[k] !== undefined);
const NEED_OPERATOR = `give at least one of ${OPERATORS.join(', ')}`;

export const valueExpectationSchema = z.strictObject(valueOperatorsShape).refine(hasOperator, { message: NEED_OPERATOR });
export type ValueExpectation = z.infer<typeof valueExpectationSchema>;

export const jsonExpectationSchema = z
  .strictObject({ path: jsonPathSchema, ...valueOperatorsShape })
  .refine(hasOperator, { message: NEED_OPERATOR });
export type JsonExpectation = z.infer<typeof jsonExpectationSchema>;

const MISSING = Symbol('missing');
type Found = { path: string; value: unknown };

function formatSegment(prefix: string, seg: { kind: 'key'; key: string } | { kind: 'index'; index: number }): string {
  if (seg.kind === 'index') return `${prefix}[${seg.index}]`;
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg.key)) return prefix ? `${prefix}.${seg.key}` : seg.key;
  return `${prefix}[${JSON.stringify(seg.key)}]`;
}

/** At most this many values are matched by one path with wildcards. */
const MAX_MATCHES = 10_000;

/**
 * The values a path selects, each with its concrete path. A value that is not there is
 * reported as `MISSING` at the first segment that could not be followed, so a message can
 * say which part is missing.
 */
function select(doc: unknown, segments: PathSegment[]): Array<{ path: string; value: unknown | typeof MISSING }> {
  let current: Array<{ path: string; value: unknown | typeof MISSING }> = [{ path: '', value: doc }];
  for (const seg of segments) {
    const next: typeof current = [];
    for (const { path, value } of current) {
      if (value === MISSING) {
        next.push({ path, value });
        continue;
      }
      if (seg.kind === 'all') {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length && next.length < MAX_MATCHES; i++) {
            next.push({ path: formatSegment(path, { kind: 'index', index: i }), value: value[i] as unknown });
          }
        } else if (isPlainObject(value)) {
          for (const key of Object.keys(value)) {
            if (next.length >= MAX_MATCHES) break;
            next.push({ path: formatSegment(path, { kind: 'key', key }), value: value[key] });
          }
        } else {
          next.push({ path: `${path}[*]`, value: MISSING });
        }
        continue;
      }
      const p = formatSegment(path, seg);
      if (seg.kind === 'index') {
        next.push({ path: p, value: Array.isArray(value) && seg.index < value.length ? (value[seg.index] as unknown) : MISSING });
      } else {
        next.push({
          path: p,
          value: isPlainObject(value) && Object.prototype.hasOwnProperty.call(value, seg.key) ? value[seg.key] : MISSING,
        });
      }
    }
    current = next;
  }
  return current;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The values a path selects (missing ones left out). */
export function selectJsonPath(doc: unknown, path: string): Found[] {
  return select(doc, parsePathOrRoot(path)).filter((f): f is Found => f.value !== MISSING);
}

export interface ValueOptions {
  /**
   * Values are strings that stand for numbers or booleans (MLflow params and tags):
   * `"100"` is `eq: 100`, `gte: 50` and `type: integer`; `"True"` is `eq: true`.
   */
  numericStrings?: boolean;
}

function asNumber(v: unknown, options: ValueOptions): number | undefined {
  if (typeof v === 'number') return v;
  if (options.numericStrings && typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    if (!Number.isNaN(n) || /^nan$/i.test(v.trim())) return n;
  }
  return undefined;
}

function asBoolean(v: unknown, options: ValueOptions): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (options.numericStrings && typeof v === 'string') {
    if (/^true$/i.test(v)) return true;
    if (/^false$/i.test(v)) return false;
  }
  return undefined;
}

/** Deep equality that walks only as deep as `expected` (the author's value). */
function equals(actual: unknown, expected: unknown, options: ValueOptions): boolean {
  if (expected === null) return actual === null;
  if (typeof expected === 'number') {
    const n = asNumber(actual, options);
    return n !== undefined && n === expected;
  }
  if (typeof expected === 'boolean') return asBoolean(actual, options) === expected;
  if (typeof expected === 'string') return actual === expected;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => equals(actual[i], e, options));
  }
  if (isPlainObject(expected)) {
    if (!isPlainObject(actual)) return false;
    const keys = Object.keys(expected);
    return Object.keys(actual).length === keys.length && keys.every((k) => Object.hasOwn(actual, k) && equals(actual[k], expected[k], options));
  }
  return false;
}

function typeOf(v: unknown, options: ValueOptions): ValueType[] {
  if (v === null) return ['null'];
  if (Array.isArray(v)) return ['array'];
  if (typeof v === 'object') return ['object'];
  if (typeof v === 'boolean') return ['boolean'];
  if (typeof v === 'number') return Number.isInteger(v) ? ['number', 'integer'] : ['number'];
  if (typeof v === 'string') {
    const types: ValueType[] = ['string'];
    if (options.numericStrings) {
      const n = asNumber(v, options);
      if (n !== undefined && Number.isFinite(n)) types.push('number');
      if (/^[+-]?\d+$/.test(v.trim())) types.push('integer');
      if (asBoolean(v, options) !== undefined) types.push('boolean');
    }
    return types;
  }
  return [];
}

const A_TYPE: Record<ValueType, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** Text cut to `max` characters, for prose (no quotes added). */
export function clipText(text: string, max = 200): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

/** A short, bounded rendering of any value (never recursing far into candidate data). */
export function preview(v: unknown, max = 120): string {
  const out = render(v, 3);
  return out.length <= max ? out : `${out.slice(0, max - 1)}…`;
}

function render(v: unknown, depth: number): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) {
    if (depth <= 0) return `[… ${v.length} items]`;
    const items = v.slice(0, 5).map((x) => render(x, depth - 1));
    return `[${items.join(', ')}${v.length > 5 ? `, … ${v.length - 5} more` : ''}]`;
  }
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    if (depth <= 0) return `{… ${keys.length} keys}`;
    const items = keys.slice(0, 5).map((k) => `${JSON.stringify(k)}: ${render(v[k], depth - 1)}`);
    return `{${items.join(', ')}${keys.length > 5 ? `, … ${keys.length - 5} more` : ''}}`;
  }
  return typeof v;
}

/**
 * Checks one value (`undefined` = not there) against operators. Returns `undefined` when
 * it meets them, else the reason, phrased to follow a subject: `is 0.7, expected at least 0.8`.
 */
export function checkValue(actual: unknown, ops: ValueExpectation, options: ValueOptions = {}): string | undefined {
  if (actual === undefined) {
    if (ops.exists === false) return undefined;
    return 'is missing';
  }
  if (ops.exists === false) return `is there (${preview(actual)}), expected it to be absent`;
  const shown = preview(actual);
  if (ops.type !== undefined && !typeOf(actual, options).includes(ops.type)) {
    return `is ${shown}, expected ${A_TYPE[ops.type]}`;
  }
  if (ops.eq !== undefined && !equals(actual, ops.eq, options)) return `is ${shown}, expected ${preview(ops.eq)}`;
  if (ops.ne !== undefined && equals(actual, ops.ne, options)) return `is ${shown}, expected anything but that`;
  const bounds: Array<[number | undefined, string, (a: number, b: number) => boolean]> = [
    [ops.gt, 'more than', (a, b) => a > b],
    [ops.gte, 'at least', (a, b) => a >= b],
    [ops.lt, 'less than', (a, b) => a < b],
    [ops.lte, 'at most', (a, b) => a <= b],
  ];
  for (const [bound, words, ok] of bounds) {
    if (bound === undefined) continue;
    const n = asNumber(actual, options);
    if (n === undefined) return `is ${shown}, expected a number ${words} ${bound}`;
    if (Number.isNaN(n) || !ok(n, bound)) return `is ${shown}, expected ${words} ${bound}`;
  }
  if (ops.matches !== undefined) {
    const text = typeof actual === 'string' ? actual : typeof actual === 'number' || typeof actual === 'boolean' ? String(actual) : undefined;
    if (text === undefined) return `is ${shown}, expected text matching /${ops.matches}/`;
    if (!compilePattern(ops.matches).test(text)) return `is ${shown}, expected to match /${ops.matches}/`;
  }
  return undefined;
}

/**
 * Checks one path expectation against a parsed document. Returns `undefined` when met,
 * else a message such as "field `prediction` is missing" or "`items[2].score` is 1.4,
 * expected at most 1". With `[*]`, every selected value must meet the operators, and
 * there must be at least one (unless `exists: false`).
 */
export function checkJson(doc: unknown, expectation: JsonExpectation, options: ValueOptions = {}): string | undefined {
  const { path, ...ops } = expectation;
  const found = select(doc, parsePathOrRoot(path));
  if (found.length === 0) {
    return ops.exists === false ? undefined : `\`${path}\` matched nothing (an empty list or object)`;
  }
  for (const f of found) {
    const label = f.path === '' ? 'the document' : `\`${f.path}\``;
    const why = checkValue(f.value === MISSING ? undefined : f.value, ops, options);
    if (why !== undefined) return why === 'is missing' ? `field ${label} is missing` : `${label} ${why}`;
  }
  return undefined;
}

export interface ParsedJson {
  ok: boolean;
  value?: unknown;
  /** Why it could not be parsed, bounded, to follow a subject: `is not JSON (...)`. */
  error?: string;
}

/** `JSON.parse` with a size limit and a bounded error message. */
export function parseJsonBounded(text: string, maxChars: number): ParsedJson {
  if (text.length > maxChars) return { ok: false, error: `is larger than ${maxChars} characters` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: `is not JSON (${preview((e as Error).message, 160).replace(/^"|"$/g, '')})` };
  }
}
