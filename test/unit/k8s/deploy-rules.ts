/**
 * What the opslab deployment must be, checked the way a reviewer would read the rendered
 * manifests. Each rule returns its problems (empty when it holds), so a test can show a
 * rule failing on a broken copy as well as passing on the real files.
 */
import { describe, type K8sObject } from './kustomize.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
function list(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

export interface Container {
  name: string;
  raw: Obj;
}

/** The server's Deployment and what the rules need from it. */
export interface Server {
  deployment: K8sObject;
  namespace: string;
  podSpec: Obj;
  podLabels: Record<string, string>;
  container: Container;
}

/** The one Deployment (the server); throws when there is not exactly one. */
export function server(objects: readonly K8sObject[]): Server {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  if (deployments.length !== 1) throw new Error(`expected exactly one Deployment (the server), found ${deployments.length}`);
  const deployment = deployments[0]!;
  const template = obj(obj(deployment.spec).template);
  const podSpec = obj(template.spec);
  const containers = list(podSpec.containers);
  if (containers.length !== 1) throw new Error(`${describe(deployment)}: expected one container, found ${containers.length}`);
  const c = containers[0]!;
  return {
    deployment,
    namespace: deployment.metadata.namespace ?? 'default',
    podSpec,
    podLabels: obj(obj(template.metadata).labels) as Record<string, string>,
    container: { name: String(c.name), raw: c },
  };
}

/** An env entry of the container: its literal value, or where it comes from. */
export function env(c: Container, name: string): Obj | undefined {
  return list(c.raw.env).find((e) => e.name === name);
}

/** The container port a probe or Service names (by name or number), or undefined. */
function containerPort(c: Container, port: unknown): number | undefined {
  const ports = list(c.raw.ports);
  const found = typeof port === 'number' ? ports.find((p) => p.containerPort === port) : ports.find((p) => p.name === port);
  return typeof found?.containerPort === 'number' ? found.containerPort : undefined;
}

/** GET paths the server answers without a token (docs/openapi.yaml, kept true by its own test). */
export function publicGetPaths(openapi: Obj): Set<string> {
  const out = new Set<string>();
  for (const [p, ops] of Object.entries(obj(openapi.paths))) {
    const get = obj(obj(ops).get);
    if (get['x-opslab-status'] === 'planned') continue;
    if (Array.isArray(get.security) && get.security.length === 0 && isObj(obj(get.responses)['200'])) out.add(p);
  }
  return out;
}

/**
 * Readiness and liveness probes exist, ask the server over HTTP for a path it answers
 * without a token, on a port the container declares, which is the port the server
 * listens on (OPSLAB_PORT).
 */
export function probeProblems(objects: readonly K8sObject[], publicPaths: Set<string>): string[] {
  const s = server(objects);
  const c = s.container;
  const problems: string[] = [];
  const listening = Number(env(c, 'OPSLAB_PORT')?.value ?? 8080);
  for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
    const probe = c.raw[kind];
    if (probe === undefined && kind === 'startupProbe') continue;
    const get = obj(obj(probe).httpGet);
    const where = `${describe(s.deployment)}: container ${c.name}: ${kind}`;
    if (!isObj(probe)) {
      problems.push(`${where} is missing`);
      continue;
    }
    if (!isObj(obj(probe).httpGet)) {
      problems.push(`${where} is not an httpGet probe`);
      continue;
    }
    const port = containerPort(c, get.port);
    if (port === undefined) problems.push(`${where} targets port ${JSON.stringify(get.port)}, which the container does not declare`);
    else if (port !== listening) problems.push(`${where} targets port ${port}, but the server listens on ${listening} (OPSLAB_PORT)`);
    if (typeof get.path !== 'string' || !publicPaths.has(get.path)) {
      problems.push(`${where} asks for ${JSON.stringify(get.path)}, which is not a GET the server answers without a token (${[...publicPaths].join(', ')})`);
    }
  }
  return problems;
}

