/**
 * The `manifest` check: Kubernetes manifests in the candidate's workspace parse, validate
 * against the Kubernetes and CRD schemas, have the fields the lab expects, and refer to
 * each other correctly.
 *
 *   - id: valid
 *     type: manifest
 *     files: ["k8s/*.yaml"]          # globs in the workspace; default **\/*.yaml, **\/*.yml
 *     exclude: ["k8s/old/**"]        # optional
 *     schema: true                   # validate every object (unknown kinds and fields fail)
 *     allowUnknownKinds: false       # with schema: kinds no installed schema knows are skipped
 *     allowUnknownFields: false      # with schema: fields the schema does not know are allowed
 *   - id: first-step-small
 *     type: manifest
 *     files: ["k8s/*.yaml"]
 *     select: { kind: Rollout, name: churn-api }   # kind required; name, apiVersion, namespace optional
 *     match: all                     # all (default): every selected object meets every expectation;
 *                                    # any: at least one does
 *     count: { gte: 1, lte: 1 }      # optional: how many objects `select` finds (eq, gte, lte)
 *     expect:                        # operators: see manifest-expect.ts
 *       - { path: "spec.strategy.canary.steps[0].setWeight", lte: 20 }
 *       - { path: "spec.strategy.canary.steps[*].setWeight", increasing: true }
 *   - id: refs
 *     type: manifest
 *     references: [serviceSelectsPods, selectorMatchesTemplate, analysisTemplateExists, workloadRefExists]
 *
 * Every part given must hold. In every case the matched files must parse (a file that does
 * not, is too large or too deep, fails the check with file:line) and hold at least one
 * Kubernetes object; documents that are not Kubernetes objects (no apiVersion and no kind)
 * are ignored. When `select` finds nothing the check fails, unless `count` allows zero.
 * Failures name the file, line, object and field, e.g.
 *   k8s/rollout.yaml:14: Rollout churn-api: spec.strategy.canary.steps[0].setWeight is 50, expected ≤ 20
 */
import { z } from 'zod';
import { checkError, clip, fail, pass, type CheckContext, type CheckResult, type CheckType } from '../types.js';
import { formatYamlProblem } from '../yaml-safe.js';
import { listSome, workspacePath } from './file.js';
import { checkExpectation, expectationSchema, formatPath } from './manifest-expect.js';
import { describeObject, findFiles, loadFile, locate, MATCH_LIMIT, MAX_TOTAL_BYTES, objectsOf, short, WALK_LIMIT, type ManifestObject } from './manifest-files.js';
import { checkReferences, REFERENCE_RULES } from './manifest-refs.js';
import { assertModelsAvailable, findModel, validateObject } from './manifest-schema.js';

export const DEFAULT_FILES = ['**/*.yaml', '**/*.yml'];

const K8S_NAME = z.string().min(1).max(253);

const selectSchema = z.strictObject({
  kind: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,62}$/, 'a kind, like Deployment'),
  name: K8S_NAME.optional(),
  apiVersion: z.string().min(1).max(253).optional(),
  namespace: K8S_NAME.optional(),
});

const countSchema = z
  .strictObject({
    eq: z.number().int().min(0).optional(),
    gte: z.number().int().min(0).optional(),
    lte: z.number().int().min(0).optional(),
  })
  .refine((c) => c.eq !== undefined || c.gte !== undefined || c.lte !== undefined, { message: 'give at least one of eq, gte, lte' });

const manifestSchema = z
  .strictObject({
    type: z.literal('manifest'),
    files: z.array(workspacePath()).min(1).max(20).default(DEFAULT_FILES),
    exclude: z.array(workspacePath()).max(20).default([]),
    schema: z.boolean().default(false),
    allowUnknownKinds: z.boolean().default(false),
    allowUnknownFields: z.boolean().default(false),
    select: selectSchema.optional(),
    match: z.enum(['all', 'any']).default('all'),
    count: countSchema.optional(),
    expect: z.array(expectationSchema).min(1).max(50).optional(),
    references: z.array(z.enum(REFERENCE_RULES)).min(1).max(REFERENCE_RULES.length).optional(),
  })
  .superRefine((s, ctx) => {
    if (!s.schema && !s.select && !s.references) {
      ctx.addIssue({ code: 'custom', message: 'give at least one of schema: true, select (with expect or count), references' });
    }
    if (s.select && !s.expect && !s.count) ctx.addIssue({ code: 'custom', path: ['select'], message: 'select needs expect or count' });
    for (const key of ['expect', 'count'] as const) {
      if (s[key] !== undefined && !s.select) ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs select (which objects to look at)` });
    }
    for (const key of ['allowUnknownKinds', 'allowUnknownFields'] as const) {
      if (s[key] && !s.schema) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies to schema: true` });
    }
    if (s.references && new Set(s.references).size !== s.references.length) {
      ctx.addIssue({ code: 'custom', path: ['references'], message: 'a rule is listed twice' });
    }
  });

