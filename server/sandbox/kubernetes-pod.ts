/**
 * What a Kubernetes sandbox is, as plain objects (no client here), so the rules can be
 * read and unit-tested in one place: the Pod (workspace + grader containers), the
 * session's NetworkPolicy, their names and labels, and the workspace's start command.
 *
 * The Pod meets the `restricted` Pod Security Standard: non-root (the candidate is uid
 * 1000 from the first process on, the grader 1001), all capabilities dropped, no
 * privilege escalation, RuntimeDefault seccomp, read-only root file systems, no
 * service-account token. Everything writable is an emptyDir with a size limit.
 */
import { createHash } from 'node:crypto';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { CANDIDATE_UID, WORKSPACE_PATH, type SandboxSpec, type TermSize } from './driver.js';
import { CANDIDATE_HOME, GRADER_UID, TTY_LOG, TTY_LOG_DIR, TTY_LOG_KEEP_BYTES, TTY_LOG_MAX_BEHIND_BYTES, ttyLogTrimLoop } from './hardening.js';

export const K8S_LABELS = {
  managed: 'opslab.dev/managed',
  owner: 'opslab.dev/owner',
  session: 'opslab.dev/session',
  role: 'opslab.dev/role',
} as const;
/** The exact ids, in case a label value had to be hashed (labels allow 63 characters of a narrow set). */
export const K8S_ANNOTATIONS = {
  owner: 'opslab.dev/owner-id',
  session: 'opslab.dev/session-id',
} as const;

export const WORKSPACE_CONTAINER = 'workspace';
export const GRADER_CONTAINER = 'grader';
/** Where the grader finds the lab's hidden files and opslab's own tools (as on Docker). */
export const GRADER_DIR_PATH = '/grader';
export const GRADER_TOOLS_PATH = '/opt/opslab';
/** The folder inside the workspace and home volumes that the candidate owns and that is mounted (see `prepare`). */
export const OWNED_SUBPATH = 'files';
/** The pty of the candidate's shell, written by the start command: resizes are applied to it. */
export const TTY_PTY_FILE = `${TTY_LOG_DIR}/pty`;

const MiB = 1024 * 1024;
export const HOME_DISK_MB = 256;
const GRADER_MEMORY_MB = 512;
const GRADER_TMP_MB = 256;
/**
 * The terminal log's volume: what the trim loop keeps, plus what an unread backlog may
 * reach before it is punched out anyway (hardening.ts), plus room. Past its sizeLimit
 * the kubelet evicts the whole Pod, so it is generous; holes do not count.
 */
export const TTY_LOG_DISK_MB = Math.ceil((TTY_LOG_KEEP_BYTES + TTY_LOG_MAX_BEHIND_BYTES) / MiB) + 64;
/** The container's own writes besides its volumes (its log, nothing else: the root file system is read-only). */
const CONTAINER_SLACK_MB = 64;

export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

export interface PodOptions {
  namespace: string;
  ownerId: string;
  imagePullPolicy: ImagePullPolicy;
  /** A RuntimeClass (gVisor, Kata) the Pod runs under; the cluster's default runtime when absent. */
  runtimeClassName?: string;
  /** Image of the grader container; the sandbox's own image when absent. */
  graderImage?: string;
  /** Size of the lab's grader folder in bytes (its emptyDir gets room for it). */
  graderDirBytes: number;
  /** Size of opslab's grader tools in bytes. */
  graderToolsBytes: number;
}

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const hash = (s: string, n: number): string => createHash('sha256').update(s).digest('hex').slice(0, n);

/** A label value for an id: the id itself when it is one, else a hash of it (the annotation keeps the id). */
export function labelValue(id: string): string {
  return LABEL_VALUE.test(id) ? id : `h-${hash(id, 40)}`;
}

/**
 * The name of a session's Pod and NetworkPolicy, derived from the session id alone so
 * that `destroy` needs no lookup: `opslab-<id>` when the id is a DNS label (opslab's own
 * ids are 20 hex characters), else a slug of it and a hash.
 */
export function sandboxName(sessionId: string): string {
  const plain = `opslab-${sessionId}`;
  if (DNS_LABEL.test(sessionId) && plain.length <= 63) return plain;
  const slug = sessionId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30).replace(/-+$/, '');
  return `opslab-${slug ? `${slug}-` : ''}${hash(sessionId, 12)}`;
}

