/**
 * Bounded YAML parsing for untrusted text (a candidate's workspace, a lab's files).
 *
 * `yaml` alone is not enough for hostile input: it bounds alias expansion only when
 * converting to JS, its parser slows down quadratically with nesting depth (`? ? ? ?…`
 * 64 K levels deep does not finish), it catches a stack overflow for deep nesting, its
 * duplicate-key test is quadratic in a mapping's size, and aliases can build a value that
 * contains itself. So this module:
 *   - refuses text over `maxBytes` (and `readYamlFile` checks the size with fstat before
 *     reading a byte, opening with O_NOFOLLOW and refusing anything but a regular file);
 *   - drives the lexer and parser token by token and stops as soon as the parser's stack
 *     is deeper than `maxDepth` or the stream has more than `maxDocuments` documents;
 *   - tests duplicate keys itself (a Set per mapping), converts with `maxAliasCount` (the
 *     "billion laughs" guard), then refuses values that contain themselves or nest deeper
 *     than `maxDepth` once aliases are expanded;
 *   - in `parseYamlDocumentsAsync` / `readYamlFile`, returns to the event loop every few
 *     thousand tokens and gives up after `timeoutMs` (parsing costs 1-3 s per MiB).
 * Problems come back as values naming the file and, when known, the line; nothing throws
 * for bad input.
 */
import fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { Composer, Lexer, LineCounter, Parser, isMap, isNode, isScalar, isSeq, visit, type CST, type Document } from 'yaml';

export interface YamlLimits {
  /** Largest text accepted, in bytes (UTF-8). */
  maxBytes: number;
  /** Most documents in one stream (`---` separated), empty ones included. */
  maxDocuments: number;
  /** yaml's alias-expansion guard: 0 forbids aliases, -1 disables the guard (never do that). */
  maxAliasCount: number;
  /** Deepest nesting of collections (flow or block). */
  maxDepth: number;
}

export const DEFAULT_YAML_LIMITS: Readonly<YamlLimits> = Object.freeze({
  maxBytes: 2 * 1024 * 1024,
  maxDocuments: 1000,
  maxAliasCount: 100,
  maxDepth: 100,
});

export interface YamlParseOptions extends Partial<YamlLimits> {
  /** Shown in problems, as the reader would type it (a path relative to the workspace). */
  file: string;
}

export type YamlPath = readonly (string | number)[];

export interface YamlDocument {
  /** Position in the stream, counting empty documents too (0-based). */
  index: number;
  /** Line (1-based) where the document's content starts. */
  line: number;
  /** The document as plain JSON-like data (objects, arrays, strings, numbers, booleans, null). */
  value: unknown;
  /** Line (1-based) of the deepest node that exists along `path`, for messages. */
  lineOf(path: YamlPath): number | undefined;
}

export interface YamlProblem {
  file: string;
  line?: number;
  message: string;
}

export type YamlParseResult =
  | { ok: true; documents: YamlDocument[]; /** Size of the text in bytes (UTF-8). */ bytes: number }
  | { ok: false; problem: YamlProblem };

