/**
 * The Docker adapter of the SandboxDriver port. The only module (with its docker-*
 * helpers) that talks to the engine.
 *
 * A sandbox is, per session: a network, a workspace volume (and a home volume), the
 * `workspace` container (the candidate's persistent shell, see hardening.ts) and the
 * `grader` container that joins the workspace's network namespace and mounts the volume
 * read-only. Every resource carries the labels below, so `list`, `reap` and re-adoption
 * after a server restart work from the engine's own state. With disk limits on
 * (docker-disk.ts) the workspace and home volumes sit on loop-device images on the host.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import type { Logger } from 'pino';
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
import { runDockerExec, runDockerExecRaw } from './docker-exec.js';
import { probeHostDisks, type DiskLimitStatus, type HostDisks } from './docker-disk.js';
import { applyNetworkGuard, type NetworkGuardStatus } from './docker-network-guard.js';
import { DockerTerminalStream } from './docker-terminal.js';
import { packDirectory } from './tar-pack.js';
import {
  CANDIDATE_HOME,
  COMMON_HOST_CONFIG,
  GRADER_UID,
  TTY_LOG,
  TTY_LOG_DIR,
  TTY_READER_NAME,
  WORKSPACE_INIT_CAPS,
  limitsFor,
  normalizeCapabilities,
  scratchMounts,
  parseTtyHistory,
  ttyHistoryScript,
  ttyReaderScript,
  workspaceInitScript,
} from './hardening.js';

export const LABELS = {
  managed: 'opslab.managed',
  owner: 'opslab.owner',
  session: 'opslab.session',
  role: 'opslab.role',
} as const;

export interface DockerDriverOptions {
  /** Unix socket of the engine; when absent dockerode follows DOCKER_HOST or the default socket. */
  socketPath?: string;
  /** Installation id: this server only ever lists, reaps or destroys what carries it. */
  ownerId: string;
  logger: Logger;
  /** IPv4 CIDR the per-session /28 networks are taken from. */
  subnetPool?: string;
  /** Image for the grader container; defaults to the sandbox's own image. */
  graderImage?: string;
  /**
   * Absolute directory for the sandboxes' disk images (`<dataDir>/disks`); each owner id
   * gets a folder of its own inside. Without it, or until `applyDiskLimits` succeeds,
   * workspaces are plain named volumes with no size limit.
   */
  diskDir?: string;
}

const GRADER_MEMORY_MB = 512;
/**
 * Tools every grader container gets read-only at GRADER_TOOLS_PATH: `untrusted.py`, which
 * a lab's grader uses to run the candidate's code confined (Landlock: no /grader, no
 * TCP, no signals to the grader). Shipped with the server, so every lab image has it.
 */
const GRADER_TOOLS_DIR = fileURLToPath(new URL('./grader-tools', import.meta.url));
export const GRADER_TOOLS_PATH = '/opt/opslab';
/** The candidate's home directory: dotfiles, shell history, tool caches. */
export const HOME_DISK_MB = 256;
/** Mount options of the loop-backed volumes. noinit_itable: a sparse image needs no zeroing. */
const DISK_MOUNT_OPTIONS = 'nosuid,nodev,noinit_itable';
/** Image files of no live session and no engine resource are left this long (a create may be under way). */
const DISK_REAP_GRACE_MS = 120_000;
const DEFAULT_SUBNET_POOL = '172.16.0.0/16';