export function sandboxLabels(ownerId: string, sessionId: string, role: 'sandbox' | 'network-policy'): Record<string, string> {
  return {
    [K8S_LABELS.managed]: 'true',
    [K8S_LABELS.owner]: labelValue(ownerId),
    [K8S_LABELS.session]: labelValue(sessionId),
    [K8S_LABELS.role]: role,
  };
}

/** A label selector for this owner's objects of one role (and one session). */
export function ownerSelector(ownerId: string, role: 'sandbox' | 'network-policy', sessionId?: string): string {
  const parts = [`${K8S_LABELS.owner}=${labelValue(ownerId)}`, `${K8S_LABELS.role}=${role}`];
  if (sessionId !== undefined) parts.push(`${K8S_LABELS.session}=${labelValue(sessionId)}`);
  return parts.join(',');
}

const mb = (n: number): string => `${Math.max(1, Math.ceil(n))}Mi`;
const emptyDir = (name: string, sizeMb: number, memory = false): IVolume => ({
  name,
  emptyDir: { sizeLimit: mb(sizeMb), ...(memory ? { medium: 'Memory' } : {}) },
});

/**
 * The container's security context: the candidate or the grader, never root, nothing to
 * gain (no capabilities, no setuid effect), and a root file system nobody can write.
 */
/** A container that fails says why in its status (the end of its output), for the create's error. */
const TERMINATION = { terminationMessagePolicy: 'FallbackToLogsOnError' } as const;

function securityContext(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' as const },
  };
}

/**
 * The workspace container's first process (PID 1, as the candidate): sets the terminal's
 * first size, starts the log trim loop, and runs `script` (which owns the shell's pty
 * and appends every output byte to TTY_LOG, as on Docker) with a loop that starts a new
 * login shell whenever the last one exits. `script` writes its pty's name to
 * TTY_PTY_FILE, so a resize is `stty -F` on it. Unlike Docker, where root runs `script`
 * and the candidate cannot touch it, here everything is the candidate's: they can read
 * their own log and stop `script`; PID 1 (which the candidate cannot signal: the kernel
 * drops signals to a namespace's init that has no handler) then starts it again,
 * appending to the same log, so offsets stay valid. PID 1 is `sh`, which also reaps
 * orphaned processes while it waits.
 */
export function kubernetesWorkspaceStartScript(size: TermSize): string {
  const shell = `env HOME=${CANDIDATE_HOME} USER=candidate LOGNAME=candidate SHELL=/bin/bash bash -l`;
  const inner =
    `tty > ${TTY_PTY_FILE}; ` +
    `while :; do ${shell}; printf '\\r\\n[opslab] the shell exited; starting a new one\\r\\n'; sleep 0.2; done`;
  const script = `script -q -f -a -O ${TTY_LOG} -c "${inner.replace(/"/g, '\\"')}" >/dev/null`;
  return [
    'umask 077',
    `: > ${TTY_LOG}`,
    'umask 022',
    // The container's TTY starts with no size; `script` copies it to the shell's pty.
    `stty rows ${Math.trunc(size.rows)} cols ${Math.trunc(size.cols)} 2>/dev/null`,
    `cd ${WORKSPACE_PATH}`,
    `{ ${ttyLogTrimLoop()} & }`,
    `while :; do ${script}; printf '\\r\\n[opslab] the terminal restarted\\r\\n' >> ${TTY_LOG}; sleep 0.2; done`,
  ].join('; ');
}

/** Sets the shell's terminal size (SIGWINCH reaches its foreground job, as with any terminal). */
export function resizeScript(size: TermSize): string {
  const rows = Math.max(1, Math.trunc(size.rows));
  const cols = Math.max(1, Math.trunc(size.cols));
  return `p=$(cat ${TTY_PTY_FILE}) && case "$p" in /dev/pts/[0-9]*) exec stty -F "$p" rows ${rows} cols ${cols};; *) echo "no pty in ${TTY_PTY_FILE}: $p" >&2; exit 1;; esac`;
}

/** The shell is up once `script` has written its header and the pty's name. */
export const SHELL_READY_COMMAND = ['sh', '-c', `test -s ${TTY_LOG} && test -s ${TTY_PTY_FILE}`];

/** Resource limits and (small) requests: requests are what the scheduler reserves, so several sandboxes fit a node. */
function resources(limits: { cpu: number; memoryMb: number; ephemeralMb: number }, requests: { cpu: number; memoryMb: number; ephemeralMb: number }) {
  const q = (r: typeof limits) => ({ cpu: `${Math.max(1, Math.round(r.cpu * 1000))}m`, memory: mb(r.memoryMb), 'ephemeral-storage': mb(r.ephemeralMb) });
  return { limits: q(limits), requests: q({ cpu: Math.min(requests.cpu, limits.cpu), memoryMb: Math.min(requests.memoryMb, limits.memoryMb), ephemeralMb: Math.min(requests.ephemeralMb, limits.ephemeralMb) }) };
}

