/**
 * The driver contract against a real Kubernetes cluster (a real API server, a real
 * kubelet and containerd running the Pods: scripts/k8s), plus what only this driver
 * promises: the candidate is uid 1000 with no capabilities and no service-account token,
 * the grader cannot write the workspace, the Pod as the API server stores it carries
 * every security field (and passes the `restricted` Pod Security admission of its
 * namespace), another session cannot reach a port open in this one (NetworkPolicy,
 * enforced by kube-router), a new driver object re-adopts a running shell, and reap
 * removes the Pod and its policy.
 *
 * Needs the cluster: `bash scripts/k8s/up.sh --network-policy` and
 * `bash scripts/k8s/load-image.sh opslab/base:bookworm`. Without one every test fails
 * with that instruction. Each run works in a namespace of its own, deleted at the end.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeSnapshot } from '../../server/checker/snapshot.js';
import { AppError } from '../../server/errors.js';
import type { SandboxRef, SandboxSpec } from '../../server/sandbox/driver.js';
import { KubernetesDriver, type KubernetesDriverOptions } from '../../server/sandbox/kubernetes.js';
import { describeDriverContract, expectAppError } from './driver-contract.js';
import { PROMPT, TerminalReader, joinByOffset, plainText } from './terminal-reader.js';
import { REPO_ROOT } from '../helpers/server-process.js';

const run = promisify(execFile);
const KUBECONFIG = process.env.KUBECONFIG || '/var/lib/opslab-k8s/admin.kubeconfig';
const IMAGE = process.env.OPSLAB_BASE_IMAGE ?? 'opslab/base:bookworm';
const CLUSTER_KUBECTL = '/var/cache/opslab-k8s/v1.34.4/bin/kubectl';
const KUBECTL = process.env.OPSLAB_KUBECTL ?? (existsSync(CLUSTER_KUBECTL) ? CLUSTER_KUBECTL : 'kubectl');
const HOW_TO_START = `start one with: bash scripts/k8s/up.sh --network-policy && bash scripts/k8s/load-image.sh ${IMAGE}`;
/** This run's namespace: its Pods must meet the `restricted` Pod Security Standard. */
const NAMESPACE = `opslab-ct-${randomUUID().slice(0, 8)}`;
const logger = pino({ level: 'warn' });

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  return (await child).stdout;
}

async function kubectlJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
}

/** A namespace enforcing the `restricted` Pod Security Standard (and extra objects, e.g. a quota). */
async function createNamespace(name: string, extra = ''): Promise<void> {
  const manifest = `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels: {pod-security.kubernetes.io/enforce: restricted, opslab.dev/test: contract}
${extra}`;
  createdNamespaces.add(name);
  await kubectl(['apply', '-f', '-'], manifest);
}
const createdNamespaces = new Set<string>();

let ready: Promise<void> | undefined;
/** Once per file: the cluster answers, the image is on the node, the namespace exists. Fails with how to fix it. */
function clusterReady(): Promise<void> {
  ready ??= (async () => {
    try {
      await kubectl(['get', '--raw=/readyz']);
    } catch (e) {
      throw new Error(`no Kubernetes cluster answers (KUBECONFIG=${KUBECONFIG}, kubectl ${KUBECTL}): ${HOW_TO_START}\n${String(e)}`);
    }
    const images = await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].status.images[*].names}']);
    const ref = IMAGE.includes('/') && !/^[^/]+[.:][^/]*\//.test(IMAGE) ? `docker.io/${IMAGE}` : IMAGE;
    if (!images.includes(`"${ref}"`)) throw new Error(`the image ${IMAGE} is not on the cluster's node: bash scripts/k8s/load-image.sh ${IMAGE}`);
    await createNamespace(NAMESPACE);
  })();
  return ready;
}

function k8sSpec(sessionId: string): SandboxSpec {
  return {
    sessionId,
    image: IMAGE,
    network: 'isolated',
    resources: { cpus: 1, memoryMb: 512, pids: 128, diskMb: 256 },
    capAdd: [],
    env: {},
    size: { cols: 120, rows: 40 },
  };
}

function makeDriver(ownerId: string, extra: Partial<KubernetesDriverOptions> = {}): KubernetesDriver {
  return new KubernetesDriver({ ownerId, logger, namespace: NAMESPACE, kubeconfig: KUBECONFIG, imagePullPolicy: 'Never', ...extra });
}

