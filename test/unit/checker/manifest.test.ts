/**
 * The `manifest` check over a temp directory standing in for the workspace snapshot:
 * schema validation (Kubernetes, Argo Rollouts, Istio, prometheus-operator), unknown
 * fields, field expectations and cross-object references.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifestCheck } from '../../../server/checker/checks/manifest.js';
import {
  ANALYSIS,
  DEPLOYMENT,
  ROLLOUT,
  SERVICE,
  SERVICE_MONITOR,
  VIRTUAL_SERVICE,
  lineOf,
  makeWorkspace,
  message,
  putCanary,
  type Workspace,
} from './manifest-fixtures.js';

let w: Workspace;
beforeEach(() => {
  w = makeWorkspace();
});
afterEach(() => w.dispose());

const K8S = { files: ['k8s/*.yaml'] };
const SCHEMA = { ...K8S, schema: true };

describe('manifest check: schema', () => {
  it('passes a valid Deployment, Service, Rollout and AnalysisTemplate', async () => {
    putCanary(w);
    const r = await w.check(SCHEMA);
    expect(r, message(r)).toMatchObject({ status: 'passed' });
    expect(r.status === 'passed' && r.evidence).toContain('4 objects in 4 files');
  });

  it('fails a typo’d field, naming the file, line, object, path and the likely field', async () => {
    putCanary(w);
    const text = DEPLOYMENT.replace('replicas: 2', 'replica: 3');
    w.put('k8s/deployment.yaml', text);
    const r = await w.check(SCHEMA);
    expect(r.status).toBe('failed');
    expect(message(r)).toBe(
      `k8s/deployment.yaml:${lineOf(text, 'replica: 3')}: Deployment churn-api-v1: spec.replica is not a known field (did you mean replicas?)`,
    );
  });

  it('fails a wrong type, naming the value and the expected type', async () => {
    putCanary(w);
    const text = DEPLOYMENT.replace('replicas: 2', 'replicas: "two"');
    w.put('k8s/deployment.yaml', text);
    const r = await w.check(SCHEMA);
    expect(message(r)).toBe(`k8s/deployment.yaml:${lineOf(text, 'replicas:')}: Deployment churn-api-v1: spec.replicas is "two", expected a whole number`);
    // An int-or-string field: one message for both branches.
    const svc = SERVICE.replace('targetPort: http', 'targetPort: true');
    w.put('k8s/service.yaml', svc);
    w.put('k8s/deployment.yaml', DEPLOYMENT);
    expect(message(await w.check(SCHEMA))).toBe(`k8s/service.yaml:${lineOf(svc, 'targetPort')}: Service churn-api: spec.ports[0].targetPort is true, expected text or a whole number`);
  });

  it('finds unknown fields deep inside lists and in CRDs', async () => {
    putCanary(w);
    const rollout = ROLLOUT.replace('- setWeight: 10', '- setWieght: 10').replace('image: churn-api:2.1.0', 'imag: churn-api:2.1.0');
    w.put('k8s/rollout.yaml', rollout);
    const r = await w.check(SCHEMA);
    const lines = message(r).split('\n');
    expect(lines).toContain(
      `k8s/rollout.yaml:${lineOf(rollout, 'setWieght')}: Rollout churn-api: spec.strategy.canary.steps[0].setWieght is not a known field (did you mean setWeight?)`,
    );
    expect(lines).toContain(`k8s/rollout.yaml:${lineOf(rollout, 'imag:')}: Rollout churn-api: spec.template.spec.containers[0].imag is not a known field (did you mean image?)`);
    // The container has no image now: required by the schema? (Kubernetes' OpenAPI does not require it.)
    expect(lines.length).toBe(2);
  });

  it('reports required fields and enum values', async () => {
    w.put(
      'k8s/svc.yaml',
      `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  type: LoadBalanced
  ports:
    - targetPort: 8080
`,
    );
    w.put('k8s/dep.yaml', DEPLOYMENT.replace(/ {2}selector:\n {4}matchLabels:\n {6}app: churn-api\n/, ''));
    const m = message(await w.check(SCHEMA));
    expect(m).toContain('k8s/svc.yaml:7: Service web: spec.ports[0].port is required');
    expect(m).toContain('Deployment churn-api-v1: spec.selector is required');
  });

  it('does not flag maps (labels, annotations, resources) or free-form fields (a web metric’s jsonBody)', async () => {
    w.put('k8s/analysis.yaml', ANALYSIS);
    w.put('k8s/deployment.yaml', DEPLOYMENT);
    expect((await w.check(SCHEMA)).status).toBe('passed');
  });

  it('validates an Istio VirtualService and a prometheus-operator ServiceMonitor', async () => {
    w.put('k8s/mesh.yaml', `${VIRTUAL_SERVICE}---\n${SERVICE_MONITOR}`);
    const ok = await w.check(SCHEMA);
    expect(ok, message(ok)).toMatchObject({ status: 'passed' });
    expect(ok.status === 'passed' && ok.evidence).toContain('2 objects in 1 file');

    const vs = VIRTUAL_SERVICE.replace('weight: 90', 'wieght: 90').replace('hosts: [churn-api]', 'hosts: churn-api');
    const sm = SERVICE_MONITOR.replace('interval: 15s', 'interval: often');
    const text = `${vs}---\n${sm}`;
    w.put('k8s/mesh.yaml', text);
    const lines = message(await w.check(SCHEMA)).split('\n');
    expect(lines).toContain(`k8s/mesh.yaml:${lineOf(text, 'hosts:')}: VirtualService churn-api: spec.hosts is "churn-api", expected a list`);
    expect(lines).toContain(
      `k8s/mesh.yaml:${lineOf(text, 'wieght')}: VirtualService churn-api: spec.http[0].route[0].wieght is not a known field (did you mean weight?)`,
    );
    expect(lines.find((l) => l.includes('ServiceMonitor churn-api: spec.endpoints[0].interval is "often", which does not match the pattern'))).toBeDefined();
  });

  it('accepts older Istio API versions', async () => {
    w.put('k8s/vs.yaml', VIRTUAL_SERVICE.replace('networking.istio.io/v1', 'networking.istio.io/v1beta1'));
    expect((await w.check(SCHEMA)).status).toBe('passed');
  });

  it('fails an unknown kind unless allowUnknownKinds', async () => {
    w.put('k8s/widget.yaml', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\nspec: { size: 3 }\n');
    w.put('k8s/svc.yaml', SERVICE);
    const r = await w.check(SCHEMA);
    expect(message(r)).toBe('k8s/widget.yaml:2: Widget w: unknown kind Widget in apiVersion example.com/v1');
    const ok = await w.check({ ...SCHEMA, allowUnknownKinds: true });
    expect(ok.status).toBe('passed');
    expect(ok.status === 'passed' && ok.evidence).toContain('not validated (no schema installed): example.com/v1 Widget');
  });

  it('treats a nested type name, a wrong apiVersion or a bad name as an unknown kind', async () => {
    w.put(
      'k8s/odd.yaml',
      [
        'apiVersion: apps/v1\nkind: DeploymentSpec\nmetadata: { name: a }\n',
        'apiVersion: apps/v1beta9\nkind: Deployment\nmetadata: { name: b }\n',
        'apiVersion: ../../v1\nkind: Service\nmetadata: { name: c }\n',
        'apiVersion: v1\nkind: service\nmetadata: { name: d }\n',
      ].join('---\n'),
    );
    const lines = message(await w.check(SCHEMA)).split('\n');
    expect(lines).toEqual([
      'k8s/odd.yaml:2: DeploymentSpec a: unknown kind DeploymentSpec in apiVersion apps/v1',
      'k8s/odd.yaml:6: Deployment b: unknown kind Deployment in apiVersion apps/v1beta9',
      'k8s/odd.yaml:10: Service c: unknown kind Service in apiVersion ../../v1',
      'k8s/odd.yaml:14: service d: unknown kind service in apiVersion v1',
    ]);
  });

  it('allowUnknownFields lets typos through but still checks types', async () => {
    w.put('k8s/deployment.yaml', DEPLOYMENT.replace('replicas: 2', 'replica: 3'));
    expect((await w.check({ ...SCHEMA, allowUnknownFields: true })).status).toBe('passed');
    w.put('k8s/deployment.yaml', DEPLOYMENT.replace('replicas: 2', 'replicas: true'));
    expect(message(await w.check({ ...SCHEMA, allowUnknownFields: true }))).toContain('spec.replicas is true, expected a whole number');
  });

  it('requires metadata.name, apiVersion and kind', async () => {
    w.put('k8s/a.yaml', 'apiVersion: v1\nkind: ConfigMap\ndata: { a: "1" }\n---\nkind: ConfigMap\nmetadata: { name: b }\n');
    const lines = message(await w.check(SCHEMA)).split('\n');
    expect(lines).toEqual(['k8s/a.yaml:1: ConfigMap (no metadata.name): metadata.name is required', 'k8s/a.yaml:5: ConfigMap b: apiVersion must be given as text']);
  });

  it('validates the items of a v1 List', async () => {
    w.put('k8s/list.yaml', `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: { name: a }\n    dat: { x: "1" }\n`);
    expect(message(await w.check(SCHEMA))).toBe('k8s/list.yaml:7: ConfigMap a: dat is not a known field (did you mean data?)');
  });

  it('ignores documents that are not Kubernetes objects, and fails when there is none', async () => {
    w.put('params.yaml', 'train:\n  epochs: 3\n');
    w.put('.github/workflows/ci.yaml', 'on: push\njobs: {}\n');
    const none = await w.check({ schema: true });
    expect(message(none)).toBe('no Kubernetes object (a document with apiVersion and kind) in .github/workflows/ci.yaml, params.yaml');
    w.put('deploy/svc.yml', SERVICE);
    const r = await w.check({ schema: true });
    expect(r, message(r)).toMatchObject({ status: 'passed' });
    expect(r.status === 'passed' && r.evidence).toContain('2 documents without apiVersion/kind ignored');
  });

  it('fails when no file matches, saying which globs', async () => {
    expect(message(await w.check(SCHEMA))).toBe('no file matches k8s/*.yaml');
  });

  it('honours exclude', async () => {
    w.put('k8s/svc.yaml', SERVICE);
    w.put('k8s/old/broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata: { name: old }\nspec: { tipe: x }\n');
    expect((await w.check({ files: ['k8s/**/*.yaml'], schema: true })).status).toBe('failed');
    expect((await w.check({ files: ['k8s/**/*.yaml'], exclude: ['k8s/old/**'], schema: true })).status).toBe('passed');
  });
});