export type ManifestCheckSpec = z.output<typeof manifestSchema>;

/** At most this many problems are listed in a message. */
const MAX_PROBLEMS = 12;

function report(problems: string[]): string {
  const shown = problems.slice(0, MAX_PROBLEMS);
  if (problems.length > MAX_PROBLEMS) shown.push(`… and ${problems.length - MAX_PROBLEMS} more`);
  return clip(shown.join('\n'), 4000);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function schemaProblems(spec: ManifestCheckSpec, objects: readonly ManifestObject[], notes: string[]): Promise<string[]> {
  const problems: string[] = [];
  const unknownKinds = new Set<string>();
  for (const o of objects) {
    const what = describeObject(o);
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') {
      const missing = [typeof o.apiVersion !== 'string' ? 'apiVersion' : '', typeof o.kind !== 'string' ? 'kind' : ''].filter(Boolean).join(' and ');
      problems.push(`${locate(o)}: ${what}: ${missing} must be given as text`);
      continue;
    }
    const model = await findModel(o.apiVersion, o.kind);
    if (!model) {
      if (spec.allowUnknownKinds) unknownKinds.add(`${short(o.apiVersion)} ${short(o.kind, 63)}`);
      else problems.push(`${locate(o, ['kind'])}: ${what}: unknown kind ${short(o.kind, 63)} in apiVersion ${short(o.apiVersion)}`);
      continue;
    }
    const issues = validateObject(model, o.value, { allowUnknownFields: spec.allowUnknownFields });
    const meta = o.value.metadata;
    const named = typeof meta === 'object' && meta !== null && !Array.isArray(meta) && ('name' in meta || 'generateName' in meta);
    if (!named && !issues.some((i) => i.path[0] === 'metadata')) issues.unshift({ path: ['metadata', 'name'], message: 'is required' });
    for (const issue of issues) problems.push(`${locate(o, issue.path)}: ${what}: ${formatPath(issue.path)} ${issue.message}`);
  }
  if (unknownKinds.size) notes.push(`not validated (no schema installed): ${listSome([...unknownKinds])}`);
  return problems;
}

function countProblem(count: NonNullable<ManifestCheckSpec['count']>, n: number, what: string): string | undefined {
  if (count.eq !== undefined && n !== count.eq) return `found ${plural(n, what)}, expected exactly ${count.eq}`;
  if (count.gte !== undefined && n < count.gte) return `found ${plural(n, what)}, expected at least ${count.gte}`;
  if (count.lte !== undefined && n > count.lte) return `found ${plural(n, what)}, expected at most ${count.lte}`;
  return undefined;
}

