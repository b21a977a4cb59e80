/**
 * A second Docker engine for tests that must stop or restart the engine itself: other
 * suites run at the same time on the main engine (/var/run/docker.sock), and restarting
 * that would break them. This one is a `dockerd --live-restore` of its own, from the
 * same binary, with everything it owns kept apart from the main engine:
 *
 *   socket     /run/opslab-test-engine/docker.sock
 *   exec root  /run/opslab-test-engine/exec (its own managed containerd lives here)
 *   data root  /var/lib/opslab-test-engine/data
 *   bridge     opslabtest0, 10.231.0.1/24, made here with `ip link`: only one engine may
 *              own the default docker0, and a second daemon started with `--bridge none`
 *              removed the main engine's docker0 (docs: /work/shared/ENVIRONMENT.md)
 *   iptables   off (`--iptables=false`): two engines rewriting the DOCKER chains of one
 *              host fight over them. The main engine's chains are left as they are; its
 *              FORWARD policy (DROP) and the opslab network guard (INPUT, DOCKER-USER,
 *              keyed on the subnet pool) still apply to this engine's bridges, and the
 *              sandboxes here are on `--internal` networks that need no NAT.
 *   cgroups    parent /opslab-test-engine
 *
 * `start` is idempotent: a daemon, bridge or data root left by a run that was killed is
 * taken over and cleaned. Images are copied from the main engine (`docker save | load`).
 * Needs root and the `dockerd` and `ip` programs; without them `start` throws the reason
 * (a test must fail, not skip, on a machine where it cannot run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const run = promisify(execFile);

const NAME = 'opslab-test-engine';
const RUN_DIR = `/run/${NAME}`;
const ROOT_DIR = `/var/lib/${NAME}`;
const BRIDGE = 'opslabtest0';
/** Outside 172.16.0.0/12 (the engines' default pools and the opslab default subnet pool) and 10.232.0.0/16 (this test's sessions). */
const BRIDGE_ADDRESS = '10.231.0.1/24';
const ANSWER_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function onPath(program: string): boolean {
  return (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, program), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Processes whose command line contains `needle` (read from /proc). */
function processesWith(needle: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => pid !== process.pid && cmdline(pid).includes(needle));
}

/** SIGTERM, then SIGKILL after `graceMs`; waits until the process is gone. */
async function terminate(pid: number, graceMs: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (!alive(pid)) return;
  process.kill(pid, 'SIGKILL');
  while (alive(pid)) await sleep(50);
}

export interface SecondEngineOptions {
  /** Images to copy from the main engine (loaded only when missing or different). */
  images: string[];
}

export class SecondEngine {
  readonly socketPath = `${RUN_DIR}/docker.sock`;
  readonly dataRoot = `${ROOT_DIR}/data`;
  readonly execRoot = `${RUN_DIR}/exec`;
  readonly bridge = BRIDGE;
  readonly docker: Docker;
  private readonly pidFile = `${RUN_DIR}/docker.pid`;
  private readonly configFile = `${RUN_DIR}/daemon.json`;
  private readonly logFile = `${ROOT_DIR}/dockerd.log`;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor() {
    this.docker = new Docker({ socketPath: this.socketPath });
  }

  /** Starts the engine (taking over and cleaning what a killed run left) and loads `images`. */
  static async start(options: SecondEngineOptions): Promise<SecondEngine> {
    const problems: string[] = [];
    if (process.getuid?.() !== 0) problems.push(`not root (uid ${process.getuid?.() ?? '?'}): a second dockerd, its bridge and its mounts need root`);
    for (const program of ['dockerd', 'ip', 'umount']) if (!onPath(program)) problems.push(`no \`${program}\` program on PATH`);
    if (problems.length) throw new Error(`cannot start a second Docker engine: ${problems.join('; ')}`);

    const engine = new SecondEngine();
    await engine.killLeftoverDaemon();
    await engine.ensureBridge();
    fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
    fs.mkdirSync(engine.dataRoot, { recursive: true, mode: 0o700 });
    // Our own (empty) config file: /etc/docker/daemon.json, if a machine has one, is the
    // main engine's, and a key set both there and as a flag stops dockerd from starting.
    fs.writeFileSync(engine.configFile, '{}\n');
    try {
      await engine.launch();
    } catch (e) {
      // A data root a killed run left half-written can keep the daemon from starting: start once more from nothing.
      await engine.terminateDaemon();
      await engine.removeDirs();
      fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
      fs.mkdirSync(engine.dataRoot, { recursive: true, mode: 0o700 });
      fs.writeFileSync(engine.configFile, '{}\n');
      try {
        await engine.launch();
      } catch (again) {
        throw new Error(`${(again as Error).message} (first attempt: ${(e as Error).message})`);
      }
    }
    await engine.removeEverything();
    for (const image of options.images) await engine.copyImage(image);
    return engine;
  }

