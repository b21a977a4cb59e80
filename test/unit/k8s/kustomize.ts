/**
 * Renders the kustomizations under k8s/ with a real kubectl and validates every object it
 * prints against the Kubernetes schemas, with the same validators as the lab checker's
 * `manifest` check (unknown fields are errors). A problem names the source file and line
 * the object came from, the object, and the field:
 *   k8s/base/deployment.yaml:31: Deployment opslab/opslab (rendered by k8s/overlays/local): spec.replicas is "two", expected a whole number
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { formatPath } from '../../../server/checker/checks/manifest-expect.js';
import { locate, objectsOf, type ManifestObject } from '../../../server/checker/checks/manifest-files.js';
import { findModel, validateObject } from '../../../server/checker/checks/manifest-schema.js';
import { formatYamlProblem, parseYamlDocuments } from '../../../server/checker/yaml-safe.js';

const run = promisify(execFile);

/** A rendered Kubernetes object, as kubectl printed it. */
export type K8sObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** Where kubectl may be: first wins. Any kubectl since 1.14 has `kubectl kustomize`. */
function kubectlCandidates(env: NodeJS.ProcessEnv): string[] {
  const fromPath = (env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'kubectl'));
  // The one scripts/k8s/build.sh builds (newest version first).
  const cache = '/var/cache/opslab-k8s';
  const built = fs.existsSync(cache)
    ? fs.readdirSync(cache).filter((d) => /^v\d/.test(d)).sort().reverse().map((v) => path.join(cache, v, 'bin', 'kubectl'))
    : [];
  return [...(env.KUBECTL ? [env.KUBECTL] : []), ...fromPath, ...built];
}

/** The kubectl to render with; throws, saying where it looked, when there is none. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = kubectlCandidates(env);
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      // not there, or not executable: try the next
    }
  }
  throw new Error(
    `no kubectl to render k8s/ with (looked at ${candidates.join(', ') || 'nothing: PATH is empty'}). ` +
      'Install one (Debian: the kubectl package, or `bash scripts/k8s/build.sh`), or set KUBECTL=/path/to/kubectl.',
  );
}

/** Every folder under `root` holding a kustomization.yaml, relative to `root`, sorted. */
export function findKustomizations(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(child);
      else if (d.name === 'kustomization.yaml' || d.name === 'kustomization.yml') out.push(rel);
    }
  };
  walk('');
  return out.sort();
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `kubectl kustomize <root>/<dir>`, parsed. Throws with kubectl's own message when it fails. */
export async function render(kubectl: string, root: string, dir: string): Promise<K8sObject[]> {
  let stdout: string;
  try {
    ({ stdout } = await run(kubectl, ['kustomize', path.join(root, dir)], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl kustomize ${dir} failed: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  }
  const parsed = parseYamlDocuments(stdout, { file: `${dir} (rendered)` });
  if (!parsed.ok) throw new Error(formatYamlProblem(parsed.problem));
  return parsed.documents.map((d, i) => {
    const v = d.value;
    if (!isMapping(v) || typeof v.apiVersion !== 'string' || typeof v.kind !== 'string' || !isMapping(v.metadata) || typeof v.metadata.name !== 'string') {
      throw new Error(`${dir}: rendered document ${i + 1} is not a named Kubernetes object`);
    }
    return unwrapSecretData(v as K8sObject);
  });
}

/**
 * kustomize prints a long base64 value of a generated Secret as a block of 70-character
 * lines. The API server reads it with Go's base64 decoder, which ignores line breaks, so
 * the Secret is fine; the schema's "byte" format is stricter. Rejoin the lines, as the
 * API server does, so that only a real problem fails the validation.
 */
function unwrapSecretData(o: K8sObject): K8sObject {
  if (o.apiVersion !== 'v1' || o.kind !== 'Secret' || !isMapping(o.data)) return o;
  const data = Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]));
  return { ...o, data };
}

/** "Deployment opslab/opslab" */
export function describe(o: K8sObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

const identity = (kind: unknown, namespace: string | undefined, name: string | undefined) => `${String(kind)}\0${namespace ?? ''}\0${name ?? ''}`;

/**
 * Every whole object (apiVersion, kind and name) in the YAML files under `root`, by kind,
 * namespace and name: where a rendered object was written. Patches also carry these, so
 * the first file that is not a patch target wins (resources before patches: the walk
 * sees files sorted, and a patch is looked up only when nothing else defines the object).
 */
export function loadSources(root: string, label: string): Map<string, ManifestObject> {
  const whole = new Map<string, ManifestObject>();
  const patches = new Map<string, ManifestObject>();
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(child);
      else if (/\.ya?ml$/.test(d.name) && !/^kustomization\.ya?ml$/.test(d.name)) {
        const file = `${label}/${child}`;
        const parsed = parseYamlDocuments(fs.readFileSync(path.join(root, child), 'utf8'), { file });
        if (!parsed.ok) throw new Error(formatYamlProblem(parsed.problem));
        for (const o of objectsOf(file, parsed.documents).objects) {
          const target = /patch/.test(d.name) ? patches : whole;
          const key = identity(o.kind, o.namespace, o.name);
          if (!target.has(key)) target.set(key, o);
        }
      }
    }
  };
  walk('');
  for (const [k, o] of patches) if (!whole.has(k)) whole.set(k, o);
  return whole;
}

/**
 * Schema problems of every rendered object, unknown fields included. `sources` (from
 * loadSources) turns a problem into file:line; `rendered` names the kustomization.
 */
export async function schemaProblems(objects: readonly K8sObject[], sources: Map<string, ManifestObject>, rendered: string): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const source = sources.get(identity(o.kind, o.metadata.namespace, o.metadata.name));
    const where = (at: (string | number)[]) => (source ? locate(source, at) : `${rendered} (rendered)`);
    const what = `${describe(o)} (rendered by ${rendered})`;
    const model = await findModel(o.apiVersion, o.kind);
    if (!model) {
      problems.push(`${where(['kind'])}: ${what}: no schema for kind ${o.kind} in apiVersion ${o.apiVersion}`);
      continue;
    }
    for (const issue of validateObject(model, o, { allowUnknownFields: false })) {
      problems.push(`${where(issue.path)}: ${what}: ${formatPath(issue.path)} ${issue.message}`);
    }
  }
  return problems;
}
