/**
 * Kubernetes and CRD schema validation for the manifest check, with the kubernetes-models
 * packages (kubernetes-models 5.1 and the CRD packages of the same family: Argo Rollouts,
 * Istio, prometheus-operator).
 *
 * Finding the schema: a model class is loaded by apiVersion and kind from
 * `<package>/<group>/<version>/<Kind>` (each package exports one module per kind), only
 * for a well-formed group/version/kind, only from the package that owns the group, and
 * only if the class it exports says it is exactly that apiVersion and kind (the same
 * folders hold classes for nested types such as DeploymentSpec, which are not kinds).
 *
 * Unknown fields: the packages ship their JSON schemas compiled by Ajv into plain
 * functions, and the Kubernetes schemas do not say `additionalProperties: false`, so the
 * validators accept `replica: 3`. The `toJSON` round trip does not help either (Model
 * copies every defined property, known or not). What does work: a compiled validator
 * reads every property its schema declares (`data.replicas !== undefined`), enumerates the
 * keys of a map (`for (const k in data)`), and never reads the keys of a free-form object
 * (`x-kubernetes-preserve-unknown-fields`). So the object is validated through a Proxy
 * that records, per mapping, which keys the validator read and whether it enumerated
 * them. Afterwards, in every mapping the validator looked into, a key it never read is
 * unknown; a mapping it enumerated is a map (labels, annotations); a mapping it never
 * looked into is free-form (or under an unknown key) and is not descended. The known keys
 * (those read) also give a "did you mean" suggestion.
 */

/** What a model class looks like from here: its type meta and the validate method. */
interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate(this: unknown): void };
}

interface ModelSource {
  pkg: string;
  owns(group: string): boolean;
}

const SOURCES: readonly ModelSource[] = [
  // The core group ("v1"), the one-word groups (apps, batch, autoscaling, policy) and *.k8s.io.
  { pkg: 'kubernetes-models', owns: (g) => g === '' || !g.includes('.') || g.endsWith('.k8s.io') },
  { pkg: '@kubernetes-models/argo-rollouts', owns: (g) => g === 'argoproj.io' },
  { pkg: '@kubernetes-models/istio', owns: (g) => g === 'istio.io' || g.endsWith('.istio.io') },
  { pkg: '@kubernetes-models/prometheus-operator', owns: (g) => g === 'monitoring.coreos.com' },
];

const GROUP = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VERSION = /^v[0-9]{1,3}((alpha|beta)[0-9]{1,3})?$/;
const KIND = /^[A-Z][A-Za-z0-9]{0,62}$/;

const cache = new Map<string, ModelClass | null>();
const CACHE_LIMIT = 2000;

function isModelClass(v: unknown, apiVersion: string, kind: string): v is ModelClass {
  if (typeof v !== 'function') return false;
  const c = v as unknown as Record<string, unknown> & { prototype?: { validate?: unknown } };
  return c.apiVersion === apiVersion && c.kind === kind && typeof c.prototype?.validate === 'function';
}

