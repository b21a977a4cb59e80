/**
 * Cross-object reference rules of the manifest check. Each looks at every object of the
 * check's files and reports each dangling reference with the file, line and object.
 *
 *   serviceSelectsPods       every Service with a selector selects the pod template of at
 *                            least one workload (Deployment, Rollout, StatefulSet, DaemonSet,
 *                            ReplicaSet, Job, CronJob, Pod); there must be at least one such
 *                            Service.
 *   selectorMatchesTemplate  every Deployment/Rollout/StatefulSet/DaemonSet/ReplicaSet's
 *                            spec.selector matches its own pod template's labels (the API
 *                            server refuses it otherwise); at least one such workload.
 *   analysisTemplateExists   every AnalysisTemplate a Rollout names (canary analysis, step
 *                            analysis, experiment analyses, blue-green pre/post promotion)
 *                            exists: an AnalysisTemplate, or a ClusterAnalysisTemplate when
 *                            `clusterScope: true`; at least one Rollout.
 *   workloadRefExists        every Rollout's spec.workloadRef names an object of that kind
 *                            and name (and apiVersion, when given); at least one Rollout.
 *
 * Namespaces: two objects are in the same namespace unless both name one and they differ
 * (manifests often leave it to `kubectl apply -n`).
 */
import { describeObject, locate, short, type ManifestObject } from './manifest-files.js';
import { formatPath, preview } from './manifest-expect.js';

export const REFERENCE_RULES = ['serviceSelectsPods', 'selectorMatchesTemplate', 'analysisTemplateExists', 'workloadRefExists'] as const;
export type ReferenceRule = (typeof REFERENCE_RULES)[number];

export interface RuleOutcome {
  problems: string[];
  /** What was checked, for the evidence. */
  notes: string[];
}

type Labels = Record<string, string>;

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function get(v: unknown, ...path: (string | number)[]): unknown {
  let cur = v;
  for (const s of path) {
    if (typeof s === 'number') cur = Array.isArray(cur) ? (cur[s] as unknown) : undefined;
    else cur = isMapping(cur) ? cur[s] : undefined;
  }
  return cur;
}

function labelsOf(v: unknown): Labels | undefined {
  if (!isMapping(v)) return undefined;
  const out: Labels = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
  return out;
}

function sameNamespace(a: ManifestObject, b: ManifestObject): boolean {
  return a.namespace === undefined || b.namespace === undefined || a.namespace === b.namespace;
}

function showLabels(l: Labels): string {
  const entries = Object.entries(l);
  if (entries.length === 0) return '{}';
  const shown = entries.slice(0, 6).map(([k, v]) => `${short(k, 60)}=${short(v, 60)}`);
  return `{${shown.join(', ')}${entries.length > 6 ? ', …' : ''}}`;
}

