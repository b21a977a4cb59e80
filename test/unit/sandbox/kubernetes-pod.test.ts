/**
 * The sandbox Pod and NetworkPolicy as the driver sends them: valid against the
 * Kubernetes schemas (no unknown field), locked down in every container, sized from the
 * sandbox's resources, and named and labelled so that selectors find them.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findModel, validateObject } from '../../../server/checker/checks/manifest-schema.js';
import type { SandboxSpec } from '../../../server/sandbox/driver.js';
import {
  EGRESS_BLOCKED_CIDRS,
  TTY_LOG_DISK_MB,
  buildNetworkPolicy,
  buildSandboxPod,
  kubernetesWorkspaceStartScript,
  labelValue,
  ownerSelector,
  resizeScript,
  sandboxName,
  type PodOptions,
} from '../../../server/sandbox/kubernetes-pod.js';

const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
  sessionId: '0123456789abcdef0123',
  image: 'opslab/lab-x:abc',
  network: 'isolated',
  resources: { cpus: 1.5, memoryMb: 1024, pids: 256, diskMb: 2048 },
  capAdd: [],
  env: { LAB: 'x' },
  size: { cols: 120, rows: 40 },
  ...over,
});
const options: PodOptions = { namespace: 'opslab-sandboxes', ownerId: 'f00dfeed', imagePullPolicy: 'IfNotPresent', graderDirBytes: 10 * 1024 * 1024, graderToolsBytes: 14_000 };

async function schemaIssues(obj: { apiVersion: string; kind: string }): Promise<string[]> {
  const model = await findModel(obj.apiVersion, obj.kind);
  if (!model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  return validateObject(model, obj as unknown as Record<string, unknown>, { allowUnknownFields: false }).map((i) => `${i.path.join('.')}: ${i.message}`);
}

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

describe('the sandbox Pod', () => {
  it('is a valid Pod with no field the API does not know, in every variant', async () => {
    expect(await schemaIssues(buildSandboxPod(spec(), options))).toEqual([]);
    const variant = buildSandboxPod(spec({ resources: { cpus: 0.5, memoryMb: 256, pids: 64, diskMb: 64, tmpfs: { '/srv/mlflow': 256 } } }), {
      ...options,
      runtimeClassName: 'gvisor',
      graderImage: 'opslab/grader:1',
      imagePullPolicy: 'Never',
    });
    expect(await schemaIssues(variant)).toEqual([]);
    expect(variant.spec?.runtimeClassName).toBe('gvisor');
    expect(variant.spec?.containers.find((c) => c.name === 'grader')?.image).toBe('opslab/grader:1');
  });

  it('runs every container as non-root with nothing to gain: no capabilities, no escalation, read-only root', () => {
    const pod = buildSandboxPod(spec(), options);
    const podSpec = pod.spec!;
    expect(podSpec).toMatchObject({
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostname: 'opslab',
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      shareProcessNamespace: false,
      restartPolicy: 'Never',
      // Deleted gracefully, so the Pod stays under its NetworkPolicy until its containers are dead.
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    });
    const all = [...(podSpec.initContainers ?? []), ...podSpec.containers];
    expect(all.map((c) => c.name)).toEqual(['prepare', 'workspace', 'grader']);
    for (const c of all) {
      expect(c.securityContext, c.name).toEqual({
        runAsNonRoot: true,
        runAsUser: c.name === 'grader' ? 1001 : 1000,
        runAsGroup: c.name === 'grader' ? 1001 : 1000,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(Object.keys(c.resources?.limits ?? {}).sort(), c.name).toEqual(['cpu', 'ephemeral-storage', 'memory']);
    }
    // Nothing from the host: every volume is an emptyDir with a size.
    for (const v of podSpec.volumes ?? []) {
      expect(Object.keys(v).sort(), v.name).toEqual(['emptyDir', 'name']);
      expect(v.emptyDir?.sizeLimit, v.name).toMatch(/^\d+Mi$/);
    }
  });

  it('shares the workspace read-only with the grader, and keeps the grader files from the candidate', () => {
    const pod = buildSandboxPod(spec(), options);
    const mounts = (name: string) => pod.spec!.containers.find((c) => c.name === name)!.volumeMounts!;
    expect(mounts('grader')).toEqual([
      { name: 'workspace', mountPath: '/workspace', subPath: 'files', readOnly: true },
      { name: 'grader-files', mountPath: '/grader' },
      { name: 'grader-tools', mountPath: '/opt/opslab' },
      { name: 'grader-tmp', mountPath: '/tmp' },
    ]);
    expect(mounts('workspace').map((m) => m.name)).toEqual(['workspace', 'home', 'tty', 'tmp', 'var-tmp']);
    expect(mounts('workspace').find((m) => m.name === 'workspace')?.readOnly).toBeUndefined();
    const workspace = pod.spec!.containers.find((c) => c.name === 'workspace')!;
    expect(workspace).toMatchObject({ tty: true, stdin: true, stdinOnce: false, image: 'opslab/lab-x:abc', imagePullPolicy: 'IfNotPresent' });
    expect(workspace.env).toEqual([
      { name: 'TERM', value: 'xterm-256color' },
      { name: 'LANG', value: 'C.UTF-8' },
      { name: 'LAB', value: 'x' },
    ]);
  });

  it("sizes limits and volumes from the sandbox's resources", () => {
    const pod = buildSandboxPod(spec({ resources: { cpus: 1.5, memoryMb: 1024, pids: 256, diskMb: 2048, tmpfs: { '/srv/store': 100 } } }), options);
    const workspace = pod.spec!.containers.find((c) => c.name === 'workspace')!;
    expect(workspace.resources?.limits).toEqual({ cpu: '1500m', memory: '1024Mi', 'ephemeral-storage': `${2048 + 256 + TTY_LOG_DISK_MB + 64}Mi` });
    // Requests stay small, so a node holds several sandboxes; never above the limits.
    expect(workspace.resources?.requests).toEqual({ cpu: '100m', memory: '256Mi', 'ephemeral-storage': '256Mi' });
    const volumes = Object.fromEntries(pod.spec!.volumes!.map((v) => [v.name, v.emptyDir]));
    expect(volumes).toMatchObject({
      workspace: { sizeLimit: '2048Mi' },
      home: { sizeLimit: '256Mi' },
      tmp: { sizeLimit: '256Mi', medium: 'Memory' },
      'var-tmp': { sizeLimit: '128Mi', medium: 'Memory' },
      'lab-tmpfs-0': { sizeLimit: '100Mi', medium: 'Memory' },
      // 10 MiB of grader files get room to spare.
      'grader-files': { sizeLimit: '21Mi' },
    });
    expect(workspace.volumeMounts).toContainEqual({ name: 'lab-tmpfs-0', mountPath: '/srv/store' });
    const small = buildSandboxPod(spec({ resources: { cpus: 0.05, memoryMb: 64, pids: 16, diskMb: 64 } }), options);
    expect(small.spec!.containers.find((c) => c.name === 'workspace')!.resources?.requests).toEqual({ cpu: '50m', memory: '64Mi', 'ephemeral-storage': '256Mi' });
  });
});

describe('names and labels', () => {
  it('names the Pod after the session, as a DNS label, for any session id', () => {
    expect(sandboxName('0123456789abcdef0123')).toBe('opslab-0123456789abcdef0123');
    for (const id of ['CT_Mixed.Case-1', 'a'.repeat(64), '9', 'x_y']) {
      expect(sandboxName(id), id).toMatch(DNS_LABEL);
      expect(sandboxName(id)).toBe(sandboxName(id));
    }
    expect(sandboxName('A_b')).not.toBe(sandboxName('a-b'));
  });

  it('uses ids as label values when they are valid ones, and hashes the others', () => {
    expect(labelValue('contract-0f9e')).toBe('contract-0f9e');
    for (const id of ['x'.repeat(64), 'has space', '-leading', 'trailing.']) {
      expect(labelValue(id), id).toMatch(LABEL_VALUE);
      expect(labelValue(id)).not.toBe(id);
    }
    expect(ownerSelector('o1', 'sandbox', 's1')).toBe('opslab.dev/owner=o1,opslab.dev/role=sandbox,opslab.dev/session=s1');
  });
});

describe('the session NetworkPolicy', () => {
  it('selects exactly its own Pod, allows no ingress, and no egress when isolated', async () => {
    const policy = buildNetworkPolicy(spec(), options);
    expect(await schemaIssues(policy)).toEqual([]);
    const labels = buildSandboxPod(spec(), options).metadata!.labels!;
    for (const [k, v] of Object.entries(policy.spec!.podSelector!.matchLabels!)) expect(labels[k], k).toBe(v);
    expect(policy.spec).toMatchObject({ policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] });
    expect(policy.metadata?.name).toBe(sandboxName(spec().sessionId));
  });

  it('lets an egress sandbox reach the internet and DNS only, not private, CGNAT or link-local ranges', async () => {
    const policy = buildNetworkPolicy(spec({ network: 'egress' }), options);
    expect(await schemaIssues(policy)).toEqual([]);
    expect(policy.spec!.ingress).toEqual([]);
    expect(policy.spec!.egress).toEqual([
      { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10'] } }] },
      { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
    ]);
    expect(EGRESS_BLOCKED_CIDRS).toContain('169.254.0.0/16');
    const extra = buildNetworkPolicy(spec({ network: 'egress' }), { ...options, extraBlockedCidrs: ['192.0.2.2/32', '10.0.0.0/8'] });
    expect(extra.spec!.egress![0]!.to![0]!.ipBlock!.except).toEqual([...EGRESS_BLOCKED_CIDRS, '192.0.2.2/32']);
    // Extra ranges never open anything for an isolated sandbox.
    expect(buildNetworkPolicy(spec(), { ...options, extraBlockedCidrs: ['192.0.2.2/32'] }).spec!.egress).toEqual([]);
  });
});

describe('the shell scripts', () => {
  it('start the terminal with the size asked for, as a shell parses them', () => {
    const script = kubernetesWorkspaceStartScript({ cols: 132, rows: 41 });
    expect(script).toContain('stty rows 41 cols 132');
    expect(script).toContain('script -q -f -a -O /var/lib/opslab/tty.log');
    // Parse only (-n): the quoting of the nested scripts holds.
    execFileSync('sh', ['-n', '-c', script]);
    execFileSync('sh', ['-n', '-c', resizeScript({ cols: 80, rows: 24 })]);
    expect(resizeScript({ cols: 80.7, rows: 0 })).toContain('rows 1 cols 80');
  });
});