/** The Service selects exactly the server's pods and forwards to a port they declare. */
export function serviceProblems(objects: readonly K8sObject[]): string[] {
  const s = server(objects);
  const services = objects.filter((o) => o.kind === 'Service');
  if (services.length === 0) return ['no Service in front of the server'];
  const problems: string[] = [];
  for (const svc of services) {
    const spec = obj(svc.spec);
    const selector = obj(spec.selector);
    if (Object.keys(selector).length === 0) problems.push(`${describe(svc)} has no selector`);
    for (const [k, v] of Object.entries(selector)) {
      if (s.podLabels[k] !== v) problems.push(`${describe(svc)} selects ${k}=${String(v)}, but the server's pods are labelled ${k}=${s.podLabels[k] ?? '(none)'}`);
    }
    if ((svc.metadata.namespace ?? 'default') !== s.namespace) problems.push(`${describe(svc)} is not in the server's namespace ${s.namespace}`);
    for (const p of list(spec.ports)) {
      const target = p.targetPort ?? p.port;
      if (containerPort(s.container, target) === undefined) problems.push(`${describe(svc)} port ${String(p.port)} forwards to ${JSON.stringify(target)}, which the server container does not declare`);
    }
  }
  return problems;
}

/** The sandbox namespace the server is configured for (OPSLAB_K8S_NAMESPACE). */
export function sandboxNamespace(objects: readonly K8sObject[]): string {
  const value = env(server(objects).container, 'OPSLAB_K8S_NAMESPACE')?.value;
  if (typeof value !== 'string') throw new Error('the server container does not set OPSLAB_K8S_NAMESPACE');
  return value;
}

/** Exactly what the KubernetesDriver needs, as "group/resource verb" ("" group: "resource verb"). */
export const DRIVER_PERMISSIONS: readonly string[] = [
  'pods get', 'pods list', 'pods create', 'pods delete',
  'pods/exec create', 'pods/exec get',
  'pods/attach create', 'pods/attach get',
  'networking.k8s.io/networkpolicies list',
  'networking.k8s.io/networkpolicies create', 'networking.k8s.io/networkpolicies delete',
];

/**
 * RBAC: the server's ServiceAccount gets exactly DRIVER_PERMISSIONS, through Roles in the
 * sandbox namespace only. No ClusterRole or ClusterRoleBinding at all, no wildcard, no
 * non-resource URL, nothing in another namespace, nothing granted to a group.
 */
export function rbacProblems(objects: readonly K8sObject[]): string[] {
  const s = server(objects);
  const sandboxes = sandboxNamespace(objects);
  const account = typeof s.podSpec.serviceAccountName === 'string' ? s.podSpec.serviceAccountName : 'default';
  const problems: string[] = [];
  for (const o of objects) {
    if (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding') problems.push(`${describe(o)}: opslab needs nothing cluster-wide`);
  }
  if (!objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === account && o.metadata.namespace === s.namespace)) {
    problems.push(`the server runs as ServiceAccount ${s.namespace}/${account}, which is not in the manifests`);
  }
  const granted = new Set<string>();
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding')) {
    const subjects = list(binding.subjects);
    for (const subject of subjects) {
      if (subject.kind !== 'ServiceAccount') problems.push(`${describe(binding)} grants to ${String(subject.kind)} ${String(subject.name)}: only the server's ServiceAccount may be bound`);
    }
    const bindsServer = subjects.some((x) => x.kind === 'ServiceAccount' && x.name === account && (x.namespace ?? binding.metadata.namespace) === s.namespace);
    if (!bindsServer) {
      problems.push(`${describe(binding)} does not bind the server's ServiceAccount ${s.namespace}/${account}`);
      continue;
    }
    if (binding.metadata.namespace !== sandboxes) problems.push(`${describe(binding)} grants the server rights outside the sandbox namespace ${sandboxes}`);
    const ref = obj(binding.roleRef);
    if (ref.kind !== 'Role') {
      problems.push(`${describe(binding)} refers to a ${String(ref.kind)}; it must refer to a Role in ${sandboxes}`);
      continue;
    }
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === ref.name && o.metadata.namespace === binding.metadata.namespace);
    if (!role) {
      problems.push(`${describe(binding)} refers to Role ${String(ref.name)}, which is not in the manifests`);
      continue;
    }
    for (const rule of list(role.rules)) {
      if (rule.nonResourceURLs !== undefined) problems.push(`${describe(role)}: a rule grants non-resource URLs`);
      for (const group of strings(rule.apiGroups)) {
        for (const resource of strings(rule.resources)) {
          for (const verb of strings(rule.verbs)) {
            if ([group, resource, verb].includes('*')) problems.push(`${describe(role)}: wildcard in ${JSON.stringify({ apiGroups: group, resources: resource, verbs: verb })}`);
            granted.add(`${group ? `${group}/` : ''}${resource} ${verb}`);
          }
        }
      }
    }
  }
  for (const p of granted) if (!DRIVER_PERMISSIONS.includes(p)) problems.push(`the server is granted "${p}", which the driver does not need`);
  for (const p of DRIVER_PERMISSIONS) if (!granted.has(p)) problems.push(`the server is not granted "${p}", which the driver needs`);
  return problems;
}