describe('manifest check: expectations', () => {
  const rollout = (expectations: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
    w.check({ ...K8S, select: { kind: 'Rollout', name: 'churn-api' }, expect: expectations, ...extra });

  beforeEach(() => putCanary(w));

  it('passes the example of the lab format', async () => {
    const r = await rollout([
      { path: 'spec.strategy.canary.steps[0].setWeight', lte: 20 },
      { path: 'spec.strategy.canary.steps[*].setWeight', increasing: true },
      { path: 'spec.template.spec.containers[0].image', matches: 'churn-api:2\\.' },
      { path: 'spec.strategy.canary.analysis', exists: true },
      { path: 'metadata.labels.app', eq: 'churn-api' },
    ]);
    expect(r, message(r)).toMatchObject({ status: 'passed', evidence: expect.stringContaining('Rollout churn-api meets every expectation') });
  });

  const line = (needle: string) => lineOf(ROLLOUT, needle);

  it.each([
    [{ path: 'spec.replicas', eq: 3 }, { path: 'spec.replicas', eq: 4 }, `:${line('replicas: 3')}: Rollout churn-api: spec.replicas is 3, expected 4`],
    [{ path: 'metadata.labels', eq: { app: 'churn-api' } }, { path: 'metadata.labels', eq: { app: 'x' } }, ': Rollout churn-api: metadata.labels is {app: "churn-api"}, expected {app: "x"}'],
    [{ path: 'spec.replicas', ne: 1 }, { path: 'spec.replicas', ne: 3 }, ': Rollout churn-api: spec.replicas is 3, expected anything but that'],
    [{ path: 'spec.strategy.canary.steps[0].setWeight', lte: 10 }, { path: 'spec.strategy.canary.steps[0].setWeight', lte: 5 }, ': Rollout churn-api: spec.strategy.canary.steps[0].setWeight is 10, expected ≤ 5'],
    [{ path: 'spec.strategy.canary.steps[0].setWeight', lt: 11 }, { path: 'spec.strategy.canary.steps[0].setWeight', lt: 10 }, 'setWeight is 10, expected < 10'],
    [{ path: 'spec.replicas', gte: 3 }, { path: 'spec.replicas', gte: 4 }, 'spec.replicas is 3, expected ≥ 4'],
    [{ path: 'spec.replicas', gt: 2 }, { path: 'spec.replicas', gt: 3 }, 'spec.replicas is 3, expected > 3'],
    [
      { path: 'spec.template.spec.containers[0].image', matches: '^churn-api:2\\.\\d+\\.\\d+$' },
      { path: 'spec.template.spec.containers[0].image', matches: '(?i)^CHURN-API:3\\.' },
      `:${line('image:')}: Rollout churn-api: spec.template.spec.containers[0].image is "churn-api:2.1.0", expected to match /(?i)^CHURN-API:3\\./`,
    ],
    [{ path: 'spec.strategy.canary.analysis', exists: true }, { path: 'spec.strategy.blueGreen', exists: true }, 'spec.strategy.blueGreen is missing (spec.strategy is there, the rest is not), expected to be there'],
    [{ path: 'spec.strategy.blueGreen', exists: false }, { path: 'spec.strategy.canary', exists: false }, 'spec.strategy.canary is there ({analysis: {templates: [… 1 items], startingStep: 2, args: [… 1 items]}, steps: [{… 1 keys}, {… 1 k…), expected it to be absent'],
    [{ path: 'spec.strategy.canary.steps[*].setWeight', increasing: true }, { path: 'spec.strategy.canary.steps[*].setWeight', increasing: true }, 'steps[*].setWeight is [10, 30, 30], expected increasing numbers (spec.strategy.canary.steps[4].setWeight = 30 is not greater than 30)'],
    [{ path: 'spec.strategy.canary.steps[*].setWeight', nonDecreasing: true }, { path: 'spec.strategy.canary.steps[*].setWeight', nonDecreasing: true }, 'is [10, 30, 20], expected numbers that never decrease (spec.strategy.canary.steps[4].setWeight = 20 is less than 30)'],
  ])('operator %j passes and %j fails', async (good, bad, expected) => {
    const ok = await rollout([good]);
    expect(ok, message(ok)).toMatchObject({ status: 'passed' });
    if ('increasing' in bad) w.put('k8s/rollout.yaml', ROLLOUT.replace('setWeight: 60', 'setWeight: 30'));
    if ('nonDecreasing' in bad) w.put('k8s/rollout.yaml', ROLLOUT.replace('setWeight: 60', 'setWeight: 20'));
    const r = await rollout([bad]);
    expect(r.status).toBe('failed');
    expect(message(r)).toContain(expected);
    expect(message(r).startsWith('k8s/rollout.yaml:')).toBe(true);
  });

  it('a [*] path must hold for every value it yields, and must yield one', async () => {
    expect((await rollout([{ path: 'spec.strategy.canary.steps[*].setWeight', lte: 60 }])).status).toBe('passed');
    expect(message(await rollout([{ path: 'spec.strategy.canary.steps[*].setWeight', lte: 50 }]))).toContain(
      'spec.strategy.canary.steps[4].setWeight is 60, expected ≤ 50',
    );
    expect(message(await rollout([{ path: 'spec.strategy.canary.steps[*].setCanaryScale', exists: true }]))).toContain(
      'spec.strategy.canary.steps[*].setCanaryScale matched nothing',
    );
    expect((await rollout([{ path: 'spec.strategy.canary.steps[*].setCanaryScale', exists: false }])).status).toBe('passed');
  });

  it('reads keys with dots and slashes through ["…"]', async () => {
    const r = await w.check({ ...K8S, select: { kind: 'Deployment' }, expect: [{ path: 'metadata.annotations["prometheus.io/scrape"]', eq: 'true' }] });
    expect(r, message(r)).toMatchObject({ status: 'passed' });
  });

  it('comparisons want numbers, not text', async () => {
    expect(message(await rollout([{ path: 'metadata.name', lte: 3 }]))).toContain('metadata.name is "churn-api", expected a number ≤ 3');
  });

  it('match: all needs every selected object; match: any needs one', async () => {
    w.put('k8s/rollout-2.yaml', ROLLOUT.replace('name: churn-api\n', 'name: churn-api-b\n').replace('setWeight: 10', 'setWeight: 50'));
    const spec = { ...K8S, select: { kind: 'Rollout' }, expect: [{ path: 'spec.strategy.canary.steps[0].setWeight', lte: 20 }] };
    const all = await w.check(spec);
    expect(message(all)).toMatch(/^k8s\/rollout-2\.yaml:\d+: Rollout churn-api-b: spec\.strategy\.canary\.steps\[0\]\.setWeight is 50, expected ≤ 20$/);
    const any = await w.check({ ...spec, match: 'any' });
    expect(any, message(any)).toMatchObject({ status: 'passed' });
    const none = await w.check({ ...spec, match: 'any', expect: [{ path: 'spec.strategy.canary.steps[0].setWeight', lte: 5 }] });
    expect(message(none).split('\n')[0]).toBe('none of the 2 Rollouts meets every expectation:');
  });

  it('fails clearly when nothing is selected', async () => {
    const r = await w.check({ ...K8S, select: { kind: 'Rollout', name: 'churn-ap' }, expect: [{ path: 'spec.replicas', gte: 1 }] });
    expect(message(r)).toBe('no Rollout named churn-ap in k8s/*.yaml (found Rollout churn-api)');
    const r2 = await w.check({ ...K8S, select: { kind: 'StatefulSet' }, expect: [{ path: 'spec.replicas', gte: 1 }] });
    expect(message(r2)).toBe('no StatefulSet in k8s/*.yaml');
  });

  it('count: eq, gte, lte of the selected objects (zero allowed when count says so)', async () => {
    expect((await w.check({ ...K8S, select: { kind: 'Rollout' }, count: { eq: 1 } })).status).toBe('passed');
    expect(message(await w.check({ ...K8S, select: { kind: 'Rollout' }, count: { gte: 2 } }))).toBe('found 1 Rollout, expected at least 2 in k8s/*.yaml');
    expect(message(await w.check({ ...K8S, select: { kind: 'Rollout' }, count: { lte: 0 } }))).toBe('found 1 Rollout, expected at most 0 in k8s/*.yaml');
    expect((await w.check({ ...K8S, select: { kind: 'Deployment', name: 'churn-api-v1' }, count: { eq: 0 } })).status).toBe('failed');
    expect((await w.check({ ...K8S, select: { kind: 'Ingress' }, count: { eq: 0 } })).status).toBe('passed');
  });

  it('a YAML problem in any matched file fails the check with file:line', async () => {
    w.put('k8s/broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n   bad: indent\n');
    const m = message(await rollout([{ path: 'spec.replicas', eq: 3 }]));
    expect(m).toBe('k8s/broken.yaml:4: not valid YAML: Nested mappings are not allowed in compact mappings');
  });
});

describe('manifest check: references', () => {
  const refs = (rule: string) => w.check({ ...K8S, references: [rule] });

  it('all four rules pass on the valid canary', async () => {
    putCanary(w);
    const r = await w.check({ ...K8S, references: ['serviceSelectsPods', 'selectorMatchesTemplate', 'analysisTemplateExists', 'workloadRefExists'] });
    expect(r, message(r)).toMatchObject({ status: 'passed' });
    expect(r.status === 'passed' && r.evidence).toContain('Service churn-api selects Deployment churn-api-v1, Rollout churn-api');
  });

  it('serviceSelectsPods: a selector that matches no pod template fails', async () => {
    putCanary(w);
    const svc = SERVICE.replace('app: churn-api', 'app: churn');
    w.put('k8s/service.yaml', svc);
    expect(message(await refs('serviceSelectsPods'))).toBe(
      `k8s/service.yaml:${lineOf(svc, 'selector:')}: Service churn-api: spec.selector {app=churn} matches the labels of no pod template; ` +
        'pod templates found: Deployment churn-api-v1 {app=churn-api}, Rollout churn-api {app=churn-api}',
    );
  });

  it('serviceSelectsPods: needs a Service, and one with a workload to select', async () => {
    w.put('k8s/deployment.yaml', DEPLOYMENT);
    expect(message(await refs('serviceSelectsPods'))).toBe('serviceSelectsPods: no Service found');
    w.put('k8s/service.yaml', SERVICE);
    w.put('k8s/deployment.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n');
    expect(message(await refs('serviceSelectsPods'))).toContain('there is no Deployment, Rollout or other workload with a pod template');
  });

  it('serviceSelectsPods: namespaces must agree when both are given', async () => {
    w.put('k8s/service.yaml', SERVICE.replace('name: churn-api\n', 'name: churn-api\n  namespace: prod\n'));
    w.put('k8s/deployment.yaml', DEPLOYMENT.replace('name: churn-api-v1\n', 'name: churn-api-v1\n  namespace: staging\n'));
    expect((await refs('serviceSelectsPods')).status).toBe('failed');
    w.put('k8s/deployment.yaml', DEPLOYMENT);
    expect((await refs('serviceSelectsPods')).status).toBe('passed');
  });

  it('selectorMatchesTemplate: a selector the template labels do not satisfy fails', async () => {
    const dep = DEPLOYMENT.replace(/template:\n {4}metadata:\n {6}labels:\n {8}app: churn-api/, 'template:\n    metadata:\n      labels:\n        app: churn');
    w.put('k8s/deployment.yaml', dep);
    expect(message(await refs('selectorMatchesTemplate'))).toBe(
      `k8s/deployment.yaml:${lineOf(dep, '  selector:')}: Deployment churn-api-v1: spec.selector (matchLabels app=churn-api) does not match the pod template's labels {app=churn}`,
    );
    w.put('k8s/deployment.yaml', DEPLOYMENT.replace('matchLabels:\n      app: churn-api', 'matchExpressions:\n      - { key: app, operator: In, values: [churn-api, churn] }'));
    expect((await refs('selectorMatchesTemplate')).status).toBe('passed');
  });

  it('analysisTemplateExists: every templateName must name an AnalysisTemplate', async () => {
    putCanary(w);
    const ro = ROLLOUT.replace(/- analysis:\n(\s+)templates:\n(\s+)- templateName: success-rate/, '- analysis:\n$1templates:\n$2- templateName: error-rate');
    w.put('k8s/rollout.yaml', ro);
    const lines = message(await refs('analysisTemplateExists')).split('\n');
    expect(lines).toEqual([
      `k8s/rollout.yaml:${lineOf(ro, 'templateName: error-rate')}: Rollout churn-api: spec.strategy.canary.steps[3].analysis.templates[0].templateName names AnalysisTemplate "error-rate", which does not exist (found: success-rate)`,
    ]);
    w.put('k8s/analysis.yaml', `${ANALYSIS}---\n${ANALYSIS.replace('name: success-rate\nspec', 'name: error-rate\nspec')}`);
    expect((await refs('analysisTemplateExists')).status).toBe('passed');
  });

  it('analysisTemplateExists: clusterScope needs a ClusterAnalysisTemplate', async () => {
    putCanary(w);
    w.put('k8s/rollout.yaml', ROLLOUT.replace('          - templateName: success-rate\n        startingStep', '          - templateName: success-rate\n            clusterScope: true\n        startingStep'));
    expect(message(await refs('analysisTemplateExists'))).toContain(
      'spec.strategy.canary.analysis.templates[0].templateName names ClusterAnalysisTemplate "success-rate", which does not exist',
    );
    w.put('k8s/cluster-analysis.yaml', ANALYSIS.replace('kind: AnalysisTemplate', 'kind: ClusterAnalysisTemplate'));
    expect((await refs('analysisTemplateExists')).status).toBe('passed');
  });

  it('analysisTemplateExists and workloadRefExists need a Rollout', async () => {
    w.put('k8s/deployment.yaml', DEPLOYMENT);
    expect(message(await refs('analysisTemplateExists'))).toBe('analysisTemplateExists: no Rollout found');
    expect(message(await refs('workloadRefExists'))).toBe('workloadRefExists: no Rollout found');
  });

  const WORKLOAD_REF_ROLLOUT = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: churn-api
spec:
  replicas: 3
  selector:
    matchLabels: { app: churn-api }
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: churn-api-v1
  strategy:
    canary:
      steps: [{ setWeight: 20 }, { pause: {} }]
`;

  it('workloadRefExists: the Deployment a Rollout points to must exist', async () => {
    w.put('k8s/deployment.yaml', DEPLOYMENT);
    w.put('k8s/rollout.yaml', WORKLOAD_REF_ROLLOUT);
    const ok = await refs('workloadRefExists');
    expect(ok, message(ok)).toMatchObject({ status: 'passed', evidence: expect.stringContaining('Rollout churn-api → Deployment churn-api-v1') });
    expect((await w.check({ ...K8S, schema: true })).status).toBe('passed');

    const bad = WORKLOAD_REF_ROLLOUT.replace('name: churn-api-v1', 'name: churn-api-v2');
    w.put('k8s/rollout.yaml', bad);
    expect(message(await refs('workloadRefExists'))).toBe(
      `k8s/rollout.yaml:${lineOf(bad, 'workloadRef:')}: Rollout churn-api: spec.workloadRef points to Deployment "churn-api-v2": no Deployment named "churn-api-v2" (found: churn-api-v1)`,
    );
    w.put('k8s/rollout.yaml', WORKLOAD_REF_ROLLOUT.replace('apiVersion: apps/v1\n    kind', 'apiVersion: apps/v2\n    kind'));
    expect(message(await refs('workloadRefExists'))).toContain('Deployment churn-api-v1 has apiVersion apps/v1, not apps/v2');
  });
});

describe('manifest check: the spec', () => {
  const parse = (raw: Record<string, unknown>) => manifestCheck.schema.safeParse({ type: 'manifest', ...raw });
  const issues = (raw: Record<string, unknown>) => {
    const r = parse(raw);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('has the documented defaults', () => {
    const r = parse({ schema: true });
    expect(r.success && r.data).toMatchObject({ files: ['**/*.yaml', '**/*.yml'], exclude: [], match: 'all', allowUnknownKinds: false, allowUnknownFields: false });
  });

  it('is strict, and refuses specs that would check nothing or make no sense', () => {
    expect(issues({ schema: true, shema: true })[0]).toMatch(/Unrecognized key.*shema/);
    expect(issues({})).toEqual([': give at least one of schema: true, select (with expect or count), references']);
    expect(issues({ select: { kind: 'Rollout' } })).toEqual(['select: select needs expect or count']);
    expect(issues({ schema: true, expect: [{ path: 'a', eq: 1 }] })).toEqual(['expect: expect needs select (which objects to look at)']);
    expect(issues({ references: ['allowUnknownKinds'] })[0]).toMatch(/^references\.0: /);
    expect(issues({ select: { kind: 'Rollout' }, expect: [{ path: 'a' }] })[0]).toMatch(/give at least one of eq, ne/);
    expect(issues({ select: { kind: 'Rollout' }, expect: [{ path: 'a', exists: false, eq: 1 }] })[0]).toMatch(/exists: false cannot be combined/);
    expect(issues({ select: { kind: 'Rollout' }, expect: [{ path: 'a..b', eq: 1 }] })[0]).toMatch(/empty key/);
    expect(issues({ files: ['../outside/*.yaml'], schema: true })[0]).toMatch(/inside the workspace/);
    expect(issues({ files: ['/etc/*.yaml'], schema: true })[0]).toMatch(/relative/);
    expect(issues({ select: { kind: 'Rollout' }, count: {} })[0]).toMatch(/give at least one of eq, gte, lte/);
  });

  it('refuses catastrophic or invalid patterns at load time', () => {
    const pattern = (matches: string) => issues({ select: { kind: 'Rollout' }, expect: [{ path: 'metadata.name', matches }] });
    expect(pattern('(a+)+$')[0]).toMatch(/pattern refused: a repeated group contains a repetition/);
    expect(pattern('(\\w*\\s?)*x')[0]).toMatch(/pattern refused/);
    expect(pattern('(a)\\1')[0]).toMatch(/backreferences/);
    expect(pattern('[unclosed')[0]).toMatch(/not a valid regular expression/);
    expect(pattern('^churn-api:2\\.\\d+\\.\\d+$')).toEqual([]);
  });
});
