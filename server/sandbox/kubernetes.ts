/**
 * The Kubernetes adapter of the SandboxDriver port: the only module that imports
 * @kubernetes/client-node. A sandbox is one Pod (workspace + grader containers sharing
 * the network and an emptyDir workspace, read-only for the grader; see
 * kubernetes-pod.ts) and one NetworkPolicy, both in one namespace and labelled with the
 * owner (installation) and session, so `list`, `reap` and re-adoption after a server
 * restart work from the API server's own state.
 *
 * Everything inside the sandbox runs as the candidate (uid 1000) or the grader (1001):
 * there is no root in the Pod, so `ExecOptions.user: 'root'` is refused. Commands,
 * terminals, copies and archives go through the exec and attach APIs
 * (kubernetes-channel.ts); nothing uses the Pod's network.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ApiException, CoreV1Api, KubeConfig, NetworkingV1Api, type V1NetworkPolicy, type V1Pod } from '@kubernetes/client-node';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { AppError, describeError } from '../errors.js';
import {
  WORKSPACE_PATH,
  type ExecOptions,
  type ExecResult,
  type SandboxDriver,
  type SandboxInfo,
  type SandboxRef,
  type SandboxSpec,
  type TermSize,
  type TtyAttachment,
} from './driver.js';
import { normalizeCapabilities, parseTtyHistory, TTY_READER_NAME, ttyHistoryScript, ttyReaderScript } from './hardening.js';
import {
  CHANNEL_PROTOCOLS,
  ChannelSocket,
  attachInputPath,
  execPath,
  runChannelExec,
  wrapCommand,
  type ChannelExecOptions,
  type RawChannelResult,
  type StreamTarget,
} from './kubernetes-channel.js';
import {
  GRADER_CONTAINER,
  GRADER_DIR_PATH,
  GRADER_TOOLS_PATH,
  K8S_ANNOTATIONS,
  K8S_LABELS,
  SHELL_READY_COMMAND,
  WORKSPACE_CONTAINER,
  buildNetworkPolicy,
  buildSandboxPod,
  labelValue,
  ownerSelector,
  resizeScript,
  sandboxName,
  type ImagePullPolicy,
} from './kubernetes-pod.js';
import { podState } from './kubernetes-pod-status.js';
import { KubernetesTerminalStream } from './kubernetes-terminal.js';
import { packDirectory } from './tar-pack.js';

export interface KubernetesDriverOptions {
  /** Installation id: this server only ever lists, reaps or destroys what carries it. */
  ownerId: string;
  logger: Logger;
  /** The namespace sandboxes live in (it must exist; k8s/ creates it with its quota and policies). */
  namespace: string;
  /** A kubeconfig file; without it, the in-cluster config (the server Pod's service account). */
  kubeconfig?: string;
  /** RuntimeClass for sandbox Pods (gVisor, Kata); the cluster's default runtime when absent. */
  runtimeClassName?: string;
  imagePullPolicy?: ImagePullPolicy;
  /** Image for the grader container; defaults to the sandbox's own image. */
  graderImage?: string;
  /** Where `egress` sandboxes may not go besides the private, CGNAT and link-local ranges (e.g. nodes on public addresses). */
  egressBlockedCidrs?: readonly string[];
  /** How long `create` waits for the Pod to run and the shell to start. */
  readyTimeoutMs?: number;
}

/** Opslab's own grader tools (untrusted.py), copied into every grader at /opt/opslab. */
const GRADER_TOOLS_DIR = fileURLToPath(new URL('./grader-tools', import.meta.url));
const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** How much of the shell's past output a new attachment replays (as on Docker). */
const MAX_TTY_HISTORY = 32 * 1024 * 1024;
/** How long destroy waits for the kubelet to stop a Pod's containers before it force-deletes it. */
const DESTROY_WAIT_MS = 30_000;
/** Sandboxes reap removes at once. */
const REAP_CONCURRENCY = 4;
/** Copies into the sandbox (starter repository, grader files) may be large. */
const COPY_TIMEOUT_MS = 300_000;
const ROOT_REFUSED =
  'the kubernetes driver runs everything in the sandbox as the candidate (or the grader): there is no root in its Pods, so a command cannot run as root';