/**
 * The sandbox namespace exists, enforces the `restricted` Pod Security Standard, and has a
 * ResourceQuota, a LimitRange and a NetworkPolicy that denies all ingress and egress to
 * every pod (podSelector {}, both policy types, no rules).
 */
export function sandboxNamespaceProblems(objects: readonly K8sObject[]): string[] {
  const ns = sandboxNamespace(objects);
  const problems: string[] = [];
  const namespace = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === ns);
  if (!namespace) problems.push(`no Namespace ${ns} (OPSLAB_K8S_NAMESPACE)`);
  else if (obj(obj(namespace.metadata).labels)['pod-security.kubernetes.io/enforce'] !== 'restricted') {
    problems.push(`${describe(namespace)} does not enforce the restricted Pod Security Standard`);
  }
  const inNs = objects.filter((o) => o.metadata.namespace === ns);
  const quota = inNs.find((o) => o.kind === 'ResourceQuota');
  if (!quota) problems.push(`no ResourceQuota in ${ns}`);
  else {
    const hard = obj(obj(quota.spec).hard);
    for (const r of ['pods', 'limits.cpu', 'limits.memory', 'limits.ephemeral-storage']) {
      if (hard[r] === undefined) problems.push(`${describe(quota)} does not bound ${r}`);
    }
  }
  const limitRange = inNs.find((o) => o.kind === 'LimitRange');
  if (!limitRange) problems.push(`no LimitRange in ${ns}`);
  else if (!list(obj(limitRange.spec).limits).some((l) => l.type === 'Container' && isObj(l.default) && isObj(l.max))) {
    problems.push(`${describe(limitRange)} has no Container default and max`);
  }
  const denyAll = inNs.filter((o) => {
    if (o.kind !== 'NetworkPolicy') return false;
    const spec = obj(o.spec);
    const selectsAll = isObj(spec.podSelector) && Object.keys(spec.podSelector).length === 0;
    const types = strings(spec.policyTypes);
    const noRules = list(spec.ingress).length === 0 && list(spec.egress).length === 0;
    return selectsAll && types.includes('Ingress') && types.includes('Egress') && noRules;
  });
  if (denyAll.length === 0) problems.push(`no NetworkPolicy in ${ns} that denies all ingress and egress (podSelector {}, policyTypes Ingress and Egress, no rules)`);
  return problems;
}

/** The server's database URL comes from a key of a Secret that is in the manifests. */
export function databaseSecretProblems(objects: readonly K8sObject[]): string[] {
  const s = server(objects);
  const entry = env(s.container, 'OPSLAB_DATABASE_URL');
  if (!entry) return [`${describe(s.deployment)} does not set OPSLAB_DATABASE_URL`];
  if (entry.value !== undefined) return [`${describe(s.deployment)} writes OPSLAB_DATABASE_URL in the manifest; it must come from a Secret`];
  const ref = obj(obj(entry.valueFrom).secretKeyRef);
  if (typeof ref.name !== 'string' || typeof ref.key !== 'string') return [`${describe(s.deployment)}: OPSLAB_DATABASE_URL is not read from a Secret (valueFrom.secretKeyRef)`];
  const problems: string[] = [];
  if (ref.optional === true) problems.push(`${describe(s.deployment)}: the database Secret is optional; the server must not start without it`);
  const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name && o.metadata.namespace === s.namespace);
  if (!secret) problems.push(`OPSLAB_DATABASE_URL reads Secret ${s.namespace}/${ref.name}, which is not in the manifests`);
  else if (obj(secret.data)[ref.key] === undefined && obj(secret.stringData)[ref.key] === undefined) {
    problems.push(`OPSLAB_DATABASE_URL reads key ${ref.key} of ${describe(secret)}, which has no such key`);
  }
  return problems;
}