export function formatYamlProblem(p: YamlProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

function limitsOf(opts: Partial<YamlLimits>): YamlLimits {
  return {
    maxBytes: opts.maxBytes ?? DEFAULT_YAML_LIMITS.maxBytes,
    maxDocuments: opts.maxDocuments ?? DEFAULT_YAML_LIMITS.maxDocuments,
    maxAliasCount: opts.maxAliasCount ?? DEFAULT_YAML_LIMITS.maxAliasCount,
    maxDepth: opts.maxDepth ?? DEFAULT_YAML_LIMITS.maxDepth,
  };
}

function tooLarge(file: string, size: number, max: number): YamlParseResult {
  return { ok: false, problem: { file, message: `is ${formatBytes(size)}, larger than the ${formatBytes(max)} limit for a YAML file` } };
}

/** How often (in lexemes) the parsing generator offers to pause. */
const STEP_LEXEMES = 2000;

/**
 * Parses every document of `text`. Empty documents (nothing but comments, or `---` with
 * nothing after it) are left out of `documents`; an explicit `null` document is kept.
 * Synchronous: parsing 1 MiB takes one to three seconds of CPU, so prefer
 * `parseYamlDocumentsAsync` (or `readYamlFile`) in the server, which lets other work run.
 */
export function parseYamlDocuments(text: string, opts: YamlParseOptions): YamlParseResult {
  const steps = parseSteps(text, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export interface YamlAsyncOptions extends YamlParseOptions {
  /** Give up (a problem, not an exception) after this much wall time. Default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Like `parseYamlDocuments`, but returns to the event loop every few milliseconds. */
export async function parseYamlDocumentsAsync(text: string, opts: YamlAsyncOptions): Promise<YamlParseResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const steps = parseSteps(text, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    opts.signal?.throwIfAborted();
    if (Date.now() > deadline) {
      return { ok: false, problem: { file: opts.file, message: `took longer than ${((opts.timeoutMs ?? 10_000) / 1000).toFixed(1)} s to parse; make it smaller and simpler` } };
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function* parseSteps(text: string, opts: YamlParseOptions): Generator<void, YamlParseResult, void> {
  const limits = limitsOf(opts);
  const file = opts.file;
  // A string's length in UTF-16 units is at most its UTF-8 length; test the cheap one first.
  if (text.length > limits.maxBytes) return tooLarge(file, Buffer.byteLength(text), limits.maxBytes);
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.maxBytes) return tooLarge(file, bytes, limits.maxBytes);

  const counter = new LineCounter();
  const lineAt = (offset: number): number => counter.linePos(offset).line;
  const parser = new Parser(counter.addNewLine);
  const tokens: CST.Token[] = [];
  let documents = 0;
  const tooManyDocuments = (offset: number): YamlParseResult => ({
    ok: false,
    problem: { file, line: lineAt(offset), message: `has more than ${limits.maxDocuments} YAML documents` },
  });
  // What Parser.parse does, one lexeme at a time, so the limits apply while parsing: the
  // parser's stack holds the document, then one entry per open collection (and a scalar
  // being read), and the parser slows down with its depth.
  counter.addNewLine(0);
  let n = 0;
  for (const lexeme of new Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) {
      tokens.push(token);
      if (token.type === 'document' && ++documents > limits.maxDocuments) return tooManyDocuments(token.offset);
    }
    if (parser.stack.length - 1 > limits.maxDepth) {
      return {
        ok: false,
        problem: { file, line: lineAt(parser.offset), message: `is nested more than ${limits.maxDepth} levels deep (not a plausible YAML file)` },
      };
    }
    if (++n % STEP_LEXEMES === 0) yield;
  }
  for (const token of parser.end()) {
    tokens.push(token);
    if (token.type === 'document' && ++documents > limits.maxDocuments) return tooManyDocuments(token.offset);
  }
  yield;

  // Merge keys (`<<: *defaults`) are accepted, as kubectl accepts them; they count as aliases.
  // yaml's own duplicate-key test compares each key with every earlier one (quadratic in a
  // map's size), so it is off here and `duplicateKey` does it with a Set. A YAMLParseError
  // captures a stack trace, and a hostile file can produce one per token, so traces are off
  // while composing (each stretch without a `yield` is synchronous: nothing else runs).
  const traceLimit = Error.stackTraceLimit;
  let docs: Document.Parsed[];
  Error.stackTraceLimit = 0;
  try {
    docs = Array.from(new Composer({ merge: true, prettyErrors: false, uniqueKeys: false }).compose(tokens));
  } catch (e) {
    return { ok: false, problem: { file, message: `not valid YAML: ${firstLine(e)}` } };
  } finally {
    Error.stackTraceLimit = traceLimit;
  }
  const out: YamlDocument[] = [];
  for (const [index, doc] of docs.entries()) {
    yield;
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line ?? lineAt(err.pos[0]);
      return { ok: false, problem: { file, line, message: `not valid YAML: ${firstLine(err)}` } };
    }
    // Empty or comments only: no contents, or a null scalar written as nothing (`null` and `~` are kept).
    const c = doc.contents;
    if (c === null || (isScalar(c) && c.value === null && c.range[0] === c.range[1])) continue;
    const dup = duplicateKey(doc);
    if (dup) {
      const key = typeof dup.key === 'string' ? JSON.stringify(dup.key) : String(dup.key);
      return { ok: false, problem: { file, line: lineAt(dup.offset), message: `not valid YAML: the key ${key} appears twice in one mapping` } };
    }
    let value: unknown;
    Error.stackTraceLimit = 0;
    try {
      value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
    } catch (e) {
      const message = firstLine(e);
      const line = lineAt(c.range[0]);
      if (/excessive alias count/i.test(message)) {
        return {
          ok: false,
          problem: { file, line, message: `expands its aliases (*name) too many times (limit ${limits.maxAliasCount}); write the values out instead` },
        };
      }
      return { ok: false, problem: { file, line, message: `not valid YAML: ${message}` } };
    } finally {
      Error.stackTraceLimit = traceLimit;
    }
    const shape = shapeProblem(value, limits.maxDepth);
    if (shape) return { ok: false, problem: { file, line: lineAt(c.range[0]), message: shape } };
    out.push({
      index,
      line: lineAt(c.range[0]),
      value,
      lineOf: (path) => lineOfPath(doc, path, lineAt),
    });
  }
  return { ok: true, documents: out, bytes };
}

/**
 * The line of the deepest node that exists along `path`; for a mapping entry, the line of
 * its key (`selector:`), not of its value (which may start on the next line).
 */
function lineOfPath(doc: Document.Parsed, path: YamlPath, lineAt: (offset: number) => number): number | undefined {
  for (let k = path.length; k > 0; k--) {
    const parent = doc.getIn(path.slice(0, k - 1), true);
    const last = path[k - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
      const node = pair ? (isNode(pair.key) ? pair.key : pair.value) : undefined;
      if (isNode(node) && node.range) return lineAt(node.range[0]);
    } else if (isSeq(parent) && typeof last === 'number') {
      const node = parent.items[last];
      if (isNode(node) && node.range) return lineAt(node.range[0]);
    }
  }
  return doc.contents?.range ? lineAt(doc.contents.range[0]) : undefined;
}

/**
 * Aliases can make a value contain itself (`a: &x [*x]`) or nest deeper than the text
 * does. One iterative walk (shared parts are walked once) refuses both, so code that
 * walks the value later cannot loop or overflow the stack.
 */
function shapeProblem(value: unknown, maxDepth: number): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const tooDeep = `is nested more than ${maxDepth} levels deep once its aliases are expanded`;
  const height = new Map<object, number>();
  const open = new Set<object>();
  type Frame = { node: object; children: unknown[]; i: number; h: number };
  const enter = (node: object): Frame => {
    open.add(node);
    return { node, children: Array.isArray(node) ? node : Object.values(node), i: 0, h: 1 };
  };
  const stack: Frame[] = [enter(value)];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i < top.children.length) {
      const child = top.children[top.i++];
      if (child === null || typeof child !== 'object') continue;
      const known = height.get(child);
      if (known !== undefined) {
        if (stack.length + known > maxDepth) return tooDeep;
        top.h = Math.max(top.h, known + 1);
        continue;
      }
      if (open.has(child)) return 'contains itself through an alias (*name inside the node &name marks)';
      if (stack.length >= maxDepth) return tooDeep;
      stack.push(enter(child));
      continue;
    }
    stack.pop();
    open.delete(top.node);
    height.set(top.node, top.h);
    const parent = stack[stack.length - 1];
    if (parent) parent.h = Math.max(parent.h, top.h + 1);
  }
  return undefined;
}