/** An exec's options as the channel runner takes them, with where and how it runs. */
type RawExecOptions = ChannelExecOptions & { cwd?: string; env?: Record<string, string> };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The API server's own message for a failed call (its Status body), else the error's. */
function apiMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const body: unknown = e.body;
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
    }
    const message = (parsed as { message?: unknown } | undefined)?.message;
    if (typeof message === 'string' && message) return message;
    return typeof body === 'string' && body ? `HTTP ${e.code}: ${body.slice(0, 300)}` : `HTTP ${e.code}`;
  }
  return describeError(e);
}

const statusOf = (e: unknown): number | undefined => (e instanceof ApiException ? e.code : (e as { statusCode?: number } | null)?.statusCode);

/** A failed WebSocket upgrade, with the API server's status code and message. */
class UpgradeError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(full);
    else total += (await lstat(full)).size + 512;
  }
  return total;
}

export class KubernetesDriver implements SandboxDriver {
  readonly kind = 'kubernetes' as const;
  readonly isolates = true;
  readonly runsRoot = false;
  readonly networkGuard = {
    enabled: true,
    detail: 'a NetworkPolicy per session (no ingress; egress none or internet only), enforced where the cluster network plugin enforces NetworkPolicy',
  };
  readonly diskLimit = {
    enabled: false,
    detail:
      'emptyDir sizeLimit and ephemeral-storage limits: the kubelet evicts a sandbox that writes past them (within about 10 s), instead of ENOSPC',
  };
  private readonly kc = new KubeConfig();
  private readonly core: CoreV1Api;
  private readonly net: NetworkingV1Api;
  private readonly namespace: string;
  private toolsBytes: Promise<number> | undefined;

  constructor(private readonly options: KubernetesDriverOptions) {
    if (options.kubeconfig?.includes(path.delimiter)) {
      throw new AppError('CONFIG_INVALID', `the kubeconfig setting lists several files (${options.kubeconfig}): name one, e.g. with OPSLAB_K8S_KUBECONFIG`);
    }
    if (options.kubeconfig) {
      try {
        this.kc.loadFromFile(options.kubeconfig);
      } catch (e) {
        throw new AppError('CONFIG_INVALID', `cannot read the kubeconfig ${options.kubeconfig}: ${describeError(e)}`, { cause: e });
      }
    } else {
      this.kc.loadFromCluster();
    }
    const server = this.kc.getCurrentCluster()?.server;
    // Outside a cluster, client-node's in-cluster config names "https://undefined:undefined".
    if (!server || /undefined/.test(server)) {
      throw new AppError(
        'CONFIG_INVALID',
        options.kubeconfig
          ? `the kubeconfig ${options.kubeconfig} names no API server`
          : 'no kubeconfig is set and the server does not run inside a cluster: set KUBECONFIG or OPSLAB_K8S_KUBECONFIG',
      );
    }
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.net = this.kc.makeApiClient(NetworkingV1Api);
    this.namespace = options.namespace;
  }

  /** Fails with a clear message when no API server answers or the namespace is missing. */
  async ping(): Promise<void> {
    const server = this.kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
    try {
      await this.core.readNamespace({ name: this.namespace });
    } catch (e) {
      const status = statusOf(e);
      if (status === 404) {
        throw new AppError('CONFIG_INVALID', `the sandbox namespace ${this.namespace} does not exist on ${server}: create it (k8s/ has its manifest)`);
      }
      // A server with no cluster-wide rights (the usual Role) may not read namespaces: it answered, that is enough.
      if (status !== 403) throw new AppError('SANDBOX_FAILED', `the Kubernetes API server at ${server} does not answer: ${apiMessage(e)}`, { cause: e });
    }
    // What list and reap need; a Role without it would only show when the reaper first runs.
    const refused = (what: string) => (e: unknown) => {
      if (statusOf(e) === 403) {
        throw new AppError('CONFIG_INVALID', `the server may not list ${what} in namespace ${this.namespace} on ${server} (${apiMessage(e)}): grant it the Role in k8s/`);
      }
      throw new AppError('SANDBOX_FAILED', `cannot list ${what} in namespace ${this.namespace} on ${server}: ${apiMessage(e)}`, { cause: e });
    };
    await Promise.all([
      this.core.listNamespacedPod({ namespace: this.namespace, limit: 1 }).catch(refused('pods')),
      this.net.listNamespacedNetworkPolicy({ namespace: this.namespace, limit: 1 }).catch(refused('networkpolicies')),
    ]);
  }