const newSessionId = (): string => `k8s-${randomUUID().slice(0, 8)}`;

/** Kubeconfig files with service-account tokens and grader folders, removed at the end. */
const tempFiles: string[] = [];

afterAll(async () => {
  await Promise.all(tempFiles.map((f) => rm(f, { recursive: true, force: true })));
  // Everything a failed test may have left goes with the namespace.
  if (createdNamespaces.size > 0) await kubectl(['delete', 'namespace', '--wait=false', ...createdNamespaces]).catch(() => undefined);
});

describeDriverContract('kubernetes', async () => {
  await clusterReady();
  const driver = makeDriver(`contract-${randomUUID()}`);
  await driver.ping();
  return { driver, spec: k8sSpec, teardown: async () => void (await driver.reap(new Set())) };
});

describe('Kubernetes sandbox hardening', () => {
  let driver: KubernetesDriver;
  let ref: SandboxRef;

  beforeAll(async () => {
    await clusterReady();
    driver = makeDriver(`hardening-${randomUUID()}`);
    // The lab's hidden grader files: copied into the grader only.
    const graderDir = await mkdtemp(path.join(tmpdir(), 'opslab-ct-grader-'));
    tempFiles.push(graderDir);
    await mkdir(path.join(graderDir, 'data'));
    await writeFile(path.join(graderDir, 'data', 'answer-key.txt'), 'secret-answer\n');
    ref = await driver.create({ ...k8sSpec(newSessionId()), graderDir });
  });

  afterAll(async () => {
    await driver?.reap(new Set());
  });

  it('runs the candidate as uid 1000 with no capabilities, no new privileges and a seccomp filter', async () => {
    const r = await driver.exec(ref, ['sh', '-c', 'id -u; grep -E "^(Cap(Eff|Prm|Amb|Bnd)|NoNewPrivs|Seccomp):" /proc/self/status']);
    expect(r.exitCode, r.stderr).toBe(0);
    const [uid, ...status] = r.stdout.trim().split('\n');
    expect(uid).toBe('1000');
    const field = (name: string) => status.find((l) => l.startsWith(`${name}:`))?.split(/\s+/)[1];
    for (const cap of ['CapEff', 'CapPrm', 'CapAmb', 'CapBnd']) expect(field(cap), cap).toBe('0000000000000000');
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2');
  });

  it("gives the candidate's interactive shell the same: uid 1000, CapEff 0", async () => {
    const term = new TerminalReader(await driver.openTty(ref, { cols: 120, rows: 40 }));
    try {
      await term.expect(PROMPT);
      term.sendLine('echo "uid=$(id -u)"; grep CapEff /proc/$$/status');
      await term.expect('uid=1000');
      await term.expect(/CapEff:\s+0000000000000000/);
    } finally {
      term.stream.close();
    }
  });

  it('has no service-account token, no writable root file system and no way to become root', async () => {
    const r = await driver.exec(ref, [
      'sh',
      '-c',
      'ls /var/run/secrets/kubernetes.io/serviceaccount 2>&1; echo ls=$?; touch /usr/opslab-x 2>&1; echo touch=$?; su -c id root </dev/null 2>&1; echo su=$?',
    ]);
    expect(r.stdout).toMatch(/No such file or directory\nls=[1-9]/);
    expect(r.stdout).toMatch(/Read-only file system\ntouch=1/);
    expect(r.stdout).toMatch(/su=[1-9]/);
  });

  it('gives the candidate a workspace and a home of their own (git works there), with the image dotfiles', async () => {
    const r = await driver.exec(ref, [
      'sh',
      '-c',
      'stat -c "%U %a" /workspace /home/candidate; ls -A /home/candidate | tr "\\n" " "; echo; ' +
        'mkdir -p repo-check && cd repo-check && git init -q && git -c user.name=c -c user.email=c@x commit -q --allow-empty -m one && git log --format=%s',
    ]);
    expect(r.stderr).toBe('');
    const [workspace, home, dotfiles, commit] = r.stdout.split('\n');
    expect([workspace, home]).toEqual(['candidate 755', 'candidate 755']);
    expect(dotfiles).toContain('.bashrc');
    expect(dotfiles).toContain('.profile');
    expect(commit).toBe('one');
    await driver.exec(ref, ['rm', '-rf', 'repo-check']);
  });

  it("snapshots through the grader: what the candidate makes unreadable to it (0600) is left out, the rest arrives", async () => {
    // Unlike Docker's archive, read by the engine as root: there is no root in the Pod.
    const setup = await driver.exec(ref, ['sh', '-c', 'mkdir -p snap && echo open > snap/open.txt && echo private > snap/private.txt && chmod 600 snap/private.txt']);
    expect(setup.exitCode, setup.stderr).toBe(0);
    const snap = await takeSnapshot(await driver.archive(ref));
    try {
      expect(await readFile(path.join(snap.dir, 'snap/open.txt'), 'utf8')).toBe('open\n');
      await expect(readFile(path.join(snap.dir, 'snap/private.txt'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await snap.dispose();
      await driver.exec(ref, ['rm', '-rf', 'snap']);
    }
  });

  it('gives /tmp and /var/tmp memory file systems of fixed size (shares of the memory limit, as on Docker)', async () => {
    const r = await driver.exec(ref, ['sh', '-c', 'for d in /tmp /var/tmp; do echo "$d $(stat -f -c %T $d) $(df -P -k $d | tail -1 | tr -s " " | cut -d" " -f2)"; done']);
    expect(r.stdout).toBe('/tmp tmpfs 131072\n/var/tmp tmpfs 65536\n');
  });

  it('refuses to run a command as root, saying why', async () => {
    const error = await driver.exec(ref, ['id'], { user: 'root' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'VALIDATION' });
    expect((error as Error).message).toMatch(/runs everything in the sandbox as the candidate/);
    await expectAppError(driver.execGrader(ref, ['id'], { user: 'root' }), 'VALIDATION');
  });

  it('shows the grader (uid 1001) the workspace read-only, its tools at /opt/opslab and the lab files at /grader, none to the candidate', async () => {
    await driver.exec(ref, ['sh', '-c', 'echo from-candidate > note.txt']);
    const r = await driver.execGrader(ref, [
      'sh',
      '-c',
      'id -u; cat /workspace/note.txt; touch /workspace/x 2>&1; echo rc=$?; test -s /opt/opslab/untrusted.py && echo tools; ' +
        'cat /grader/data/answer-key.txt; echo tamper >> /grader/data/answer-key.txt 2>/dev/null; echo append=$?',
    ]);
    expect(r.stdout).toMatch(/^1001\nfrom-candidate\ntouch: cannot touch '\/workspace\/x': Read-only file system\nrc=1\ntools\nsecret-answer\nappend=[1-9]\n$/);
    const candidate = await driver.exec(ref, ['sh', '-c', 'ls -d /opt/opslab /grader 2>&1; grep -rs secret-answer / --exclude-dir=proc --exclude-dir=sys; echo grep=$?']);
    expect(candidate.stdout).toMatch(/ls: cannot access '\/opt\/opslab': No such file or directory\nls: cannot access '\/grader': No such file or directory\n/);
    // grep found nothing it could read (it exits 2 for the files it may not read, 1 for no match).
    expect(candidate.stdout).not.toContain('secret-answer');
    expect(candidate.stdout).toMatch(/\ngrep=[12]\n$/);
  });

  it('is stored by the API server with every security field, labels and limits', async () => {
    const pod = await kubectlJson<PodJson>(['-n', NAMESPACE, 'get', 'pod', ref.id]);
    expect(pod.metadata.labels).toMatchObject({ 'opslab.dev/managed': 'true', 'opslab.dev/session': ref.sessionId, 'opslab.dev/role': 'sandbox' });
    expect(pod.metadata.labels['opslab.dev/owner']).toMatch(/^hardening-/);
    const spec = pod.spec;
    expect(spec).toMatchObject({
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostname: 'opslab',
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    });
    expect(spec.hostNetwork ?? false).toBe(false);
    expect(spec.hostPID ?? false).toBe(false);
    const containers = [...spec.initContainers, ...spec.containers];
    expect(containers.map((c) => c.name).sort()).toEqual(['grader', 'prepare', 'workspace']);
    for (const c of containers) {
      expect(c.securityContext, c.name).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.securityContext.capabilities.add, c.name).toBeUndefined();
      expect(Object.keys(c.resources.limits).sort(), c.name).toEqual(['cpu', 'ephemeral-storage', 'memory']);
    }
    const workspace = spec.containers.find((c) => c.name === 'workspace');
    expect(workspace).toMatchObject({ tty: true, stdin: true, securityContext: { runAsUser: 1000 }, resources: { limits: { cpu: '1', memory: '512Mi' } } });
    expect(spec.containers.find((c) => c.name === 'grader')?.securityContext.runAsUser).toBe(1001);
    expect(spec.containers.find((c) => c.name === 'grader')?.volumeMounts).toContainEqual({ name: 'workspace', mountPath: '/workspace', subPath: 'files', readOnly: true });
    // Every volume is an emptyDir with a size limit: nothing from the host.
    for (const v of spec.volumes) {
      expect(Object.keys(v).sort(), v.name).toEqual(['emptyDir', 'name']);
      expect(v.emptyDir.sizeLimit, v.name).toMatch(/^\d+Mi$/);
    }
    // The namespace admits only Pods that meet the restricted standard; this one was admitted.
    const ns = await kubectlJson<{ metadata: { labels: Record<string, string> } }>(['get', 'namespace', NAMESPACE]);
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  // Last in this block: the bomb keeps the Pod at its pids limit until it is removed.
  it("stops a fork bomb at the Pod's pids limit (the kubelet's podPidsLimit), and the sandbox stays listed", async () => {
    const pids = await podPidsCgroup(ref.id);
    const limit = Number(readFileSync(`${pids}/pids.max`, 'utf8').trim());
    expect(limit, `${pids}/pids.max must be a number: start the cluster with scripts/k8s/up.sh (podPidsLimit)`).toBeGreaterThan(0);
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, Number(readFileSync(`${pids}/pids.current`, 'utf8')))), 100);
    try {
      await driver.exec(ref, ['bash', '-c', 'b(){ b|b & }; b; sleep 3; echo survived'], { timeoutMs: 5_000 }).catch(() => undefined);
    } finally {
      clearInterval(sample);
    }
    // It reached the limit and no further (forks in the Pod fail there), while the node and its API go on.
    expect(peak).toBe(limit);
    expect(await driver.list({ sessionId: ref.sessionId })).toEqual([{ ref, running: true }]);
  });
});

/** The Pod's pids cgroup on this machine (the node): cgroup v1 or v2, cgroupfs or systemd naming. */
async function podPidsCgroup(podName: string): Promise<string> {
  const uid = (await kubectl(['-n', NAMESPACE, 'get', 'pod', podName, '-o', 'jsonpath={.metadata.uid}'])).trim();
  const names = [`pod${uid}`, `*pod${uid.replace(/-/g, '_')}.slice`];
  for (const root of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup']) {
    for (const name of names) {
      const found = await run('find', [root, '-maxdepth', '5', '-type', 'd', '-name', name]).then((r) => r.stdout.trim().split('\n')[0], () => '');
      if (found && existsSync(`${found}/pids.max`)) return found;
    }
  }
  throw new Error(`cannot find the pids cgroup of Pod ${podName} (uid ${uid}) under /sys/fs/cgroup: this test reads it on the node, which scripts/k8s runs on this machine`);
}

interface ContainerJson {
  name: string;
  tty?: boolean;
  stdin?: boolean;
  securityContext: { capabilities: { drop?: string[]; add?: string[] }; runAsUser?: number };
  resources: { limits: Record<string, string> };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodJson {
  metadata: { labels: Record<string, string> };
  spec: {
    hostNetwork?: boolean;
    hostPID?: boolean;
    initContainers: ContainerJson[];
    containers: ContainerJson[];
    volumes: { name: string; emptyDir: { sizeLimit?: string } }[];
  } & Record<string, unknown>;
  status: { podIP?: string };
}

describe('Kubernetes sandbox network', () => {
  let driver: KubernetesDriver;
  let listener: SandboxRef;
  let prober: SandboxRef;
  let listenerIp = '';
  const PORT = 8080;

  /** From `from`, connects to the listener's port and reads its answer; true when it said pong. */
  const probe = async (from: SandboxRef): Promise<boolean> => {
    const r = await driver.exec(from, ['sh', '-c', `timeout 3 bash -c 'exec 3<>/dev/tcp/${listenerIp}/${PORT}; head -n1 <&3' 2>&1`], { timeoutMs: 10_000 });
    return r.stdout.includes('pong');
  };

  beforeAll(async () => {
    await clusterReady();
    driver = makeDriver(`network-${randomUUID()}`);
    [listener, prober] = await Promise.all([driver.create(k8sSpec(newSessionId())), driver.create(k8sSpec(newSessionId()))]);
    // A service the candidate started, answering every connection.
    const started = await driver.exec(listener, [
      'sh',
      '-c',
      `setsid perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalPort=>${PORT},Listen=>5,ReuseAddr=>1) or die; while($c=$s->accept){print $c "pong\\n"; close $c}' >/dev/null 2>&1 < /dev/null & sleep 0.5`,
    ]);
    expect(started.exitCode, started.stderr).toBe(0);
    listenerIp = (await kubectlJson<PodJson>(['-n', NAMESPACE, 'get', 'pod', listener.id])).status.podIP ?? '';
    expect(listenerIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  afterAll(async () => {
    await driver?.reap(new Set());
  });

  it('lets an egress sandbox resolve names but not reach the node (a listed range) or other sandboxes; an isolated one reaches nothing', async () => {
    const name = 'deb.debian.org';
    await lookup(name).catch((e: unknown) => {
      throw new Error(`this machine cannot resolve ${name} itself, so the DNS control cannot run: ${String(e)}`);
    });
    const node = await kubectlJson<{ status: { addresses: { type: string; address: string }[] } }>(['get', 'node', 'opslab-node']);
    const nodeIp = node.status.addresses.find((a) => a.type === 'InternalIP')?.address ?? '';
    // Control: the kubelet's port does answer on the node's address.
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: nodeIp, port: 10250, timeout: 3_000 }, () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
    const egressDriver = makeDriver(`egress-${randomUUID()}`, { egressBlockedCidrs: [`${nodeIp}/32`] });
    const outbound = await egressDriver.create({ ...k8sSpec(newSessionId()), network: 'egress' });
    try {
      const script = `getent hosts ${name} >/dev/null; echo dns=$?; timeout 3 bash -c 'exec 3<>/dev/tcp/${nodeIp}/10250' 2>/dev/null; echo node=$?; timeout 3 bash -c 'exec 3<>/dev/tcp/${listenerIp}/${PORT}; head -n1 <&3' 2>/dev/null; echo peer=$?`;
      const out = await egressDriver.exec(outbound, ['sh', '-c', script], { timeoutMs: 20_000 });
      expect(out.stdout).toMatch(/^dns=0\nnode=[1-9]\d*\npeer=[1-9]\d*\n$/);
      const isolated = await driver.exec(prober, ['sh', '-c', script], { timeoutMs: 20_000 });
      expect(isolated.stdout).toMatch(/^dns=[1-9]\d*\nnode=[1-9]\d*\npeer=[1-9]\d*\n$/);
    } finally {
      await egressDriver.destroy(outbound);
    }
  });

  it("keeps another session's sandbox from reaching a port open in this one, and the policy is why", async () => {
    // The service answers inside its own Pod (the grader shares the network namespace).
    const inside = await driver.execGrader(listener, ['sh', '-c', `timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${PORT}; head -n1 <&3'`]);
    expect(inside.stdout).toBe('pong\n');

    // Blocked, and it stays blocked.
    for (let i = 0; i < 3; i++) expect(await probe(prober), `probe ${i + 1} got through`).toBe(false);

    // Control: without the two sessions' policies the same probe gets through, so the policy is what blocks it.
    await kubectl(['-n', NAMESPACE, 'delete', 'networkpolicy', listener.id, prober.id]);
    let opened = false;
    for (let i = 0; i < 20 && !opened; i++) {
      opened = await probe(prober);
      if (!opened) await new Promise((r) => setTimeout(r, 500));
    }
    expect(opened, 'with no NetworkPolicy the probe should get through (is kube-router running? bash scripts/k8s/up.sh --network-policy)').toBe(true);
  });
});

describe('Kubernetes sandbox lifecycle', () => {
  beforeAll(async () => {
    await clusterReady();
  });

  it('is re-adopted by a new driver object with the same owner: the same shell, its variables kept', async () => {
    const ownerId = `adopt-${randomUUID()}`;
    const first = makeDriver(ownerId);
    const ref = await first.create(k8sSpec(newSessionId()));
    try {
      const term = new TerminalReader(await first.openTty(ref, { cols: 120, rows: 40 }));
      await term.expect(PROMPT);
      term.sendLine('export OPSLAB_ADOPTED=kept-$((7*6)); sleep 900 &');
      await term.expect(PROMPT);
      term.stream.close();

      // As after a server restart: a new object, nothing shared but the owner id.
      const second = makeDriver(ownerId);
      expect(await second.list()).toEqual([{ ref, running: true }]);
      const again = new TerminalReader(await second.openTty(ref, { cols: 120, rows: 40 }));
      try {
        again.sendLine('echo "adopted=[$OPSLAB_ADOPTED]"; jobs');
        await again.expect('adopted=[kept-42]');
        await again.expect(/Running\s+sleep 900/);
      } finally {
        again.stream.close();
      }
      // Another owner sees nothing of it and cannot reap it.
      const stranger = makeDriver(`stranger-${randomUUID()}`);
      expect(await stranger.list()).toEqual([]);
      expect(await stranger.reap(new Set())).toEqual([]);
      expect(await first.list({ sessionId: ref.sessionId })).toEqual([{ ref, running: true }]);
    } finally {
      await first.destroy(ref);
    }
  });

  it('ends an attachment whose output stream dropped, and the next one goes on at the exact byte', async () => {
    const driver = makeDriver(`drop-${randomUUID()}`);
    const ref = await driver.create(k8sSpec(newSessionId()));
    try {
      const first = new TerminalReader(await driver.openTty(ref, { cols: 200, rows: 50 }));
      await first.expect(PROMPT);
      first.sendLine('for i in $(seq 1 40); do echo tick-$i; sleep 0.05; done');
      await first.expect('tick-5');
      // As when the API server or the kubelet drops a stream: the reader in the Pod dies.
      await driver.exec(ref, ['pkill', '-f', '^opslab-tty-reader']);
      const info = await first.expectClosed();
      expect(info.reason).toMatch(/terminal reader ended|stream closed/);

      const second = new TerminalReader(await driver.openTty(ref, { cols: 200, rows: 50 }));
      await second.expect('tick-40');
      try {
        const text = plainText(joinByOffset(first, second));
        const ticks = text.split('\n').filter((l) => /^tick-\d+$/.test(l));
        expect(ticks).toEqual(Array.from({ length: 40 }, (_, i) => `tick-${i + 1}`));
      } finally {
        second.stream.close();
      }
    } finally {
      await driver.destroy(ref);
    }
  });

  it("survives the candidate killing the terminal's processes: PID 1 ignores them, `script` comes back on the same attachment", async () => {
    // Here the candidate owns `script` (on Docker root does): they can stop it, not the sandbox.
    const driver = makeDriver(`kill-${randomUUID()}`);
    const ref = await driver.create(k8sSpec(newSessionId()));
    try {
      const term = new TerminalReader(await driver.openTty(ref, { cols: 100, rows: 30 }));
      try {
        await term.expect(PROMPT);
        term.sendLine('kill -9 1; kill -TERM 1; echo pid1-$((1+1))-alive; pkill -x script');
        await term.expect('pid1-2-alive');
        await term.expect('[opslab] the terminal restarted', 10_000);
        await term.expect(PROMPT, 10_000);
        await term.stream.resize({ cols: 77, rows: 22 });
        term.sendLine('echo back-$((6*7)); stty size');
        await term.expect('back-42');
        await term.expect(/\n22 77\n/);
        expect(await driver.list({ sessionId: ref.sessionId })).toEqual([{ ref, running: true }]);
      } finally {
        term.stream.close();
      }
    } finally {
      await driver.destroy(ref);
    }
  });

  it('reaps the Pod and the NetworkPolicy of a session that is not live', async () => {
    const ownerId = `reap-${randomUUID()}`;
    const driver = makeDriver(ownerId);
    const ref = await driver.create(k8sSpec(newSessionId()));
    const objects = () => kubectl(['-n', NAMESPACE, 'get', 'pods,networkpolicies', '-l', `opslab.dev/session=${ref.sessionId}`, '-o', 'name']);
    expect((await objects()).trim().split('\n').sort()).toEqual([`networkpolicy.networking.k8s.io/${ref.id}`, `pod/${ref.id}`]);

    expect(await driver.reap(new Set([ref.sessionId]))).toEqual([]);
    expect(await driver.reap(new Set())).toEqual([ref.sessionId]);
    expect((await objects()).trim()).toBe('');
    expect(await driver.list()).toEqual([]);
  });

  it('fails a create with the reason when the image is missing, and leaves nothing behind', async () => {
    const driver = makeDriver(`missing-${randomUUID()}`);
    const sessionId = newSessionId();
    const error = await driver.create({ ...k8sSpec(sessionId), image: 'opslab/no-such-image:missing' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'SANDBOX_FAILED' });
    expect((error as Error).message).toMatch(/ErrImageNeverPull|opslab\/no-such-image/);
    expect((await kubectl(['-n', NAMESPACE, 'get', 'pods,networkpolicies', '-l', `opslab.dev/session=${sessionId}`, '-o', 'name'])).trim()).toBe('');
  });

  it("fails a create with the API server's reason when the namespace's quota is used up", async () => {
    const namespace = `${NAMESPACE}-quota`;
    await createNamespace(
      namespace,
      `---
apiVersion: v1
kind: ResourceQuota
metadata: {name: no-pods, namespace: ${namespace}}
spec: {hard: {pods: "0"}}`,
    );
    const driver = makeDriver(`quota-${randomUUID()}`, { namespace });
    const sessionId = newSessionId();
    const error = await driver.create(k8sSpec(sessionId)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'SANDBOX_FAILED' });
    expect((error as Error).message).toMatch(/exceeded quota: no-pods/);
    // The policy made before the Pod was refused is gone again.
    expect((await kubectl(['-n', namespace, 'get', 'networkpolicies', '-o', 'name'])).trim()).toBe('');
  });

  it("works with a service account that has only the sandbox Role of k8s/base/rbac.yaml (token auth), and says what is missing without it", async () => {
    // Exactly the rules k8s/ grants the server in the sandbox namespace (read from the
    // manifest, so trimming it too far fails here), and nothing cluster-wide.
    const manifestRole = yaml
      .loadAll(readFileSync(path.join(REPO_ROOT, 'k8s/base/rbac.yaml'), 'utf8'))
      .find((d): d is { kind: string; rules: unknown[] } => (d as { kind?: string } | null)?.kind === 'Role');
    if (!manifestRole) throw new Error('k8s/base/rbac.yaml has no Role');
    const role = `apiVersion: v1
kind: ServiceAccount
metadata: {name: opslab-server, namespace: ${NAMESPACE}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: no-rights, namespace: ${NAMESPACE}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: opslab-sandboxes, namespace: ${NAMESPACE}}
rules: ${JSON.stringify(manifestRole.rules)}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: opslab-server, namespace: ${NAMESPACE}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: opslab-sandboxes}
subjects: [{kind: ServiceAccount, name: opslab-server, namespace: ${NAMESPACE}}]
`;
    await kubectl(['apply', '-f', '-'], role);
    const server = (await kubectl(['config', 'view', '--raw', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
    const ca = (await kubectl(['config', 'view', '--raw', '--minify', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority-data}'])).trim();
    const kubeconfigFor = async (account: string): Promise<string> => {
      const token = (await kubectl(['-n', NAMESPACE, 'create', 'token', account, '--duration=10m'])).trim();
      const file = path.join(tmpdir(), `opslab-ct-${account}-${randomUUID()}.kubeconfig`);
      await writeFile(
        file,
        `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${server}", certificate-authority-data: "${ca}"}}]\n` +
          `users: [{name: u, user: {token: "${token}"}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
        { mode: 0o600 },
      );
      tempFiles.push(file);
      return file;
    };

    const driver = makeDriver(`rbac-${randomUUID()}`, { kubeconfig: await kubeconfigFor('opslab-server') });
    await driver.ping();
    const ref = await driver.create(k8sSpec(newSessionId()));
    const term = new TerminalReader(await driver.openTty(ref, { cols: 100, rows: 30 }));
    try {
      await term.expect(PROMPT);
      term.sendLine('echo rbac-$((20+1)) > r.txt; cat r.txt');
      await term.expect('rbac-21');
      expect((await driver.execGrader(ref, ['cat', 'r.txt'])).stdout).toBe('rbac-21\n');
      expect(await driver.list()).toEqual([{ ref, running: true }]);
    } finally {
      term.stream.close();
    }
    expect(await driver.reap(new Set())).toEqual([ref.sessionId]);

    const powerless = makeDriver(`rbac-${randomUUID()}`, { kubeconfig: await kubeconfigFor('no-rights') });
    const error = await powerless.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/may not list (pods|networkpolicies)/) });
  });

  it('says clearly when the namespace does not exist', async () => {
    const driver = makeDriver(`nons-${randomUUID()}`, { namespace: `${NAMESPACE}-missing` });
    await expectAppError(driver.ping(), 'CONFIG_INVALID');
  });
});