function listSome(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

const TEMPLATE_KINDS: Record<string, (string | number)[]> = {
  Deployment: ['spec', 'template'],
  Rollout: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

interface PodTemplate {
  owner: ManifestObject;
  /** Path of the labels inside the owner. */
  at: (string | number)[];
  labels: Labels;
}

function podTemplates(objects: readonly ManifestObject[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    if (o.kind === 'Pod') {
      out.push({ owner: o, at: ['metadata', 'labels'], labels: labelsOf(get(o.value, 'metadata', 'labels')) ?? {} });
      continue;
    }
    const tpl = typeof o.kind === 'string' ? TEMPLATE_KINDS[o.kind] : undefined;
    if (!tpl) continue;
    const template = get(o.value, ...tpl);
    if (!isMapping(template)) continue; // a Rollout with workloadRef: its Deployment has the template
    out.push({ owner: o, at: [...tpl, 'metadata', 'labels'], labels: labelsOf(get(template, 'metadata', 'labels')) ?? {} });
  }
  return out;
}

function selects(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function serviceSelectsPods(objects: readonly ManifestObject[]): RuleOutcome {
  const problems: string[] = [];
  const notes: string[] = [];
  const templates = podTemplates(objects);
  const services = objects.filter((o) => o.kind === 'Service');
  let checked = 0;
  for (const svc of services) {
    const raw = get(svc.value, 'spec', 'selector');
    const selector = labelsOf(raw);
    // ExternalName services and services without a selector (manual Endpoints) select no pods.
    if (get(svc.value, 'spec', 'type') === 'ExternalName' || !selector || Object.keys(selector).length === 0) continue;
    checked += 1;
    const matches = templates.filter((t) => sameNamespace(svc, t.owner) && selects(selector, t.labels));
    if (matches.length > 0) {
      notes.push(`${describeObject(svc)} selects ${listSome(matches.map((m) => describeObject(m.owner)))}`);
      continue;
    }
    const candidates = templates.filter((t) => sameNamespace(svc, t.owner));
    const seen = candidates.length
      ? `; pod templates found: ${listSome(candidates.map((t) => `${describeObject(t.owner)} ${showLabels(t.labels)}`), 4)}`
      : '; there is no Deployment, Rollout or other workload with a pod template';
    problems.push(`${locate(svc, ['spec', 'selector'])}: ${describeObject(svc)}: spec.selector ${showLabels(selector)} matches the labels of no pod template${seen}`);
  }
  if (checked === 0) {
    problems.push(services.length ? `no Service has a spec.selector (found ${listSome(services.map(describeObject))})` : 'no Service found');
  }
  return { problems, notes };
}

interface LabelSelector {
  matchLabels: Labels;
  expressions: { key: string; operator: string; values: string[] }[];
}

function labelSelectorOf(v: unknown): LabelSelector | undefined {
  if (!isMapping(v)) return undefined;
  const expressions: LabelSelector['expressions'] = [];
  const raw = v.matchExpressions;
  if (Array.isArray(raw)) {
    for (const e of raw.slice(0, 100)) {
      if (!isMapping(e) || typeof e.key !== 'string' || typeof e.operator !== 'string') continue;
      const values = Array.isArray(e.values) ? e.values.slice(0, 100).map((x: unknown) => String(x)) : [];
      expressions.push({ key: e.key, operator: e.operator, values });
    }
  }
  return { matchLabels: labelsOf(v.matchLabels) ?? {}, expressions };
}

function selectorMatches(sel: LabelSelector, labels: Labels): string | undefined {
  for (const [k, v] of Object.entries(sel.matchLabels)) {
    if (labels[k] !== v) return `matchLabels ${short(k, 60)}=${short(v, 60)}`;
  }
  for (const e of sel.expressions) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const ok =
      e.operator === 'In' ? has && e.values.includes(value!)
      : e.operator === 'NotIn' ? !has || !e.values.includes(value!)
      : e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : true;
    if (!ok) return `matchExpressions ${short(e.key, 60)} ${short(e.operator, 20)}${e.values.length ? ` [${short(e.values.join(', '))}]` : ''}`;
  }
  return undefined;
}

function selectorMatchesTemplate(objects: readonly ManifestObject[]): RuleOutcome {
  const problems: string[] = [];
  const notes: string[] = [];
  let checked = 0;
  for (const o of objects) {
    if (!['Deployment', 'Rollout', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(o.kind as string)) continue;
    const template = get(o.value, 'spec', 'template');
    if (!isMapping(template)) continue;
    checked += 1;
    const sel = labelSelectorOf(get(o.value, 'spec', 'selector'));
    if (!sel || (Object.keys(sel.matchLabels).length === 0 && sel.expressions.length === 0)) {
      problems.push(`${locate(o, ['spec'])}: ${describeObject(o)}: spec.selector is missing or empty (it must select the pod template's labels)`);
      continue;
    }
    const labels = labelsOf(get(template, 'metadata', 'labels')) ?? {};
    const miss = selectorMatches(sel, labels);
    if (miss) {
      problems.push(
        `${locate(o, ['spec', 'selector'])}: ${describeObject(o)}: spec.selector (${miss}) does not match the pod template's labels ${showLabels(labels)}`,
      );
    } else notes.push(`${describeObject(o)} selector matches its template`);
  }
  if (checked === 0) problems.push('no Deployment, Rollout, StatefulSet, DaemonSet or ReplicaSet with a pod template found');
  return { problems, notes };
}

interface TemplateRef {
  at: (string | number)[];
  name: unknown;
  clusterScope: boolean;
}

function analysisRefs(rollout: ManifestObject): TemplateRef[] {
  const refs: TemplateRef[] = [];
  const fromList = (at: (string | number)[], key = 'templateName') => {
    const list = get(rollout.value, ...at);
    if (!Array.isArray(list)) return;
    list.slice(0, 100).forEach((t: unknown, i) => {
      if (isMapping(t)) refs.push({ at: [...at, i, key], name: t[key], clusterScope: t.clusterScope === true });
    });
  };
  const canary = ['spec', 'strategy', 'canary'];
  fromList([...canary, 'analysis', 'templates']);
  const steps = get(rollout.value, ...canary, 'steps');
  if (Array.isArray(steps)) {
    steps.slice(0, 200).forEach((_: unknown, i) => {
      fromList([...canary, 'steps', i, 'analysis', 'templates']);
      fromList([...canary, 'steps', i, 'experiment', 'analyses']);
    });
  }
  fromList(['spec', 'strategy', 'blueGreen', 'prePromotionAnalysis', 'templates']);
  fromList(['spec', 'strategy', 'blueGreen', 'postPromotionAnalysis', 'templates']);
  return refs;
}

function analysisTemplateExists(objects: readonly ManifestObject[]): RuleOutcome {
  const problems: string[] = [];
  const notes: string[] = [];
  const rollouts = objects.filter((o) => o.kind === 'Rollout');
  if (rollouts.length === 0) return { problems: ['no Rollout found'], notes };
  for (const r of rollouts) {
    const refs = analysisRefs(r);
    if (refs.length === 0) notes.push(`${describeObject(r)} names no AnalysisTemplate`);
    for (const ref of refs) {
      const kind = ref.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
      const where = `${locate(r, ref.at)}: ${describeObject(r)}: ${formatPath(ref.at)}`;
      if (typeof ref.name !== 'string' || ref.name === '') {
        problems.push(`${where} is ${preview(ref.name)}, expected the name of an ${kind}`);
        continue;
      }
      const candidates = objects.filter((o) => o.kind === kind && (ref.clusterScope || sameNamespace(r, o)));
      if (candidates.some((o) => o.name === ref.name)) {
        notes.push(`${describeObject(r)} → ${kind} ${short(ref.name)}`);
        continue;
      }
      const names = candidates.map((o) => short(o.name ?? '(no name)'));
      const found = names.length ? ` (found: ${listSome(names)})` : '';
      problems.push(`${where} names ${kind} "${short(ref.name)}", which does not exist${found}`);
    }
  }
  return { problems, notes };
}

function workloadRefExists(objects: readonly ManifestObject[]): RuleOutcome {
  const problems: string[] = [];
  const notes: string[] = [];
  const rollouts = objects.filter((o) => o.kind === 'Rollout');
  if (rollouts.length === 0) return { problems: ['no Rollout found'], notes };
  for (const r of rollouts) {
    const ref = get(r.value, 'spec', 'workloadRef');
    if (ref === undefined) {
      notes.push(`${describeObject(r)} has no workloadRef`);
      continue;
    }
    const where = `${locate(r, ['spec', 'workloadRef'])}: ${describeObject(r)}: spec.workloadRef`;
    if (!isMapping(ref) || typeof ref.kind !== 'string' || typeof ref.name !== 'string') {
      problems.push(`${where} is ${preview(ref)}, expected {apiVersion, kind, name}`);
      continue;
    }
    const { kind, name } = ref;
    const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : undefined;
    const [k, n] = [short(kind, 63), short(name)];
    const target = objects.find((o) => o.kind === kind && o.name === name && sameNamespace(r, o) && (apiVersion === undefined || o.apiVersion === apiVersion));
    if (target) {
      notes.push(`${describeObject(r)} → ${describeObject(target)}`);
      continue;
    }
    const sameKind = objects.filter((o) => o.kind === kind && sameNamespace(r, o));
    const byName = sameKind.find((o) => o.name === name);
    const why = byName
      ? `${k} ${n} has apiVersion ${short(String(byName.apiVersion))}, not ${short(apiVersion ?? '')}`
      : sameKind.length
        ? `no ${k} named "${n}" (found: ${listSome(sameKind.map((o) => short(o.name ?? '(no name)')))})`
        : `no ${k} named "${n}" in the manifests`;
    problems.push(`${where} points to ${k} "${n}": ${why}`);
  }
  return { problems, notes };
}

const RULES: Record<ReferenceRule, (objects: readonly ManifestObject[]) => RuleOutcome> = {
  serviceSelectsPods,
  selectorMatchesTemplate,
  analysisTemplateExists,
  workloadRefExists,
};

export function checkReferences(rules: readonly ReferenceRule[], objects: readonly ManifestObject[]): RuleOutcome {
  const problems: string[] = [];
  const notes: string[] = [];
  for (const rule of rules) {
    const r = RULES[rule](objects);
    problems.push(...r.problems.map((p) => (p.startsWith('no ') ? `${rule}: ${p}` : p)));
    notes.push(...r.notes);
  }
  return { problems, notes };
}