/** The first key that repeats within one mapping (scalar keys, compared as yaml does), if any. */
function duplicateKey(doc: Document.Parsed): { key: unknown; offset: number } | undefined {
  let found: { key: unknown; offset: number } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key) || pair.key.value === '<<') continue;
        const key = pair.key.value;
        if (seen.has(key)) {
          found = { key, offset: pair.key.range?.[0] ?? 0 };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return found;
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0] ?? message;
}

export interface ReadYamlOptions extends YamlAsyncOptions {
  /** Absolute path of the file on the host. */
  path: string;
}

/**
 * Reads and parses one file without trusting it: no symlinks are followed (O_NOFOLLOW),
 * only a regular file is read, and its size is checked (fstat on the open descriptor)
 * before anything is read, so a 100 MB file costs one system call.
 */
export async function readYamlFile(opts: ReadYamlOptions): Promise<YamlParseResult> {
  const limits = limitsOf(opts);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(opts.path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ELOOP' ? 'is a symbolic link (not followed)' : code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? firstLine(e)})`;
    return { ok: false, problem: { file: opts.file, message: why } };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { ok: false, problem: { file: opts.file, message: 'is not a regular file' } };
    if (st.size > limits.maxBytes) return tooLarge(opts.file, st.size, limits.maxBytes);
    // Read at most one byte more than allowed, in case the file grew after fstat.
    const buf = Buffer.alloc(Math.min(st.size, limits.maxBytes) + 1);
    let length = 0;
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limits.maxBytes) return tooLarge(opts.file, length, limits.maxBytes);
    const bytes = buf.subarray(0, length);
    if (bytes.includes(0)) return { ok: false, problem: { file: opts.file, message: 'is a binary file, not YAML' } };
    return await parseYamlDocumentsAsync(bytes.toString('utf8'), { ...opts, ...limits });
  } finally {
    await handle.close();
  }
}