/** A random aligned /`prefix` inside `pool` (e.g. a /28 inside 172.16.0.0/16). */
export function randomSubnet(pool: string, prefix: number): string {
  const [base = '', bitsText = ''] = pool.split('/');
  const bits = Number(bitsText);
  const octets = base.split('.').map(Number);
  const start = (((octets[0] ?? 0) << 24) | ((octets[1] ?? 0) << 16) | ((octets[2] ?? 0) << 8) | (octets[3] ?? 0)) >>> 0;
  const count = 2 ** (prefix - bits);
  const poolStart = (start & (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0)) >>> 0;
  const addr = (poolStart + Math.floor(Math.random() * count) * 2 ** (32 - prefix)) >>> 0;
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}/${prefix}`;
}
const READY_TIMEOUT_MS = 20_000;
/** How much of the shell's past output a new attachment replays (enough for any screen and its scrollback). */
const MAX_TTY_HISTORY = 32 * 1024 * 1024;

function isStatus(e: unknown, ...codes: number[]): boolean {
  const status = (e as { statusCode?: number } | null)?.statusCode;
  return typeof status === 'number' && codes.includes(status);
}

/** Waits for every promise (so nothing is still running when cleanup starts), then throws the first failure. */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** A folder name for an owner id (installation ids are hex; anything else is hashed). */
function ownerFolder(ownerId: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(ownerId) ? ownerId : createHash('sha256').update(ownerId).digest('hex').slice(0, 32);
}

export class DockerDriver implements SandboxDriver {
  readonly kind = 'docker' as const;
  readonly isolates = true;
  readonly runsRoot = true;
  private readonly docker: Docker;

  constructor(private readonly options: DockerDriverOptions) {
    this.docker = options.socketPath ? new Docker({ socketPath: options.socketPath }) : new Docker();
  }

  networkGuard: NetworkGuardStatus = { enabled: false, detail: 'not applied yet' };
  diskLimit: DiskLimitStatus = { enabled: false, detail: 'not checked yet: workspaces are plain volumes without a size limit' };
  /** Set once `applyDiskLimits` found that loop-device disks work here. */
  private disks: HostDisks | undefined;

  /** A unix socket (no host: DOCKER_HOST is not tcp:// or ssh://) means the engine runs on this host. */
  private get localEngine(): boolean {
    const host = (this.docker.modem as { host?: unknown }).host;
    return typeof host !== 'string' || host === '';
  }

  /** Adds the host firewall rules for the subnet pool (see docker-network-guard.ts). */
  async applyNetworkGuard(): Promise<NetworkGuardStatus> {
    // On a local engine the rules go on this host.
    this.networkGuard = await applyNetworkGuard(this.options.subnetPool ?? DEFAULT_SUBNET_POOL, {
      localEngine: this.localEngine,
    });
    return this.networkGuard;
  }

  /**
   * Checks the guard's rules every `intervalMs` and puts back any that another program
   * removed (see docker-network-guard.ts). Only while the guard is on; the timer does
   * not keep the process alive.
   */
  watchNetworkGuard(intervalMs = 10_000): void {
    if (!this.networkGuard.enabled) return;
    let checking = false;
    const timer = setInterval(() => {
      if (checking) return;
      checking = true;
      void this.applyNetworkGuard()
        .then((status) => {
          if (!status.enabled) this.options.logger.error({ networkGuard: status }, `sandbox network guard is off: ${status.detail}`);
          else if (status.added) {
            this.options.logger.error(
              { restored: status.added },
              `the sandbox network guard had lost ${status.added} firewall rule(s) (another program rewrote the host's firewall); put back`,
            );
          }
        })
        .finally(() => {
          checking = false;
        });
    }, intervalMs);
    timer.unref();
  }

  /**
   * Checks that size-limited disks work here (root, a local engine, e2fsprogs, loop
   * devices: see docker-disk.ts) and turns them on for the sandboxes created from now.
   */
  async applyDiskLimits(): Promise<DiskLimitStatus> {
    const root = this.options.diskDir;
    const dir = root ? path.join(root, ownerFolder(this.options.ownerId)) : undefined;
    const { status, disks } = await probeHostDisks({ dir, templateDir: root, localEngine: this.localEngine });
    this.diskLimit = status;
    this.disks = disks;
    return status;
  }

  /** Fails with a clear message when no engine answers. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (e) {
      throw new AppError('SANDBOX_FAILED', `the Docker engine does not answer: ${describeError(e)}`);
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (e) {
      if (isStatus(e, 404)) return false;
      throw e;
    }
  }

  private names(sessionId: string) {
    const base = `opslab-${sessionId}`;
    return {
      network: base,
      volume: `${base}-workspace`,
      homeVolume: `${base}-home`,
      ttyVolume: `${base}-tty`,
      workspace: `${base}-workspace`,
      grader: `${base}-grader`,
    };
  }

  private labels(sessionId: string, role: string): Record<string, string> {
    return {
      [LABELS.managed]: 'true',
      [LABELS.owner]: this.options.ownerId,
      [LABELS.session]: sessionId,
      [LABELS.role]: role,
    };
  }

  async create(spec: SandboxSpec, options?: { signal?: AbortSignal }): Promise<SandboxRef> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(spec.sessionId)) {
      throw new AppError('VALIDATION', `session id ${JSON.stringify(spec.sessionId)} cannot name a sandbox`);
    }
    const names = this.names(spec.sessionId);
    const ref: SandboxRef = { sessionId: spec.sessionId, driver: 'docker', id: names.workspace };
    const caps = normalizeCapabilities(spec.capAdd);
    const signal = options?.signal;
    // Whether this sandbox gets disks of its own is decided once, here.
    const disks = this.disks;
    try {
      await settleAll([this.createNetwork(names.network, spec), this.createVolumes(spec, disks)]);
      signal?.throwIfAborted();

      const workspace = await this.docker.createContainer({
        name: names.workspace,
        Image: spec.image,
        Hostname: 'opslab',
        User: '0',
        WorkingDir: WORKSPACE_PATH,
        Cmd: ['sh', '-c', workspaceInitScript(caps)],
        Env: Object.entries({ TERM: 'xterm-256color', LANG: 'C.UTF-8', ...spec.env }).map(([k, v]) => `${k}=${v}`),
        Tty: true,
        OpenStdin: true,
        StdinOnce: false,
        Labels: this.labels(spec.sessionId, 'workspace'),
        HostConfig: {
          ...COMMON_HOST_CONFIG,
          CapDrop: [...COMMON_HOST_CONFIG.CapDrop],
          SecurityOpt: [...COMMON_HOST_CONFIG.SecurityOpt],
          CapAdd: [...WORKSPACE_INIT_CAPS, ...caps],
          NetworkMode: names.network,
          Mounts: [
            { Type: 'volume', Source: names.volume, Target: WORKSPACE_PATH },
            // A size-limited home: the engine copies the image's dotfiles into the empty volume.
            ...(disks ? [{ Type: 'volume' as const, Source: names.homeVolume, Target: CANDIDATE_HOME }] : []),
            // The output log lives on a volume, not the overlay root: `tail -f` treats
            // overlayfs as remote and polls once a second instead of using inotify.
            { Type: 'volume', Source: names.ttyVolume, Target: TTY_LOG_DIR },
          ],
          // /tmp, /var/tmp, /dev/shm, /run, /var/log and the lab's tmpfs: memory-backed and bounded.
          ...scratchMounts(spec.resources.memoryMb, spec.resources.tmpfs),
          ...limitsFor(spec.resources),
        },
      });
      await workspace.start();
      await workspace.resize({ h: spec.size.rows, w: spec.size.cols }).catch(() => undefined);
      signal?.throwIfAborted();

      const grader = await this.docker.createContainer({
        name: names.grader,
        Image: this.options.graderImage ?? spec.image,
        User: String(GRADER_UID),
        WorkingDir: WORKSPACE_PATH,
        Cmd: ['sleep', 'infinity'],
        Labels: this.labels(spec.sessionId, 'grader'),
        HostConfig: {
          ...COMMON_HOST_CONFIG,
          CapDrop: [...COMMON_HOST_CONFIG.CapDrop],
          SecurityOpt: [...COMMON_HOST_CONFIG.SecurityOpt],
          // Same network namespace as the workspace: services the candidate runs on
          // 127.0.0.1 are reachable from the grader.
          NetworkMode: `container:${names.workspace}`,
          Mounts: [
            { Type: 'volume', Source: names.volume, Target: WORKSPACE_PATH, ReadOnly: true },
            ...(spec.graderDir ? [{ Type: 'bind' as const, Source: spec.graderDir, Target: '/grader', ReadOnly: true }] : []),
            { Type: 'bind', Source: GRADER_TOOLS_DIR, Target: GRADER_TOOLS_PATH, ReadOnly: true },
          ],
          ReadonlyRootfs: true,
          Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=256m' },
          ...limitsFor({ cpus: 1, memoryMb: GRADER_MEMORY_MB, pids: 256 }),
        },
      });
      await grader.start();
      await this.waitForShell(ref, signal);
      return ref;
    } catch (e) {
      await this.destroy(ref).catch((err: unknown) =>
        this.options.logger.warn({ err, sessionId: spec.sessionId }, 'cleanup after a failed create'),
      );
      if (e instanceof AppError) throw e;
      if (signal?.aborted) throw new AppError('SANDBOX_FAILED', 'sandbox creation was cancelled', { cause: e });
      throw new AppError('SANDBOX_FAILED', `could not start the sandbox: ${describeError(e)}`, { cause: e });
    }
  }

  /**
   * The session's volumes: the terminal log's, and the workspace's and the home's. With
   * host disks, those two are ext4 images of their own on loop devices (a `local`
   * volume mounting the device); without, the workspace is a plain volume and the home
   * stays in the container.
   */
  private async createVolumes(spec: SandboxSpec, disks: HostDisks | undefined): Promise<void> {
    const names = this.names(spec.sessionId);
    const plain = (name: string, role: string) => this.docker.createVolume({ Name: name, Labels: this.labels(spec.sessionId, role) });
    const onDisk = async (name: string, role: string, disk: string, sizeMb: number, d: HostDisks) => {
      const device = await d.create(d.imagePath(spec.sessionId, disk), sizeMb);
      await this.docker.createVolume({
        Name: name,
        Driver: 'local',
        DriverOpts: { type: 'ext4', device, o: DISK_MOUNT_OPTIONS },
        Labels: this.labels(spec.sessionId, role),
      });
    };
    await settleAll([
      plain(names.ttyVolume, 'tty-volume'),
      disks
        ? onDisk(names.volume, 'workspace-volume', 'workspace', spec.resources.diskMb, disks)
        : plain(names.volume, 'workspace-volume'),
      ...(disks ? [onDisk(names.homeVolume, 'home-volume', 'home', HOME_DISK_MB, disks)] : []),
    ]);
  }

  /**
   * A bridge network on a /28 of its own, picked at random from the subnet pool; a pick
   * that overlaps another network is retried.
   */
  private async createNetwork(name: string, spec: SandboxSpec): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.docker.createNetwork({
          Name: name,
          // The engine otherwise allows two networks with one name.
          CheckDuplicate: true,
          Driver: 'bridge',
          // An internal network has no route to the internet, the host or other sessions.
          Internal: spec.network === 'isolated',
          IPAM: { Driver: 'default', Config: [{ Subnet: randomSubnet(this.options.subnetPool ?? DEFAULT_SUBNET_POOL, 28) }] },
          Labels: this.labels(spec.sessionId, 'network'),
        });
        return;
      } catch (e) {
        if (attempt >= 20 || !/overlap/i.test(describeError(e))) throw e;
      }
    }
  }

  /** The shell is up once `script` has written its header line to the log. */
  private async waitForShell(ref: SandboxRef, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
      signal?.throwIfAborted();
      const r = await this.exec(ref, ['test', '-s', TTY_LOG], { user: 'root', timeoutMs: 5_000 });
      if (r.exitCode === 0) return;
      if (Date.now() > deadline) {
        throw new AppError('SANDBOX_FAILED', `the sandbox shell did not start within ${READY_TIMEOUT_MS / 1000} s`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async requireRunning(containerName: string): Promise<Docker.Container> {
    const container = this.docker.getContainer(containerName);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (e) {
      if (isStatus(e, 404)) throw new AppError('NOT_FOUND', `sandbox ${containerName} does not exist`);
      throw e;
    }
    if (!info.State.Running) {
      throw new AppError('NOT_FOUND', `sandbox ${containerName} is not running (${info.State.Status})`);
    }
    return container;
  }

  async openTty(ref: SandboxRef, size: TermSize): Promise<TtyAttachment> {
    const container = await this.requireRunning(ref.id);
    const input = (await container.attach({
      stream: true,
      stdin: true,
      stdout: false,
      stderr: false,
      hijack: true,
    })) as NodeJS.ReadWriteStream & { destroy(): void };
    // Also stops any reader left by a previous attachment or a dead server.
    const history = await this.readTtyHistory(container);
    const exec = await container.exec({
      Cmd: ['bash', '-c', ttyReaderScript(history.offset + history.data.length)],
      User: '0',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
    const output = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream & {
      destroy(): void;
      pause(): void;
      resume(): void;
    };
    const stream = new DockerTerminalStream({
      input,
      output,
      resize: async (s) => {
        await container.resize({ h: s.rows, w: s.cols });
      },
      stopReader: async () => {
        await this.exec(ref, ['pkill', '-f', `^${TTY_READER_NAME}`], { user: 'root', timeoutMs: 5_000 }).catch(
          () => undefined,
        );
      },
      logger: this.options.logger.child({ sessionId: ref.sessionId }),
    });
    await stream.resize(size).catch(() => undefined);
    return { stream, history };
  }

  private async readTtyHistory(container: Docker.Container): Promise<TtyAttachment['history']> {
    const r = await runDockerExecRaw(container, ['sh', '-c', ttyHistoryScript(MAX_TTY_HISTORY)], {
      user: '0',
      cwd: '/',
      timeoutMs: 30_000,
      maxOutputBytes: MAX_TTY_HISTORY + 64,
    });
    return parseTtyHistory(r);
  }

  exec(ref: SandboxRef, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.execIn(ref.id, cmd, options, options.user === 'root' ? '0' : '1000');
  }

  execGrader(ref: SandboxRef, cmd: string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.execIn(this.names(ref.sessionId).grader, cmd, options, options.user === 'root' ? '0' : String(GRADER_UID));
  }

  private async execIn(containerName: string, cmd: string[], options: ExecOptions, user: string): Promise<ExecResult> {
    const container = await this.requireRunning(containerName);
    return runDockerExec(container, cmd, {
      ...options,
      user,
      cwd: options.cwd ?? WORKSPACE_PATH,
    });
  }

  async copyIn(ref: SandboxRef, hostDir: string): Promise<void> {
    const container = await this.requireRunning(ref.id);
    const tar = packDirectory(hostDir, { uid: 1000, gid: 1000 });
    await container.putArchive(tar, { path: WORKSPACE_PATH });
  }

  async archive(ref: SandboxRef): Promise<NodeJS.ReadableStream> {
    // Read through the grader: same volume, read-only, and it never runs candidate code.
    const grader = await this.requireRunning(this.names(ref.sessionId).grader);
    return grader.getArchive({ path: `${WORKSPACE_PATH}/.` });
  }

  async destroy(ref: SandboxRef): Promise<void> {
    const names = this.names(ref.sessionId);
    for (const name of [names.grader, names.workspace]) {
      try {
        await this.docker.getContainer(name).remove({ force: true, v: false });
      } catch (e) {
        if (!isStatus(e, 404)) throw e;
      }
    }
    // Networks by label, not name: names of networks are not unique in the engine.
    const networks = await this.docker.listNetworks({
      filters: { label: [`${LABELS.owner}=${this.options.ownerId}`, `${LABELS.session}=${ref.sessionId}`] },
    });
    for (const network of networks) {
      // Removal of a container can lag behind its network being released.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.docker.getNetwork(network.Id).remove();
          break;
        } catch (e) {
          if (isStatus(e, 404)) break;
          if (attempt >= 10) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    for (const volume of [names.volume, names.homeVolume, names.ttyVolume]) {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.docker.getVolume(volume).remove();
          break;
        } catch (e) {
          if (isStatus(e, 404)) break;
          if (attempt >= 10) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    // Only once no volume uses them: detach the loop devices, delete the images.
    const disks = this.disks;
    if (disks) await disks.remove(['workspace', 'home'].map((d) => disks.imagePath(ref.sessionId, d)));
  }

  async list(selector: { sessionId?: string } = {}): Promise<SandboxInfo[]> {
    const label = [`${LABELS.owner}=${this.options.ownerId}`, `${LABELS.role}=workspace`];
    if (selector.sessionId) label.push(`${LABELS.session}=${selector.sessionId}`);
    const containers = await this.docker.listContainers({ all: true, filters: { label } });
    return containers.map((c) => {
      const sessionId = c.Labels[LABELS.session] ?? '';
      return {
        ref: { sessionId, driver: 'docker' as const, id: `opslab-${sessionId}-workspace` },
        running: c.State === 'running',
      };
    });
  }

  async reap(live: ReadonlySet<string>): Promise<string[]> {
    const filters = { label: [`${LABELS.owner}=${this.options.ownerId}`] };
    const [containers, networks, volumes] = await Promise.all([
      this.docker.listContainers({ all: true, filters }),
      this.docker.listNetworks({ filters }),
      this.docker.listVolumes({ filters }),
    ]);
    const sessions = new Set<string>();
    for (const c of containers) sessions.add(c.Labels[LABELS.session] ?? '');
    for (const n of networks) sessions.add(n.Labels?.[LABELS.session] ?? '');
    for (const v of volumes.Volumes ?? []) sessions.add(v.Labels?.[LABELS.session] ?? '');
    const orphans = [...sessions].filter((s) => s !== '' && !live.has(s));
    for (const sessionId of orphans) {
      await this.destroy({ sessionId, driver: 'docker', id: this.names(sessionId).workspace });
    }
    if (this.disks) orphans.push(...(await this.reapDisks(this.disks, live, new Set(orphans))));
    return orphans;
  }

  /**
   * Disk images and loop devices left without any engine resource (a server killed
   * between making a disk and its volume, or during a destroy): images of sessions that
   * are not live (and old enough not to be a create under way), and loop devices whose
   * image is gone.
   */
  private async reapDisks(disks: HostDisks, live: ReadonlySet<string>, done: ReadonlySet<string>): Promise<string[]> {
    const stale = new Map<string, string[]>();
    for (const image of await disks.images()) {
      if (live.has(image.sessionId) || done.has(image.sessionId)) continue;
      if (Date.now() - image.mtimeMs < DISK_REAP_GRACE_MS) continue;
      stale.set(image.sessionId, [...(stale.get(image.sessionId) ?? []), image.file]);
    }
    for (const files of stale.values()) await disks.remove(files);
    for (const loop of await disks.loops()) {
      const sessionId = /^(.+)\.[a-z]+\.img$/.exec(path.basename(loop.file))?.[1];
      if (loop.deleted && !(sessionId && live.has(sessionId))) await disks.detach(loop.device);
    }
    return [...stale.keys()];
  }
}
