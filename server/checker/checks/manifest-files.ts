/**
 * Finding and reading the manifests of the manifest check, inside the snapshot only.
 *
 * The walk enters real directories only (`readdir` reports a link as a link, and links
 * are never entered or read), skips `.git`, enters only folders that can hold a match,
 * and stops after WALK_LIMIT entries or MATCH_LIMIT matching files. Files are read with
 * `readYamlFile` (O_NOFOLLOW, size checked with fstat before reading, bounded parsing), at
 * most MAX_FILE_BYTES each and MAX_TOTAL_BYTES together.
 *
 * Parsed files are cached per snapshot (a snapshot is taken once per grading and shared by
 * the checks), so a lab with several manifest checks parses each file once.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { readYamlFile, type YamlDocument, type YamlParseResult } from '../yaml-safe.js';
import type { Snapshot } from '../types.js';
import { globBase, globToRegExp } from './file.js';

export const WALK_LIMIT = 20_000;
export const MATCH_LIMIT = 200;
export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_TOTAL_BYTES = 4 * 1024 * 1024;
/** Wall time one file may take to parse before it is refused (parsing yields meanwhile). */
const PARSE_TIMEOUT_MS = 10_000;

export interface FoundFiles {
  files: string[];
  /** Symbolic links whose path matches: reported, never followed. */
  links: string[];
  /** The walk stopped at a limit. */
  overflow: boolean;
}

/** Files under `root` matching any of `globs` and none of `exclude`, sorted. */
export async function findFiles(root: string, globs: readonly string[], exclude: readonly string[], signal: AbortSignal): Promise<FoundFiles> {
  const include = globs.map((g) => ({ re: globToRegExp(g), base: globBase(g) }));
  const excludeRes = exclude.map((g) => globToRegExp(g));
  // A folder is pruned when an exclude pattern matches everything under it (`x/**`).
  const excludeDirs = exclude.filter((g) => g.endsWith('/**') || g.endsWith('/')).map((g) => globToRegExp(g));
  const files: string[] = [];
  const links: string[] = [];
  let walked = 0;
  // Can a file under relDir match some pattern? Only if relDir and the pattern's base nest.
  const mayHold = (relDir: string) =>
    include.some(({ base }) => base === '' || relDir === '' || base === relDir || base.startsWith(`${relDir}/`) || relDir.startsWith(`${base}/`));
  const walk = async (relDir: string): Promise<boolean> => {
    signal.throwIfAborted();
    let dirents;
    try {
      dirents = await fsp.readdir(relDir ? path.join(root, relDir) : root, { withFileTypes: true });
    } catch {
      return true; // vanished or unreadable: nothing to find there
    }
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of dirents) {
      if (++walked > WALK_LIMIT) return false;
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      if (d.isDirectory()) {
        if (d.name === '.git' || !mayHold(rel) || excludeDirs.some((re) => re.test(`${rel}/x`))) continue;
        if (!(await walk(rel))) return false;
        continue;
      }
      if (!include.some(({ re }) => re.test(rel)) || excludeRes.some((re) => re.test(rel))) continue;
      if (d.isSymbolicLink()) links.push(rel);
      else if (d.isFile()) {
        files.push(rel);
        if (files.length > MATCH_LIMIT) return false;
      }
    }
    return true;
  };
  const complete = await walk('');
  return { files, links, overflow: !complete };
}

const cache = new WeakMap<Snapshot, Map<string, Promise<YamlParseResult>>>();

/**
 * Parses one file of the snapshot (once per snapshot). Not tied to one check's signal:
 * checks running at the same time share the result, and parsing has its own time limit.
 */
export function loadFile(snapshot: Snapshot, rel: string): Promise<YamlParseResult> {
  let files = cache.get(snapshot);
  if (!files) {
    files = new Map();
    cache.set(snapshot, files);
  }
  let loading = files.get(rel);
  if (!loading) {
    loading = readYamlFile({ path: path.join(snapshot.dir, rel), file: rel, maxBytes: MAX_FILE_BYTES, timeoutMs: PARSE_TIMEOUT_MS });
    files.set(rel, loading);
    const map = files;
    // A load that failed unexpectedly (not a YAML problem: those are results) is retried next time.
    void loading.catch(() => map.delete(rel));
  }
  return loading;
}

/** One Kubernetes object found in a file. */
export interface ManifestObject {
  file: string;
  doc: YamlDocument;
  /** Where the object is inside its document: [] or ['items', i] for a `kind: List`. */
  base: (string | number)[];
  value: Record<string, unknown>;
  apiVersion: unknown;
  kind: unknown;
  name: string | undefined;
  namespace: string | undefined;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toObject(file: string, doc: YamlDocument, base: (string | number)[], value: Record<string, unknown>): ManifestObject {
  const meta = isMapping(value.metadata) ? value.metadata : {};
  return {
    file,
    doc,
    base,
    value,
    apiVersion: value.apiVersion,
    kind: value.kind,
    name: typeof meta.name === 'string' ? meta.name : undefined,
    namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined,
  };
}

/**
 * The Kubernetes objects of a file's documents. A document is one when it is a mapping with
 * `apiVersion` or `kind` (the others, such as a CI workflow or a params.yaml, are counted
 * in `ignored`); the items of a `v1 List` are objects of their own.
 */
export function objectsOf(file: string, documents: readonly YamlDocument[]): { objects: ManifestObject[]; ignored: number } {
  const objects: ManifestObject[] = [];
  let ignored = 0;
  for (const doc of documents) {
    const v = doc.value;
    if (!isMapping(v) || (!Object.hasOwn(v, 'apiVersion') && !Object.hasOwn(v, 'kind'))) {
      ignored += 1;
      continue;
    }
    if (v.apiVersion === 'v1' && v.kind === 'List' && Array.isArray(v.items)) {
      v.items.forEach((item: unknown, i) => {
        if (isMapping(item)) objects.push(toObject(file, doc, ['items', i], item));
        else ignored += 1;
      });
      continue;
    }
    objects.push(toObject(file, doc, [], v));
  }
  return { objects, ignored };
}

/** Candidate text inside a message: at most `max` characters. */
export function short(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** "Rollout churn-api" */
export function describeObject(o: ManifestObject): string {
  const kind = typeof o.kind === 'string' ? short(o.kind, 63) : 'object';
  return `${kind} ${o.name === undefined ? '(no metadata.name)' : short(o.name)}`;
}

/** "k8s/rollout.yaml:14" for a path inside the object. */
export function locate(o: ManifestObject, at: readonly (string | number)[] = []): string {
  const line = o.doc.lineOf([...o.base, ...at]);
  return line ? `${o.file}:${line}` : o.file;
}