function selectProblems(spec: ManifestCheckSpec, objects: readonly ManifestObject[], files: string, notes: string[]): string[] {
  const sel = spec.select!;
  const selected = objects.filter(
    (o) =>
      o.kind === sel.kind &&
      (sel.name === undefined || o.name === sel.name) &&
      (sel.apiVersion === undefined || o.apiVersion === sel.apiVersion) &&
      (sel.namespace === undefined || o.namespace === sel.namespace),
  );
  const what = `${sel.kind}${sel.name ? ` named ${sel.name}` : ''}${sel.apiVersion ? ` (${sel.apiVersion})` : ''}${sel.namespace ? ` in namespace ${sel.namespace}` : ''}`;
  if (spec.count) {
    const why = countProblem(spec.count, selected.length, `${sel.kind}${sel.name ? ` ${sel.name}` : ''}`);
    if (why) return [`${why} in ${files}`];
    notes.push(`${plural(selected.length, sel.kind)} found`);
  }
  if (selected.length === 0) {
    if (spec.count) return [];
    const sameKind = objects.filter((o) => o.kind === sel.kind);
    const near = sameKind.length ? ` (found ${listSome(sameKind.map(describeObject))})` : '';
    return [`no ${what} in ${files}${near}`];
  }
  if (!spec.expect) return [];
  const failures = selected.map((o) => {
    for (const e of spec.expect!) {
      const f = checkExpectation(o.value, e);
      if (f) return `${locate(o, f.at)}: ${describeObject(o)}: ${f.message}`;
    }
    return undefined;
  });
  const ok = selected.filter((_, i) => failures[i] === undefined);
  const bad = failures.filter((f): f is string => f !== undefined);
  if (spec.match === 'all') {
    if (bad.length === 0) notes.push(`${listSome(ok.map(describeObject))} meet${ok.length === 1 ? 's' : ''} every expectation`);
    return bad;
  }
  if (ok.length > 0) {
    notes.push(`${listSome(ok.map(describeObject))} meet${ok.length === 1 ? 's' : ''} every expectation`);
    return [];
  }
  return [`none of the ${plural(selected.length, sel.kind)} meets every expectation:`, ...bad];
}

async function run(spec: ManifestCheckSpec, ctx: CheckContext): Promise<CheckResult> {
  if (spec.schema) {
    try {
      await assertModelsAvailable();
    } catch (e) {
      return checkError('SCHEMAS_UNAVAILABLE', e instanceof Error ? e.message : String(e));
    }
  }
  const snapshot = await ctx.snapshot();
  ctx.signal.throwIfAborted();
  const globs = spec.files.join(', ');
  const found = await findFiles(snapshot.dir, spec.files, spec.exclude, ctx.signal);
  if (found.overflow) {
    return fail(`too many files to search for ${globs} (the check looks at most at ${WALK_LIMIT} entries and ${MATCH_LIMIT} matching files); keep the manifests in one folder`);
  }
  const linkNote = found.links.length ? ` (${listSome(found.links)}: symbolic link${found.links.length > 1 ? 's' : ''}, which the checker does not follow)` : '';
  if (found.files.length === 0) return fail(`no file matches ${globs}${linkNote}`);

  const problems: string[] = [];
  const objects: ManifestObject[] = [];
  let ignored = 0;
  let total = 0;
  for (const rel of found.files) {
    ctx.signal.throwIfAborted();
    const parsed = await loadFile(snapshot, rel);
    if (!parsed.ok) {
      problems.push(formatYamlProblem(parsed.problem));
      continue;
    }
    total += parsed.bytes;
    if (total > MAX_TOTAL_BYTES) {
      return fail(`the files matching ${globs} are larger than ${MAX_TOTAL_BYTES / (1024 * 1024)} MiB together; manifests are rarely that large (narrow the files)`);
    }
    const r = objectsOf(rel, parsed.documents);
    objects.push(...r.objects);
    ignored += r.ignored;
  }
  if (problems.length) return fail(report(problems));
  const notes: string[] = [`${plural(objects.length, 'object')} in ${plural(found.files.length, 'file')}: ${listSome(found.files, 10)}`];
  if (ignored) notes.push(`${plural(ignored, 'document')} without apiVersion/kind ignored`);
  if (found.links.length) notes.push(`not followed: ${listSome(found.links)}`);
  if (objects.length === 0) return fail(`no Kubernetes object (a document with apiVersion and kind) in ${listSome(found.files)}${linkNote}`);

  if (spec.schema) problems.push(...(await schemaProblems(spec, objects, notes)));
  if (spec.select) problems.push(...selectProblems(spec, objects, globs, notes));
  if (spec.references) {
    const r = checkReferences(spec.references, objects);
    problems.push(...r.problems);
    notes.push(...r.notes);
  }
  const evidence = clip(notes.join('\n'));
  return problems.length ? fail(report(problems), evidence) : pass(evidence);
}

export const manifestCheck: CheckType<ManifestCheckSpec> = {
  type: 'manifest',
  schema: manifestSchema,
  run,
};
