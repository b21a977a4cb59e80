/**
 * k8s/: every kustomization renders with a real kubectl, every object it prints is valid
 * against the Kubernetes schemas (unknown fields included), and the deployment is what
 * issue 8 asks for: probes on a real path and port, a Service that selects the pods,
 * RBAC limited to the driver's needs in the sandbox namespace, the sandbox namespace's
 * quota, limits and default-deny policy, and the database URL from a Secret.
 * Each rule is also shown failing on a broken copy, so none of them passes by default.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV_VARS } from '../../../server/config.js';
import {
  availabilityProblems,
  databaseSecretProblems,
  env,
  podSecurityProblems,
  probeProblems,
  publicGetPaths,
  rbacProblems,
  sandboxNamespaceProblems,
  server,
  serviceProblems,
} from './deploy-rules.js';
import { findKubectl, findKustomizations, loadSources, render, schemaProblems, type K8sObject } from './kustomize.js';

const ROOT = fileURLToPath(new URL('../../../k8s', import.meta.url));
const OPENAPI = parse(fs.readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;
const PUBLIC_PATHS = publicGetPaths(OPENAPI);
const KUSTOMIZATIONS = findKustomizations(ROOT);

let kubectl: string;
const rendered = new Map<string, K8sObject[]>();

beforeAll(async () => {
  // No kubectl is a failure with the reason (findKubectl says where it looked), never a skip.
  kubectl = findKubectl();
  for (const dir of KUSTOMIZATIONS) rendered.set(dir, await render(kubectl, ROOT, dir));
}, 120_000);

function objectsOf(dir: string): K8sObject[] {
  const objects = rendered.get(dir);
  if (!objects) throw new Error(`${dir} was not rendered`);
  return objects;
}

/** A deep copy to break without touching the rendered originals. */
function copyOf(dir: string): K8sObject[] {
  return structuredClone(objectsOf(dir));
}