/** Volume names of the lab's memory-backed directories. */
const labTmpfsVolume = (i: number): string => `lab-tmpfs-${i}`;

export function buildSandboxPod(spec: SandboxSpec, o: PodOptions): IPod {
  const r = spec.resources;
  const memoryMb = r.memoryMb;
  // As on Docker: /tmp and /var/tmp are memory-backed shares of the memory limit.
  const tmpMb = Math.max(8, Math.floor(Math.min(512, memoryMb / 4)));
  const varTmpMb = Math.max(8, Math.floor(Math.min(128, memoryMb / 8)));
  const graderDirMb = Math.ceil((o.graderDirBytes * 1.25) / MiB) + 8;
  const graderToolsMb = Math.ceil((o.graderToolsBytes * 1.25) / MiB) + 1;
  const labTmpfs = Object.entries(r.tmpfs ?? {});
  const image = spec.image;
  const env = Object.entries({ TERM: 'xterm-256color', LANG: 'C.UTF-8', ...spec.env }).map(([name, value]) => ({ name, value }));

  const workspace: IContainer = {
    name: WORKSPACE_CONTAINER,
    ...TERMINATION,
    image,
    imagePullPolicy: o.imagePullPolicy,
    command: ['sh', '-c', kubernetesWorkspaceStartScript(spec.size)],
    workingDir: WORKSPACE_PATH,
    env,
    // The candidate's terminal: keystrokes arrive through the attach API on this TTY.
    tty: true,
    stdin: true,
    stdinOnce: false,
    securityContext: securityContext(CANDIDATE_UID),
    resources: resources(
      // Disk-backed volumes count against the Pod's ephemeral storage (the sum of its containers' limits).
      { cpu: r.cpus, memoryMb, ephemeralMb: r.diskMb + HOME_DISK_MB + TTY_LOG_DISK_MB + CONTAINER_SLACK_MB },
      { cpu: 0.1, memoryMb: 256, ephemeralMb: 256 },
    ),
    volumeMounts: [
      { name: 'workspace', mountPath: WORKSPACE_PATH, subPath: OWNED_SUBPATH },
      { name: 'home', mountPath: CANDIDATE_HOME, subPath: OWNED_SUBPATH },
      { name: 'tty', mountPath: TTY_LOG_DIR },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'var-tmp', mountPath: '/var/tmp' },
      ...labTmpfs.map(([mountPath], i) => ({ name: labTmpfsVolume(i), mountPath })),
    ],
  };

  const grader: IContainer = {
    name: GRADER_CONTAINER,
    ...TERMINATION,
    image: o.graderImage ?? image,
    imagePullPolicy: o.imagePullPolicy,
    command: ['sleep', 'infinity'],
    workingDir: WORKSPACE_PATH,
    securityContext: securityContext(GRADER_UID),
    resources: resources(
      { cpu: 1, memoryMb: GRADER_MEMORY_MB, ephemeralMb: graderDirMb + graderToolsMb + CONTAINER_SLACK_MB },
      { cpu: 0.05, memoryMb: 64, ephemeralMb: 64 },
    ),
    volumeMounts: [
      { name: 'workspace', mountPath: WORKSPACE_PATH, subPath: OWNED_SUBPATH, readOnly: true },
      // Filled at create through an exec'd `tar -x` (the API server cannot bind host folders).
      { name: 'grader-files', mountPath: GRADER_DIR_PATH },
      { name: 'grader-tools', mountPath: GRADER_TOOLS_PATH },
      { name: 'grader-tmp', mountPath: '/tmp' },
    ],
  };

  // An emptyDir's own root belongs to root (mode 2777 with fsGroup), and git refuses a
  // repository whose top folder is not the user's ("dubious ownership"). So the workspace
  // and the home are folders the candidate makes in their volumes, mounted by subPath:
  // the workspace empty, the home a copy of the image's (dotfiles included, as Docker's
  // engine copies them into an empty named volume).
  const prepare: IContainer = {
    name: 'prepare',
    image,
    ...TERMINATION,
    imagePullPolicy: o.imagePullPolicy,
    // g-s: the volumes' roots are setgid (fsGroup), and a plain 755 is what the image has.
    command: [
      'sh',
      '-c',
      `mkdir /opslab-init/workspace/${OWNED_SUBPATH} && cp -a ${CANDIDATE_HOME} /opslab-init/home/${OWNED_SUBPATH} && ` +
        `chmod 0755 /opslab-init/workspace/${OWNED_SUBPATH} && chmod g-s /opslab-init/workspace/${OWNED_SUBPATH} /opslab-init/home/${OWNED_SUBPATH}`,
    ],
    securityContext: securityContext(CANDIDATE_UID),
    resources: resources({ cpu: 0.2, memoryMb: 64, ephemeralMb: 16 }, { cpu: 0.05, memoryMb: 32, ephemeralMb: 16 }),
    volumeMounts: [
      { name: 'workspace', mountPath: '/opslab-init/workspace' },
      { name: 'home', mountPath: '/opslab-init/home' },
    ],
  };

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: sandboxName(spec.sessionId),
      namespace: o.namespace,
      labels: sandboxLabels(o.ownerId, spec.sessionId, 'sandbox'),
      annotations: { [K8S_ANNOTATIONS.owner]: o.ownerId, [K8S_ANNOTATIONS.session]: spec.sessionId },
    },
    spec: {
      hostname: 'opslab',
      restartPolicy: 'Never',
      // Not 0: a Pod deleted with a grace period stays in the API (and under its
      // NetworkPolicy) until the kubelet has stopped its containers; see destroy().
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // The node's resolvers: a sandbox needs no cluster DNS (and this node has none).
      dnsPolicy: 'Default',
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      shareProcessNamespace: false,
      ...(o.runtimeClassName ? { runtimeClassName: o.runtimeClassName } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: CANDIDATE_UID,
        runAsGroup: CANDIDATE_UID,
        // The emptyDirs are group-owned by the candidate, so they are writable from the first process on.
        fsGroup: CANDIDATE_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      initContainers: [prepare],
      containers: [workspace, grader],
      volumes: [
        emptyDir('workspace', r.diskMb),
        emptyDir('home', HOME_DISK_MB),
        emptyDir('tty', TTY_LOG_DISK_MB),
        emptyDir('tmp', tmpMb, true),
        emptyDir('var-tmp', varTmpMb, true),
        ...labTmpfs.map(([, sizeMb], i) => emptyDir(labTmpfsVolume(i), sizeMb, true)),
        emptyDir('grader-files', graderDirMb),
        emptyDir('grader-tools', graderToolsMb),
        emptyDir('grader-tmp', GRADER_TMP_MB, true),
      ],
    },
  };
}