/** The class for apiVersion + kind, or null when no installed package knows it. */
export async function findModel(apiVersion: string, kind: string): Promise<ModelClass | null> {
  const key = `${apiVersion}\0${kind}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  let found: ModelClass | null = null;
  if (apiVersion.length <= 253 && (group === '' || GROUP.test(group)) && VERSION.test(version) && KIND.test(kind)) {
    for (const source of SOURCES) {
      if (!source.owns(group)) continue;
      let mod: Record<string, unknown>;
      try {
        mod = (await import(`${source.pkg}/${apiVersion}/${kind}`)) as Record<string, unknown>;
      } catch {
        continue; // no such module (ERR_MODULE_NOT_FOUND / ERR_PACKAGE_PATH_NOT_EXPORTED)
      }
      const cls = mod[kind];
      if (isModelClass(cls, apiVersion, kind)) {
        found = cls;
        break;
      }
    }
  }
  if (cache.size < CACHE_LIMIT) cache.set(key, found);
  return found;
}

/**
 * Throws when the schema packages cannot be loaded at all (a broken install), so that the
 * check reports its own error instead of calling every kind unknown.
 */
export async function assertModelsAvailable(): Promise<void> {
  const service = await findModel('v1', 'Service');
  if (!service) {
    cache.delete('v1\0Service');
    throw new Error('the Kubernetes schema packages (kubernetes-models) cannot be loaded');
  }
}

export interface SchemaIssue {
  /** Concrete path inside the object. */
  path: (string | number)[];
  /** Phrased to follow the path: "is not a known field (did you mean replicas?)". */
  message: string;
}

interface Access {
  read: Set<string>;
  enumerated: boolean;
}

/** Wraps `root` so that every mapping records what a validator reads of it. */
function tracked(root: object): { proxy: object; access: WeakMap<object, Access> } {
  const access = new WeakMap<object, Access>();
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const existing = proxies.get(value);
    if (existing) return existing;
    const rec: Access = { read: new Set(), enumerated: false };
    access.set(value, rec);
    const note = (k: string | symbol) => {
      if (typeof k === 'string') rec.read.add(k);
    };
    const proxy = new Proxy(value, {
      get(target, k, receiver) {
        note(k);
        return wrap(Reflect.get(target, k, receiver));
      },
      has(target, k) {
        note(k);
        return Reflect.has(target, k);
      },
      getOwnPropertyDescriptor(target, k) {
        note(k);
        return Reflect.getOwnPropertyDescriptor(target, k);
      },
      ownKeys(target) {
        rec.enumerated = true;
        return Reflect.ownKeys(target);
      },
      set: () => false,
      deleteProperty: () => false,
      defineProperty: () => false,
    });
    proxies.set(value, proxy);
    return proxy;
  };
  return { proxy: wrap(root) as object, access };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const MAX_UNKNOWN = 50;

function unknownFields(root: unknown, access: WeakMap<object, Access>): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  // Iterative, and each object once: values come from YAML and may share parts via aliases.
  const seen = new Set<object>();
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0 && out.length < MAX_UNKNOWN) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i] as unknown, path: [...path, i] });
      continue;
    }
    const rec = access.get(value);
    // Never reached, or reached but never looked into: free-form (preserve-unknown-fields).
    if (!rec || (!rec.enumerated && rec.read.size === 0)) continue;
    const keys = Object.keys(value);
    for (let k = keys.length - 1; k >= 0 && out.length < MAX_UNKNOWN; k--) {
      const key = keys[k]!;
      if (!rec.enumerated && !rec.read.has(key)) {
        const guess = closest(key, [...rec.read]);
        out.push({ path: [...path, key], message: `is not a known field${guess ? ` (did you mean ${guess}?)` : ''}` });
      } else {
        stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
      }
    }
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

function comparePaths(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    return typeof a[i] === 'number' && typeof b[i] === 'number' ? (a[i] as number) - (b[i] as number) : String(a[i]) < String(b[i]) ? -1 : 1;
  }
  return a.length - b.length;
}

/** The known key closest to a typo (edit distance at most 2, or differing only in case). */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    if (k === key || k.length > 64 || key.length > 64) continue;
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : distance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= 2 ? best : undefined;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

/** An Ajv instance path (`/spec/ports/0/port`) as a concrete path, numbers where the data has lists. */
function pointerToPath(root: unknown, pointer: string): (string | number)[] {
  const out: (string | number)[] = [];
  let value: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      value = value[Number(seg)] as unknown;
    } else {
      out.push(seg);
      value = isMapping(value) ? value[seg] : undefined;
    }
  }
  return out;
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v: unknown = root;
  for (const s of path) {
    if (typeof s === 'number') v = Array.isArray(v) ? (v[s] as unknown) : undefined;
    else v = isMapping(v) ? v[s] : undefined;
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (isMapping(v)) return 'a mapping';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

function describeAjvError(root: unknown, err: AjvError): SchemaIssue & { types?: string[] } {
  const path = pointerToPath(root, err.instancePath);
  const value = valueAt(root, path);
  const p = err.params;
  switch (err.keyword) {
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'is required' };
    case 'type': {
      const types = String(p.type).split(',').map((t) => TYPE_WORDS[t] ?? t);
      return { path, message: `is ${show(value)}, expected ${types.join(' or ')}`, types };
    }
    case 'enum':
      return { path, message: `is ${show(value)}, expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern':
      return { path, message: `is ${show(value)}, which does not match the pattern ${String(p.pattern)}` };
    case 'format':
      return { path, message: `is ${show(value)}, expected the format ${String(p.format)}` };
    default:
      return { path, message: `is ${show(value)}, but ${err.message ?? err.keyword}` };
  }
}

const MAX_AJV_ERRORS = 10;

/**
 * Validates one object against its model's schema. Returns the problems: schema errors
 * (types, required fields, enums, patterns) and, unless `allowUnknownFields`, fields the
 * schema does not know. Throws only for a failure of the validator itself.
 */
export function validateObject(model: ModelClass, obj: Record<string, unknown>, options: { allowUnknownFields: boolean }): SchemaIssue[] {
  const { proxy, access } = tracked(obj);
  const issues: SchemaIssue[] = [];
  try {
    model.prototype.validate.call(proxy);
  } catch (e) {
    const errors = (e as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) throw e;
    const seen = new Set<string>();
    // Type errors of the branches of an anyOf (int-or-string) become one: "expected a number or text".
    const typeIssues = new Map<string, SchemaIssue & { types: string[] }>();
    for (const err of errors as AjvError[]) {
      // oneOf/anyOf summaries repeat what their branches said.
      if (err.keyword === 'oneOf' || err.keyword === 'anyOf' || err.keyword === 'if') continue;
      const { types, ...issue } = describeAjvError(obj, err);
      const pathKey = issue.path.join('/');
      if (types) {
        const earlier = typeIssues.get(pathKey);
        if (earlier) {
          earlier.types.push(...types.filter((t) => !earlier.types.includes(t)));
          earlier.message = `is ${show(valueAt(obj, issue.path))}, expected ${earlier.types.join(' or ')}`;
          continue;
        }
        const merged = { ...issue, types: [...types] };
        typeIssues.set(pathKey, merged);
        issues.push(merged);
      } else {
        const key = `${pathKey}\0${issue.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        issues.push(issue);
      }
      if (issues.length >= MAX_AJV_ERRORS) break;
    }
    if (issues.length === 0 && errors.length > 0) issues.push(describeAjvError(obj, errors[0] as AjvError));
  }
  if (!options.allowUnknownFields) issues.push(...unknownFields(obj, access));
  return issues.map(({ path, message }) => ({ path, message }));
}