/** The server pod meets the `restricted` Pod Security Standard, with a read-only root. */
export function podSecurityProblems(objects: readonly K8sObject[]): string[] {
  const s = server(objects);
  const pod = obj(s.podSpec.securityContext);
  const c = obj(s.container.raw.securityContext);
  const where = `${describe(s.deployment)}: container ${s.container.name}`;
  const problems: string[] = [];
  if (pod.runAsNonRoot !== true && c.runAsNonRoot !== true) problems.push(`${where} may run as root (runAsNonRoot)`);
  if (pod.runAsUser === 0 || c.runAsUser === 0) problems.push(`${where} runs as uid 0`);
  if (c.allowPrivilegeEscalation !== false) problems.push(`${where} allows privilege escalation`);
  if (c.readOnlyRootFilesystem !== true) problems.push(`${where} has a writable root file system`);
  if (!strings(obj(c.capabilities).drop).includes('ALL')) problems.push(`${where} does not drop ALL capabilities`);
  if (strings(obj(c.capabilities).add).length > 0) problems.push(`${where} adds capabilities`);
  const seccomp = obj(c.seccompProfile).type ?? obj(pod.seccompProfile).type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') problems.push(`${where} has no RuntimeDefault seccomp profile`);
  const res = obj(s.container.raw.resources);
  for (const r of ['cpu', 'memory']) if (obj(res.requests)[r] === undefined) problems.push(`${where} requests no ${r}`);
  if (obj(res.limits).memory === undefined) problems.push(`${where} has no memory limit`);
  return problems;
}

/**
 * Several replicas that survive a rollout and a node loss: at least 2, a rolling update
 * that never drops below the desired count, replicas kept on different nodes (topology
 * spread or required anti-affinity on the hostname), a PodDisruptionBudget, and each
 * replica told its own address (pod IP, server port) for terminal forwarding.
 */
export function availabilityProblems(objects: readonly K8sObject[]): string[] {
  const s = server(objects);
  const spec = obj(s.deployment.spec);
  const where = describe(s.deployment);
  const problems: string[] = [];
  if (typeof spec.replicas !== 'number' || spec.replicas < 2) problems.push(`${where} runs ${String(spec.replicas ?? 1)} replica(s); at least 2`);
  const strategy = obj(spec.strategy);
  if (strategy.type !== undefined && strategy.type !== 'RollingUpdate') problems.push(`${where} uses the ${String(strategy.type)} strategy, which stops every replica at once`);
  if (obj(strategy.rollingUpdate).maxUnavailable !== 0) problems.push(`${where}: a rollout may take a replica down before its successor is ready (maxUnavailable is not 0)`);
  const selectsPods = (selector: unknown) => {
    const match = obj(obj(selector).matchLabels);
    return Object.keys(match).length > 0 && Object.entries(match).every(([k, v]) => s.podLabels[k] === v);
  };
  const spread = list(s.podSpec.topologySpreadConstraints).some(
    (t) => t.topologyKey === 'kubernetes.io/hostname' && t.whenUnsatisfiable === 'DoNotSchedule' && selectsPods(t.labelSelector),
  );
  const antiAffinity = list(obj(obj(s.podSpec.affinity).podAntiAffinity).requiredDuringSchedulingIgnoredDuringExecution).some(
    (t) => t.topologyKey === 'kubernetes.io/hostname' && selectsPods(t.labelSelector),
  );
  if (!spread && !antiAffinity) problems.push(`${where}: nothing keeps two replicas off the same node (topology spread or anti-affinity on kubernetes.io/hostname)`);
  const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.namespace === s.namespace && selectsPods(obj(o.spec).selector));
  if (!pdb) problems.push(`no PodDisruptionBudget selects the server's pods`);
  const podIp = env(s.container, 'POD_IP');
  if (obj(obj(podIp?.valueFrom).fieldRef).fieldPath !== 'status.podIP') problems.push(`${where}: POD_IP does not come from status.podIP (downward API)`);
  const port = env(s.container, 'OPSLAB_PORT')?.value ?? '8080';
  const address = env(s.container, 'OPSLAB_REPLICA_ADDRESS')?.value;
  if (address !== `http://$(POD_IP):${String(port)}`) problems.push(`${where}: OPSLAB_REPLICA_ADDRESS is ${JSON.stringify(address)}, expected "http://$(POD_IP):${String(port)}"`);
  // $(POD_IP) expands only when POD_IP is defined earlier in the list.
  const names = list(s.container.raw.env).map((e) => e.name);
  if (names.indexOf('POD_IP') > names.indexOf('OPSLAB_REPLICA_ADDRESS')) problems.push(`${where}: POD_IP must come before OPSLAB_REPLICA_ADDRESS in env, or $(POD_IP) is not expanded`);
  return problems;
}