  private args(): string[] {
    return [
      '--config-file', this.configFile,
      '-H', `unix://${this.socketPath}`,
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', this.pidFile,
      '--bridge', this.bridge,
      '--iptables=false',
      '--ip-masq=false',
      '--live-restore',
      '--cgroup-parent', `/${NAME}`,
    ];
  }

  /** Starts dockerd with the same arguments every time and waits until it answers. */
  private async launch(): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      // Its own process group: a Ctrl-C meant for the test runner does not stop it half-way.
      child = spawn('dockerd', this.args(), { stdio: ['ignore', log, log], detached: true });
    } finally {
      fs.closeSync(log);
    }
    this.child = child;
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined); // reported below as "exited"
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the second dockerd exited (${child.exitCode ?? child.signalCode}) before answering:\n${this.logTail()}`);
      }
      try {
        await this.docker.ping();
        return;
      } catch {
        // not answering yet
      }
      if (Date.now() > deadline) throw new Error(`the second dockerd did not answer within ${ANSWER_TIMEOUT_MS / 1000} s:\n${this.logTail()}`);
      await sleep(50);
    }
  }

  /** The end of dockerd's log, for error messages. */
  logTail(lines = 15): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Stops the daemon with SIGTERM (with live-restore its containers keep running), runs
   * `whileDown` once it has exited, and starts it again with the same arguments. Returns
   * how long it took to exit and how long nothing answered on its socket.
   */
  async restart(options: { whileDown?: () => Promise<void> } = {}): Promise<{ stopMs: number; downMs: number }> {
    const t0 = Date.now();
    await this.terminateDaemon();
    const down = Date.now();
    try {
      await options.whileDown?.();
    } finally {
      // Back up even when `whileDown` failed, so the containers can still be removed.
      await this.launch();
    }
    return { stopMs: down - t0, downMs: Date.now() - down };
  }

  /** The host directory of one of the engine's local volumes (readable while the engine is down). */
  volumePath(name: string): string {
    return path.join(this.dataRoot, 'volumes', name, '_data');
  }

  /** Removes every container, network and volume, stops the daemon, and removes its bridge, directories and cgroups. */
  async stop(): Promise<void> {
    const problems: string[] = [];
    // Removing containers needs the daemon: start it again if it is down (a test failed mid-restart).
    const answers = await this.docker.ping().then(() => true, () => false);
    if (!answers && fs.existsSync(this.dataRoot)) await this.launch().catch((e: unknown) => problems.push(String(e)));
    try {
      await this.removeEverything();
    } catch {
      // dockerd 20.10 (Debian's docker.io) loses the mount count of volumes with device
      // options that were live-restored (moby#44422, fixed in 23.0.7 and 24.0.3): they
      // answer "volume has active mounts" until the daemon starts again.
      await this.restart()
        .then(() => this.removeEverything())
        .catch((e: unknown) => problems.push(`removing the engine's resources: ${String(e)}`));
    }
    await this.terminateDaemon();
    // Shims of containers that could not be removed (live-restore keeps them): ours, by their exec root.
    for (const pid of processesWith(`-address ${this.execRoot}/`)) await terminate(pid, 5_000);
    await this.removeDirs().catch((e: unknown) => problems.push(`removing ${ROOT_DIR}: ${String(e)}`));
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    for (const dir of [`/sys/fs/cgroup/${NAME}`, ...this.cgroupDirs()]) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // absent, or still in use by a process that is going away
      }
    }
    if (problems.length) throw new Error(`the second engine was not cleaned up fully: ${problems.join('; ')}`);
  }

  private cgroupDirs(): string[] {
    try {
      return fs.readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/${NAME}`);
    } catch {
      return [];
    }
  }

  private async terminateDaemon(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null && child.pid) {
      child.kill('SIGTERM');
      const timeout = sleep(EXIT_TIMEOUT_MS).then(() => 'timeout' as const);
      if ((await Promise.race([this.exited.then(() => 'exited' as const), timeout])) === 'timeout') {
        child.kill('SIGKILL');
        await this.exited;
      }
    }
    this.child = null;
    await this.killLeftoverDaemon();
  }

  /** A daemon of ours a killed run left behind: found by its pidfile or its socket in the command line. */
  private async killLeftoverDaemon(): Promise<void> {
    const pids = new Set(processesWith(`unix://${this.socketPath}`).filter((pid) => /^(\S*\/)?dockerd /.test(cmdline(pid))));
    try {
      const pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
      if (pid > 0 && cmdline(pid).includes(this.socketPath)) pids.add(pid);
    } catch {
      // no pidfile
    }
    for (const pid of pids) await terminate(pid, EXIT_TIMEOUT_MS);
    fs.rmSync(this.pidFile, { force: true });
  }

  private async ensureBridge(): Promise<void> {
    // A route to the bridge's subnet through another interface would make its addresses ambiguous.
    const { stdout: routes } = await run('ip', ['-4', 'route', 'show', '10.231.0.0/24']);
    const foreign = routes.split('\n').find((l) => l.trim() !== '' && !l.includes(`dev ${this.bridge} `));
    if (foreign) throw new Error(`cannot give the second engine the bridge ${BRIDGE_ADDRESS}: the host already routes it (${foreign.trim()})`);
    const exists = await run('ip', ['link', 'show', this.bridge]).then(() => true, () => false);
    if (!exists) await run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'replace', BRIDGE_ADDRESS, 'dev', this.bridge]);
    await run('ip', ['link', 'set', this.bridge, 'up']);
  }

  /** Every container, non-default network and volume of this engine. */
  private async removeEverything(): Promise<void> {
    for (const c of await this.docker.listContainers({ all: true })) {
      await this.docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    for (const n of await this.docker.listNetworks()) {
      if (!['bridge', 'host', 'none'].includes(n.Name)) await this.docker.getNetwork(n.Id).remove();
    }
    for (const v of (await this.docker.listVolumes()).Volumes ?? []) await this.docker.getVolume(v.Name).remove({ force: true });
  }

  /** Copies an image from the main engine unless this one already has the very same image. */
  private async copyImage(image: string): Promise<void> {
    const main = new Docker();
    const wanted = (await main.getImage(image).inspect()).Id;
    const have = await this.docker
      .getImage(image)
      .inspect()
      .then((i) => i.Id, () => undefined);
    if (have === wanted) return;
    const tar = await main.getImage(image).get();
    const progress = await this.docker.loadImage(tar);
    const out = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      progress.on('data', (b: Buffer) => chunks.push(b));
      progress.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      progress.on('error', reject);
    });
    if (/"error"/.test(out)) throw new Error(`loading ${image} into the second engine failed: ${out.slice(0, 500)}`);
    const loaded = (await this.docker.getImage(image).inspect()).Id;
    if (loaded !== wanted) throw new Error(`loaded ${image} as ${loaded}, expected ${wanted}`);
  }

  /** Unmounts what the daemon mounted under its directories (deepest first) and deletes them. */
  private async removeDirs(): Promise<void> {
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .map((p) => p.replace(/\\040/g, ' '))
      .filter((p) => p.startsWith(`${ROOT_DIR}/`) || p === ROOT_DIR || p.startsWith(`${RUN_DIR}/`) || p === RUN_DIR)
      .sort((a, b) => b.length - a.length);
    for (const target of mounts) await run('umount', ['-l', target]).catch(() => undefined);
    fs.rmSync(RUN_DIR, { recursive: true, force: true });
    fs.rmSync(ROOT_DIR, { recursive: true, force: true });
  }
}