  async create(spec: SandboxSpec, options?: { signal?: AbortSignal }): Promise<SandboxRef> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(spec.sessionId)) {
      throw new AppError('VALIDATION', `session id ${JSON.stringify(spec.sessionId)} cannot name a sandbox`);
    }
    const caps = normalizeCapabilities(spec.capAdd);
    if (caps.length > 0) {
      throw new AppError('VALIDATION', `the kubernetes driver cannot grant capabilities (the lab asks for ${caps.join(', ')}): its sandboxes run as the candidate with none`);
    }
    if (spec.graderDir !== undefined && !(await stat(spec.graderDir).then((s) => s.isDirectory(), () => false))) {
      throw new AppError('VALIDATION', `the grader folder ${spec.graderDir} is not a directory`);
    }
    const signal = options?.signal;
    const name = sandboxName(spec.sessionId);
    const ref: SandboxRef = { sessionId: spec.sessionId, driver: 'kubernetes', id: name };
    try {
      const [graderDirBytes, graderToolsBytes] = await Promise.all([
        spec.graderDir ? directoryBytes(spec.graderDir) : 0,
        (this.toolsBytes ??= directoryBytes(GRADER_TOOLS_DIR).catch((e: unknown) => {
          this.toolsBytes = undefined;
          throw e;
        })),
      ]);
      const podOptions = {
        namespace: this.namespace,
        ownerId: this.options.ownerId,
        imagePullPolicy: this.options.imagePullPolicy ?? 'IfNotPresent',
        graderDirBytes,
        graderToolsBytes,
        ...(this.options.runtimeClassName ? { runtimeClassName: this.options.runtimeClassName } : {}),
        ...(this.options.graderImage ? { graderImage: this.options.graderImage } : {}),
      };
      // The policy first, so the Pod never runs without it.
      const policy = buildNetworkPolicy(spec, { ...podOptions, ...(this.options.egressBlockedCidrs ? { extraBlockedCidrs: this.options.egressBlockedCidrs } : {}) });
      await this.net.createNamespacedNetworkPolicy({ namespace: this.namespace, body: policy as V1NetworkPolicy });
      signal?.throwIfAborted();
      await this.core.createNamespacedPod({ namespace: this.namespace, body: buildSandboxPod(spec, podOptions) as unknown as V1Pod });
      const deadline = Date.now() + (this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
      const created = Date.now();
      await this.waitForPod(name, deadline, signal);
      const running = Date.now();
      await Promise.all([
        this.copyDir(ref, GRADER_CONTAINER, GRADER_TOOLS_DIR, GRADER_TOOLS_PATH),
        ...(spec.graderDir ? [this.copyDir(ref, GRADER_CONTAINER, spec.graderDir, GRADER_DIR_PATH, { readOnly: true })] : []),
      ]);
      const copied = Date.now();
      await this.waitForShell(ref, deadline, signal);
      this.options.logger.debug(
        { sessionId: spec.sessionId, pod: name, podRunningMs: running - created, copyMs: copied - running, shellMs: Date.now() - copied },
        'sandbox ready',
      );
      return ref;
    } catch (e) {
      await this.destroy(ref).catch((err: unknown) => this.options.logger.warn({ err, sessionId: spec.sessionId }, 'cleanup after a failed create'));
      if (e instanceof AppError) throw e;
      if (signal?.aborted) throw new AppError('SANDBOX_FAILED', 'sandbox creation was cancelled', { cause: e });
      throw new AppError('SANDBOX_FAILED', `could not start the sandbox: ${apiMessage(e)}`, { cause: e });
    }
  }

  /** Waits until the workspace container runs; fails at once on what waiting cannot fix. */
  private async waitForPod(name: string, deadline: number, signal?: AbortSignal): Promise<void> {
    let last = 'no status yet';
    for (let delay = 50; ; delay = Math.min(delay * 2, 400)) {
      signal?.throwIfAborted();
      const pod = await this.readPod(name);
      if (pod === undefined) throw new AppError('SANDBOX_FAILED', `the sandbox Pod ${name} disappeared while starting`);
      const state = podState(pod);
      if (state.kind === 'running') return;
      if (state.kind === 'failed' || state.kind === 'gone') throw new AppError('SANDBOX_FAILED', `the sandbox did not start: ${state.reason}`);
      last = state.detail;
      if (Date.now() > deadline) throw new AppError('SANDBOX_FAILED', `the sandbox Pod ${name} did not start in time (${last})`);
      await sleep(delay);
    }
  }

  /** The shell is up once `script` has written its header and its pty's name. */
  private async waitForShell(ref: SandboxRef, deadline: number, signal?: AbortSignal): Promise<void> {
    for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
      signal?.throwIfAborted();
      const r = await this.exec(ref, SHELL_READY_COMMAND, { timeoutMs: 5_000 });
      if (r.exitCode === 0) return;
      if (Date.now() > deadline) throw new AppError('SANDBOX_FAILED', 'the sandbox shell did not start in time');
      await sleep(delay);
    }
  }

  private async readPod(name: string): Promise<IPod | undefined> {
    try {
      return (await this.core.readNamespacedPod({ name, namespace: this.namespace })) as unknown as IPod;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw new AppError('SANDBOX_FAILED', `cannot read the sandbox Pod ${name}: ${apiMessage(e)}`, { cause: e });
    }
  }

  private async requireRunning(name: string): Promise<void> {
    const pod = await this.readPod(name);
    if (pod === undefined) throw new AppError('NOT_FOUND', `sandbox ${name} does not exist`);
    const state = podState(pod);
    if (state.kind !== 'running') {
      throw new AppError('NOT_FOUND', `sandbox ${name} is not running (${state.kind === 'pending' ? state.detail : state.reason})`);
    }
  }

  private target(ref: SandboxRef, container: string): StreamTarget {
    return { namespace: this.namespace, pod: sandboxName(ref.sessionId), container };
  }

  /** Opens a streaming connection with the kubeconfig's credentials. */
  private async open(apiPath: string): Promise<ChannelSocket> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new AppError('CONFIG_INVALID', 'the kubeconfig names no cluster');
    const tls: WebSocket.ClientOptions = {};
    await this.kc.applyToHTTPSOptions(tls);
    const url = `${cluster.server.replace(/^http/, 'ws').replace(/\/+$/, '')}${apiPath}`;
    const ws = new WebSocket(url, CHANNEL_PROTOCOLS, { ...tls, handshakeTimeout: 15_000, perMessageDeflate: false });
    // Listening from the start: the first frames may come with the upgrade itself.
    const socket = new ChannelSocket(ws);
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let message = text.slice(0, 500);
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? message;
            } catch {
              // not a Status: keep the text
            }
            req.destroy();
            reject(new UpgradeError(res.statusCode ?? 0, message));
          });
        });
      });
    } catch (e) {
      ws.terminate();
      const pod = /\/pods\/([^/]+)\//.exec(apiPath)?.[1] ?? 'the sandbox';
      if (e instanceof UpgradeError) {
        if (e.statusCode === 404 || (e.statusCode === 400 && /not found|completed pod|not running|terminated|waiting to start/i.test(e.message))) {
          throw new AppError('NOT_FOUND', `sandbox ${decodeURIComponent(pod)} is not running: ${e.message}`);
        }
        throw new AppError('SANDBOX_FAILED', `the Kubernetes API refused a stream to ${decodeURIComponent(pod)} (HTTP ${e.statusCode}): ${e.message}`);
      }
      throw new AppError('SANDBOX_FAILED', `the Kubernetes API server does not answer: ${describeError(e)}`, { cause: e });
    }
    return socket;
  }

  private async execRaw(ref: SandboxRef, container: string, cmd: string[], options: RawExecOptions): Promise<RawChannelResult> {
    options.signal?.throwIfAborted();
    const timeoutMs = options.timeoutMs ?? 30_000;
    const command = wrapCommand(cmd, { cwd: options.cwd ?? WORKSPACE_PATH, ...(options.env ? { env: options.env } : {}), timeoutMs });
    const socket = await this.open(execPath(this.target(ref, container), command, { stdin: options.stdin !== undefined }));
    return runChannelExec(socket, options);
  }

  private async execText(ref: SandboxRef, container: string, cmd: string[], options: ExecOptions): Promise<ExecResult> {
    if (options.user === 'root') throw new AppError('VALIDATION', ROOT_REFUSED);
    const r = await this.execRaw(ref, container, cmd, options);
    return { ...r, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
  }

  exec(ref: SandboxRef, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.execText(ref, WORKSPACE_CONTAINER, cmd, options);
  }

  execGrader(ref: SandboxRef, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.execText(ref, GRADER_CONTAINER, cmd, options);
  }

  /** Copies a host folder into a container through `tar -x` on the exec's stdin (modes kept, links as links). */
  private async copyDir(ref: SandboxRef, container: string, hostDir: string, into: string, o: { readOnly?: boolean } = {}): Promise<void> {
    const owner = container === GRADER_CONTAINER ? { uid: 1001, gid: 1001 } : { uid: 1000, gid: 1000 };
    // Read-only afterwards: the grader's trusted files are not for anything it runs to change.
    const script = `tar -x -p -f - -C "$1"${o.readOnly ? ' && find "$1" -mindepth 1 -exec chmod a-w {} +' : ''}`;
    const r = await this.execRaw(ref, container, ['sh', '-c', script, 'copy', into], {
      stdin: packDirectory(hostDir, owner),
      timeoutMs: COPY_TIMEOUT_MS,
      maxOutputBytes: 64 * 1024,
      cwd: '/',
    });
    if (r.exitCode !== 0) {
      throw new AppError('SANDBOX_FAILED', `copying ${hostDir} into the sandbox (${container}:${into}) failed with exit code ${r.exitCode}: ${r.stderr.toString('utf8').slice(0, 500)}`);
    }
  }

  async copyIn(ref: SandboxRef, hostDir: string): Promise<void> {
    await this.copyDir(ref, WORKSPACE_CONTAINER, hostDir, WORKSPACE_PATH);
  }

  async archive(ref: SandboxRef): Promise<NodeJS.ReadableStream> {
    // Read through the grader: the same volume, read-only, and it never runs candidate code.
    const socket = await this.open(execPath(this.target(ref, GRADER_CONTAINER), ['tar', '-c', '-f', '-', '-C', WORKSPACE_PATH, '.'], { stdin: false }));
    const stderr: Buffer[] = [];
    let status: { exitCode?: number; message?: string } | undefined;
    const out = new Readable({
      read: () => socket.resume(),
      destroy: (err, callback) => {
        socket.close();
        callback(err);
      },
    });
    socket.onStdout((d) => {
      if (!out.push(Buffer.from(d))) socket.pause();
    });
    socket.onStderr((d) => {
      if (stderr.length < 64) stderr.push(Buffer.from(d));
    });
    socket.onStatus((s) => (status = s));
    socket.onClose(() => {
      const s = status as typeof status;
      const message = Buffer.concat(stderr).toString('utf8').slice(0, 1000);
      if (s === undefined) {
        out.destroy(new AppError('SANDBOX_FAILED', `the workspace archive stream ended without an exit status${message ? `: ${message}` : ''}`));
        return;
      }
      // GNU tar exits 1 when a file changed while read and 2 when one could not be read
      // (a file the candidate made unreadable to the grader); the archive is still whole.
      if (s.exitCode !== 0) this.options.logger.warn({ sessionId: ref.sessionId, exitCode: s.exitCode, stderr: message, status: s.message }, 'workspace archive: tar reported problems');
      out.push(null);
    });
    return out;
  }

  async openTty(ref: SandboxRef, size: TermSize): Promise<TtyAttachment> {
    const name = sandboxName(ref.sessionId);
    await this.requireRunning(name);
    const target = this.target(ref, WORKSPACE_CONTAINER);
    const [input, history] = await Promise.allSettled([this.open(attachInputPath(target)), this.readTtyHistory(ref)]);
    if (input.status === 'rejected' || history.status === 'rejected') {
      if (input.status === 'fulfilled') input.value.close();
      throw input.status === 'rejected' ? input.reason : (history as PromiseRejectedResult).reason;
    }
    let output: ChannelSocket;
    try {
      output = await this.open(execPath(target, ['bash', '-c', ttyReaderScript(history.value.offset + history.value.data.length)], { stdin: false }));
    } catch (e) {
      input.value.close();
      throw e;
    }
    const stream = new KubernetesTerminalStream({
      input: input.value,
      output,
      resize: (s) => this.resizeTty(ref, s),
      stopReader: async () => {
        await this.execRaw(ref, WORKSPACE_CONTAINER, ['pkill', '-f', `^${TTY_READER_NAME}`], { timeoutMs: 5_000 }).catch(() => undefined);
      },
      logger: this.options.logger.child({ sessionId: ref.sessionId }),
    });
    await stream.resize(size).catch((err: unknown) => this.options.logger.warn({ err, sessionId: ref.sessionId }, 'terminal resize failed'));
    return { stream, history: history.value };
  }

  private async resizeTty(ref: SandboxRef, size: TermSize): Promise<void> {
    const r = await this.execRaw(ref, WORKSPACE_CONTAINER, ['sh', '-c', resizeScript(size)], { timeoutMs: 5_000 });
    if (r.exitCode !== 0) throw new AppError('SANDBOX_FAILED', `cannot resize the terminal: ${r.stderr.toString('utf8').slice(0, 300)}`);
  }

  private async readTtyHistory(ref: SandboxRef): Promise<TtyAttachment['history']> {
    const r = await this.execRaw(ref, WORKSPACE_CONTAINER, ['sh', '-c', ttyHistoryScript(MAX_TTY_HISTORY)], {
      cwd: '/',
      timeoutMs: 30_000,
      maxOutputBytes: MAX_TTY_HISTORY + 64,
    });
    return parseTtyHistory(r);
  }

  /**
   * Deletes the Pod, waits until it is gone, then deletes its NetworkPolicy. Not a force
   * delete: a Pod deleted with grace 0 leaves the API at once while the kubelet stops its
   * containers a moment later, and the policy controller, which follows the API, would
   * then let them talk to anything in between. With a grace period the Pod stays (and
   * stays selected by its policy) until its containers are dead.
   */
  async destroy(ref: SandboxRef): Promise<void> {
    const name = sandboxName(ref.sessionId);
    const gone = (e: unknown) => {
      if (statusOf(e) !== 404) throw new AppError('SANDBOX_FAILED', `cannot remove sandbox ${name}: ${apiMessage(e)}`, { cause: e });
    };
    await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 1 }).catch(gone);
    const deadline = Date.now() + DESTROY_WAIT_MS;
    for (let delay = 100; (await this.readPod(name)) !== undefined; delay = Math.min(delay * 2, 500)) {
      if (Date.now() > deadline) {
        // A node that does not answer never confirms: remove the object anyway.
        this.options.logger.warn({ sessionId: ref.sessionId, pod: name }, `sandbox Pod still there ${DESTROY_WAIT_MS / 1000} s after its deletion: force-deleting it`);
        await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 }).catch(gone);
        break;
      }
      await sleep(delay);
    }
    await this.net.deleteNamespacedNetworkPolicy({ name, namespace: this.namespace }).catch(gone);
  }

  async list(selector: { sessionId?: string } = {}): Promise<SandboxInfo[]> {
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: ownerSelector(this.options.ownerId, 'sandbox', selector.sessionId) });
    return pods.items
      .map((p) => p as unknown as IPod)
      .filter((p) => this.mine(p.metadata) && (selector.sessionId === undefined || this.sessionOf(p.metadata) === selector.sessionId))
      .map((p) => {
        const sessionId = this.sessionOf(p.metadata) ?? '';
        return { ref: { sessionId, driver: 'kubernetes' as const, id: sandboxName(sessionId) }, running: podState(p).kind === 'running' };
      });
  }

  async reap(live: ReadonlySet<string>): Promise<string[]> {
    const labelSelector = `${K8S_LABELS.owner}=${labelValue(this.options.ownerId)}`;
    const [pods, policies] = await Promise.all([
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector }),
      this.net.listNamespacedNetworkPolicy({ namespace: this.namespace, labelSelector }),
    ]);
    const sessions = new Set<string>();
    for (const o of [...pods.items, ...policies.items]) {
      const meta = o.metadata as IPod['metadata'];
      const sessionId = this.sessionOf(meta);
      if (this.mine(meta) && sessionId) sessions.add(sessionId);
    }
    const orphans = [...sessions].filter((s) => !live.has(s));
    // A few at a time: each destroy waits for the kubelet (a few seconds).
    const queue = [...orphans];
    const worker = async () => {
      for (let sessionId = queue.shift(); sessionId !== undefined; sessionId = queue.shift()) {
        await this.destroy({ sessionId, driver: 'kubernetes', id: sandboxName(sessionId) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(REAP_CONCURRENCY, queue.length) }, worker));
    return orphans;
  }

  /** Whether an object is this installation's (the annotation holds the exact id, the label may be a hash). */
  private mine(meta: IPod['metadata']): boolean {
    return meta?.annotations?.[K8S_ANNOTATIONS.owner] === this.options.ownerId;
  }

  private sessionOf(meta: IPod['metadata']): string | undefined {
    return meta?.annotations?.[K8S_ANNOTATIONS.session];
  }
}