/**
 * Where an `egress` sandbox may not go: private, shared (CGNAT) and link-local ranges,
 * which hold the cluster's pods, services and nodes and the cloud metadata endpoint.
 */
export const EGRESS_BLOCKED_CIDRS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10'] as const;

/**
 * The session's NetworkPolicy: no ingress at all (the server reaches the Pod only through
 * exec and attach, which do not use the Pod's network), and egress to nothing
 * (`isolated`) or to the internet only (`egress`): every address but the ranges above,
 * plus DNS (port 53) wherever the node's resolver is, since it is usually a private
 * address itself. Traffic inside the Pod (the grader reaching the candidate's service on
 * 127.0.0.1) is not subject to policies. `extraBlockedCidrs` adds ranges the defaults miss
 * (nodes or services on public addresses).
 */
export function buildNetworkPolicy(
  spec: Pick<SandboxSpec, 'sessionId' | 'network'>,
  o: Pick<PodOptions, 'namespace' | 'ownerId'> & { extraBlockedCidrs?: readonly string[] },
): INetworkPolicy {
  const except = [...new Set([...EGRESS_BLOCKED_CIDRS, ...(o.extraBlockedCidrs ?? [])])];
  const egress =
    spec.network === 'egress'
      ? [
          { to: [{ ipBlock: { cidr: '0.0.0.0/0', except } }] },
          { ports: [{ protocol: 'UDP' as const, port: 53 }, { protocol: 'TCP' as const, port: 53 }] },
        ]
      : [];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: sandboxName(spec.sessionId),
      namespace: o.namespace,
      labels: sandboxLabels(o.ownerId, spec.sessionId, 'network-policy'),
      annotations: { [K8S_ANNOTATIONS.owner]: o.ownerId, [K8S_ANNOTATIONS.session]: spec.sessionId },
    },
    spec: {
      podSelector: {
        matchLabels: { [K8S_LABELS.owner]: labelValue(o.ownerId), [K8S_LABELS.session]: labelValue(spec.sessionId), [K8S_LABELS.role]: 'sandbox' },
      },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress,
    },
  };
}