function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind}${name ? ` ${name}` : ''}`);
  return o;
}

it('finds the base and both overlays to render', () => {
  expect(KUSTOMIZATIONS).toEqual(['base', 'overlays/gvisor', 'overlays/local']);
});

describe.each(KUSTOMIZATIONS)('k8s/%s', (dir) => {
  it('renders, and every object is valid against the Kubernetes schemas, with no unknown field', async () => {
    const objects = objectsOf(dir);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Namespace', 'ServiceAccount', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'ResourceQuota', 'LimitRange', 'NetworkPolicy']) {
      expect(kinds, `k8s/${dir} renders a ${kind}`).toContain(kind);
    }
    expect(await schemaProblems(objects, loadSources(ROOT, 'k8s'), `k8s/${dir}`)).toEqual([]);
  });

  it('probes the server on a path it answers without a token, on the port it listens on', () => {
    expect(PUBLIC_PATHS).toContain('/api/health');
    expect(probeProblems(objectsOf(dir), PUBLIC_PATHS)).toEqual([]);
  });

  it('has a Service that selects the server pods and forwards to their port', () => {
    expect(serviceProblems(objectsOf(dir))).toEqual([]);
  });

  it("grants the server's ServiceAccount exactly the driver's permissions, in the sandbox namespace only", () => {
    expect(rbacProblems(objectsOf(dir))).toEqual([]);
  });

  it('gives the sandbox namespace restricted pod security, a ResourceQuota, a LimitRange and a default-deny NetworkPolicy', () => {
    expect(sandboxNamespaceProblems(objectsOf(dir))).toEqual([]);
  });

  it('reads the database URL from a Secret that holds it', () => {
    expect(databaseSecretProblems(objectsOf(dir))).toEqual([]);
  });

  it('runs the server non-root, read-only, with no capabilities, RuntimeDefault seccomp and resources', () => {
    expect(podSecurityProblems(objectsOf(dir))).toEqual([]);
  });

  it('gives the server only settings it knows (a misspelled OPSLAB_* name would be ignored with a warning)', () => {
    const { container } = server(objectsOf(dir));
    const known = new Set(ENV_VARS.map((v) => v.name));
    const names = (container.raw.env as { name: string }[] | undefined ?? []).map((e) => e.name).filter((n) => n.startsWith('OPSLAB_'));
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
  });

  it('runs two replicas on different nodes, rolls without dropping one, and tells each its pod address', () => {
    expect(availabilityProblems(objectsOf(dir))).toEqual([]);
  });
});

describe('the overlays', () => {
  it('base: the database Secret is an obvious placeholder, not a credential', () => {
    const secret = find(objectsOf('base'), 'Secret', 'opslab-postgres');
    expect(String((secret.stringData as Record<string, unknown>).url)).toContain('REPLACE-ME');
  });

  it('local: never pulls the server image (there is no registry) and replaces the placeholder URL', () => {
    const objects = objectsOf('overlays/local');
    const { container, deployment } = server(objects);
    expect(container.raw.imagePullPolicy).toBe('Never');
    expect(container.raw.image).toBe('opslab/server:dev');
    const ref = (env(container, 'OPSLAB_DATABASE_URL')?.valueFrom as { secretKeyRef: { name: string } }).secretKeyRef;
    const secret = find(objects, 'Secret', ref.name);
    const url = Buffer.from(String((secret.data as Record<string, unknown>).url), 'base64').toString();
    expect(url).toMatch(/^postgres:\/\//);
    expect(url).not.toContain('REPLACE-ME');
    expect(deployment.metadata.namespace).toBe('opslab');
  });

  it('gvisor: the sandboxes get a RuntimeClass that the overlay defines', () => {
    const objects = objectsOf('overlays/gvisor');
    const runtimeClass = env(server(objects).container, 'OPSLAB_K8S_RUNTIME_CLASS')?.value;
    expect(runtimeClass).toBe('gvisor');
    expect(find(objects, 'RuntimeClass', 'gvisor').handler).toBe('runsc');
    // The base leaves the runtime to the cluster's default.
    expect(env(server(objectsOf('base')).container, 'OPSLAB_K8S_RUNTIME_CLASS')).toBeUndefined();
  });
});

describe('a broken manifest is caught', () => {
  let tmp: string;
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a misspelled field and a wrong type in a copy of base/deployment.yaml: file:line, object and field', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opslab-k8s-'));
    const copy = path.join(tmp, 'k8s');
    fs.cpSync(ROOT, copy, { recursive: true });
    const file = path.join(copy, 'base/deployment.yaml');
    const text = fs.readFileSync(file, 'utf8');
    const broken = text.replace('          readinessProbe:', '          readinesProbe:').replace('  replicas: 2', '  replicas: two');
    expect(broken).not.toBe(text);
    fs.writeFileSync(file, broken);
    const lines = broken.split('\n');
    const lineOf = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;

    const problems = await schemaProblems(await render(kubectl, copy, 'overlays/local'), loadSources(copy, 'k8s'), 'k8s/overlays/local');
    expect(problems).toEqual([
      `k8s/base/deployment.yaml:${lineOf('replicas: two')}: Deployment opslab/opslab (rendered by k8s/overlays/local): spec.replicas is "two", expected a whole number`,
      `k8s/base/deployment.yaml:${lineOf('readinesProbe:')}: Deployment opslab/opslab (rendered by k8s/overlays/local): spec.template.spec.containers[0].readinesProbe is not a known field (did you mean readinessProbe?)`,
    ]);
  });

  it('a wildcard verb, a widened rule or a cluster-wide role fails the RBAC rule', () => {
    const wildcard = copyOf('base');
    const role = find(wildcard, 'Role');
    (role.rules as { verbs: string[] }[])[0]!.verbs = ['*'];
    expect(rbacProblems(wildcard)).toEqual(expect.arrayContaining([expect.stringContaining('wildcard'), 'the server is granted "pods *", which the driver does not need']));

    const secrets = copyOf('base');
    (find(secrets, 'Role').rules as unknown[]).push({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    expect(rbacProblems(secrets)).toEqual(['the server is granted "secrets get", which the driver does not need']);

    const clusterWide = copyOf('base');
    clusterWide.push(
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'opslab' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'opslab' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'opslab' },
        subjects: [{ kind: 'ServiceAccount', name: 'opslab', namespace: 'opslab' }],
      },
    );
    expect(rbacProblems(clusterWide)).toEqual(['ClusterRole opslab: opslab needs nothing cluster-wide', 'ClusterRoleBinding opslab: opslab needs nothing cluster-wide']);

    const elsewhere = copyOf('base');
    find(elsewhere, 'RoleBinding').metadata.namespace = 'opslab';
    find(elsewhere, 'Role').metadata.namespace = 'opslab';
    expect(rbacProblems(elsewhere)[0]).toBe('RoleBinding opslab/opslab-sandbox-driver grants the server rights outside the sandbox namespace opslab-sandboxes');
  });

  it('a probe on an undeclared port or an unknown path, or a Service selecting other pods, fails', () => {
    const objects = copyOf('base');
    const { container } = server(objects);
    (container.raw.readinessProbe as { httpGet: { port: unknown } }).httpGet.port = 9090;
    (container.raw.livenessProbe as { httpGet: { path: string } }).httpGet.path = '/healthz';
    const problems = probeProblems(objects, PUBLIC_PATHS);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('readinessProbe targets port 9090, which the container does not declare');
    expect(problems[1]).toContain('livenessProbe asks for "/healthz"');

    (find(objects, 'Service').spec as { selector: Record<string, string> }).selector['app.kubernetes.io/component'] = 'web';
    expect(serviceProblems(objects)).toEqual([
      "Service opslab/opslab selects app.kubernetes.io/component=web, but the server's pods are labelled app.kubernetes.io/component=server",
    ]);
  });

  it('an allow rule in the default-deny policy, a missing quota, or the URL written in the manifest fails', () => {
    const objects = copyOf('base');
    (find(objects, 'NetworkPolicy').spec as Record<string, unknown>).egress = [{}];
    objects.splice(objects.indexOf(find(objects, 'ResourceQuota')), 1);
    expect(sandboxNamespaceProblems(objects)).toEqual([
      'no ResourceQuota in opslab-sandboxes',
      'no NetworkPolicy in opslab-sandboxes that denies all ingress and egress (podSelector {}, policyTypes Ingress and Egress, no rules)',
    ]);

    const entry = env(server(objects).container, 'OPSLAB_DATABASE_URL')!;
    delete entry.valueFrom;
    entry.value = 'postgres://opslab:secret@db:5432/opslab';
    expect(databaseSecretProblems(objects)).toEqual(['Deployment opslab/opslab writes OPSLAB_DATABASE_URL in the manifest; it must come from a Secret']);
  });
});
